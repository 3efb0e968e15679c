"""The base business rules: defaults, priority, incident states, approvals, journal entries.

Rules only decide: they change the record being written, refuse it (DataPolicyError), or say
which other records to write next (`after`); the emulator carries the writes out. Who may write
what is `acl.py`'s business.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

from sandbox.servicenow.errors import DataPolicyError
from sandbox.servicenow.schema import Table
from sandbox.servicenow.store import Record, RecordStore

PRIORITY = {
    ("1", "1"): "1",
    ("1", "2"): "2",
    ("1", "3"): "3",
    ("2", "1"): "2",
    ("2", "2"): "3",
    ("2", "3"): "4",
    ("3", "1"): "3",
    ("3", "2"): "4",
    ("3", "3"): "5",
}
TASK_DEFAULTS = {
    "impact": "3",
    "urgency": "3",
    "approval": "not requested",
    "active": "true",
    "escalation": "0",
    "upon_approval": "proceed",
    "upon_reject": "cancel",
    "made_sla": "true",
    "knowledge": "false",
    "reassignment_count": "0",
    "sys_domain": "global",
    "sys_domain_path": "/",
}
TABLE_DEFAULTS: dict[str, dict[str, str]] = {
    "incident": {
        "state": "1",
        "category": "inquiry",
        "reopen_count": "0",
        "child_incidents": "0",
        "notify": "1",
        "severity": "3",
        "contact_type": "phone",
    },
    "problem": {"state": "101", "known_error": "false"},
    "change_request": {"state": "-5", "type": "normal", "risk": "3"},
    "sc_request": {"state": "1", "request_state": "requested"},
    "sc_req_item": {"state": "1", "stage": "waiting_for_approval", "quantity": "1"},
    "sys_user": {"active": "true", "locked_out": "false", "vip": "false", "sys_domain": "global"},
    "sys_user_group": {"active": "true"},
    "sys_user_has_role": {"state": "active", "inherited": "false"},
    "sys_choice": {"inactive": "false", "language": "en", "sequence": "0"},
    "sysapproval_approver": {"state": "requested"},
    "sys_user_role": {"elevated_privilege": "false"},
}


# The states after which a record of these tables is no longer active.
CLOSED_STATES: dict[str, tuple[str, ...]] = {
    "sc_req_item": ("3", "4", "7"),
    "change_request": ("3", "4"),
    "problem": ("107",),
}


class Write(NamedTuple):
    """A write a rule asks for, made as the `system` user."""

    table: str
    sys_id: str
    values: dict[str, str]


class BusinessRules:
    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self.data_policy_enabled = True

    def defaults(self, schema: Table, as_user: str, now: str) -> Record:
        """What a new record starts as, before the caller's values."""
        defaults: Record = {}
        if schema.number_prefix:
            defaults.update(TASK_DEFAULTS)
            defaults.update(opened_at=now, opened_by=self.store.user_id(as_user))
            defaults["sys_class_name"] = schema.name
        defaults.update(TABLE_DEFAULTS.get(schema.name, {}))
        return {k: v for k, v in defaults.items() if k in schema.fields}

    def before(
        self, schema: Table, record: Record, previous: Record | None, as_user: str, now: str
    ) -> None:
        """Before the write: priority, the incident state rules, an approval's document."""
        if schema.number_prefix:
            record["priority"] = PRIORITY.get((record["impact"], record["urgency"]), "5")
        if schema.name == "incident":
            self._incident(record, previous, as_user, now)
        if schema.name == "sc_req_item":
            self._requested_item(record, previous, now)
        if schema.name in CLOSED_STATES:
            record["active"] = "false" if record["state"] in CLOSED_STATES[schema.name] else "true"
        if schema.name == "sysapproval_approver" and record["sysapproval"]:
            target = self.store.find("task", record["sysapproval"])
            if target is not None:
                record["source_table"] = record["source_table"] or target[0].name
            record["document_id"] = record["document_id"] or record["sysapproval"]

    @staticmethod
    def _requested_item(record: Record, previous: Record | None, now: str) -> None:
        """The catalog workflow's first steps: approved items move on to fulfilment; a closed
        item is complete (Closed Complete) or cancelled (Closed Incomplete / Skipped)."""
        approved = (
            record["approval"] == "approved" and (previous or {}).get("approval") != "approved"
        )
        if approved and record["stage"] == "waiting_for_approval":
            record["stage"] = "request_approved"
        if record["approval"] == "rejected" and record["state"] not in ("3", "4", "7"):
            record.update(state="4", stage="request_cancelled")
        if record["state"] == "3":
            record["stage"] = "complete"
        if record["state"] in ("3", "4", "7") and not record["closed_at"]:
            record["closed_at"] = now

    def _incident(self, record: Record, previous: Record | None, as_user: str, now: str) -> None:
        record["incident_state"] = record["state"]
        old, new = (previous or {}).get("state", ""), record["state"]
        user_id = self.store.user_id(as_user)
        if new != old:
            if old == "3":
                record["hold_reason"] = ""
            if new == "6":
                record.update(resolved_at=now, resolved_by=user_id)
            if new == "7":
                record.update(closed_at=now, closed_by=user_id)
                if not record["resolved_at"]:
                    record.update(resolved_at=now, resolved_by=user_id)
            if old in ("6", "7") and new in ("1", "2", "3"):
                record.update(resolved_at="", resolved_by="", closed_at="", closed_by="")
                record["reopen_count"] = str(int(record["reopen_count"] or "0") + 1)
        record["active"] = "false" if new in ("7", "8") else "true"
        if previous is not None and (
            record["assigned_to"] != previous["assigned_to"]
            or record["assignment_group"] != previous["assignment_group"]
        ):
            record["reassignment_count"] = str(int(record["reassignment_count"] or "0") + 1)
        if not self.data_policy_enabled:
            return
        if new in ("6", "7"):
            missing = [
                self.store.tables["incident"].fields[name].label
                for name in ("close_code", "close_notes")
                if not record[name].strip()
            ]
            if missing:
                raise DataPolicyError(missing)
        if new == "3" and not record["hold_reason"]:
            raise DataPolicyError([self.store.tables["incident"].fields["hold_reason"].label])

    def journal(
        self, schema: Table, record: Record, notes: list[tuple[str, str]], as_user: str, now: str
    ) -> None:
        """One sys_journal_field entry per comment or work note written."""
        for element, value in notes:
            entry_id = uuid.uuid4().hex
            self.store.add(
                "sys_journal_field",
                {
                    "sys_id": entry_id,
                    "sys_created_on": now,
                    "name": schema.name,
                    "element_id": record["sys_id"],
                    "sys_tags": "",
                    "value": value,
                    "sys_created_by": as_user,
                    "element": element,
                },
            )

    def after(self, schema: Table, record: Record, previous: Record | None) -> list[Write]:
        """After the write: a new or decided approval rolls up to its task."""
        if schema.name != "sysapproval_approver" or not record["sysapproval"]:
            return []
        old = previous["state"] if previous else ""
        decided = old == "requested" and record["state"] in ("approved", "rejected")
        if previous is None or decided:
            return self._roll_up(record["sysapproval"])
        return []

    def _roll_up(self, task_id: str) -> list[Write]:
        """Parent `approval`: any rejected -> rejected; all approved -> approved (c_ApprovalStatus).

        A rejection also makes the approvals still requested no longer required.
        """
        rows = [r for r in self.store.rows("sysapproval_approver") if r["sysapproval"] == task_id]
        states = [r["state"] for r in rows]
        counted = [s for s in states if s not in ("cancelled", "not_required", "not requested")]
        writes: list[Write] = []
        if "rejected" in states:
            result = "rejected"
            writes = [
                Write("sysapproval_approver", row["sys_id"], {"state": "not_required"})
                for row in rows
                if row["state"] == "requested"
            ]
        elif counted and all(s == "approved" for s in counted):
            result = "approved"
        elif "requested" in states:
            result = "requested"
        else:
            return []
        found = self.store.find("task", task_id)
        if found is not None and found[1]["approval"] != result:
            writes.append(Write(found[0].name, task_id, {"approval": result}))
        return writes
