// The sandbox page: a small Slack client over the Slack stand-in, and a ServiceNow panel.
//
// The server pushes `change` events (server-sent events) whenever the stand-in or the emulator
// records something; the page then fetches /api/state for the signed-in person and redraws what
// changed. Everything the person does goes through /api/* — the stand-in signs it as Slack would.

import { elementState, emojify, h, isEmpty, mrkdwn, plainText, renderAttachment, renderBlock, renderBlocks } from "./blockkit.js";
import { ServiceNowPanel } from "./servicenow.js";

const params = new URLSearchParams(location.search);
const ui = {
  user: params.get("user") || localStorage.getItem("sandbox.user") || "alice",
  place: { kind: "channel", id: params.get("channel") || "C0GENERAL0" }, // or {kind: "dm"|"home", id}
  state: null,
  seen: {}, // user -> channel -> item count already seen
  rendered: new Map(), // item key -> JSON drawn, so only changed messages are redrawn
  modalKey: null,
  homeHash: null,
};

const $ = (selector) => document.querySelector(selector);

async function api(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: ui.user, ...body }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail ? `${answer.error}: ${answer.detail}` : answer.error || `HTTP ${response.status}`);
  return answer;
}

function status(text, kind = "error") {
  const node = $("#composer-status");
  node.textContent = text || "";
  node.className = text ? kind : "";
}

function botAnswer(answer, what) {
  if (answer.status && answer.status !== 200) status(`${what}: the bot answered HTTP ${answer.status} ${answer.body || ""}`);
}

// ---- fetching and live updates ------------------------------------------------------------

let fetching = null;
let again = false;

async function refresh() {
  if (fetching) {
    again = true;
    return fetching;
  }
  fetching = (async () => {
    do {
      again = false;
      const response = await fetch(`/api/state?user=${encodeURIComponent(ui.user)}`);
      if (response.ok) {
        ui.state = await response.json();
        draw();
      }
    } while (again);
  })().finally(() => {
    fetching = null;
  });
  return fetching;
}

function listen() {
  const source = new EventSource("/api/events");
  source.addEventListener("change", () => refresh());
  source.addEventListener("open", () => document.body.classList.remove("offline"));
  source.addEventListener("error", () => document.body.classList.add("offline"));
}

// ---- context for Block Kit ----------------------------------------------------------------

function usersMap() {
  const users = new Map((ui.state?.slack.users || []).map((u) => [u.id, u.real_name]));
  if (ui.state) users.set(ui.state.slack.bot.id, ui.state.slack.bot.name);
  return users;
}

function openUrl(url) {
  const sn = ui.state?.servicenow;
  if (sn && url.startsWith(sn.url)) {
    const sysId = (url.match(/[0-9a-f]{32}/) || [])[0];
    if (sysId) panel.open(sysId);
    return;
  }
  window.open(url, "_blank", "noopener");
}

function blockContext(container, form = false) {
  return {
    users: usersMap(),
    form,
    openUrl,
    act: async (element, block, extra) => {
      try {
        const answer = await api("/api/action", {
          container,
          action_id: element.action_id || "",
          block_id: block.block_id || "",
          ...extra,
        });
        botAnswer(answer, `${element.action_id}`);
      } catch (error) {
        status(error.message);
      }
    },
    suggest: async (element, block, query) => {
      try {
        return await api("/api/options", {
          action_id: element.action_id || "",
          block_id: block.block_id || "",
          value: query,
          view_id: container.type === "view" ? container.view_id : null,
        });
      } catch (error) {
        status(error.message);
        return { options: [] };
      }
    },
  };
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a.bk-link");
  if (!link) return;
  event.preventDefault();
  openUrl(link.href);
});

// ---- drawing ------------------------------------------------------------------------------

function draw() {
  const { slack } = ui.state;
  drawUsers(slack);
  drawSidebar(slack);
  drawPlace(slack);
  drawModal(slack.modal);
  panel.update(ui.state.servicenow, slack.users.find((u) => u.id === slack.me));
}

