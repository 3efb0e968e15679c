// Block Kit and mrkdwn, rendered into DOM nodes the way Slack's client shows them (enough of it).
//
// renderBlocks(blocks, ctx) -> DocumentFragment. ctx:
//   users: Map of user id -> name, for <@U…> mentions
//   act(element, block, extra): an interactive element was used (button, select, overflow…)
//   suggest(element, block, query): Promise of {options, option_groups} (external selects)
//   openUrl(url): a link or a url button was clicked
//   form: true inside a modal, where input blocks collect state instead of acting

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- mrkdwn -------------------------------------------------------------------------------

const EMOJI = {
  new: "🆕", large_blue_circle: "🔵", double_vertical_bar: "⏸️", white_check_mark: "✅",
  lock: "🔒", no_entry_sign: "🚫", grey_question: "❔", question: "❓", speech_balloon: "💬",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", information_source: "ℹ️", warning: "⚠️",
  x: "❌", heavy_check_mark: "✔️", tada: "🎉", bell: "🔔", inbox_tray: "📥", clipboard: "📋",
  memo: "📝", pencil: "📝", rotating_light: "🚨", fire: "🔥", thumbsup: "👍", "+1": "👍",
  thumbsdown: "👎", "-1": "👎", point_right: "👉", bust_in_silhouette: "👤", busts_in_silhouette: "👥",
  red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", white_circle: "⚪",
  arrows_counterclockwise: "🔄", mag: "🔍", link: "🔗", wrench: "🔧", gear: "⚙️",
  calendar: "📅", spiral_calendar_pad: "🗓️", clock3: "🕒", stopwatch: "⏱️", eyes: "👀",
  raising_hand: "🙋", wave: "👋", house: "🏠", envelope: "✉️", incoming_envelope: "📨",
  heavy_plus_sign: "➕", heavy_minus_sign: "➖", arrow_right: "➡️", arrow_left: "⬅️",
  leftwards_arrow_with_hook: "↩️", ballot_box_with_check: "☑️", no_entry: "⛔",
  construction: "🚧", package: "📦", computer: "💻", printer: "🖨️", sparkles: "✨", zap: "⚡",
  checkered_flag: "🏁", pushpin: "📌", label: "🏷️", scroll: "📜", lock_with_ink_pen: "🔏",
  unlock: "🔓", key: "🔑", sos: "🆘", ok: "🆗", rocket: "🚀", hammer_and_wrench: "🛠️",
};

const LINK = /<([^<>|\n]+)(?:\|([^<>\n]*))?>/g;

function decode(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function escapeHtml(text) {
  return String(text)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

export function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
}

function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

function linkHtml(target, label, ctx) {
  const shown = label ? decode(label) : "";
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = shown || (ctx.users && ctx.users.get(id)) || id;
    return `<span class="mention">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) {
    return `<span class="mention">#${escapeHtml(shown || target.slice(1))}</span>`;
  }
  if (target.startsWith("!")) {
    const word = (shown || target.slice(1)).split("^")[0];
    return `<span class="mention">@${escapeHtml(word)}</span>`;
  }
  const url = safeUrl(decode(target));
  const text = escapeHtml(shown || decode(target));
  if (!url) return text;
  return `<a class="bk-link" href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${text}</a>`;
}

