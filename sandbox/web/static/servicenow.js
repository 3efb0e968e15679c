// The ServiceNow panel: the emulator's incidents and approvals, changed as a ServiceNow user would
// in ServiceNow's own forms. Each change is an Emulator.update as that user, which fires the
// instance's signed change events, so the bot's cards and DMs follow.

import { h } from "./blockkit.js";

const CLOSING = new Set(["6", "7"]);

export class ServiceNowPanel {
  constructor(root, { status }) {
    this.root = root;
    this.status = status;
    this.sn = null;
    this.slackUser = null;
    this.actorAuto = true;
    this.selected = null; // sys_id of the incident open in the form
    this.tab = "incidents";
    this.drawn = { incidents: null, approvals: null, records: null, actors: null };
    this.form = { for: null, dirty: false, base: null };
    this.build();
  }

  build() {
    this.actor = h("select", { id: "sn-actor" });
    this.actor.addEventListener("change", () => {
      this.actorAuto = false;
    });
    this.actorNote = h("div", { class: "sn-note" });
    this.tabs = h(
      "div",
      { class: "sn-tabs", role: "tablist" },
      h("button", { type: "button", role: "tab", dataset: { tab: "incidents" } }, "Incidents"),
      h("button", { type: "button", role: "tab", dataset: { tab: "approvals" } }, "Approvals"),
      h("button", { type: "button", role: "tab", dataset: { tab: "records" } }, "Requests, changes, problems"),
    );
    this.tabs.addEventListener("click", (event) => {
      const tab = event.target.closest("button[data-tab]");
      if (tab) this.show(tab.dataset.tab);
    });
    this.incidentRows = h("tbody");
    this.detail = h("div", { id: "sn-detail" });
    this.incidents = h(
      "section",
      { id: "sn-incidents", role: "tabpanel", "aria-label": "Incidents" },
      h("table", { class: "sn-list" },
        h("thead", {}, h("tr", {}, h("th", {}, "Number"), h("th", {}, "Short description"), h("th", {}, "State"), h("th", {}, "Assigned to"))),
        this.incidentRows),
      this.detail,
    );
    this.approvalRows = h("tbody");
    this.approvals = h(
      "section",
      { id: "sn-approvals", role: "tabpanel", "aria-label": "Approvals", hidden: true },
      h("table", { class: "sn-list" },
        h("thead", {}, h("tr", {}, h("th", {}, "Approval for"), h("th", {}, "Approver"), h("th", {}, "State"), h("th", {}, ""))),
        this.approvalRows),
    );
    this.recordRows = h("tbody");
    this.records = h(
      "section",
      { id: "sn-records", role: "tabpanel", "aria-label": "Requests, changes, problems", hidden: true },
      h("table", { class: "sn-list" },
        h("thead", {}, h("tr", {}, h("th", {}, "Number"), h("th", {}, "Short description"), h("th", {}, "Stage"), h("th", {}, "State"), h("th", {}, ""))),
        this.recordRows),
    );
    this.message = h("div", { class: "sn-message", role: "status" });
    this.root.replaceChildren(
      h("header", { class: "sn-header" },
        h("span", { class: "sn-logo" }, "servicenow"),
        h("span", { class: "sn-instance", id: "sn-instance" }, "emulator")),
      h("div", { class: "sn-actor" }, h("label", { for: "sn-actor" }, "Acting as"), this.actor, this.actorNote),
      this.tabs,
      this.message,
      this.incidents,
      this.approvals,
      this.records,
    );
    this.show("incidents");
  }

  show(tab) {
    this.tab = tab;
    this.incidents.hidden = tab !== "incidents";
    this.approvals.hidden = tab !== "approvals";
    this.records.hidden = tab !== "records";
    for (const button of this.tabs.querySelectorAll("button")) {
      const on = button.dataset.tab === tab;
      button.classList.toggle("active", on);
      button.setAttribute("aria-selected", on ? "true" : "false");
    }
  }

  userChanged() {
    this.actorAuto = true;
  }