function drawUsers(slack) {
  const select = $("#user-switcher");
  const wanted = slack.users.map((u) => u.name).join(",");
  if (select.dataset.users !== wanted) {
    select.replaceChildren(
      ...slack.users.map((u) => {
        const note = !u.servicenow_user ? " — no ServiceNow account" : !u.servicenow_active ? " — inactive in ServiceNow" : "";
        return h("option", { value: u.name }, `${u.real_name} (@${u.name})${note}`);
      }),
    );
    select.dataset.users = wanted;
  }
  const me = slack.users.find((u) => u.id === slack.me);
  select.value = me.name;
  $("#me-avatar").textContent = initials(me.real_name);
  $("#user-note").textContent = !me.servicenow_user
    ? `${me.real_name} has no ServiceNow account (${me.email}).`
    : `ServiceNow: ${me.servicenow_user}${me.servicenow_active ? "" : " (inactive)"}`;
  $("#connect-servicenow").hidden = !slack.linking;
}

// Account linking (`python -m sandbox --linked`): the bot's own Connect ServiceNow link for the
// signed-in person; the browser goes to the bot, the emulator's consent page, and back.
async function connectServiceNow() {
  const answer = await api("/api/connect", {});
  if (answer && answer.url) openUrl(answer.url);
}

function initials(name) {
  return name.split(/\s+/).map((part) => part[0]).join("").slice(0, 2).toUpperCase();
}

function drawSidebar(slack) {
  const seen = (ui.seen[slack.me] ||= {});
  const first = !Object.keys(seen).length;
  const entry = (channel) => {
    const items = slack.conversations[channel.id] || [];
    if (first || isOpen(channel)) seen[channel.id] = items.length;
    const unread = items.length - (seen[channel.id] ?? items.length);
    const label = channel.kind === "dm" ? `${channel.name}` : `# ${channel.name}`;
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: `nav-item${isOpen(channel) ? " active" : ""}${unread > 0 ? " unread" : ""}`,
          dataset: { channel: channel.id, kind: channel.kind },
          onclick: () => go(channel.kind === "dm" ? { kind: "dm", id: channel.id } : { kind: "channel", id: channel.id }),
        },
        label,
        unread > 0 ? h("span", { class: "badge", "aria-label": `${unread} new` }, String(unread)) : null,
      ),
    );
  };
  $("#channel-list").replaceChildren(...slack.channels.filter((c) => c.kind === "channel").map(entry));
  $("#app-list").replaceChildren(...slack.channels.filter((c) => c.kind === "dm").map(entry));
}

function isOpen(channel) {
  if (channel.kind === "dm") return ui.place.kind === "dm" || ui.place.kind === "home";
  return ui.place.kind === "channel" && ui.place.id === channel.id;
}

function dmChannel(slack) {
  return slack.channels.find((c) => c.kind === "dm");
}

function go(place) {
  const changedView = place.kind !== ui.place.kind || place.id !== ui.place.id;
  ui.place = place;
  status("");
  if (changedView) {
    ui.rendered.clear();
    $("#conversation").replaceChildren();
    ui.homeHash = null;
  }
  if (place.kind === "home") {
    api("/api/home", {}).then((answer) => botAnswer(answer, "app_home_opened")).catch((error) => status(error.message));
  }
  if (ui.state) draw();
  if (place.kind !== "home") $("#composer-input").focus();
}

function drawPlace(slack) {
  const dm = dmChannel(slack);
  if (ui.place.kind !== "channel") ui.place.id = dm.id;
  const channel = slack.channels.find((c) => c.id === ui.place.id) || slack.channels[0];
  const inApp = ui.place.kind !== "channel";
  $("#conv-title").textContent = inApp ? slack.bot.name : `# ${channel.name}`;
  $("#conv-subtitle").textContent = inApp ? "App · your DM with the bot" : "Try /incident printer on fire, or /incident help";
  const tabs = $("#conv-tabs");
  tabs.hidden = !inApp;
  tabs.querySelectorAll("button").forEach((tab) => {
    tab.classList.toggle("active", tab.dataset.tab === ui.place.kind);
    tab.setAttribute("aria-selected", tab.dataset.tab === ui.place.kind ? "true" : "false");
  });
  $("#conversation").hidden = ui.place.kind === "home";
  $("#home").hidden = ui.place.kind !== "home";
  $("#composer").hidden = ui.place.kind === "home";
  $("#composer-input").placeholder = inApp ? `Message ${slack.bot.name}` : `Message #${channel.name} — try /incident printer on fire`;
  if (ui.place.kind === "home") drawHome(slack.home);
  else drawConversation(channel.id, slack.conversations[channel.id] || []);
}