// One paragraph of inline mrkdwn: links, `code`, *bold*, _italic_, ~strike~, :emoji:.
function inline(raw, ctx) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let text = raw.replace(LINK, (all, target, label) => hold(linkHtml(target, label, ctx)));
  text = decode(text);
  text = text.replace(/`([^`\n]+)`/g, (all, code) => hold(`<code>${escapeHtml(code)}</code>`));
  text = emojify(escapeHtml(text));
  const edge = "(^|[\\s(\\[\"'\\u0000])";
  const after = "(?=$|[\\s.,!?;:)\\]\"'\\u0000])";
  text = text
    .replace(new RegExp(`${edge}\\*(?!\\s)([^*\\n]+?)\\*${after}`, "g"), "$1<b>$2</b>")
    .replace(new RegExp(`${edge}_(?!\\s)([^_\\n]+?)_${after}`, "g"), "$1<i>$2</i>")
    .replace(new RegExp(`${edge}~(?!\\s)([^~\\n]+?)~${after}`, "g"), "$1<s>$2</s>");
  return text.replace(/\u0000(\d+)\u0000/g, (all, index) => held[Number(index)]);
}

// mrkdwn to HTML: ```pre``` blocks, > quotes, line breaks, and inline formatting.
export function mrkdwn(text, ctx = {}) {
  const parts = String(text ?? "").split(/```([\s\S]*?)```/);
  let html = "";
  parts.forEach((part, index) => {
    if (index % 2 === 1) {
      html += `<pre>${escapeHtml(decode(part.replace(/^\n/, "")))}</pre>`;
      return;
    }
    const lines = part.split("\n");
    let quote = [];
    const flush = () => {
      if (quote.length) html += `<blockquote>${quote.join("<br>")}</blockquote>`;
      quote = [];
    };
    lines.forEach((line, i) => {
      const quoted = line.match(/^(?:&gt;|>)\s?(.*)$/);
      if (quoted) {
        quote.push(inline(quoted[1], ctx));
        return;
      }
      flush();
      html += inline(line, ctx) + (i < lines.length - 1 ? "<br>" : "");
    });
    flush();
  });
  return html;
}

export function textNode(obj, ctx, tag = "span") {
  if (!obj) return h(tag);
  if (typeof obj === "string") return h(tag, { html: mrkdwn(obj, ctx) });
  if (obj.type === "plain_text") {
    const shown = obj.emoji === false ? obj.text : emojify(escapeHtml(obj.text ?? ""));
    return h(tag, { class: "plain", html: shown.replace(/\n/g, "<br>") });
  }
  if (obj.verbatim) return h(tag, { text: obj.text ?? "" });
  return h(tag, { class: "mrkdwn", html: mrkdwn(obj.text ?? "", ctx) });
}

export function plainText(obj) {
  if (!obj) return "";
  return emojify(typeof obj === "string" ? obj : obj.text ?? "");
}

// ---- elements -----------------------------------------------------------------------------

function optionOf(option) {
  return { text: option.text, value: option.value };
}

function allOptions(element) {
  const groups = element.option_groups || [];
  return [...(element.options || []), ...groups.flatMap((group) => group.options || [])];
}

async function confirmed(element) {
  const spec = element.confirm;
  if (!spec) return true;
  return new Promise((resolve) => {
    const done = (answer) => {
      backdrop.remove();
      resolve(answer);
    };
    const backdrop = h(
      "div",
      { class: "modal-backdrop confirm" },
      h(
        "div",
        { class: "modal small", role: "dialog", "aria-modal": "true", "aria-label": plainText(spec.title) },
        h("header", {}, h("h2", { text: plainText(spec.title) || "Are you sure?" })),
        h("div", { class: "modal-body" }, textNode(spec.text, {}, "p")),
        h(
          "footer",
          {},
          h("button", { type: "button", class: "btn", onclick: () => done(false) }, plainText(spec.deny) || "Cancel"),
          h(
            "button",
            { type: "button", class: `btn ${spec.style === "danger" ? "danger" : "primary"}`, onclick: () => done(true) },
            plainText(spec.confirm) || "Yes",
          ),
        ),
      ),
    );
    document.body.append(backdrop);
  });
}

function button(element, block, ctx) {
  const style = element.style ? ` ${element.style}` : "";
  return h(
    "button",
    {
      type: "button",
      class: `btn bk-button${style}`,
      dataset: { actionId: element.action_id || "", value: element.value ?? "" },
      onclick: async (event) => {
        const node = event.currentTarget;
        if (!(await confirmed(element))) return;
        if (element.url && ctx.openUrl) ctx.openUrl(element.url);
        node.disabled = true;
        try {
          await ctx.act(element, block, { value: element.value });
        } finally {
          node.disabled = false;
        }
      },
    },
    plainText(element.text),
  );
}

function staticSelect(element, block, ctx) {
  const select = h("select", {
    class: "bk-select",
    "aria-label": plainText(element.placeholder) || "Select",
    dataset: { actionId: element.action_id || "", kind: element.type },
  });
  select.append(h("option", { value: "", disabled: true, selected: true }, plainText(element.placeholder) || "Select an item"));
  const add = (parent, option) =>
    parent.append(
      h("option", { value: option.value, selected: element.initial_option?.value === option.value }, plainText(option.text)),
    );
  (element.options || []).forEach((option) => add(select, option));
  for (const group of element.option_groups || []) {
    const node = h("optgroup", { label: plainText(group.label) });
    (group.options || []).forEach((option) => add(node, option));
    select.append(node);
  }
  select.selectedOption = () => {
    const found = allOptions(element).find((option) => option.value === select.value);
    return found ? optionOf(found) : null;
  };
  if (!ctx.form || block.type !== "input") {
    select.addEventListener("change", async () => {
      if (!(await confirmed(element))) return;
      await ctx.act(element, block, { selected_option: select.selectedOption() });
    });
  }
  return select;
}

function externalSelect(element, block, ctx) {
  const input = h("input", {
    type: "text",
    class: "bk-control",
    role: "combobox",
    autocomplete: "off",
    "aria-label": plainText(element.placeholder) || "Search",
    placeholder: plainText(element.placeholder) || "Type to search",
  });
  const list = h("ul", { class: "suggestions", role: "listbox", hidden: true });
  const wrap = h("div", { class: "bk-external", dataset: { actionId: element.action_id || "", kind: element.type } }, input, list);
  let chosen = element.initial_option ? optionOf(element.initial_option) : null;
  if (chosen) input.value = plainText(chosen.text);
  wrap.selectedOption = () => chosen;
  wrap.setSelected = (option) => {
    chosen = option;
    input.value = option ? plainText(option.text) : "";
  };
  let asked = 0;
  const pick = async (option) => {
    wrap.setSelected(option);
    list.hidden = true;
    if (!ctx.form || block.type !== "input") await ctx.act(element, block, { selected_option: option });
  };
  const search = async () => {
    const query = input.value;
    if (query.length < (element.min_query_length ?? 3)) {
      list.hidden = true;
      return;
    }
    const ticket = ++asked;
    list.replaceChildren(h("li", { class: "muted" }, "Searching…"));
    list.hidden = false;
    const answer = await ctx.suggest(element, block, query);
    if (ticket !== asked) return;
    const groups = answer.option_groups?.length
      ? answer.option_groups
      : [{ label: null, options: answer.options || [] }];
    list.replaceChildren();
    for (const group of groups) {
      if (group.label) list.append(h("li", { class: "group" }, plainText(group.label)));
      for (const option of group.options || []) {
        list.append(
          h("li", { role: "option", tabindex: "-1", onmousedown: (event) => { event.preventDefault(); pick(optionOf(option)); } }, plainText(option.text)),
        );
      }
    }
    if (!list.children.length) list.append(h("li", { class: "muted" }, "No results"));
  };
  input.addEventListener("focus", search);
  input.addEventListener("input", () => {
    chosen = null;
    search();
  });
  input.addEventListener("blur", () => {
    list.hidden = true;
    if (chosen) input.value = plainText(chosen.text);
  });
  return wrap;
}

function overflow(element, block, ctx) {
  const menu = h("div", { class: "overflow-menu", role: "menu", hidden: true });
  const toggle = h("button", {
    type: "button",
    class: "btn bk-overflow",
    "aria-label": "More actions",
    "aria-haspopup": "menu",
    dataset: { actionId: element.action_id || "" },
    onclick: () => {
      menu.hidden = !menu.hidden;
    },
  }, "⋯");
  for (const option of element.options || []) {
    menu.append(
      h("button", {
        type: "button",
        role: "menuitem",
        onclick: async () => {
          menu.hidden = true;
          if (!(await confirmed(element))) return;
          if (option.url && ctx.openUrl) ctx.openUrl(option.url);
          await ctx.act(element, block, { selected_option: optionOf(option) });
        },
      }, plainText(option.text)),
    );
  }
  return h("span", { class: "bk-overflow-wrap" }, toggle, menu);
}

function textInput(element) {
  const attrs = {
    class: "bk-control",
    dataset: { actionId: element.action_id || "", kind: element.type },
    placeholder: plainText(element.placeholder) || null,
    maxlength: element.max_length || null,
  };
  if (element.multiline) return h("textarea", { ...attrs, rows: 4 }, element.initial_value || "");
  const type = { email_text_input: "email", url_text_input: "url", number_input: "number" }[element.type] || "text";
  return h("input", { ...attrs, type, value: element.initial_value || "" });
}

function choiceList(element, block, ctx, multiple) {
  const wrap = h("div", { class: "bk-choices", dataset: { actionId: element.action_id || "", kind: element.type } });
  const name = `${block.block_id || "b"}-${element.action_id || "a"}-${Math.random().toString(36).slice(2, 7)}`;
  const initial = new Set(
    (multiple ? element.initial_options || [] : element.initial_option ? [element.initial_option] : []).map((o) => o.value),
  );
  for (const option of element.options || []) {
    wrap.append(
      h("label", { class: "choice" },
        h("input", { type: multiple ? "checkbox" : "radio", name, value: option.value, checked: initial.has(option.value) }),
        textNode(option.text, ctx)),
    );
  }
  wrap.selected = () =>
    [...wrap.querySelectorAll("input:checked")]
      .map((node) => (element.options || []).find((option) => option.value === node.value))
      .filter(Boolean)
      .map(optionOf);
  return wrap;
}

function usersSelect(element, block, ctx) {
  const select = h("select", { class: "bk-select", dataset: { actionId: element.action_id || "", kind: element.type } });
  select.append(h("option", { value: "", disabled: true, selected: !element.initial_user }, plainText(element.placeholder) || "Select a person"));
  for (const [id, name] of ctx.users || []) {
    select.append(h("option", { value: id, selected: element.initial_user === id }, name));
  }
  return select;
}

export function renderElement(element, block, ctx) {
  switch (element?.type) {
    case "button":
      return button(element, block, ctx);
    case "static_select":
    case "multi_static_select":
      return staticSelect(element, block, ctx);
    case "external_select":
    case "multi_external_select":
      return externalSelect(element, block, ctx);
    case "overflow":
      return overflow(element, block, ctx);
    case "plain_text_input":
    case "email_text_input":
    case "url_text_input":
    case "number_input":
      return textInput(element);
    case "datepicker":
      return h("input", { type: "date", class: "bk-control", value: element.initial_date || "", dataset: { actionId: element.action_id || "", kind: element.type } });
    case "timepicker":
      return h("input", { type: "time", class: "bk-control", value: element.initial_time || "", dataset: { actionId: element.action_id || "", kind: element.type } });
    case "checkboxes":
      return choiceList(element, block, ctx, true);
    case "radio_buttons":
      return choiceList(element, block, ctx, false);
    case "users_select":
      return usersSelect(element, block, ctx);
    case "image":
      return h("img", { class: "bk-image-small", src: element.image_url, alt: element.alt_text || "" });
    case "mrkdwn":
    case "plain_text":
      return textNode(element, ctx);
    default:
      return h("span", { class: "muted" }, `[${element?.type || "element"}]`);
  }
}

// The state.values entry Slack sends for an input element, read from its DOM node.
export function elementState(element, node) {
  const kind = element.type;
  if (["plain_text_input", "email_text_input", "url_text_input", "number_input"].includes(kind)) {
    return { type: kind, value: node.value === "" ? null : node.value };
  }
  if (kind === "static_select" || kind === "external_select") {
    return { type: kind, selected_option: node.selectedOption() };
  }
  if (kind === "multi_static_select" || kind === "multi_external_select") {
    const one = node.selectedOption();
    return { type: kind, selected_options: one ? [one] : [] };
  }
  if (kind === "checkboxes") return { type: kind, selected_options: node.selected() };
  if (kind === "radio_buttons") return { type: kind, selected_option: node.selected()[0] || null };
  if (kind === "datepicker") return { type: kind, selected_date: node.value || null };
  if (kind === "timepicker") return { type: kind, selected_time: node.value || null };
  if (kind === "users_select") return { type: kind, selected_user: node.value || null };
  return { type: kind };
}

export function isEmpty(state) {
  const values = Object.entries(state).filter(([key]) => key !== "type").map(([, value]) => value);
  return values.every((value) => value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length));
}

// ---- blocks -------------------------------------------------------------------------------

function richText(element, ctx) {
  if (!element) return "";
  switch (element.type) {
    case "rich_text":
      return (element.elements || []).map((e) => richText(e, ctx)).join("");
    case "rich_text_section":
      return `<div>${(element.elements || []).map((e) => richText(e, ctx)).join("")}</div>`;
    case "rich_text_quote":
      return `<blockquote>${(element.elements || []).map((e) => richText(e, ctx)).join("")}</blockquote>`;
    case "rich_text_preformatted":
      return `<pre>${(element.elements || []).map((e) => richText(e, ctx)).join("")}</pre>`;
    case "rich_text_list": {
      const tag = element.style === "ordered" ? "ol" : "ul";
      return `<${tag}>${(element.elements || []).map((e) => `<li>${richText(e, ctx)}</li>`).join("")}</${tag}>`;
    }
    case "text": {
      let html = escapeHtml(element.text || "").replace(/\n/g, "<br>");
      const style = element.style || {};
      if (style.code) html = `<code>${html}</code>`;
      if (style.bold) html = `<b>${html}</b>`;
      if (style.italic) html = `<i>${html}</i>`;
      if (style.strike) html = `<s>${html}</s>`;
      return html;
    }
    case "link":
      return linkHtml(element.url || "", element.text || "", ctx);
    case "user":
      return linkHtml(`@${element.user_id}`, "", ctx);
    case "channel":
      return linkHtml(`#${element.channel_id}`, "", ctx);
    case "emoji":
      return emojify(`:${element.name}:`);
    default:
      return escapeHtml(element.text || "");
  }
}

