"""The emulator over HTTP: Table API, Aggregate count, OAuth, and the /sandbox/ control routes.

Every request except `/sandbox/*` is recorded in `emulator.requests`, then matched against the
fault plan (a fault's delay and answer come before any normal handling), then authenticated
(`/api/*` only) and handled. The Table API answers as the authenticated user: rows they may not
read are left out of lists (after `sysparm_limit`, as ServiceNow does) or answer 404, writes they
may not make answer 403 (acl.py). `/oauth_auth.do` is the consent page of the authorization code
grant; `/oauth_token.do` every grant of auth.py.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import html
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.server import serve
from sandbox.servicenow.auth import OAuthClient, OAuthError
from sandbox.servicenow.emulator import Emulator, RecordedRequest
from sandbox.servicenow.errors import BadRequest, RecordNotFound, ServiceNowError
from sandbox.servicenow.faults import NOT_AUTHENTICATED_BODY, Fault
from sandbox.servicenow.render import View, render
from sandbox.servicenow.schema import Table
from sandbox.servicenow.store import as_string

JSON_TYPE = "application/json;charset=UTF-8"
DEFAULT_LIMIT = 10000
OAUTH_ERROR = {"error_description": "access_denied", "error": "server_error"}
SECRET_FIELDS = {
    "password",
    "client_secret",
    "refresh_token",
    "code",
    "code_verifier",
    "assertion",
    "token",
}
Handler = Callable[[Request, "Caller"], Awaitable[Response]]


class Caller:
    """Who is calling, and the request body already read (for recording and handling)."""

    def __init__(self, user: str | None, user_id: str, body: bytes) -> None:
        self.user = user
        self.user_id = user_id
        self.body = body


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = b"" if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": JSON_TYPE} if body is not None else {}
    all_headers.update(headers or {})
    return Response(content, status_code=status, headers=all_headers)


def error_response(error: ServiceNowError) -> Response:
    return json_response(error.body(), error.status)


def unauthenticated() -> Response:
    return json_response(
        NOT_AUTHENTICATED_BODY, 401, {"WWW-Authenticate": 'Basic realm="Service-now"'}
    )


def fault_response(fault: Fault) -> Response:
    content = fault.response_body()
    headers = dict(fault.headers)
    if content and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = JSON_TYPE if content[:1] in (b"{", b"[") else "text/plain"
    return Response(content, status_code=fault.status, headers=headers)


def authenticate(emulator: Emulator, request: Request) -> tuple[str, str | None]:
    """("basic" | "bearer" | "none", the user_name when the credentials are good)."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return "basic", None
        return "basic", user if emulator.check_password(user, password) else None
    if scheme.lower() == "bearer":
        return "bearer", emulator.bearer_user(credentials.strip())
    return "none", None


def _recorded_body(request: Request, raw: bytes) -> Any:
    if not raw:
        return None
    content_type = request.headers.get("content-type", "")
    if "x-www-form-urlencoded" in content_type:
        form = dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
        return {k: ("***" if k in SECRET_FIELDS else v) for k, v in form.items()}
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def endpoint(
    emulator: Emulator, handler: Handler, *, needs_auth: bool
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        raw = await request.body()
        kind, user = authenticate(emulator, request)
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query={
                k: ("***" if k in SECRET_FIELDS else v) for k, v in request.query_params.items()
            },
            auth=kind,
            user=user,
            body=_recorded_body(request, raw),
            at=emulator.clock(),
        )
        emulator.requests.append(recorded)
        emulator.in_flight += 1
        emulator.peak_in_flight = max(emulator.peak_in_flight, emulator.in_flight)
        try:
            response = await _answer(emulator, request, handler, needs_auth, user, raw)
        finally:
            emulator.in_flight -= 1
        recorded.status = response.status_code
        return response

    return run