  open(sysId) {
    document.body.classList.remove("sn-hidden");
    if (this.sn?.incidents.some((i) => i.sys_id === sysId)) {
      this.selected = sysId;
      this.form.for = null;
      this.show("incidents");
    } else {
      this.show("approvals");
    }
    if (this.sn) this.update(this.sn, this.slackUser);
  }

  say(text, kind = "ok") {
    this.message.textContent = text;
    this.message.className = `sn-message ${kind}`;
  }

  // ---- drawing ----------------------------------------------------------------------------

  update(sn, slackUser) {
    this.sn = sn;
    this.slackUser = slackUser;
    this.root.querySelector("#sn-instance").textContent = `emulator · ${sn.url.replace(/^https?:\/\//, "")}`;
    this.drawActors(sn, slackUser);
    this.drawIncidents(sn);
    this.drawDetail(sn);
    this.drawApprovals(sn);
    this.drawRecords(sn);
  }

  // Requested items, changes and problems: move a stage or a state as the acting user would.
  drawRecords(sn) {
    const records = sn.records || [];
    const key = JSON.stringify(records.map((r) => [r.sys_id, r.state, r.stage]));
    if (this.drawn.records === key) return;
    this.drawn.records = key;
    this.recordRows.replaceChildren(
      ...records.map((record) => {
        const forms = sn.record_choices[record.table] || {};
        const choice = (name, label) =>
          forms[name]
            ? h("select", { name, "aria-label": `${label} of ${record.number}` },
                ...forms[name].map((o) => h("option", { value: o.value, selected: o.value === record[name] }, o.label)))
            : null;
        const stage = choice("stage", "Stage");
        const state = choice("state", "State");
        const notes = h("input", { type: "text", placeholder: "Close notes", "aria-label": `Close notes of ${record.number}` });
        const update = async () => {
          const changes = {};
          if (stage && stage.value !== record.stage) changes.stage = stage.value;
          if (state && state.value !== record.state) changes.state = state.value;
          if (notes.value.trim()) changes.close_notes = notes.value;
          if (!Object.keys(changes).length) return this.say("Nothing to update.", "error");
          try {
            await this.post(`/api/servicenow/records/${record.table}/${record.sys_id}`, changes);
            this.say(`${record.number} updated as ${this.actor.selectedOptions[0]?.textContent}.`);
          } catch (problem) {
            this.say(problem.message, "error");
          }
        };
        return h(
          "tr",
          { class: "record", dataset: { number: record.number, table: record.table, sysId: record.sys_id } },
          h("td", { class: "number" }, h("b", {}, record.number), h("div", { class: "muted" }, record.table_label)),
          h("td", {}, record.short_description),
          h("td", { class: "stage" }, record.stage_label || "—"),
          h("td", { class: "state" }, record.state_label),
          h("td", {}, h("div", { class: "sn-decide" }, stage, state, notes,
            h("button", { type: "button", class: "btn sn-primary", onclick: update }, "Update"))),
        );
      }),
    );
  }

  drawActors(sn, slackUser) {
    const active = sn.users.filter((u) => u.active);
    const key = active.map((u) => u.user_name).join(",");
    if (this.drawn.actors !== key) {
      this.actor.replaceChildren(...active.map((u) => h("option", { value: u.user_name }, u.name)));
      this.drawn.actors = key;
    }
    const mapped = slackUser?.servicenow_active ? slackUser.servicenow_user : null;
    if (this.actorAuto) this.actor.value = mapped || "admin";
    this.actorNote.textContent = mapped
      ? ""
      : `${slackUser?.real_name || "This person"} cannot log in to ServiceNow${slackUser?.servicenow_user ? " (inactive)" : " (no account)"}.`;
  }

