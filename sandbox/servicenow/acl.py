"""Who may read and write what: per-user roles (`sys_user_has_role`), groups (`sys_user_grmember`).

The rules the emulator enforces for a person (basic auth as that user, a bearer token issued to
that user, or `Emulator.insert/update/delete(as_user=…)` as the instance's own UI would):

`incident`
  read: the caller, the opener, someone on the watch list, the assignee, a member of the
  assignment group, or anyone with `itil` or `admin`.
  write: `itil` or `admin` — anything. The caller or opener without `itil` may only add comments
  and reopen (Resolved → In Progress) their own incident; assigning, work notes, hold, resolve,
  close, cancel and every other field need `itil`. Delete: `itil` or `admin`.
  create: anyone signed in (self-service).
`sc_req_item`, `change_request`, `problem`
  read as `incident`, with the person it is for (`requested_for`), who requested it
  (`requested_by`) or who opened it in place of the caller; writes need `itil` or `admin`,
  except a comment by the person it is for or who requested it.
`sysapproval_approver`
  read: the approver, or `approval_admin`, `itil`, `admin`.
  write (approve, reject): the approver, or `approval_admin`, `admin`; delete: the two roles.
`sys_journal_field`
  read: whoever may read the record the entry belongs to; work notes need `itil` or `admin`.
Every other table: everyone signed in reads and writes (as before).

`admin` and the `system` user (business rules' own writes) pass every check; the integration user
incident.bot has `itil` and `approval_admin`, so it keeps every right it had.

On the wire (servicenow-notes.md §1.5): a record you may not read answers 404 "No Record found" /
"Record doesn't exist or ACL restricts the record retrieval" (also to PATCH/DELETE), a list leaves
such rows out of its page after `sysparm_limit` is applied (ServiceNow evaluates ACLs after the
limit, so `X-Total-Count` still counts every row the query matched and a page may come back short),
and a refused write answers 403 "Operation Failed" / "ACL Exception Update Failed due to security
constraints" (Delete for deletes).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sandbox.servicenow.errors import AclError
from sandbox.servicenow.schema import Table
from sandbox.servicenow.store import Record, RecordStore

SYSTEM = "system"  # the business rules' own writes
FULFILLER_ROLES = {"itil", "admin"}
APPROVAL_READ_ROLES = {"approval_admin", "itil", "admin"}
APPROVAL_WRITE_ROLES = {"approval_admin", "admin"}
CALLER_FIELDS = {"state"}  # besides comments; state only Resolved → In Progress
CALLER_JOURNALS = {"comments"}
# Whose record it is, per table the bot shows (besides `opened_by`).
OWNERS: dict[str, tuple[str, ...]] = {
    "incident": ("caller_id",),
    "sc_req_item": ("requested_for",),
    "change_request": ("requested_by",),
    "problem": (),
}


@dataclass(frozen=True)
class Person:
    """Who is acting, looked up once per request: their sys_user, roles and groups."""

    user_name: str
    sys_id: str = ""
    email: str = ""
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @property
    def privileged(self) -> bool:
        return self.user_name == SYSTEM or "admin" in self.roles

    @property
    def fulfiller(self) -> bool:
        return bool(self.roles & FULFILLER_ROLES)


class Acl:
    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def person(self, user_name: str) -> Person:
        user = self.store.user(user_name)
        if user is None:
            return Person(user_name)
        me = user["sys_id"]
        return Person(
            user_name,
            me,
            user["email"],
            frozenset(self.store.roles_of(user_name)),
            frozenset(
                member["group"]
                for member in self.store.rows("sys_user_grmember")
                if member["user"] == me
            ),
        )

    # ------------------------------------------------------------------ read

    def can_read(self, table: str, record: Record, who: Person) -> bool:
        """May `who` read `record` of the concrete table `table`?"""
        if who.privileged:
            return True
        if table in OWNERS:
            return who.fulfiller or self._involved(table, record, who)
        if table == "sysapproval_approver":
            return bool(record["approver"] == who.sys_id or who.roles & APPROVAL_READ_ROLES)
        if table == "sys_journal_field":
            if record["element"] == "work_notes" and not who.fulfiller:
                return False
            if record["name"] not in self.store.tables:
                return True
            found = self.store.find(record["name"], record["element_id"])
            return found is None or self.can_read(found[0].name, found[1], who)
        return True

    @staticmethod
    def _involved(table: str, record: Record, who: Person) -> bool:
        if not who.sys_id:
            return False
        watchers = {item.strip() for item in record["watch_list"].split(",")} - {""}
        owners = [record[name] for name in (*OWNERS[table], "opened_by")]
        return bool(
            who.sys_id in (*owners, record["assigned_to"])
            or who.sys_id in watchers
            or (who.email and who.email in watchers)
            or (record["assignment_group"] and record["assignment_group"] in who.groups)
        )

    # ----------------------------------------------------------------- write

    def check_update(
        self,
        schema: Table,
        stored: Record,
        record: Record,
        journals: Collection[str],
        who: Person,
    ) -> None:
        """Refuse (AclError) a change of `stored` into `record` plus journal entries `journals`."""
        if who.privileged:
            return
        if schema.name == "sysapproval_approver" and not (
            stored["approver"] == who.sys_id or who.roles & APPROVAL_WRITE_ROLES
        ):
            raise AclError("Update")
        if schema.name == "incident" and not who.fulfiller:
            changed = {name for name, value in record.items() if stored.get(name) != value}
            reopening = stored["state"] == "6" and record["state"] == "2"
            if (
                not who.sys_id
                or who.sys_id not in (stored["caller_id"], stored["opened_by"])
                or not changed <= CALLER_FIELDS
                or ("state" in changed and not reopening)
                or not set(journals) <= CALLER_JOURNALS
            ):
                raise AclError("Update")

        if schema.name in OWNERS and schema.name != "incident" and not who.fulfiller:
            changed = {name for name, value in record.items() if stored.get(name) != value}
            owners = [stored[name] for name in (*OWNERS[schema.name], "opened_by")]
            if (
                not who.sys_id
                or who.sys_id not in owners
                or changed
                or set(journals) - {"comments"}
            ):
                raise AclError("Update")

    def check_delete(self, schema: Table, who: Person) -> None:
        if who.privileged:
            return
        if schema.name == "incident" and not who.fulfiller:
            raise AclError("Delete")
        if schema.name == "sysapproval_approver" and not who.roles & APPROVAL_WRITE_ROLES:
            raise AclError("Delete")