function itemKey(item) {
  return item.kind === "message" ? `m:${item.ts}` : `e:${item.ts}`;
}

function threadOf(items) {
  // Replies are shown in their parent's thread; a reply whose parent is gone stands alone.
  const roots = new Set(items.filter((item) => item.kind === "message").map((item) => item.ts));
  const replies = new Map();
  const shown = [];
  for (const item of items) {
    const reply = item.kind === "message" && item.thread_ts && item.thread_ts !== item.ts && roots.has(item.thread_ts);
    if (reply) {
      if (!replies.has(item.thread_ts)) replies.set(item.thread_ts, []);
      replies.get(item.thread_ts).push(item);
    } else {
      shown.push(item);
    }
  }
  return { shown, replies };
}

function drawConversation(channelId, all) {
  const list = $("#conversation");
  const { shown: items, replies } = threadOf(all);
  const keys = new Set(items.map(itemKey));
  for (const [key, json] of ui.rendered) {
    if (!keys.has(key)) {
      list.querySelector(`[data-key="${key}"]`)?.remove();
      ui.rendered.delete(key);
    }
  }
  if (!items.length && !list.querySelector(".empty")) {
    list.replaceChildren(h("div", { class: "empty" }, "Nothing here yet. Type /incident printer on fire below."));
  } else if (items.length) {
    list.querySelector(".empty")?.remove();
  }
  let previous = null;
  let grew = false;
  for (const item of items) {
    const key = itemKey(item);
    const thread = replies.get(item.ts) || [];
    const json = JSON.stringify([item, thread]);
    let node = list.querySelector(`[data-key="${key}"]`);
    if (ui.rendered.get(key) !== json) {
      const fresh = messageNode(item, channelId, thread);
      if (node) {
        const typed = node.querySelector(":scope > .msg-body > .thread .reply-input")?.value;
        const box = fresh.querySelector(":scope > .msg-body > .thread .reply-input");
        if (typed && box) box.value = typed;
        node.replaceWith(fresh);
        fresh.classList.add("flash");
      } else {
        grew = true;
      }
      node = fresh;
      ui.rendered.set(key, json);
    }
    if (previous ? previous.nextSibling !== node : list.firstChild !== node) {
      if (previous) previous.after(node);
      else list.prepend(node);
    }
    previous = node;
  }
  if (grew) list.scrollTop = list.scrollHeight;
}

function replyForm(channelId, threadTs) {
  const input = h("input", { class: "reply-input", type: "text", placeholder: "Reply in thread…", "aria-label": "Reply in thread" });
  const form = h("form", { class: "reply-form" }, input, h("button", { type: "submit" }, "Reply"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    status("");
    try {
      await api("/api/message", { channel: channelId, text, thread_ts: threadTs });
      input.value = "";
    } catch (error) {
      status(error.message);
    }
  });
  return form;
}