  drawIncidents(sn) {
    const key = JSON.stringify([sn.incidents.map((i) => [i.sys_id, i.state_label, i.assigned_to_name, i.short_description]), this.selected]);
    if (this.drawn.incidents === key) return;
    this.drawn.incidents = key;
    this.incidentRows.replaceChildren(
      ...sn.incidents.map((incident) =>
        h(
          "tr",
          {
            class: `${incident.sys_id === this.selected ? "selected" : ""} state-${incident.state}`,
            tabindex: "0",
            dataset: { number: incident.number, sysId: incident.sys_id },
            onclick: () => this.select(incident.sys_id),
            onkeydown: (event) => event.key === "Enter" && this.select(incident.sys_id),
          },
          h("td", { class: "number" }, incident.number),
          h("td", {}, incident.short_description),
          h("td", { class: "state" }, incident.state_label),
          h("td", {}, incident.assigned_to_name || "—"),
        ),
      ),
    );
  }

  select(sysId) {
    this.selected = this.selected === sysId ? null : sysId;
    this.form.for = null;
    this.say("");
    this.update(this.sn, this.slackUser);
  }

  drawDetail(sn) {
    const incident = sn.incidents.find((i) => i.sys_id === this.selected);
    if (!incident) {
      this.detail.replaceChildren();
      this.form.for = null;
      return;
    }
    const signature = `${incident.sys_id}:${incident.updated_on}:${incident.state}:${incident.assigned_to}`;
    if (this.form.for === signature || (this.form.dirty && this.form.for?.startsWith(incident.sys_id))) {
      this.drawLive(incident);
      return;
    }
    this.form = { for: signature, dirty: false, base: incident };
    const choice = (name, options, current, blank) =>
      h("select", { name },
        blank ? h("option", { value: "" }, blank) : null,
        ...options.map((o) => h("option", { value: o.value, selected: o.value === current }, o.label)));
    const field = (label, control, extra = {}) => h("label", { class: "sn-field", ...extra }, h("span", {}, label), control);
    const users = sn.users.filter((u) => u.active).map((u) => ({ value: u.sys_id, label: u.name }));
    const groups = sn.groups.map((g) => ({ value: g.sys_id, label: g.name }));
    const state = choice("state", sn.choices.state, incident.state);
    const resolution = h("div", { class: "sn-resolution" },
      field("Resolution code", choice("close_code", sn.choices.close_code, incident.close_code, "-- None --")),
      field("Resolution notes", h("textarea", { name: "close_notes", rows: 2 }, incident.close_notes)));
    const hold = h("div", { class: "sn-hold" }, field("On hold reason", choice("hold_reason", sn.choices.hold_reason, incident.hold_reason, "-- None --")));
    const toggle = () => {
      resolution.hidden = !CLOSING.has(state.value);
      hold.hidden = state.value !== "3";
    };
    state.addEventListener("change", toggle);
    const error = h("div", { class: "sn-error", role: "alert" });
    const form = h(
      "form",
      { class: "sn-form", onsubmit: (event) => this.submit(event, incident, form, error), oninput: () => (this.form.dirty = true), onchange: () => (this.form.dirty = true) },
      h("div", { class: "sn-grid" },
        field("State", state),
        field("Assignment group", choice("assignment_group", groups, incident.assignment_group, "-- None --")),
        field("Assigned to", choice("assigned_to", users, incident.assigned_to, "-- None --"))),
      resolution,
      hold,
      field("Additional comments (Customer visible)", h("textarea", { name: "comments", rows: 2 })),
      field("Work notes", h("textarea", { name: "work_notes", rows: 2 })),
      error,
      h("div", { class: "sn-buttons" },
        h("button", { type: "button", class: "btn", onclick: () => this.select(incident.sys_id) }, "Close form"),
        h("button", { type: "submit", class: "btn sn-primary" }, "Update")),
    );
    toggle();
    this.summary = h("dl", { class: "sn-summary" });
    this.activity = h("ul", { class: "sn-journal" });
    this.detail.replaceChildren(
      h("div", { class: "sn-record", dataset: { number: incident.number, sysId: incident.sys_id } },
        h("h3", {}, `Incident ${incident.number}`),
        h("div", { class: "sn-short" }, incident.short_description),
        this.summary,
        form,
        h("h4", {}, "Activity"),
        this.activity),
    );
    this.drawLive(incident);
  }

