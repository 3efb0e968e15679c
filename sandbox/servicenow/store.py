"""The record store: tables of string-valued rows, numbering, the sys_ fields, encoded-query reads.

It knows the schema and nothing of business rules, users' rights or HTTP: the writes here are
the mechanics every write shares (which values a write may set, sys_id, number, sys_mod_count).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sandbox.servicenow import query as encoded
from sandbox.servicenow.errors import InvalidTable, RecordNotFound
from sandbox.servicenow.schema import TABLES, Kind, Table

Record = dict[str, str]
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
SYS_ID = re.compile(r"[0-9a-f]{32}")
READ_ONLY = {
    "sys_created_on",
    "sys_created_by",
    "sys_updated_on",
    "sys_updated_by",
    "sys_mod_count",
    "sys_class_name",
    "incident_state",
    "comments_and_work_notes",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_date(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(DATE_FORMAT)


def as_string(value: Any) -> str:
    """ServiceNow stores every value as a string; JSON true/false/numbers/null are coerced."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return as_string(value.get("value", ""))
    return str(value)


class RecordStore:
    """Every table's rows, in memory, in insertion order."""

    def __init__(self, tables: dict[str, Table] = TABLES) -> None:
        self.tables = dict(tables)  # its own: a test may take a table away
        self._rows: dict[str, dict[str, Record]] = {
            name: {} for name, table in tables.items() if not table.children
        }
        self._counters: dict[str, int] = {}

    # ------------------------------------------------------------------ reads

    def table(self, name: str) -> Table:
        if name not in self.tables:
            raise InvalidTable(name)
        return self.tables[name]

    def find(self, table: str, sys_id: str) -> tuple[Table, Record] | None:
        """The live stored record (mutating it bypasses every rule) and its concrete table.

        `task` looks in its children (incident, problem, change_request, sc_request, sc_req_item).
        """
        schema = self.table(table)
        for name in schema.children or (table,):
            record = self._rows[name].get(sys_id)
            if record is not None:
                return self.tables[name], record
        return None

    def get(self, table: str, sys_id: str) -> dict[str, str] | None:
        """The raw stored values (no ACL), or None."""
        found = self.find(table, sys_id)
        return dict(found[1]) if found else None

    def rows(self, table: str) -> list[Record]:
        """Live stored records of a table in insertion order (`task`: all children)."""
        schema = self.table(table)
        names = schema.children or (table,)
        return [record for name in names for record in self._rows[name].values()]

    def value_at(self, table: Table, record: Record, path: str) -> str | None:
        """The raw value of `path` (dot-walk allowed, `ref_<table>.` narrowing a `task` reference to
        one of its tables); None when the field does not exist."""
        head, _, rest = path.partition(".")
        if head.startswith("ref_") and rest and head[4:] in table.children:
            child = self.tables[head[4:]]
            found = self.find(child.name, record.get("sys_id", ""))
            if found is None:  # a record of another table: the field is there, and empty
                return "" if rest.partition(".")[0] in child.fields else None
            return self.value_at(found[0], found[1], rest)
        column = table.fields.get(head)
        if column is None:
            return None
        if not rest:
            return record.get(head, "")
        if column.kind is not Kind.REFERENCE or column.reference not in self.tables:
            return None
        target_table = self.tables[column.reference]
        found = self.find(column.reference, record.get(head, "")) if record.get(head) else None
        if found is None:
            return "" if rest.partition(".")[0] in target_table.fields else None
        if target_table.children:
            return self.value_at(target_table, found[1], rest)
        return self.value_at(found[0], found[1], rest)

    def select(self, table: str, encoded_query: str = "", *, user_id: str = "") -> list[Record]:
        """Live records matching an encoded query, ordered as it says (insertion order else)."""
        schema = self.table(table)
        parsed = encoded.parse(encoded_query)

        def lookup(record: Record, path: str) -> str | None:
            return self.value_at(schema, record, path)

        found = [r for r in self.rows(table) if encoded.matches(parsed, r, lookup, user_id)]
        return encoded.sort(found, parsed.order, lookup)

    def query(self, table: str, encoded_query: str) -> list[dict[str, str]]:
        """Raw stored values of the matching records (no ACL), as copies."""
        return [dict(record) for record in self.select(table, encoded_query)]

    def journal(self, sys_id: str, element: str = "comments") -> list[dict[str, str]]:
        """Journal entries of one record, newest first."""
        entries = [
            dict(entry)
            for entry in self._rows["sys_journal_field"].values()
            if entry["element_id"] == sys_id and entry["element"] == element
        ]
        return list(reversed(entries))

    def user(self, user_name: str) -> Record | None:
        for record in self._rows["sys_user"].values():
            if record["user_name"] == user_name:
                return record
        return None

    def user_id(self, user_name: str) -> str:
        found = self.user(user_name)
        return found["sys_id"] if found else ""

    def roles_of(self, user_name: str) -> set[str]:
        user_id = self.user_id(user_name)
        roles = self._rows["sys_user_role"]
        return {
            roles[link["role"]]["name"]
            for link in self._rows["sys_user_has_role"].values()
            if link["user"] == user_id and link["role"] in roles
        }

    # ----------------------------------------------------------------- writes

    @staticmethod
    def apply(
        schema: Table, record: Record, values: Mapping[str, Any], *, creating: bool
    ) -> list[tuple[str, str]]:
        """Copy writable values into `record`; return the journal entries to add."""
        notes: list[tuple[str, str]] = []
        for name, raw in values.items():
            column = schema.fields.get(name)
            if column is None or name in READ_ONLY or name == "sys_id":
                continue
            value = as_string(raw)
            if column.kind is Kind.JOURNAL:
                if value.strip():
                    notes.append((name, value))
                continue
            if column.kind is Kind.CHOICE and value == "" and not creating:
                continue  # "a field cleared with "" is cleared, except choice fields"
            record[name] = value
        return notes

    def new_sys_id(self, table: str, wanted: str) -> str:
        """`wanted` when it is a free 32-hex id, else a fresh one."""
        if SYS_ID.fullmatch(wanted) and wanted not in self._rows[table]:
            return wanted
        return uuid.uuid4().hex

    def next_number(self, prefix: str) -> str:
        number = self._counters.get(prefix, 10001)
        self._counters[prefix] = number + 1
        return f"{prefix}{number:07d}"

    @staticmethod
    def stamp(schema: Table, record: Record, as_user: str, now: str, *, created: bool) -> None:
        """Set the sys_created_/sys_updated_ fields, count the change, drop unknown fields."""
        if created:
            record["sys_created_on"] = now
            record["sys_created_by"] = as_user
            record["sys_mod_count"] = "0"
        else:
            record["sys_mod_count"] = str(int(record.get("sys_mod_count") or "0") + 1)
        record["sys_updated_on"] = now
        record["sys_updated_by"] = as_user
        for name in list(record):
            if name not in schema.fields:
                del record[name]

    def add(self, table: str, record: Record) -> None:
        """Store a new record as it is (its sys_id already set)."""
        self._rows[table][record["sys_id"]] = record

    def delete(self, table: str, sys_id: str) -> None:
        found = self.find(table, sys_id)
        if found is None:
            raise RecordNotFound()
        del self._rows[found[0].name][sys_id]