async def _answer(
    emulator: Emulator,
    request: Request,
    handler: Handler,
    needs_auth: bool,
    user: str | None,
    raw: bytes,
) -> Response:
    fault = emulator.faults.take(request.method, request.url.path)
    if fault is not None:
        if fault.delay > 0:
            await asyncio.sleep(fault.delay)
        if fault.status:
            return fault_response(fault)
    if needs_auth and user is None:
        return unauthenticated()
    caller = Caller(user, emulator.user_id(user) if user else "", raw)
    try:
        response = await handler(request, caller)
    except ServiceNowError as error:
        response = error_response(error)
    if fault is not None:
        await emulator.faults.hold(fault)
    return response


# ------------------------------------------------------------------ Table API


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").strip().lower() == "true"


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, ""))
    except ValueError:
        return default


def view_of(request: Request) -> View:
    fields = tuple(
        name.strip() for name in request.query_params.get("sysparm_fields", "").split(",")
    )
    display = request.query_params.get("sysparm_display_value", "false").strip().lower()
    return View(
        fields=tuple(name for name in fields if name),
        display=display if display in ("true", "all") else "false",
        exclude_links=_flag(request, "sysparm_exclude_reference_link"),
    )


def encoded_query_of(request: Request) -> str:
    """`sysparm_query`, or the name-value filters (`?active=true&state=2`) when it is absent."""
    if "sysparm_query" in request.query_params:
        return request.query_params["sysparm_query"]
    return "^".join(
        f"{name}={value.replace('^', '^^')}"
        for name, value in request.query_params.multi_items()
        if not name.startswith("sysparm_")
    )


def _check_version(request: Request) -> str:
    version = request.path_params.get("version", "")
    if version not in ("", "v1", "v2"):
        raise BadRequest("Requested URI does not represent any resource", None)
    return str(version)