  drawLive(incident) {
    const pairs = [
      ["Caller", incident.caller || "—"],
      ["State", incident.state_label + (incident.state === "3" && incident.hold_reason_label ? ` (${incident.hold_reason_label})` : "")],
      ["Priority", incident.priority],
      ["Group", incident.group_name || "—"],
      ["Assigned to", incident.assigned_to_name || "—"],
      ["Updated", `${incident.updated_on} by ${incident.updated_by}`],
    ];
    this.summary.replaceChildren(...pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { field: k } }, v)]));
    this.activity.replaceChildren(
      ...(incident.journal.length
        ? incident.journal.map((e) =>
            h("li", { class: e.kind }, h("div", { class: "sn-journal-head" }, `${e.by} · ${e.on} · ${e.kind === "comments" ? "Additional comments" : "Work notes"}`), h("div", {}, e.value)))
        : [h("li", { class: "muted" }, "No comments or work notes yet.")]),
    );
  }

  async submit(event, incident, form, error) {
    event.preventDefault();
    error.textContent = "";
    const base = this.form.base;
    const data = Object.fromEntries(new FormData(form).entries());
    const changes = {};
    for (const name of ["state", "assignment_group", "assigned_to", "hold_reason", "close_code", "close_notes"]) {
      if (data[name] !== undefined && data[name] !== (base[name] ?? "")) changes[name] = data[name];
    }
    if (CLOSING.has(data.state) && (changes.state || changes.close_code || changes.close_notes)) {
      changes.close_code = data.close_code;
      changes.close_notes = data.close_notes;
    }
    if (data.state === "3" && changes.state) changes.hold_reason = data.hold_reason;
    for (const name of ["comments", "work_notes"]) if (data[name]?.trim()) changes[name] = data[name];
    if (!Object.keys(changes).length) {
      error.textContent = "Nothing to update.";
      return;
    }
    try {
      await this.post(`/api/servicenow/incidents/${incident.sys_id}`, changes);
      this.form.dirty = false;
      this.form.for = null;
      this.say(`${incident.number} updated as ${this.actor.selectedOptions[0]?.textContent}.`);
    } catch (problem) {
      error.textContent = problem.message;
    }
  }

  drawApprovals(sn) {
    const pending = sn.approvals.filter((a) => a.state === "requested").length;
    this.tabs.querySelector('[data-tab="approvals"]').textContent = pending ? `Approvals (${pending} pending)` : "Approvals";
    const key = JSON.stringify(sn.approvals.map((a) => [a.sys_id, a.state, a.journal.length]));
    if (this.drawn.approvals === key) return;
    this.drawn.approvals = key;
    this.approvalRows.replaceChildren(
      ...sn.approvals.map((approval) => {
        const comment = h("input", { type: "text", placeholder: "Comments (optional)", "aria-label": `Comments on ${approval.task_number}` });
        const decide = (state) => async () => {
          try {
            await this.post(`/api/servicenow/approvals/${approval.sys_id}`, { state, comments: comment.value });
            this.say(`${approval.task_number}: ${state} as ${this.actor.selectedOptions[0]?.textContent}.`);
          } catch (problem) {
            this.say(problem.message, "error");
          }
        };
        const latest = approval.journal[0];
        return h(
          "tr",
          { class: `approval state-${approval.state}`, dataset: { task: approval.task_number, approver: approval.approver_name, sysId: approval.sys_id } },
          h("td", {}, h("b", {}, approval.task_number), " ", approval.task_short_description, latest ? h("div", { class: "muted" }, `“${latest.value}” — ${latest.by}`) : null),
          h("td", {}, approval.approver_name),
          h("td", { class: "state" }, approval.state_label),
          h("td", {},
            approval.state === "requested"
              ? h("div", { class: "sn-decide" },
                  comment,
                  h("button", { type: "button", class: "btn sn-primary", onclick: decide("approved") }, "Approve"),
                  h("button", { type: "button", class: "btn danger", onclick: decide("rejected") }, "Reject"))
              : null),
        );
      }),
    );
  }

  async post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ as_user: this.actor.value, ...body }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.detail ? `${answer.error}: ${answer.detail}` : answer.error || `HTTP ${response.status}`);
    return answer;
  }
}