export function renderBlock(block, ctx) {
  const node = h("div", { class: `bk-block bk-${block.type}`, dataset: { blockId: block.block_id || "" } });
  switch (block.type) {
    case "section": {
      const body = h("div", { class: "bk-section-body" });
      if (block.text) body.append(textNode(block.text, ctx, "div"));
      if (block.fields?.length) {
        body.append(h("div", { class: "bk-fields" }, block.fields.map((field) => textNode(field, ctx, "div"))));
      }
      node.append(body);
      if (block.accessory) node.append(h("div", { class: "bk-accessory" }, renderElement(block.accessory, block, ctx)));
      break;
    }
    case "header":
      node.append(h("h3", {}, plainText(block.text)));
      break;
    case "divider":
      node.append(h("hr"));
      break;
    case "context":
      for (const element of block.elements || []) {
        node.append(element.type === "image" ? h("img", { class: "bk-context-image", src: element.image_url, alt: element.alt_text || "" }) : textNode(element, ctx));
      }
      break;
    case "actions":
      for (const element of block.elements || []) node.append(renderElement(element, block, ctx));
      break;
    case "image":
      if (block.title) node.append(textNode(block.title, ctx, "div"));
      node.append(h("img", { class: "bk-image", src: block.image_url, alt: block.alt_text || "" }));
      break;
    case "input": {
      const label = h("label", { class: "bk-label" }, plainText(block.label), block.optional ? h("span", { class: "muted" }, " (optional)") : null);
      const control = renderElement(block.element, block, ctx);
      const id = `in-${block.block_id}-${block.element?.action_id}`.replace(/[^\w-]/g, "_");
      const focusable = control.matches("input, select, textarea") ? control : control.querySelector("input, select, textarea");
      if (focusable) {
        focusable.id = id;
        focusable.removeAttribute("aria-label"); // the visible label names it
        label.setAttribute("for", id);
      }
      node.append(label, control);
      if (block.hint) node.append(h("div", { class: "bk-hint" }, plainText(block.hint)));
      node.append(h("div", { class: "bk-error", role: "alert", dataset: { errorFor: block.block_id || "" } }));
      node.inputControl = control;
      break;
    }
    case "rich_text":
      node.innerHTML = richText(block, ctx);
      break;
    case "markdown":
      node.innerHTML = mrkdwn(block.text || "", ctx);
      break;
    default:
      node.append(h("span", { class: "muted" }, `[${block.type} block]`));
  }
  return node;
}

export function renderBlocks(blocks, ctx) {
  const fragment = document.createDocumentFragment();
  for (const block of blocks || []) fragment.append(renderBlock(block, ctx));
  return fragment;
}

// Legacy attachments: a colour bar with text, fields, or blocks.
export function renderAttachment(attachment, ctx) {
  const color = attachment.color ? (attachment.color.startsWith("#") ? attachment.color : { good: "#2eb67d", warning: "#ecb22e", danger: "#e01e5a" }[attachment.color] || "#ddd") : "#ddd";
  const body = h("div", { class: "attachment-body" });
  if (attachment.pretext) body.append(textNode(attachment.pretext, ctx, "div"));
  if (attachment.title) body.append(h("div", { class: "attachment-title" }, attachment.title));
  if (attachment.text) body.append(textNode(attachment.text, ctx, "div"));
  if (attachment.fields?.length) {
    body.append(h("div", { class: "bk-fields" }, attachment.fields.map((f) => h("div", {}, h("b", {}, f.title || ""), h("div", { html: mrkdwn(f.value || "", ctx) })))));
  }
  if (attachment.blocks) body.append(renderBlocks(attachment.blocks, ctx));
  return h("div", { class: "attachment", style: `border-left-color: ${color}` }, body);
}