function messageNode(item, channelId, thread = null) {
  const ephemeral = item.kind === "ephemeral";
  const author = ephemeral ? ui.state.slack.bot.name : item.author;
  const isBot = ephemeral || item.is_bot;
  const container = ephemeral ? { type: "ephemeral", channel: channelId } : { type: "message", channel: channelId, ts: item.ts };
  const ctx = blockContext(container);
  const content = h("div", { class: "msg-content" });
  if (item.blocks?.length) content.append(renderBlocks(item.blocks, ctx));
  else content.append(h("div", { class: "mrkdwn", html: mrkdwn(item.text || "", ctx) }));
  for (const attachment of item.attachments || []) content.append(renderAttachment(attachment, ctx));
  for (const [url, unfurl] of Object.entries(item.unfurls || {})) {
    content.append(h("div", { class: "unfurl", dataset: { url } }, renderBlocks(unfurl.blocks || [], blockContext({ type: "unfurl" }))));
  }
  // A root message shows its thread: the replies, and a box to reply (cards, or once replied to).
  const threaded = thread !== null && !ephemeral && (thread.length || isBot);
  const threadNode = threaded
    ? h("div", { class: "thread", dataset: { threadTs: item.ts } }, ...thread.map((reply) => messageNode(reply, channelId)), replyForm(channelId, item.ts))
    : null;
  const time = new Date(Number(item.ts) * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return h(
    "article",
    {
      class: `msg${ephemeral ? " ephemeral" : ""}`,
      dataset: { key: itemKey(item), ts: item.ts, kind: item.kind },
    },
    h("div", { class: `avatar${isBot ? " bot" : ""}` }, isBot ? "🤖" : initials(author)),
    h(
      "div",
      { class: "msg-body" },
      h(
        "div",
        { class: "msg-head" },
        h("span", { class: "author" }, author),
        isBot ? h("span", { class: "app-badge" }, "APP") : null,
        h("time", { datetime: item.ts }, time),
        item.edited ? h("span", { class: "edited", title: `edited ${item.edited}×` }, "(edited)") : null,
        item.thread_ts && item.thread_ts !== item.ts ? h("span", { class: "muted" }, "· in thread") : null,
        ephemeral ? null : moreActions(item, channelId),
      ),
      ephemeral ? h("div", { class: "ephemeral-note" }, "👁 Only visible to you") : null,
      content,
      threadNode,
    ),
  );
}

// A message's "More actions" menu: the app's message shortcuts (Slack lists only those its
// manifest declares), each sent as Slack's `message_action` payload by the stand-in.
function moreActions(item, channelId) {
  const shortcuts = ui.state?.slack?.message_shortcuts || [];
  if (!shortcuts.length) return null;
  const menu = h(
    "div",
    { class: "more-menu", hidden: true, role: "menu" },
    ...shortcuts.map((shortcut) =>
      h(
        "button",
        {
          type: "button",
          role: "menuitem",
          class: "more-item",
          onclick: async () => {
            menu.hidden = true;
            try {
              const answer = await api("/api/shortcut", { channel: channelId, ts: item.ts, callback_id: shortcut.callback_id });
              botAnswer(answer, shortcut.name);
            } catch (error) {
              status(error.message);
            }
          },
        },
        shortcut.name,
      ),
    ),
  );
  const toggle = h("button", { type: "button", class: "more-actions", title: "More actions", "aria-label": "More actions", onclick: () => (menu.hidden = !menu.hidden) }, "⋯");
  return h("span", { class: "more" }, toggle, menu);
}

function drawHome(home) {
  const root = $("#home");
  if (!home) {
    if (ui.homeHash !== "none") root.replaceChildren(h("div", { class: "empty" }, "Opening the Home tab… (the bot publishes it with views.publish)"));
    ui.homeHash = "none";
    return;
  }
  if (ui.homeHash === home.hash) return;
  ui.homeHash = home.hash;
  root.replaceChildren(h("div", { class: "home-view", dataset: { viewId: home.id } }, renderBlocks(home.blocks, blockContext({ type: "view", view_id: home.id }))));
}

// ---- modals -------------------------------------------------------------------------------

function inputStates(root) {
  const values = {};
  const missing = [];
  for (const blockNode of root.querySelectorAll(".bk-block.bk-input")) {
    const block = blockNode.block;
    const element = block.element || {};
    const state = elementState(element, blockNode.inputControl);
    (values[block.block_id] ||= {})[element.action_id] = state;
    if (!block.optional && isEmpty(state)) missing.push(block.block_id);
  }
  return { values, missing };
}

function restoreInputs(root, previous) {
  for (const blockNode of root.querySelectorAll(".bk-block.bk-input")) {
    const block = blockNode.block;
    const old = previous[block.block_id]?.[block.element?.action_id];
    if (!old || old.type !== block.element?.type) continue;
    const control = blockNode.inputControl;
    if ("value" in old && old.value !== null) control.value = old.value;
    if (old.selected_option && control.setSelected) control.setSelected(old.selected_option);
    else if (old.selected_option && control.tagName === "SELECT") control.value = old.selected_option.value;
  }
}

function drawModal(modal) {
  const root = $("#modal-root");
  const key = modal ? `${modal.id}:${modal.hash}` : null;
  if (key !== ui.modalKey) {
    const previous = root.querySelector(".modal") ? inputStates(root).values : {};
    ui.modalKey = key;
    root.replaceChildren();
    if (!modal) return;
    const ctx = blockContext({ type: "view", view_id: modal.id }, true);
    const body = h("div", { class: "modal-body" });
    for (const block of modal.blocks) {
      const node = renderBlock(block, ctx);
      node.block = block;
      node.addEventListener("input", () => {
        const error = node.querySelector(".bk-error");
        if (error) error.textContent = "";
      });
      body.append(node);
    }
    const close = () => api("/api/close", { view_id: modal.id }).catch((error) => status(error.message));
    const submit = h("button", { type: "submit", class: "btn primary" }, plainText(modal.submit) || "Submit");
    const form = h(
      "form",
      {
        class: "modal",
        role: "dialog",
        "aria-modal": "true",
        "aria-labelledby": "modal-title",
        dataset: { viewId: modal.id, callbackId: modal.callback_id },
        onsubmit: async (event) => {
          event.preventDefault();
          const { values, missing } = inputStates(form);
          form.querySelectorAll(".bk-error").forEach((node) => (node.textContent = ""));
          if (missing.length) {
            for (const blockId of missing) {
              const node = form.querySelector(`.bk-error[data-error-for="${CSS.escape(blockId)}"]`);
              if (node) node.textContent = "Please complete this required field.";
            }
            return;
          }
          submit.disabled = true;
          try {
            const answer = await api("/api/submit", { view_id: modal.id, values });
            botAnswer(answer, "view_submission");
            showErrors(form, answer.errors || {});
          } catch (error) {
            form.querySelector(".modal-error").textContent = error.message;
          } finally {
            submit.disabled = false;
          }
        },
      },
      h(
        "header",
        {},
        modal.depth > 1 ? h("button", { type: "button", class: "icon", "aria-label": "Back", onclick: close }, "←") : null,
        h("h2", { id: "modal-title" }, plainText(modal.title)),
        h("button", { type: "button", class: "icon", "aria-label": "Close", onclick: close }, "×"),
      ),
      body,
      h(
        "footer",
        {},
        h("div", { class: "modal-error", role: "alert" }),
        h("button", { type: "button", class: "btn", onclick: close }, plainText(modal.close) || "Cancel"),
        modal.submit ? submit : null,
      ),
    );
    root.append(h("div", { class: "modal-backdrop" }, form));
    restoreInputs(form, previous);
    form.querySelector("input, textarea, select")?.focus();
  }
  if (modal) showErrors(root.querySelector(".modal"), modal.errors || {});
}

function showErrors(form, errors) {
  form.querySelectorAll(".bk-error").forEach((node) => {
    const text = errors[node.dataset.errorFor];
    if (text) node.textContent = emojify(text);
    else if (node.textContent !== "Please complete this required field.") node.textContent = "";
  });
}

// ---- composer and controls ----------------------------------------------------------------

async function send(text) {
  const slack = ui.state.slack;
  const channel = ui.place.kind === "channel" ? ui.place.id : dmChannel(slack).id;
  status("");
  try {
    if (text.startsWith("/")) {
      const answer = await api("/api/command", { channel, text });
      botAnswer(answer, text.split(" ")[0]);
    } else {
      await api("/api/message", { channel, text });
    }
  } catch (error) {
    status(error.message);
  }
}

function setUser(name) {
  ui.user = name;
  localStorage.setItem("sandbox.user", name);
  const url = new URL(location.href);
  url.searchParams.set("user", name);
  history.replaceState(null, "", url);
  ui.rendered.clear();
  ui.modalKey = undefined; // redraw whatever modal the new person has open (or none)
  ui.homeHash = null;
  $("#conversation").replaceChildren();
  panel.userChanged();
  if (ui.place.kind === "home") go(ui.place);
  refresh();
}

const panel = new ServiceNowPanel($("#servicenow"), { status });

function start() {
  const input = $("#composer-input");
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("#composer").requestSubmit();
    }
  });
  $("#user-switcher").addEventListener("change", (event) => setUser(event.target.value));
  $("#connect-servicenow").addEventListener("click", connectServiceNow);
  $("#conv-tabs").addEventListener("click", (event) => {
    const tab = event.target.closest("button[data-tab]");
    if (tab) go({ kind: tab.dataset.tab, id: ui.place.id });
  });
  $("#toggle-servicenow").addEventListener("click", () => {
    const hidden = document.body.classList.toggle("sn-hidden");
    $("#toggle-servicenow").setAttribute("aria-pressed", hidden ? "false" : "true");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") $("#modal-root .modal [aria-label=Close]")?.click();
  });
  listen();
  refresh();
}

start();
