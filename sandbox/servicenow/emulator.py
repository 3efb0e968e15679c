"""The instance: tables in memory, the base business rules, users, roles and OAuth tokens.

Core methods are synchronous and do no I/O, so tests can drive the instance "as the UI would"
(`insert`, `update`) between HTTP calls. Outbound webhooks are the one exception: after a write
to a watched table, a delivery task is started on the running event loop; when no loop is
running (plain synchronous use), the event is recorded in `webhook_deliveries` with an error
and not sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sandbox.servicenow import query as encoded
from sandbox.servicenow.errors import (
    AclError,
    BadRequest,
    DataPolicyError,
    InvalidTable,
    RecordNotFound,
)
from sandbox.servicenow.faults import FaultPlan
from sandbox.servicenow.schema import TABLES, Kind, Table
from sandbox.servicenow.webhook import (
    WebhookDelivery,
    WebhookTarget,
    deliver,
    event_body,
    event_headers,
)

log = logging.getLogger(__name__)

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
    "problem": {"state": "1"},
    "change_request": {"state": "-5", "type": "normal", "risk": "3"},
    "sc_request": {"state": "1", "request_state": "requested"},
    "sc_req_item": {"state": "1", "stage": "request_approved", "quantity": "1"},
    "sys_user": {"active": "true", "locked_out": "false", "vip": "false", "sys_domain": "global"},
    "sys_user_group": {"active": "true"},
    "sys_user_has_role": {"state": "active", "inherited": "false"},
    "sys_choice": {"inactive": "false", "language": "en", "sequence": "0"},
    "sysapproval_approver": {"state": "requested"},
    "sys_user_role": {"elevated_privilege": "false"},
}
APPROVAL_ROLES = {"admin", "approval_admin"}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


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


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    auth: str  # "basic" | "bearer" | "none"
    user: str | None = None  # user_name when the credentials were valid
    body: Any = None  # parsed JSON, the form as a dict, or None
    status: int = 0  # filled in once answered
    at: datetime = field(default_factory=utc_now)


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    secret: str
    application_user: str | None = None  # client_credentials grant runs as this user


@dataclass
class Token:
    user_name: str
    client_id: str
    expires_at: datetime
    refresh_token: str | None = None


class OAuthError(Exception):
    """Any token endpoint failure: always 401 access_denied/server_error on the wire."""


class Emulator:
    """One ServiceNow instance, in memory."""

    def __init__(self, *, seed: bool = True, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or utc_now
        self.instance_url = "http://servicenow.invalid"
        self.tables: dict[str, Table] = TABLES
        self.token_lifetime = 1799
        self.refresh_token_lifetime = 8_640_000
        self.data_policy_enabled = True
        self.acl_hidden: set[str] = set()
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self.webhook: WebhookTarget | None = None
        self.webhook_deliveries: list[WebhookDelivery] = []
        # called with (table, sys_id) after every insert or update (the browser UI's live feed)
        self.listeners: list[Callable[[str, str], None]] = []
        self.passwords: dict[str, str] = {}
        self.oauth_clients: dict[str, OAuthClient] = {}
        self._rows: dict[str, dict[str, Record]] = {
            name: {} for name, table in self.tables.items() if not table.children
        }
        self._counters: dict[str, int] = {}
        self._tokens: dict[str, Token] = {}
        self._refresh_tokens: dict[str, Token] = {}
        self._codes: dict[str, tuple[str, str | None]] = {}
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._webhook_http: httpx.AsyncClient | None = None
        if seed:
            from sandbox.servicenow.seed import seed_instance

            seed_instance(self)

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
        """The raw value of `path` (dot-walk allowed); None when the field does not exist."""
        head, _, rest = path.partition(".")
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

    def now(self) -> str:
        return format_date(self.clock())

    def insert(
        self, table: str, values: Mapping[str, Any], *, as_user: str = "admin"
    ) -> dict[str, str]:
        """Create a record as `as_user` would: defaults, numbering, business rules, journal."""
        return dict(self._insert(table, values, as_user, self.clock()))

    def update(
        self, table: str, sys_id: str, values: Mapping[str, Any], *, as_user: str = "admin"
    ) -> dict[str, str]:
        """Change a record as `as_user` would; raises RecordNotFound, DataPolicyError, AclError."""
        return dict(self._update(table, sys_id, values, as_user, self.clock()))

    def delete(self, table: str, sys_id: str, *, as_user: str = "admin") -> None:
        found = self.find(table, sys_id)
        if found is None:
            raise RecordNotFound()
        del self._rows[found[0].name][sys_id]

    def _insert(
        self, table: str, values: Mapping[str, Any], as_user: str, moment: datetime
    ) -> Record:
        schema = self.table(table)
        if schema.children:
            raise AclError("Insert")
        now = format_date(moment)
        record: Record = dict.fromkeys(schema.fields, "")
        record.update(self._defaults(schema, as_user, now))
        notes = self._apply(schema, record, values, creating=True)
        sys_id = as_string(values.get("sys_id", ""))
        if not SYS_ID.fullmatch(sys_id) or sys_id in self._rows[table]:
            sys_id = uuid.uuid4().hex
        record["sys_id"] = sys_id
        if schema.number_prefix and not record.get("number"):
            record["number"] = self._next_number(schema.number_prefix)
        self._stamp(schema, record, as_user, now, created=True)
        self._before_rules(schema, record, None, as_user, now)
        self._rows[table][sys_id] = record
        self._write_journal(schema, record, notes, as_user, now)
        self._emit(table, record, "insert")
        self._after_rules(schema, record, None, moment)
        return record

    def _update(
        self, table: str, sys_id: str, values: Mapping[str, Any], as_user: str, moment: datetime
    ) -> Record:
        found = self.find(table, sys_id)
        if found is None:
            raise RecordNotFound()
        schema, stored = found
        self._check_write_acl(schema, stored, as_user)
        now = format_date(moment)
        record = dict(stored)
        notes = self._apply(schema, record, values, creating=False)
        self._before_rules(schema, record, stored, as_user, now)
        if record == stored and not notes:
            return stored  # nothing changed: ServiceNow skips the write
        self._stamp(schema, record, as_user, now, created=False)
        previous = dict(stored)
        stored.clear()
        stored.update(record)
        self._write_journal(schema, stored, notes, as_user, now)
        self._emit(schema.name, stored, "update")
        self._after_rules(schema, stored, previous, moment)
        return stored

    def _defaults(self, schema: Table, as_user: str, now: str) -> Record:
        defaults: Record = {}
        if schema.number_prefix:
            defaults.update(TASK_DEFAULTS)
            defaults.update(opened_at=now, opened_by=self.user_id(as_user))
            defaults["sys_class_name"] = schema.name
        defaults.update(TABLE_DEFAULTS.get(schema.name, {}))
        return {k: v for k, v in defaults.items() if k in schema.fields}

    def _apply(
        self, schema: Table, record: Record, values: Mapping[str, Any], *, creating: bool
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

    def _next_number(self, prefix: str) -> str:
        number = self._counters.get(prefix, 10001)
        self._counters[prefix] = number + 1
        return f"{prefix}{number:07d}"

    def _stamp(self, schema: Table, record: Record, as_user: str, now: str, created: bool) -> None:
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

    def _write_journal(
        self, schema: Table, record: Record, notes: list[tuple[str, str]], as_user: str, now: str
    ) -> None:
        for element, value in notes:
            entry_id = uuid.uuid4().hex
            self._rows["sys_journal_field"][entry_id] = {
                "sys_id": entry_id,
                "sys_created_on": now,
                "name": schema.name,
                "element_id": record["sys_id"],
                "sys_tags": "",
                "value": value,
                "sys_created_by": as_user,
                "element": element,
            }

    def _check_write_acl(self, schema: Table, record: Record, as_user: str) -> None:
        if schema.name != "sysapproval_approver":
            return
        if record["approver"] == self.user_id(as_user) or self.roles_of(as_user) & APPROVAL_ROLES:
            return
        if as_user == "system":
            return
        raise AclError("Update")

    # --------------------------------------------------------- business rules

    def _before_rules(
        self, schema: Table, record: Record, previous: Record | None, as_user: str, now: str
    ) -> None:
        if schema.number_prefix:
            record["priority"] = PRIORITY.get((record["impact"], record["urgency"]), "5")
        if schema.name == "incident":
            self._incident_rules(record, previous, as_user, now)
        if schema.name == "sysapproval_approver" and record["sysapproval"]:
            target = self.find("task", record["sysapproval"])
            if target is not None:
                record["source_table"] = record["source_table"] or target[0].name
            record["document_id"] = record["document_id"] or record["sysapproval"]

    def _incident_rules(
        self, record: Record, previous: Record | None, as_user: str, now: str
    ) -> None:
        record["incident_state"] = record["state"]
        old, new = (previous or {}).get("state", ""), record["state"]
        user_id = self.user_id(as_user)
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
                self.tables["incident"].fields[name].label
                for name in ("close_code", "close_notes")
                if not record[name].strip()
            ]
            if missing:
                raise DataPolicyError(missing)
        if new == "3" and not record["hold_reason"]:
            raise DataPolicyError([self.tables["incident"].fields["hold_reason"].label])

    def _after_rules(
        self, schema: Table, record: Record, previous: Record | None, moment: datetime
    ) -> None:
        if schema.name != "sysapproval_approver" or not record["sysapproval"]:
            return
        old = previous["state"] if previous else ""
        decided = old == "requested" and record["state"] in ("approved", "rejected")
        if previous is None or decided:
            self._roll_up(record["sysapproval"], moment)

    def _roll_up(self, task_id: str, moment: datetime) -> None:
        """Parent `approval`: any rejected -> rejected; all approved -> approved (c_ApprovalStatus)."""
        rows = [
            r for r in self._rows["sysapproval_approver"].values() if r["sysapproval"] == task_id
        ]
        states = [r["state"] for r in rows]
        counted = [s for s in states if s not in ("cancelled", "not_required", "not requested")]
        if "rejected" in states:
            result = "rejected"
            for row in rows:
                if row["state"] == "requested":
                    self._update(
                        "sysapproval_approver",
                        row["sys_id"],
                        {"state": "not_required"},
                        "system",
                        moment,
                    )
        elif counted and all(s == "approved" for s in counted):
            result = "approved"
        elif "requested" in states:
            result = "requested"
        else:
            return
        found = self.find("task", task_id)
        if found is not None and found[1]["approval"] != result:
            self._update(found[0].name, task_id, {"approval": result}, "system", moment)

    # --------------------------------------------------------------- webhooks

    def _emit(self, table: str, record: Record, operation: str) -> None:
        for listener in self.listeners:
            listener(table, record["sys_id"])
        target = self.webhook
        if target is None or table not in target.tables:
            return
        timestamp = str(int(self.clock().timestamp()))
        body = event_body(table, record, operation)
        event_id = f"{record['sys_id']}:{record.get('sys_mod_count', '')}"
        headers = event_headers(target.secret, timestamp, body, event_id)
        delivery = WebhookDelivery(target.url, body, headers)
        self.webhook_deliveries.append(delivery)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            delivery.error = "no running event loop: not sent"
            log.info("webhook for %s %s not sent: no running event loop", table, record["sys_id"])
            return
        if self._webhook_http is None:
            # One client for every delivery (a client per POST costs more than the POST).
            self._webhook_http = httpx.AsyncClient(timeout=10.0)
        task = loop.create_task(deliver(delivery, self._webhook_http))
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    async def wait_for_webhooks(self) -> None:
        """Wait until every outbound delivery started so far (and any they caused) is done."""
        while self._webhook_tasks:
            await asyncio.gather(*list(self._webhook_tasks), return_exceptions=True)

    async def cancel_webhooks(self) -> None:
        for task in list(self._webhook_tasks):
            task.cancel()
        await asyncio.gather(*list(self._webhook_tasks), return_exceptions=True)
        if self._webhook_http is not None:
            await self._webhook_http.aclose()
            self._webhook_http = None

    # ------------------------------------------------------------------- auth

    def check_password(self, user_name: str, password: str) -> bool:
        user = self.user(user_name)
        expected = self.passwords.get(user_name)
        return (
            user is not None
            and expected is not None
            and hmac.compare_digest(expected.encode(), password.encode())
            and user["active"] == "true"
            and user["locked_out"] != "true"
        )

    def bearer_user(self, access_token: str) -> str | None:
        token = self._tokens.get(access_token)
        if token is None or self.clock() >= token.expires_at:
            return None
        user = self.user(token.user_name)
        return token.user_name if user is not None and user["active"] == "true" else None

    def issue_auth_code(self, user_name: str, client_id: str | None = None) -> str:
        """A one-time authorization code for `user_name` (authorization_code grant helper)."""
        if self.user(user_name) is None:
            raise ValueError(f"no sys_user {user_name!r}")
        code = secrets.token_urlsafe(24)
        self._codes[code] = (user_name, client_id)
        return code

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The `/oauth_token.do` answer for a form; raises OAuthError on any failure."""
        grant_type = form.get("grant_type", "")
        client = self.oauth_clients.get(form.get("client_id", ""))
        if client is None or not hmac.compare_digest(
            client.secret.encode(), form.get("client_secret", "").encode()
        ):
            raise OAuthError("bad client")
        if grant_type == "password":
            user_name = form.get("username", "")
            if not self.check_password(user_name, form.get("password", "")):
                raise OAuthError("bad user")
            return self._issue(user_name, client, refresh=True, reuse=True)
        if grant_type == "client_credentials":
            if client.application_user is None or self.user(client.application_user) is None:
                raise OAuthError("no application user")
            return self._issue(client.application_user, client, refresh=False)
        if grant_type == "refresh_token":
            refresh = form.get("refresh_token", "")
            token = self._refresh_tokens.get(refresh)
            if token is None or token.client_id != client.client_id:
                raise OAuthError("bad refresh token")
            if self.clock() >= token.expires_at:
                raise OAuthError("expired refresh token")
            return self._issue(token.user_name, client, refresh=False, keep_refresh=refresh)
        if grant_type == "authorization_code":
            code = self._codes.pop(form.get("code", ""), None)
            if code is None or code[1] not in (None, client.client_id):
                raise OAuthError("bad code")
            return self._issue(code[0], client, refresh=True)
        if grant_type == JWT_BEARER:
            user_name = self._jwt_subject(form.get("assertion", ""), client)
            return self._issue(user_name, client, refresh=False)
        raise OAuthError(f"unsupported grant {grant_type!r}")

    def _issue(
        self,
        user_name: str,
        client: OAuthClient,
        *,
        refresh: bool,
        reuse: bool = False,
        keep_refresh: str | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        if reuse:  # "requests within the expiration time always return the current access token"
            for access, token in self._tokens.items():
                if (
                    token.user_name == user_name
                    and token.client_id == client.client_id
                    and token.refresh_token
                    and now < token.expires_at
                ):
                    remaining = int((token.expires_at - now).total_seconds())
                    return self._token_body(access, remaining, token.refresh_token)
        access = secrets.token_urlsafe(64)
        refresh_token = keep_refresh
        if refresh:
            refresh_token = secrets.token_urlsafe(64)
            self._refresh_tokens[refresh_token] = Token(
                user_name,
                client.client_id,
                now + timedelta(seconds=self.refresh_token_lifetime),
            )
        self._tokens[access] = Token(
            user_name, client.client_id, now + timedelta(seconds=self.token_lifetime), refresh_token
        )
        return self._token_body(access, self.token_lifetime, refresh_token)

    @staticmethod
    def _token_body(access: str, expires_in: int, refresh: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"scope": "useraccount", "token_type": "Bearer"}
        body["expires_in"] = expires_in
        if refresh:
            body["refresh_token"] = refresh
        body["access_token"] = access
        return body

    def _jwt_subject(self, assertion: str, client: OAuthClient) -> str:
        """HS256 JWT signed with the client secret; `sub` matched against e-mail or user_name."""
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_b64decode(header_b64))
            payload = json.loads(_b64decode(payload_b64))
            signature = _b64decode(signature_b64)
        except (ValueError, json.JSONDecodeError) as exc:
            raise OAuthError("malformed assertion") from exc
        expected = hmac.new(
            client.secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256
        ).digest()
        if header.get("alg") != "HS256" or not hmac.compare_digest(signature, expected):
            raise OAuthError("bad signature")
        if payload.get("iss") != client.client_id:
            raise OAuthError("bad issuer")
        if "exp" in payload and self.clock().timestamp() >= float(payload["exp"]):
            raise OAuthError("expired assertion")
        subject = str(payload.get("sub", ""))
        for user in self._rows["sys_user"].values():
            if subject and subject.casefold() in (user["email"].casefold(), user["user_name"]):
                if user["active"] != "true":
                    break
                return user["user_name"]
        raise OAuthError("unknown subject")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


__all__ = [
    "BadRequest",
    "Emulator",
    "OAuthClient",
    "OAuthError",
    "RecordedRequest",
    "format_date",
]
