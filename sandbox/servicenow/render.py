"""Records as the Table API returns them: `sysparm_fields`, dot-walks, display values, links.

Shapes (servicenow-notes.md §1.2, fixture table_get_incident_display_value_variants.json):

| sysparm_display_value | reference                         | other field                  |
|---|---|---|
| false (default)       | {link, value}                     | "value"                      |
| true                  | {display_value, link}             | "display value"              |
| all                   | {display_value, link, value}      | {display_value, value}       |

`sysparm_exclude_reference_link=true` drops `link` (a reference then becomes a plain string
under false/true). An empty reference is "" (under `all`: {display_value: "", value: ""}).
Display values of dates are shown in UTC (the seeded users have no time zone of their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sandbox.servicenow.schema import Field, Kind, Table

if TYPE_CHECKING:
    from sandbox.servicenow.emulator import Emulator
    from sandbox.servicenow.store import Record

JOURNAL_ELEMENTS = {
    "comments": ("comments",),
    "work_notes": ("work_notes",),
    "comments_and_work_notes": ("comments", "work_notes"),
}


@dataclass(frozen=True)
class View:
    fields: tuple[str, ...] = ()  # empty: every field of the table, in table order
    display: str = "false"  # "false" | "true" | "all"
    exclude_links: bool = False


def render(emulator: Emulator, table: Table, record: Record, view: View) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in view.fields or tuple(table.fields):
        resolved = resolve(emulator, table, record, name)
        if resolved is not None and name not in out:
            column, owner, owner_record = resolved
            out[name] = render_value(emulator, column, owner, owner_record, view)
    return out


def resolve(
    emulator: Emulator, table: Table, record: Record | None, path: str
) -> tuple[Field, Table, Record | None] | None:
    """The field a (dot-walked) name points at, its table and the record holding it; through a
    `task` reference, `ref_<table>.` narrows to one of its tables (as in ServiceNow)."""
    head, _, rest = path.partition(".")
    if head.startswith("ref_") and rest and head[4:] in table.children:
        child = emulator.tables[head[4:]]
        found = emulator.find(child.name, record.get("sys_id", "")) if record else None
        return resolve(emulator, child, found[1] if found else None, rest)
    column = table.fields.get(head)
    if column is None:
        return None
    if not rest:
        return column, table, record
    if column.kind is not Kind.REFERENCE or column.reference not in emulator.tables:
        return None
    target_table = emulator.tables[column.reference]
    value = record.get(head, "") if record else ""
    found = emulator.find(column.reference, value) if value else None
    target = found[1] if found else None
    if found is not None and not target_table.children:
        target_table = found[0]
    return resolve(emulator, target_table, target, rest)


def render_value(
    emulator: Emulator, column: Field, table: Table, record: Record | None, view: View
) -> Any:
    raw = record.get(column.name, "") if record else ""
    if column.kind is Kind.REFERENCE:
        return _reference(emulator, column, raw, view)
    display = display_value(emulator, column, table, record) if view.display != "false" else raw
    if view.display == "true":
        return display
    if view.display == "all":
        return {"display_value": display, "value": raw}
    return raw


def _reference(emulator: Emulator, column: Field, raw: str, view: View) -> Any:
    if raw == "":
        return {"display_value": "", "value": ""} if view.display == "all" else ""
    link = f"{emulator.instance_url}/api/now/table/{column.reference}/{raw}"
    if view.display == "false":
        return raw if view.exclude_links else {"link": link, "value": raw}
    display = reference_display(emulator, column.reference or "", raw)
    if view.display == "true":
        return display if view.exclude_links else {"display_value": display, "link": link}
    shaped: dict[str, str] = {"display_value": display, "link": link, "value": raw}
    if view.exclude_links:
        del shaped["link"]
    return shaped


def reference_display(emulator: Emulator, table: str, sys_id: str) -> str:
    if table == "sys_user_group" and sys_id == "global":
        return "global"
    if table not in emulator.tables:
        return ""
    found = emulator.find(table, sys_id)
    if found is None:
        return ""
    return found[1].get(found[0].display_field, "")


def display_value(emulator: Emulator, column: Field, table: Table, record: Record | None) -> str:
    raw = record.get(column.name, "") if record else ""
    if record is None:
        return raw
    if column.kind is Kind.CHOICE:
        return choice_label(emulator, record.get("sys_class_name") or table.name, column.name, raw)
    if column.kind is Kind.JOURNAL:
        return journal_display(emulator, record["sys_id"], JOURNAL_ELEMENTS[column.name])
    if column.kind is Kind.DOCUMENT_ID:
        source = record.get("source_table", "")
        if not raw or source not in emulator.tables:
            return raw
        return f"{emulator.tables[source].label}: {reference_display(emulator, source, raw)}"
    return raw


def choice_label(emulator: Emulator, table: str, element: str, value: str) -> str:
    if value == "":
        return ""
    labels: dict[str, str] = {}
    for row in emulator.rows("sys_choice"):
        if row["element"] == element and row["value"] == value and row["inactive"] != "true":
            labels.setdefault(row["name"], row["label"])
    return labels.get(table) or labels.get("task") or value


def journal_display(emulator: Emulator, sys_id: str, elements: tuple[str, ...]) -> str:
    """`<date> - <user name> (<field label>)\\n<text>\\n\\n`, newest first."""
    entries = [
        entry
        for entry in emulator.rows("sys_journal_field")
        if entry["element_id"] == sys_id and entry["element"] in elements
    ]
    parts = []
    for entry in reversed(entries):
        user = emulator.user(entry["sys_created_by"])
        who = user["name"] if user else entry["sys_created_by"]
        label = "Additional comments" if entry["element"] == "comments" else "Work notes"
        parts.append(f"{entry['sys_created_on']} - {who} ({label})\n{entry['value']}\n\n")
    return "".join(parts)
