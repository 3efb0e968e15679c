"""An async client for the ServiceNow Table API.

Records come back as flat ``dict[str, str]``: the client always asks for
``sysparm_exclude_reference_link=true``, so references are plain sys_ids and dot-walked fields
(``caller_id.name``) are flat keys. No session cookie is kept, so parallel calls are not serialised
by the instance (one transaction per session) and never see an empty 202 because of it.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import heapq
import itertools
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from servicenow.auth import no_cookies
from servicenow.errors import (
    NotFoundError,
    ServiceNowError,
    UnavailableError,
    WriteNotDoneError,
    WriteUncertainError,
    error_from_response,
)
from servicenow.query import Query, validate_sys_id
from servicenow.retry import (
    Backoff,
    RetryPolicy,
    Sleep,
    WritePolicy,
    is_retryable,
    may_still_commit,
    was_not_processed,
)
from servicenow.transport import ServiceNowTransport

__all__ = [
    "DEFAULT_MAX_IN_FLIGHT",
    "JOURNAL_FIELDS",
    "InFlight",
    "Page",
    "Record",
    "RetryPolicy",
    "ServiceNowClient",
    "Write",
    "WritePolicy",
    "tracking_writes",
]

Record = dict[str, str]
_T = TypeVar("_T")
# Writing one of these adds a journal entry (sys_journal_field) every time: never repeat it blindly.
JOURNAL_FIELDS = frozenset({"comments", "work_notes"})


@dataclass(frozen=True, slots=True)
class Write:
    """A write that landed in ServiceNow (``certain``) or may have (no answer came back)."""

    method: str  # POST or PATCH
    table: str
    sys_id: str = ""
    number: str = ""
    certain: bool = True


_WRITES: ContextVar[list[Write] | None] = ContextVar("servicenow_writes", default=None)


@contextmanager
def tracking_writes() -> Iterator[list[Write]]:
    """Collect, for the code run inside, every write that landed or may have landed.

    Whoever explains a failure to a person needs this: after a write, "nothing was changed" is
    false even when a later step fails.
    """
    writes: list[Write] = []
    token = _WRITES.set(writes)
    try:
        yield writes
    finally:
        _WRITES.reset(token)


def _note(write: Write) -> None:
    writes = _WRITES.get()
    if writes is not None:
        writes.append(write)


def _peek(method: str, table: str, response: httpx.Response) -> Write:
    """The write an accepted answer reports, as far as its body can be read."""
    try:
        result = json.loads(response.content).get("result")
    except (ValueError, AttributeError):
        result = None
    if not isinstance(result, Mapping):
        return Write(method, table)
    return Write(method, table, _flat(result.get("sys_id")), _flat(result.get("number")))


# Requests in flight to the instance at once. Its REST requests run in the API_INT semaphore pool,
# a few threads per node, behind a queue that answers 429 once full (depth 50 in ServiceNow's
# example, shared with every other integration): more in flight than the instance has threads only
# wait there, where the bot can neither order nor see them. The bot waits in its own queue instead.
DEFAULT_MAX_IN_FLIGHT = 10


class InFlight:
    """At most `limit` requests in flight; the rest wait here, urgent ones first, then writes,
    then reads, each in order.

    The client's own queue, ahead of the transport: nothing waits for a connection there (the
    transport holds `limit` connections; httpcore's pools, used before it, rescanned every queued
    request against every connection on each pool event, so a backlog cost CPU per request that
    grew with it). Urgent requests (the poller, change-event reconciles,
    identity and permission look-ups) go ahead of every waiting ordinary one, so a burst of
    creates delays them by one request at most, never starves them. A write goes ahead of waiting
    reads: it usually finishes work a person is waiting on (the create after a duplicate check),
    where a read usually starts some, so in a burst the first incidents open while later commands'
    checks still wait, instead of every check going first. asyncio.Semaphore has no
    priorities, hence this small heap of futures.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("at least one request must be allowed in flight")
        self.limit = limit
        self.active = 0
        self.peak = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, future in self._waiters if not future.done())

    @asynccontextmanager
    async def slot(self, *, urgent: bool = False, write: bool = False) -> AsyncIterator[None]:
        """Hold one of the `limit` places in flight while the block runs."""
        if self.active < self.limit and not self.waiting:
            self.active += 1
        else:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            rank = 0 if urgent else 1 if write else 2
            heapq.heappush(self._waiters, (rank, next(self._order), future))
            try:
                await future  # a finished request's place, handed over
            except asyncio.CancelledError:
                if future.done() and not future.cancelled():
                    self._release()  # handed a place as it was cancelled: pass it on
                raise
        self.peak = max(self.peak, self.active)
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            *_, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self.active -= 1