def link_header(
    request: Request, base: str, limit: int, offset: int, total: int | None, full_page: bool
) -> str:
    kept = [
        (name, value)
        for name, value in request.query_params.multi_items()
        if name not in ("sysparm_limit", "sysparm_offset")
    ]

    def link(at: int, rel: str) -> str:
        query = urlencode(
            [*kept, ("sysparm_limit", limit), ("sysparm_offset", at)], quote_via=quote
        )
        return f'<{base}?{query}>;rel="{rel}"'

    links = [link(0, "first"), link(offset - limit, "prev")]
    more = offset + limit < total if total is not None else full_page
    if more:
        links.append(link(offset + limit, "next"))
    if total is not None:
        links.append(link(max(0, (total - 1) // limit * limit), "last"))
    return ",".join(links)


class TableApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def collection(self, request: Request, caller: Caller) -> Response:
        if request.method == "POST":
            return await self.create(request, caller)
        return await self.list(request, caller)

    async def member(self, request: Request, caller: Caller) -> Response:
        if request.method in ("PATCH", "PUT"):
            return await self.change(request, caller)
        if request.method == "DELETE":
            return await self.remove(request, caller)
        return await self.read(request, caller)

    async def list(self, request: Request, caller: Caller) -> Response:
        emulator = self.emulator
        version = _check_version(request)
        table_name = request.path_params["table"]
        schema = emulator.table(table_name)
        limit = _int(request, "sysparm_limit", DEFAULT_LIMIT)
        limit = limit if limit > 0 else DEFAULT_LIMIT
        offset = max(0, _int(request, "sysparm_offset", 0))
        matched = emulator.select(table_name, encoded_query_of(request), user_id=caller.user_id)
        page = matched[offset : offset + limit]
        # ACLs are evaluated after the limit: the page may come back short, the total still counts
        who = emulator.person(caller.user or "")
        visible = [
            record
            for record in page
            if record["sys_id"] not in emulator.acl_hidden
            and emulator.can_read(record.get("sys_class_name") or table_name, record, who)
        ]
        if version == "v1" and not visible:
            raise RecordNotFound(
                "Records matching query not found. Check query parameter or offset parameter"
            )
        view = view_of(request)
        result = []
        for record in visible:
            owner = emulator.tables[record.get("sys_class_name") or table_name]
            result.append(render(emulator, schema if schema.children else owner, record, view))
        headers: dict[str, str] = {}
        total = None if _flag(request, "sysparm_no_count") else len(matched)
        if total is not None:
            headers["X-Total-Count"] = str(total)
        if not _flag(request, "sysparm_suppress_pagination_header"):
            base = f"{emulator.instance_url}{request.url.path}"
            headers["Link"] = link_header(request, base, limit, offset, total, len(page) == limit)
        return json_response({"result": result}, 200, headers)

    def _visible(self, table: str, sys_id: str, caller: Caller) -> tuple[Table, dict[str, str]]:
        """The record, or 404 when it does not exist or the caller may not read it."""
        found = self.emulator.find(table, sys_id)
        if (
            found is None
            or sys_id in self.emulator.acl_hidden
            or not self.emulator.can_read(found[0].name, found[1], caller.user or "")
        ):
            raise RecordNotFound()
        return found

    def _one(self, request: Request, table: str, record: dict[str, str]) -> dict[str, Any]:
        schema = self.emulator.table(table)
        owner = schema if schema.children else self.emulator.tables[table]
        return render(self.emulator, owner, record, view_of(request))

    async def read(self, request: Request, caller: Caller) -> Response:
        _check_version(request)
        table = request.path_params["table"]
        _, record = self._visible(table, request.path_params["sys_id"], caller)
        return json_response({"result": self._one(request, table, record)})

    def _values(self, request: Request, caller: Caller) -> dict[str, Any]:
        content_type = request.headers.get("content-type", "")
        if not content_type:
            raise BadRequest("Content-Type header is required", None)
        if "json" not in content_type.lower():
            raise _UnsupportedMediaType()
        if not caller.body.strip():
            return {}
        try:
            data = json.loads(caller.body)
        except ValueError as exc:
            raise BadRequest(
                "Exception while reading request", "The payload is not valid JSON."
            ) from exc
        if isinstance(data, list):  # "POST, PUT and PATCH take one record only"
            data = data[0] if data else {}
        if not isinstance(data, dict):
            raise BadRequest("Exception while reading request", "The payload is not valid JSON.")
        return {str(k): as_string(v) for k, v in data.items()}

    def _written(
        self, request: Request, table: str, record: dict[str, str], status: int
    ) -> Response:
        headers: dict[str, str] = {}
        if status == 201:
            headers["Location"] = (
                f"{self.emulator.instance_url}/api/now/table/{table}/{record['sys_id']}"
            )
        if request.headers.get("x-no-response-body", "").lower() == "true":
            return Response(b"", status_code=status, headers=headers)
        return json_response({"result": self._one(request, table, record)}, status, headers)

    async def create(self, request: Request, caller: Caller) -> Response:
        _check_version(request)
        table = request.path_params["table"]
        self.emulator.table(table)
        values = self._values(request, caller)
        record = self.emulator.insert(table, values, as_user=caller.user or "")
        return self._written(request, table, record, 201)

    async def change(self, request: Request, caller: Caller) -> Response:
        _check_version(request)
        table = request.path_params["table"]
        schema, _ = self._visible(table, request.path_params["sys_id"], caller)
        values = self._values(request, caller)
        sys_id = request.path_params["sys_id"]
        record = self.emulator.update(schema.name, sys_id, values, as_user=caller.user or "")
        return self._written(request, table, record, 200)

    async def remove(self, request: Request, caller: Caller) -> Response:
        _check_version(request)
        table = request.path_params["table"]
        schema, _ = self._visible(table, request.path_params["sys_id"], caller)
        self.emulator.delete(schema.name, request.path_params["sys_id"], as_user=caller.user or "")
        return Response(b"", status_code=204)

    async def stats(self, request: Request, caller: Caller) -> Response:
        """Aggregate API count: `GET /api/now/stats/{table}?sysparm_count=true&sysparm_query=`."""
        table = request.path_params["table"]
        matched = self.emulator.select(table, encoded_query_of(request), user_id=caller.user_id)
        stats: dict[str, Any] = {}
        if _flag(request, "sysparm_count"):
            stats["count"] = str(len(matched))
        return json_response({"result": {"stats": stats}})


class _UnsupportedMediaType(ServiceNowError):
    status = 415

    def __init__(self) -> None:
        super().__init__("Unsupported Media Type", "Content-Type must be application/json")


# ---------------------------------------------------------------------- OAuth


class OAuthApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def token(self, request: Request, caller: Caller) -> Response:
        content_type = request.headers.get("content-type", "").lower()
        if not content_type.startswith("application/x-www-form-urlencoded"):
            return json_response(OAUTH_ERROR, 401)  # JSON here is "an unspecified error"
        form = dict(parse_qsl(caller.body.decode(errors="replace"), keep_blank_values=True))
        try:
            return json_response(self.emulator.grant(form))
        except OAuthError:
            return json_response(OAUTH_ERROR, 401)

    async def revoke(self, request: Request, caller: Caller) -> Response:
        """`/oauth_revoke_token.do?token=…`: the token is marked expired (200 either way, as the
        instance does not say whether it knew the token)."""
        form = dict(parse_qsl(caller.body.decode(errors="replace"), keep_blank_values=True))
        token = request.query_params.get("token") or form.get("token", "")
        self.emulator.auth.revoke_token(token)
        return Response(b"", status_code=200)

    async def authorize(self, request: Request, caller: Caller) -> Response:
        """The consent page of the authorization_code flow (`/oauth_auth.do`).

        GET shows it: who is signed in is picked from the active users (standing in for
        ServiceNow's login), then Allow or Deny. POST (the page's form) answers with a redirect to
        `redirect_uri?code=…&state=…` (Allow) or `redirect_uri?error=access_denied&state=…`
        (Deny). A bad `client_id` or `redirect_uri` is a 400 page, never a redirect; a bad
        `response_type` or PKCE method is an error redirect (RFC 6749 §4.1.2.1).
        """
        if request.method == "GET":
            params = dict(request.query_params)
        else:
            params = dict(parse_qsl(caller.body.decode(errors="replace"), keep_blank_values=True))
        client = self.emulator.oauth_clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None:
            return _page("Invalid client_id", "<p>No OAuth client has this id.</p>", 400)
        if not _redirect_allowed(client, redirect_uri):
            return _page("Invalid redirect_uri", "<p>The redirect URL is not allowed.</p>", 400)
        state = {"state": params["state"]} if "state" in params else {}
        challenge = params.get("code_challenge") or None
        if params.get("response_type") != "code":
            return _redirect(redirect_uri, error="unsupported_response_type", **state)
        if challenge is not None and params.get("code_challenge_method") != "S256":
            return _redirect(redirect_uri, error="invalid_request", **state)
        if challenge is None and not client.secret:
            return _redirect(redirect_uri, error="invalid_request", **state)
        if request.method == "GET":
            return self._consent(client, params)
        if params.get("decision") != "allow":
            return _redirect(redirect_uri, error="access_denied", **state)
        user = self.emulator.user(params.get("username", ""))
        if user is None or user["active"] != "true" or user["locked_out"] == "true":
            return _page("Cannot sign in", "<p>That user cannot log in.</p>", 401)
        code = self.emulator.issue_auth_code(
            user["user_name"], client.client_id, redirect_uri=redirect_uri, code_challenge=challenge
        )
        return _redirect(redirect_uri, code=code, **state)

    def _consent(self, client: OAuthClient, params: dict[str, str]) -> Response:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
            if k not in ("username", "decision")
        )
        people = "".join(
            f'<option value="{html.escape(u["user_name"])}">'
            f"{html.escape(u['name'])} ({html.escape(u['user_name'])})</option>"
            for u in self.emulator.rows("sys_user")
            if u["active"] == "true" and u["locked_out"] != "true"
        )
        body = (
            f"<h1>Allow {html.escape(client.client_id)} to act as you?</h1>"
            "<p>It will read and change ServiceNow records with your rights.</p>"
            f'<form method="post" action="/oauth_auth.do">{hidden}'
            '<p><label>Signed in as <select name="username">'
            f"{people}</select></label></p>"
            '<p><button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="deny">Deny</button></p></form>'
        )
        return _page("ServiceNow sandbox: authorize", body, 200)


def _page(title: str, body: str, status: int) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="en"><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><body>{body}</body></html>",
        status_code=status,
    )


def _redirect_allowed(client: OAuthClient, redirect_uri: str) -> bool:
    if client.redirect_uris:
        return redirect_uri in client.redirect_uris
    parts = urlsplit(redirect_uri)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment


def _redirect(redirect_uri: str, **params: str) -> Response:
    separator = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)


