"""The instance: the record store, the business rules, auth and outbound webhooks, composed.

Core methods are synchronous and do no I/O, so tests can drive the instance "as the UI would"
(`insert`, `update`) between HTTP calls. Outbound webhooks are the one exception: after a write
to a watched table, a delivery task is started on the running event loop; when no loop is
running (plain synchronous use), the event is recorded in `webhook_deliveries` with an error
and not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.servicenow.acl import Acl, Person
from sandbox.servicenow.auth import Auth, OAuthClient
from sandbox.servicenow.errors import AclError, RecordNotFound
from sandbox.servicenow.faults import FaultPlan
from sandbox.servicenow.rules import BusinessRules, Write
from sandbox.servicenow.schema import Table
from sandbox.servicenow.seed import seed_instance
from sandbox.servicenow.store import Record, RecordStore, as_string, format_date, utc_now
from sandbox.servicenow.webhook import WebhookDelivery, WebhookSender, WebhookTarget


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


class Emulator:
    """One ServiceNow instance, in memory."""

    def __init__(self, *, seed: bool = True, clock: Callable[[], datetime] | None = None) -> None:
        self.clock: Callable[[], datetime] = clock or utc_now
        self.instance_url = "http://servicenow.invalid"
        self.store = RecordStore()
        self.rules = BusinessRules(self.store)
        self.acl = Acl(self.store)
        self.auth = Auth(self.store)
        self.webhooks = WebhookSender()
        self.acl_hidden: set[str] = set()
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        # Requests being answered right now, and the most there ever were at once.
        self.in_flight = 0
        self.peak_in_flight = 0
        # called with (table, sys_id) after every insert or update (the browser UI's live feed)
        self.listeners: list[Callable[[str, str], None]] = []
        if seed:
            seed_instance(self)

    # ------------------------------------------------------- settings, state

    @property
    def tables(self) -> dict[str, Table]:
        return self.store.tables

    @property
    def data_policy_enabled(self) -> bool:
        return self.rules.data_policy_enabled

    @data_policy_enabled.setter
    def data_policy_enabled(self, enabled: bool) -> None:
        self.rules.data_policy_enabled = enabled

    @property
    def passwords(self) -> dict[str, str]:
        return self.auth.passwords

    @property
    def oauth_clients(self) -> dict[str, OAuthClient]:
        return self.auth.clients

    @property
    def token_lifetime(self) -> int:
        return self.auth.token_lifetime

    @token_lifetime.setter
    def token_lifetime(self, seconds: int) -> None:
        self.auth.token_lifetime = seconds

    @property
    def refresh_token_lifetime(self) -> int:
        return self.auth.refresh_token_lifetime

    @refresh_token_lifetime.setter
    def refresh_token_lifetime(self, seconds: int) -> None:
        self.auth.refresh_token_lifetime = seconds

    @property
    def auth_code_lifetime(self) -> int:
        return self.auth.auth_code_lifetime

    @auth_code_lifetime.setter
    def auth_code_lifetime(self, seconds: int) -> None:
        self.auth.auth_code_lifetime = seconds

    @property
    def rotate_refresh_tokens(self) -> bool:
        """Off (ServiceNow's documented way): the refresh grant answers the current refresh token.

        On: each refresh answers a new one and retires the old (reusing it revokes the grant).
        """
        return self.auth.rotate_refresh_tokens

    @rotate_refresh_tokens.setter
    def rotate_refresh_tokens(self, rotate: bool) -> None:
        self.auth.rotate_refresh_tokens = rotate

    @property
    def jwt_leeway(self) -> int:
        return self.auth.jwt_leeway

    @jwt_leeway.setter
    def jwt_leeway(self, seconds: int) -> None:
        self.auth.jwt_leeway = seconds

    @property
    def webhook(self) -> WebhookTarget | None:
        return self.webhooks.target

    @webhook.setter
    def webhook(self, target: WebhookTarget | None) -> None:
        self.webhooks.target = target

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        return self.webhooks.deliveries

    # ------------------------------------------------------------------ reads

    def table(self, name: str) -> Table:
        return self.store.table(name)

    def find(self, table: str, sys_id: str) -> tuple[Table, Record] | None:
        """The live stored record (mutating it bypasses every rule) and its concrete table."""
        return self.store.find(table, sys_id)

    def get(self, table: str, sys_id: str) -> dict[str, str] | None:
        """The raw stored values (no ACL), or None."""
        return self.store.get(table, sys_id)

    def rows(self, table: str) -> list[Record]:
        """Live stored records of a table in insertion order (`task`: all children)."""
        return self.store.rows(table)

    def value_at(self, table: Table, record: Record, path: str) -> str | None:
        return self.store.value_at(table, record, path)

    def select(self, table: str, encoded_query: str = "", *, user_id: str = "") -> list[Record]:
        """Live records matching an encoded query, ordered as it says (insertion order else)."""
        return self.store.select(table, encoded_query, user_id=user_id)

    def query(self, table: str, encoded_query: str) -> list[dict[str, str]]:
        """Raw stored values of the matching records (no ACL), as copies."""
        return self.store.query(table, encoded_query)

    def journal(self, sys_id: str, element: str = "comments") -> list[dict[str, str]]:
        """Journal entries of one record, newest first."""
        return self.store.journal(sys_id, element)

    def user(self, user_name: str) -> Record | None:
        return self.store.user(user_name)

    def user_id(self, user_name: str) -> str:
        return self.store.user_id(user_name)

    def roles_of(self, user_name: str) -> set[str]:
        return self.store.roles_of(user_name)

    def person(self, user_name: str) -> Person:
        """`user_name` with their roles and groups, for ACL checks (`can_read`)."""
        return self.acl.person(user_name)

    def can_read(self, table: str, record: Record, user: str | Person) -> bool:
        """Whether the user may read `record` of the concrete table `table` (acl.py)."""
        who = user if isinstance(user, Person) else self.acl.person(user)
        return self.acl.can_read(table, record, who)

    # ----------------------------------------------------------------- writes

    def now(self) -> str:
        return format_date(self.clock())

    def insert(
        self,
        table: str,
        values: Mapping[str, Any],
        *,
        as_user: str = "admin",
        at: datetime | None = None,
    ) -> dict[str, str]:
        """Create a record as `as_user` would: defaults, numbering, business rules, journal.

        `at` backdates it (the seed's history); by default it happens now.
        """
        return dict(self._insert(table, values, as_user, self.clock() if at is None else at))

    def update(
        self,
        table: str,
        sys_id: str,
        values: Mapping[str, Any],
        *,
        as_user: str = "admin",
        at: datetime | None = None,
    ) -> dict[str, str]:
        """Change a record as `as_user` would; raises RecordNotFound, DataPolicyError, AclError.

        The write ACLs of acl.py apply (to reads too, over HTTP): "system" and admin pass all.
        """
        return dict(
            self._update(table, sys_id, values, as_user, self.clock() if at is None else at)
        )

    def delete(self, table: str, sys_id: str, *, as_user: str = "admin") -> None:
        """Remove a record as `as_user` would; raises RecordNotFound, AclError."""
        found = self.store.find(table, sys_id)
        if found is None:
            raise RecordNotFound()
        self.acl.check_delete(found[0], self.acl.person(as_user))
        self.store.delete(table, sys_id)

    def _insert(
        self, table: str, values: Mapping[str, Any], as_user: str, moment: datetime
    ) -> Record:
        store, rules = self.store, self.rules
        schema = store.table(table)
        if schema.children:
            raise AclError("Insert")
        now = format_date(moment)
        record: Record = dict.fromkeys(schema.fields, "")
        record.update(rules.defaults(schema, as_user, now))
        notes = store.apply(schema, record, values, creating=True)
        record["sys_id"] = store.new_sys_id(table, as_string(values.get("sys_id", "")))
        if schema.number_prefix and not record.get("number"):
            record["number"] = store.next_number(schema.number_prefix)
        store.stamp(schema, record, as_user, now, created=True)
        rules.before(schema, record, None, as_user, now)
        store.add(table, record)
        rules.journal(schema, record, notes, as_user, now)
        self._emit(table, record, "insert")
        self._follow(rules.after(schema, record, None), moment)
        return record

    def _update(
        self, table: str, sys_id: str, values: Mapping[str, Any], as_user: str, moment: datetime
    ) -> Record:
        store, rules = self.store, self.rules
        found = store.find(table, sys_id)
        if found is None:
            raise RecordNotFound()
        schema, stored = found
        now = format_date(moment)
        record = dict(stored)
        notes = store.apply(schema, record, values, creating=False)
        journals = [element for element, _ in notes]
        self.acl.check_update(schema, stored, record, journals, self.acl.person(as_user))
        rules.before(schema, record, stored, as_user, now)
        if record == stored and not notes:
            return stored  # nothing changed: ServiceNow skips the write
        store.stamp(schema, record, as_user, now, created=False)
        previous = dict(stored)
        stored.clear()
        stored.update(record)
        rules.journal(schema, stored, notes, as_user, now)
        self._emit(schema.name, stored, "update")
        self._follow(rules.after(schema, stored, previous), moment)
        return stored

    def _follow(self, writes: list[Write], moment: datetime) -> None:
        for write in writes:
            self._update(write.table, write.sys_id, write.values, "system", moment)

    # --------------------------------------------------------------- webhooks

    def _emit(self, table: str, record: Record, operation: str) -> None:
        for listener in self.listeners:
            listener(table, record["sys_id"])
        self.webhooks.send(table, record, operation, self.clock())

    async def wait_for_webhooks(self) -> None:
        """Wait until every outbound delivery started so far (and any they caused) is done."""
        await self.webhooks.wait()

    async def cancel_webhooks(self) -> None:
        await self.webhooks.cancel()

    # ------------------------------------------------------------------- auth

    def check_password(self, user_name: str, password: str) -> bool:
        return self.auth.check_password(user_name, password)

    def bearer_user(self, access_token: str) -> str | None:
        return self.auth.bearer_user(access_token, self.clock())

    def issue_auth_code(
        self,
        user_name: str,
        client_id: str | None = None,
        *,
        redirect_uri: str | None = None,
        code_challenge: str | None = None,
    ) -> str:
        """A one-time authorization code for `user_name`, as the consent page's Allow gives one.

        Bound to `client_id` and `redirect_uri` when given (None: any), and to a PKCE S256
        `code_challenge` when given; it expires after `auth_code_lifetime` seconds.
        """
        return self.auth.issue_auth_code(
            user_name,
            client_id,
            self.clock(),
            redirect_uri=redirect_uri,
            code_challenge=code_challenge,
        )

    def register_jwt_key(self, client_id: str, public_key_pem: str | bytes, kid: str) -> None:
        """Trust RS256 JWTs signed with this RSA public key (PEM) for the client's JWT grant.

        The admin's step in ServiceNow (a JWT verifier map on the OAuth entity). A JWT whose
        header names `kid` is checked with this key; one without `kid` against all the client's
        keys. Registering a `kid` again replaces its key.
        """
        self.auth.register_jwt_key(client_id, public_key_pem, kid)

    def revoke(self, user_name: str, client_id: str | None = None) -> int:
        """End every access token and refresh grant of the user (of one client, if given).

        Answers how many access tokens ended; their next Table API call is 401.
        """
        return self.auth.revoke(user_name, client_id)

    @property
    def oauth_log(self) -> list[str]:
        """Why each token request failed (the wire always says access_denied/server_error)."""
        return self.auth.log

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """The `/oauth_token.do` answer for a form; raises OAuthError on any failure."""
        return self.auth.grant(form, self.clock())


__all__ = ["Emulator", "RecordedRequest"]