_TABLE = re.compile(r"[a-z0-9_]+")
USER_AGENT = "incident-bot (+httpx)"


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list call; ``total`` is X-Total-Count (rows matching before ACLs), if sent."""

    records: list[Record]
    total: int | None


def _table(name: str) -> str:
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid table name")
    return name


def _flat(value: object) -> str:
    """A record value as a string; a reference or display-value object becomes its value."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        inner = value.get("value", value.get("display_value", ""))
        return _flat(inner)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _record(value: object) -> Record:
    if not isinstance(value, Mapping):
        raise ServiceNowError("ServiceNow answered a record that is not a JSON object")
    return {str(key): _flat(item) for key, item in value.items()}


class ServiceNowClient:
    """The Table API of one instance. Use as ``async with ServiceNowClient(...) as sn:``."""

    def __init__(
        self,
        instance_url: str,
        auth: httpx.Auth,
        *,
        timeout: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as a default
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        writes: WritePolicy = WritePolicy(),  # noqa: B008 - frozen dataclass, safe as a default
        clock: Callable[[], float] = time.monotonic,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    ) -> None:
        """`transport`, when given, should end in `ServiceNowTransport(max_in_flight)` (or any
        transport whose pool holds `max_in_flight` connections and keeps no cookies)."""
        url = instance_url.strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{instance_url!r} is not an http(s) URL")
        self.instance_url = url
        self.retry = retry
        self.writes = writes
        self.calls = 0
        self._sleep = sleep
        self._clock = clock
        self._auth: httpx.Auth | None = None  # a view's own auth (acting_as); None: the client's
        self._owner = True
        self.in_flight = InFlight(max_in_flight)  # shared by every view of this client
        self._urgent = False
        self._http = httpx.AsyncClient(
            base_url=f"{url}/api/now/table/",
            auth=auth,
            timeout=timeout,
            transport=transport or ServiceNowTransport(max_in_flight),
            cookies=no_cookies(),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            event_hooks={"request": [self._count]},
        )

    async def _count(self, request: httpx.Request) -> None:
        self.calls += 1

    async def __aenter__(self) -> ServiceNowClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owner:
            await self._http.aclose()

    def acting_as(self, auth: httpx.Auth) -> ServiceNowClient:
        """The same instance, retry and write policies and connection pool, with every request
        authenticated by `auth` instead (a person's own bearer tokens: ServiceNow's ACLs then
        decide and its audit trail names them). Closing the view leaves the pool open."""
        view = copy.copy(self)
        view._auth = auth
        view._owner = False
        return view

    def same_user(self, other: ServiceNowClient) -> bool:
        """Whether both authenticate as the same ServiceNow user (views of one client, urgent or
        not, do; an `acting_as` view does not)."""
        return self._auth is other._auth

    def urgent(self) -> ServiceNowClient:
        """The same client whose requests wait ahead of every ordinary one for a slot in flight
        (see InFlight): for the poller, reconciles and identity and permission look-ups.
        Closing the view leaves the pool open."""
        view = copy.copy(self)
        view._urgent = True
        view._owner = False
        return view

    # -- plumbing --------------------------------------------------------------------------------

    def _backoff(self) -> Backoff:
        if self._sleep is None:
            return Backoff(self.retry)
        return Backoff(self.retry, sleep=self._sleep)

    async def _once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
        expect: tuple[int, ...],
    ) -> httpx.Response:
        """Send one request; raise the mapped ServiceNowError unless the status is expected."""
        query = {"sysparm_exclude_reference_link": "true", **params}
        try:
            # The wait for a slot is not under the timeout: a request still in our queue was not
            # sent, so it can neither time out nor be committing.
            async with self.in_flight.slot(urgent=self._urgent, write=method != "GET"):
                response = await self._http.request(
                    method,
                    path,
                    params=query,
                    content=None if body is None else json.dumps(body).encode(),
                    headers=None if body is None else {"Content-Type": "application/json"},
                    auth=httpx.USE_CLIENT_DEFAULT if self._auth is None else self._auth,
                )
        except httpx.TimeoutException as exc:
            raise UnavailableError(
                f"no answer from ServiceNow within the timeout ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"could not talk to ServiceNow ({type(exc).__name__}: {exc})"
            ) from exc
        if response.status_code == 202 and not response.content.strip():
            raise error_from_response(202, response.headers, b"")
        if response.status_code in expect:
            return response
        raise error_from_response(response.status_code, response.headers, response.content)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
        expect: tuple[int, ...],
    ) -> httpx.Response:
        """Send a request that is safe to repeat, retrying per the policy."""
        backoff = self._backoff()
        while True:
            backoff.attempts += 1
            try:
                return await self._once(method, path, params=params, body=body, expect=expect)
            except ServiceNowError as error:
                if not is_retryable(error) or not await backoff.wait(error):
                    raise

    @staticmethod
    def _result(response: httpx.Response) -> object:
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise ServiceNowError(
                "ServiceNow answered something that is not JSON", status=response.status_code
            ) from exc
        if not isinstance(data, Mapping) or "result" not in data:
            raise ServiceNowError(
                "ServiceNow answered JSON without a result", status=response.status_code
            )
        return data["result"]

    @staticmethod
    def _fields(fields: Sequence[str] | None) -> dict[str, str]:
        if fields is None:
            return {}
        if isinstance(fields, str):
            raise TypeError("fields must be a sequence of field names, not one string")
        return {"sysparm_fields": ",".join(fields)}

    # -- Table API -------------------------------------------------------------------------------

    async def get(self, table: str, sys_id: str, *, fields: Sequence[str] | None = None) -> Record:
        """One record by sys_id; NotFoundError when it does not exist or an ACL hides it."""
        path = f"{_table(table)}/{validate_sys_id(sys_id)}"
        response = await self._request("GET", path, params=self._fields(fields), expect=(200,))
        return _record(self._result(response))

    async def list(
        self,
        table: str,
        query: Query | str | None = None,
        *,
        fields: Sequence[str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Page:
        """One page of records. A string query is sent as is: build user text with Query."""
        if limit < 1 or offset < 0:
            raise ValueError("limit must be positive and offset must not be negative")
        params = {
            **self._fields(fields),
            "sysparm_limit": str(limit),
            "sysparm_offset": str(offset),
            "sysparm_suppress_pagination_header": "true",
        }
        encoded = str(query) if query is not None else ""
        if encoded:
            params["sysparm_query"] = encoded
        response = await self._request("GET", _table(table), params=params, expect=(200,))
        result = self._result(response)
        if not isinstance(result, list):
            raise ServiceNowError("ServiceNow answered a list call without a list", status=200)
        total_header = response.headers.get("X-Total-Count")
        try:
            total = int(total_header) if total_header is not None else None
        except ValueError:
            total = None
        return Page([_record(item) for item in result], total)

    async def iterate(
        self,
        table: str,
        query: Query | str | None = None,
        *,
        fields: Sequence[str] | None = None,
        page_size: int = 100,
    ) -> AsyncIterator[Record]:
        """Every matching record, page by page.

        Paging by offset needs a stable order, so ``ORDERBYsys_id`` is added when the query has no
        ORDERBY. ACLs are applied after the limit, so a page can come back short or even empty
        while readable rows follow: the walk ends when ``offset >= X-Total-Count`` (the count
        before ACLs), or at the first empty page when the instance sent no count.
        """
        if page_size < 1:
            raise ValueError("page_size must be positive")
        encoded = _ordered(query)
        offset = 0
        while True:
            page = await self.list(table, encoded, fields=fields, limit=page_size, offset=offset)
            for record in page.records:
                yield record
            offset += page_size
            if page.total is not None:
                if offset >= page.total:
                    return
            elif not page.records:
                return

    async def create(
        self,
        table: str,
        values: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        correlation_id: str | None = None,
    ) -> Record:
        """Insert one record (201). A POST is never repeated while an earlier one may commit.

        Failures that prove nothing was done (429, connection refused, 503, an empty 202) are sent
        again, after a look-up by ``correlation_id`` when there is one. After a failure that may
        have created the record (no answer in time, a dropped connection, 502/504), the instance may
        still be running the first POST: the record is looked up by ``correlation_id`` until the
        write horizon has passed since that POST was sent, and returned as soon as it appears.
        If it never does, WriteNotDoneError (nothing was created); if the look-ups fail too, or
        there is no correlation id to look by, WriteUncertainError.
        """
        path = _table(table)
        body = dict(values)
        if correlation_id is not None:
            body["correlation_id"] = correlation_id
        params = self._fields(fields)
        backoff = self._backoff()
        while True:
            backoff.attempts += 1
            sent = self._clock()
            try:
                response = await self._once(
                    "POST", path, params=params, body=body, expect=(200, 201)
                )
            except ServiceNowError as error:
                if may_still_commit(error):
                    what = f"a new {table} record was created"
                    if correlation_id is None:
                        _note(Write("POST", table, certain=False))
                        raise WriteUncertainError(
                            f"ServiceNow did not answer, so I can't tell whether {what}",
                            what=what,
                        ) from error
                    try:
                        found = await self._settle(
                            sent,
                            functools.partial(
                                self._find_by_correlation, table, correlation_id, fields
                            ),
                            what,
                        )
                    except WriteUncertainError:
                        _note(Write("POST", table, certain=False))
                        raise
                    _note(Write("POST", table, found.get("sys_id", ""), found.get("number", "")))
                    return found
                if not is_retryable(error) or not await backoff.wait(error):
                    raise
                if correlation_id is not None and not was_not_processed(error):
                    existing = await self._find_by_correlation(table, correlation_id, fields)
                    if existing is not None:
                        _note(
                            Write(
                                "POST",
                                table,
                                existing.get("sys_id", ""),
                                existing.get("number", ""),
                            )
                        )
                        return existing
                continue
            _note(_peek("POST", table, response))
            return _record(self._result(response))

    async def _find_by_correlation(
        self, table: str, correlation_id: str, fields: Sequence[str] | None
    ) -> Record | None:
        query = Query().eq("correlation_id", correlation_id).order_by("sys_created_on")
        page = await self.list(table, query, fields=fields, limit=1)
        return page.records[0] if page.records else None

    async def _settle(self, sent: float, look: Callable[[], Awaitable[_T | None]], what: str) -> _T:
        """Look until what a write that got no answer did shows, or the horizon has passed.

        Only a look that starts after the horizon (counted from when the write was sent) and
        answers can prove the write did not land.
        """
        policy = self.writes
        sleep = self._sleep or asyncio.sleep
        interval, slept = policy.first_check, 0.0
        failure: ServiceNowError | None = None
        while True:
            elapsed = max(self._clock() - sent, slept)
            try:
                found = await look()
            except ServiceNowError as error:
                if not is_retryable(error):
                    raise WriteUncertainError(
                        f"ServiceNow did not answer, and I could not check whether {what} ({error})",
                        what=what,
                    ) from error
                failure, found = error, None
            else:
                failure = None
            if found is not None:
                return found
            if elapsed >= policy.horizon:
                break
            delay = min(interval, policy.horizon - elapsed)
            await sleep(delay)
            slept += delay
            interval = min(interval * 2, policy.max_check_interval)
        if failure is not None:
            raise WriteUncertainError(
                f"ServiceNow did not answer, and I could not check whether {what}", what=what
            ) from failure
        raise WriteNotDoneError(
            f"ServiceNow did not answer, and after {policy.horizon:g} s it is certain that "
            f"it did not happen ({what.replace(' was ', ' was not ', 1)})"
        )

    async def patch(
        self,
        table: str,
        sys_id: str,
        values: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
        version: int | str | None = None,
    ) -> Record:
        """Update fields of one record; answers the whole record (or ``fields``).

        Setting fields is repeatable and retried per the policy. A PATCH that writes a comment or
        a work note adds a journal entry each time, so it is never sent again while the first may
        still commit: after a failure that may have landed, the record's ``sys_mod_count`` (against
        ``version``, the one the caller read before writing) and its newest journal entries are
        checked until the write horizon has passed. Without ``version``, an identical entry
        written earlier would count as this one.
        """
        path = f"{_table(table)}/{validate_sys_id(sys_id)}"
        params = self._fields(fields)
        journal = {
            name: str(value).strip()
            for name, value in values.items()
            if name in JOURNAL_FIELDS and str(value).strip()
        }
        if not journal:
            try:
                response = await self._request(
                    "PATCH", path, params=params, body=dict(values), expect=(200,)
                )
            except ServiceNowError as error:
                if may_still_commit(error):
                    _note(Write("PATCH", table, sys_id, certain=False))
                    what = "the change was saved"
                    raise WriteUncertainError(
                        f"ServiceNow did not answer, so I can't tell whether {what}", what=what
                    ) from error
                raise
            _note(_peek("PATCH", table, response))
            return _record(self._result(response))
        backoff = self._backoff()
        while True:
            backoff.attempts += 1
            sent = self._clock()
            try:
                response = await self._once(
                    "PATCH", path, params=params, body=dict(values), expect=(200,)
                )
            except ServiceNowError as error:
                if may_still_commit(error):
                    what = (
                        "the "
                        + " and the ".join(
                            name.replace("work_notes", "work note").replace("comments", "comment")
                            for name in sorted(journal)
                        )
                        + " was added"
                    )
                    try:
                        record = await self._settle(
                            sent,
                            lambda: self._journal_landed(table, sys_id, journal, version, fields),
                            what,
                        )
                    except WriteUncertainError:
                        _note(Write("PATCH", table, sys_id, certain=False))
                        raise
                    _note(Write("PATCH", table, sys_id, record.get("number", "")))
                    return record
                if not is_retryable(error) or not await backoff.wait(error):
                    raise
                continue
            _note(_peek("PATCH", table, response))
            return _record(self._result(response))

    async def _journal_landed(
        self,
        table: str,
        sys_id: str,
        journal: Mapping[str, str],
        version: int | str | None,
        fields: Sequence[str] | None,
    ) -> Record | None:
        """The record, if every journal entry in `journal` was written after `version`; else None."""
        wanted = None if fields is None else tuple(dict.fromkeys((*fields, "sys_mod_count")))
        current = await self.get(table, sys_id, fields=wanted)
        count = int(current.get("sys_mod_count") or 0)
        if version is not None:
            since = count - int(version)
            if since <= 0:
                return None
            # Each write since adds at most one entry per journal field; a little slack for ties
            # in sys_created_on (one-second resolution).
            window = min(since * len(JOURNAL_FIELDS) + 5, 100)
        else:
            window = 10
        query = (
            Query()
            .eq("element_id", sys_id)
            .in_("element", sorted(journal))
            .order_by_desc("sys_created_on")
        )
        page = await self.list(
            "sys_journal_field", query, fields=("element", "value"), limit=window
        )
        entries = {(row.get("element", ""), row.get("value", "").strip()) for row in page.records}
        if all((name, value) in entries for name, value in journal.items()):
            return current
        return None

    async def delete(self, table: str, sys_id: str) -> None:
        """Delete one record (204). A retried DELETE that finds the record gone counts as done."""
        path = f"{_table(table)}/{validate_sys_id(sys_id)}"
        backoff = self._backoff()
        while True:
            backoff.attempts += 1
            try:
                await self._once("DELETE", path, params={}, expect=(200, 204))
                return
            except NotFoundError:
                if backoff.attempts > 1:
                    return
                raise
            except ServiceNowError as error:
                if not is_retryable(error) or not await backoff.wait(error):
                    raise

    async def ping(self) -> None:
        """The cheapest authenticated call, for health checks; raises the mapped error."""
        await self._once(
            "GET",
            "sys_user",
            params={
                "sysparm_limit": "1",
                "sysparm_fields": "sys_id",
                "sysparm_no_count": "true",
                "sysparm_suppress_pagination_header": "true",
            },
            expect=(200,),
        )

    async def current_user(self, fields: Sequence[str]) -> Record:
        """The sys_user the client's credentials belong to: ServiceNow evaluates
        ``javascript:gs.getUserID()`` in a query as the calling user's sys_id (servicenow-notes.md
        §2, "`javascript:` values"). A constant, never built from anyone's text."""
        page = await self.list(
            "sys_user", "sys_id=javascript:gs.getUserID()", fields=fields, limit=1
        )
        if not page.records:
            raise NotFoundError("ServiceNow did not say who the token belongs to", status=200)
        return page.records[0]

    def record_url(self, table: str, sys_id: str) -> str:
        """The record's page in the ServiceNow UI."""
        uri = f"{_table(table)}.do?sys_id={validate_sys_id(sys_id)}"
        return f"{self.instance_url}/nav_to.do?uri={quote(uri, safe='')}"


def _ordered(query: Query | str | None) -> Query | str:
    if isinstance(query, Query):
        return query if query.ordered else query.order_by("sys_id")
    encoded = (query or "").strip()
    if "ORDERBY" in encoded:
        return encoded
    return f"{encoded}^ORDERBYsys_id" if encoded else "ORDERBYsys_id"