# -------------------------------------------------------------- sandbox control


class SandboxApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    async def faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.emulator.faults.clear()
            return Response(b"", status_code=204)
        if request.method == "POST":
            try:
                data = await request.json()
                items = data if isinstance(data, list) else [data]
                faults = [Fault.from_json(item) for item in items]
            except (ValueError, TypeError) as exc:
                return json_response({"error": str(exc)}, 400)
            for fault in faults:
                self.emulator.faults.add(fault)
            return json_response({"faults": len(self.emulator.faults)}, 201)
        return json_response([asdict(fault) for fault in self.emulator.faults])

    async def requests(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.emulator.requests.clear()
            return Response(b"", status_code=204)
        items = []
        for recorded in self.emulator.requests:
            item = asdict(recorded)
            item["at"] = recorded.at.isoformat()
            items.append(item)
        return json_response(items)


def create_app(emulator: Emulator) -> Starlette:
    table = TableApi(emulator)
    oauth = OAuthApi(emulator)
    sandbox = SandboxApi(emulator)

    def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return endpoint(emulator, handler, needs_auth=True)

    def public(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return endpoint(emulator, handler, needs_auth=False)

    one = ["GET", "PUT", "PATCH", "DELETE"]
    routes = [
        Route("/api/now/table/{table}", api(table.collection), methods=["GET", "POST"]),
        Route("/api/now/table/{table}/{sys_id}", api(table.member), methods=one),
        Route("/api/now/stats/{table}", api(table.stats), methods=["GET"]),
        Route("/api/now/v1/stats/{table}", api(table.stats), methods=["GET"]),
        Route("/api/now/{version}/table/{table}", api(table.collection), methods=["GET", "POST"]),
        Route("/api/now/{version}/table/{table}/{sys_id}", api(table.member), methods=one),
        Route("/oauth_token.do", public(oauth.token), methods=["POST"]),
        Route("/oauth_auth.do", public(oauth.authorize), methods=["GET", "POST"]),
        Route("/oauth_revoke_token.do", public(oauth.revoke), methods=["GET", "POST"]),
        Route("/sandbox/faults", sandbox.faults, methods=["GET", "POST", "DELETE"]),
        Route("/sandbox/requests", sandbox.requests, methods=["GET", "DELETE"]),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = emulator
    return app


@asynccontextmanager
async def run_emulator(
    emulator: Emulator | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[Emulator]:
    """Serve the emulator on `host:port` (0: a free port); sets and yields its instance_url."""
    emulator = emulator or Emulator()
    async with serve(create_app(emulator), host=host, port=port) as server:
        emulator.instance_url = server.url
        try:
            yield emulator
        finally:
            emulator.faults.release()
            await emulator.cancel_webhooks()
