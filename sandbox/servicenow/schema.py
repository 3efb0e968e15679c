"""The tables the emulator knows: their fields (in the order ServiceNow returns them) and kinds.

Field order for `incident` and `problem` is the order of the documented Table API samples in
`fixtures/servicenow/`; other tables put the task fields first and their own fields after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Kind(Enum):
    STRING = "string"
    REFERENCE = "reference"
    CHOICE = "choice"
    JOURNAL = "journal"
    DOCUMENT_ID = "document_id"


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = Kind.STRING
    reference: str | None = None  # target table of a REFERENCE
    label: str = ""  # human label (journal headers, data policy messages)


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    fields: dict[str, Field]
    display_field: str = "sys_id"
    number_prefix: str | None = None
    children: tuple[str, ...] = field(default=())  # for `task`: the tables it is read from

    def has(self, name: str) -> bool:
        return name in self.fields


def ref(target: str) -> tuple[Kind, str]:
    return (Kind.REFERENCE, target)


_SYS = {
    "sys_id": Kind.STRING,
    "sys_created_on": Kind.STRING,
    "sys_created_by": Kind.STRING,
    "sys_updated_on": Kind.STRING,
    "sys_updated_by": Kind.STRING,
    "sys_mod_count": Kind.STRING,
    "sys_tags": Kind.STRING,
}

_LABELS = {
    "comments": "Additional comments",
    "work_notes": "Work notes",
    "close_code": "Resolution code",
    "close_notes": "Close notes",
    "hold_reason": "On hold reason",
}

Spec = Kind | tuple[Kind, str]

# Field order of the documented `problem` sample: the fields every task carries.
TASK_FIELDS: dict[str, Spec] = {
    "parent": ref("task"),
    "made_sla": Kind.STRING,
    "watch_list": Kind.STRING,
    "upon_reject": Kind.STRING,
    "sys_updated_on": Kind.STRING,
    "approval_history": Kind.STRING,
    "number": Kind.STRING,
    "sys_updated_by": Kind.STRING,
    "opened_by": ref("sys_user"),
    "user_input": Kind.STRING,
    "sys_created_on": Kind.STRING,
    "sys_domain": ref("sys_user_group"),
    "state": Kind.CHOICE,
    "sys_created_by": Kind.STRING,
    "knowledge": Kind.STRING,
    "order": Kind.STRING,
    "closed_at": Kind.STRING,
    "cmdb_ci": ref("cmdb_ci"),
    "delivery_plan": Kind.STRING,
    "impact": Kind.CHOICE,
    "active": Kind.STRING,
    "work_notes_list": Kind.STRING,
    "business_service": ref("cmdb_ci_service"),
    "priority": Kind.CHOICE,
    "sys_domain_path": Kind.STRING,
    "time_worked": Kind.STRING,
    "expected_start": Kind.STRING,
    "rejection_goto": Kind.STRING,
    "opened_at": Kind.STRING,
    "business_duration": Kind.STRING,
    "group_list": Kind.STRING,
    "work_end": Kind.STRING,
    "approval_set": Kind.STRING,
    "wf_activity": Kind.STRING,
    "work_notes": Kind.JOURNAL,
    "short_description": Kind.STRING,
    "correlation_display": Kind.STRING,
    "delivery_task": Kind.STRING,
    "work_start": Kind.STRING,
    "assignment_group": ref("sys_user_group"),
    "additional_assignee_list": Kind.STRING,
    "description": Kind.STRING,
    "calendar_duration": Kind.STRING,
    "close_notes": Kind.STRING,
    "sys_class_name": Kind.STRING,
    "closed_by": ref("sys_user"),
    "follow_up": Kind.STRING,
    "sys_id": Kind.STRING,
    "contact_type": Kind.STRING,
    "urgency": Kind.CHOICE,
    "company": ref("core_company"),
    "reassignment_count": Kind.STRING,
    "activity_due": Kind.STRING,
    "assigned_to": ref("sys_user"),
    "comments": Kind.JOURNAL,
    "approval": Kind.CHOICE,
    "sla_due": Kind.STRING,
    "comments_and_work_notes": Kind.JOURNAL,
    "due_date": Kind.STRING,
    "sys_mod_count": Kind.STRING,
    "sys_tags": Kind.STRING,
    "escalation": Kind.STRING,
    "upon_approval": Kind.STRING,
    "correlation_id": Kind.STRING,
    "location": ref("cmn_location"),
}

# Field order of the documented `incident` sample, plus `hold_reason` (Helsinki+ state model).
INCIDENT_ORDER = [
    "upon_approval",
    "location",
    "expected_start",
    "reopen_count",
    "close_notes",
    "additional_assignee_list",
    "impact",
    "urgency",
    "correlation_id",
    "sys_tags",
    "sys_domain",
    "description",
    "group_list",
    "priority",
    "delivery_plan",
    "sys_mod_count",
    "work_notes_list",
    "business_service",
    "follow_up",
    "closed_at",
    "sla_due",
    "delivery_task",
    "sys_updated_on",
    "parent",
    "work_end",
    "number",
    "closed_by",
    "work_start",
    "calendar_stc",
    "category",
    "business_duration",
    "incident_state",
    "activity_due",
    "correlation_display",
    "company",
    "active",
    "due_date",
    "assignment_group",
    "caller_id",
    "knowledge",
    "made_sla",
    "comments_and_work_notes",
    "parent_incident",
    "state",
    "user_input",
    "sys_created_on",
    "approval_set",
    "reassignment_count",
    "rfc",
    "child_incidents",
    "opened_at",
    "short_description",
    "order",
    "sys_updated_by",
    "resolved_by",
    "notify",
    "upon_reject",
    "approval_history",
    "problem_id",
    "work_notes",
    "calendar_duration",
    "close_code",
    "sys_id",
    "approval",
    "caused_by",
    "severity",
    "sys_created_by",
    "resolved_at",
    "assigned_to",
    "business_stc",
    "wf_activity",
    "sys_domain_path",
    "cmdb_ci",
    "opened_by",
    "subcategory",
    "rejection_goto",
    "sys_class_name",
    "watch_list",
    "time_worked",
    "contact_type",
    "escalation",
    "comments",
    "hold_reason",
    "major_incident_state",
]

INCIDENT_FIELDS: dict[str, Spec] = {
    "reopen_count": Kind.STRING,
    "calendar_stc": Kind.STRING,
    "category": Kind.CHOICE,
    "incident_state": Kind.CHOICE,
    "caller_id": ref("sys_user"),
    "parent_incident": ref("incident"),
    "rfc": ref("change_request"),
    "child_incidents": Kind.STRING,
    "resolved_by": ref("sys_user"),
    "notify": Kind.CHOICE,
    "problem_id": ref("problem"),
    "close_code": Kind.CHOICE,
    "caused_by": ref("change_request"),
    "severity": Kind.CHOICE,
    "resolved_at": Kind.STRING,
    "business_stc": Kind.STRING,
    "subcategory": Kind.CHOICE,
    "hold_reason": Kind.CHOICE,
    # Major Incident Management (a plugin): proposed, accepted, rejected, canceled.
    "major_incident_state": Kind.CHOICE,
}

CHANGE_FIELDS: dict[str, Spec] = {
    "type": Kind.CHOICE,
    "category": Kind.CHOICE,
    "risk": Kind.CHOICE,
    "requested_by": ref("sys_user"),
    "start_date": Kind.STRING,
    "end_date": Kind.STRING,
    "justification": Kind.STRING,
    "implementation_plan": Kind.STRING,
    "backout_plan": Kind.STRING,
}

SC_REQUEST_FIELDS: dict[str, Spec] = {
    "requested_for": ref("sys_user"),
    "request_state": Kind.CHOICE,
    "price": Kind.STRING,
}

SC_REQ_ITEM_FIELDS: dict[str, Spec] = {
    "request": ref("sc_request"),
    "requested_for": ref("sys_user"),
    "cat_item": ref("sc_cat_item"),
    "quantity": Kind.STRING,
    "stage": Kind.CHOICE,
    "price": Kind.STRING,
}

PROBLEM_FIELDS: dict[str, Spec] = {
    "known_error": Kind.STRING,
    "workaround": Kind.STRING,
    "cause_notes": Kind.STRING,
    "fix_notes": Kind.STRING,
}

PLAIN_TABLES: dict[str, tuple[str, str, dict[str, Spec]]] = {
    # name: (label, display field, fields)
    "sys_user": (
        "User",
        "name",
        {
            "sys_id": Kind.STRING,
            "user_name": Kind.STRING,
            "name": Kind.STRING,
            "first_name": Kind.STRING,
            "last_name": Kind.STRING,
            "email": Kind.STRING,
            "title": Kind.STRING,
            "department": ref("cmn_department"),
            "company": ref("core_company"),
            "location": ref("cmn_location"),
            "manager": ref("sys_user"),
            "phone": Kind.STRING,
            "mobile_phone": Kind.STRING,
            "employee_number": Kind.STRING,
            "active": Kind.STRING,
            "locked_out": Kind.STRING,
            "vip": Kind.STRING,
            "time_zone": Kind.CHOICE,
            "sys_domain": ref("sys_user_group"),
            **_SYS,
        },
    ),
    "sys_user_group": (
        "Group",
        "name",
        {
            "sys_id": Kind.STRING,
            "name": Kind.STRING,
            "description": Kind.STRING,
            "email": Kind.STRING,
            "manager": ref("sys_user"),
            "parent": ref("sys_user_group"),
            "type": Kind.STRING,
            "active": Kind.STRING,
            **_SYS,
        },
    ),
    "sys_user_grmember": (
        "Group Member",
        "sys_id",
        {"sys_id": Kind.STRING, "user": ref("sys_user"), "group": ref("sys_user_group"), **_SYS},
    ),
    "sys_user_role": (
        "Role",
        "name",
        {
            "sys_id": Kind.STRING,
            "name": Kind.STRING,
            "description": Kind.STRING,
            "elevated_privilege": Kind.STRING,
            **_SYS,
        },
    ),
    "sys_user_has_role": (
        "User Role",
        "sys_id",
        {
            "sys_id": Kind.STRING,
            "user": ref("sys_user"),
            "role": ref("sys_user_role"),
            "state": Kind.STRING,
            "inherited": Kind.STRING,
            **_SYS,
        },
    ),
    "cmn_department": (
        "Department",
        "name",
        {"sys_id": Kind.STRING, "name": Kind.STRING, "id": Kind.STRING, **_SYS},
    ),
    "sc_cat_item": (
        "Catalog Item",
        "name",
        {
            "sys_id": Kind.STRING,
            "name": Kind.STRING,
            "short_description": Kind.STRING,
            "price": Kind.STRING,
            "active": Kind.STRING,
            **_SYS,
        },
    ),
    "cmdb_ci": (
        "Configuration Item",
        "name",
        {
            "sys_id": Kind.STRING,
            "name": Kind.STRING,
            "sys_class_name": Kind.STRING,
            "company": ref("core_company"),
            "location": ref("cmn_location"),
            **_SYS,
        },
    ),
    "core_company": (
        "Company",
        "name",
        {
            "sys_id": Kind.STRING,
            "name": Kind.STRING,
            "stock_symbol": Kind.STRING,
            "city": Kind.STRING,
            "country": Kind.STRING,
            "customer": Kind.STRING,
            "vendor": Kind.STRING,
            **_SYS,
        },
    ),
    "cmn_location": (
        "Location",
        "name",
        {
            "sys_id": Kind.STRING,
            "name": Kind.STRING,
            "full_name": Kind.STRING,
            "street": Kind.STRING,
            "city": Kind.STRING,
            "country": Kind.STRING,
            "company": ref("core_company"),
            "parent": ref("cmn_location"),
            **_SYS,
        },
    ),
    "sys_choice": (
        "Choice",
        "label",
        {
            "sys_id": Kind.STRING,
            "name": Kind.STRING,
            "element": Kind.STRING,
            "value": Kind.STRING,
            "label": Kind.STRING,
            "sequence": Kind.STRING,
            "inactive": Kind.STRING,
            "language": Kind.STRING,
            "dependent_value": Kind.STRING,
            **_SYS,
        },
    ),
    "sys_journal_field": (
        "Journal Entry",
        "sys_id",
        {
            "sys_id": Kind.STRING,
            "sys_created_on": Kind.STRING,
            "name": Kind.STRING,
            "element_id": Kind.STRING,
            "sys_tags": Kind.STRING,
            "value": Kind.STRING,
            "sys_created_by": Kind.STRING,
            "element": Kind.STRING,
        },
    ),
    "sysapproval_approver": (
        "Approval",
        "approver",
        {
            "sys_id": Kind.STRING,
            "state": Kind.CHOICE,
            "approver": ref("sys_user"),
            "sysapproval": ref("task"),
            "source_table": Kind.STRING,
            "document_id": Kind.DOCUMENT_ID,
            "due_date": Kind.STRING,
            "group": ref("sysapproval_group"),
            "comments": Kind.JOURNAL,
            **_SYS,
        },
    ),
}

TASK_TABLES: dict[str, tuple[str, str, dict[str, Spec]]] = {
    "incident": ("Incident", "INC", INCIDENT_FIELDS),
    "problem": ("Problem", "PRB", PROBLEM_FIELDS),
    "change_request": ("Change Request", "CHG", CHANGE_FIELDS),
    "sc_request": ("Request", "REQ", SC_REQUEST_FIELDS),
    "sc_req_item": ("Requested Item", "RITM", SC_REQ_ITEM_FIELDS),
}


def _field(name: str, spec: Spec) -> Field:
    kind, target = spec if isinstance(spec, tuple) else (spec, None)
    return Field(name, kind, target, _LABELS.get(name, name.replace("_", " ").capitalize()))


def _fields(specs: dict[str, Spec], order: list[str] | None = None) -> dict[str, Field]:
    names = order or list(specs)
    return {name: _field(name, specs[name]) for name in names}


def build_tables() -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for name, (label, display, specs) in PLAIN_TABLES.items():
        tables[name] = Table(name, label, _fields(specs), display)
    for name, (label, prefix, extra) in TASK_TABLES.items():
        specs = {**TASK_FIELDS, **extra}
        order = INCIDENT_ORDER if name == "incident" else None
        tables[name] = Table(name, label, _fields(specs, order), "number", prefix)
    tables["task"] = Table("task", "Task", _fields(TASK_FIELDS), "number", None, tuple(TASK_TABLES))
    return tables


TABLES = build_tables()
