"""An async client for the ServiceNow Table API.

Records come back as flat ``dict[str, str]``: the client always asks for
``sysparm_exclude_reference_link=true``, so references are plain sys_ids and dot-walked fields
(``caller_id.name``) are flat keys. No session cookie is kept, so parallel calls are not serialised
by the instance (one transaction per session) and never see an empty 202 because of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from servicenow.auth import no_cookies
from servicenow.errors import (
    NotFoundError,
    ServiceNowError,
    UnavailableError,
    error_from_response,
)
from servicenow.query import Query, validate_sys_id
from servicenow.retry import Backoff, RetryPolicy, Sleep, is_retryable, was_not_processed

__all__ = ["Page", "Record", "RetryPolicy", "ServiceNowClient"]

Record = dict[str, str]

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
    ) -> None:
        url = instance_url.strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"{instance_url!r} is not an http(s) URL")
        self.instance_url = url
        self.retry = retry
        self.calls = 0
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=f"{url}/api/now/table/",
            auth=auth,
            timeout=timeout,
            transport=transport,
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
        await self._http.aclose()

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
            response = await self._http.request(
                method,
                path,
                params=query,
                content=None if body is None else json.dumps(body).encode(),
                headers=None if body is None else {"Content-Type": "application/json"},
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
        """Insert one record (201).

        A POST is never repeated blindly. After a failure that may have created the record
        (a gateway error, a timeout, a dropped session), the record is looked up by
        ``correlation_id`` first and returned if it exists; without a correlation id only failures
        that prove nothing was done (429, connection refused) are retried.
        """
        path = _table(table)
        body = dict(values)
        if correlation_id is not None:
            body["correlation_id"] = correlation_id
        params = self._fields(fields)
        backoff = self._backoff()
        while True:
            backoff.attempts += 1
            try:
                response = await self._once(
                    "POST", path, params=params, body=body, expect=(200, 201)
                )
                return _record(self._result(response))
            except ServiceNowError as error:
                untouched = was_not_processed(error)
                if not is_retryable(error) or (correlation_id is None and not untouched):
                    raise
                if not await backoff.wait(error):
                    raise
                if not untouched and correlation_id is not None:
                    existing = await self._find_by_correlation(table, correlation_id, fields)
                    if existing is not None:
                        return existing

    async def _find_by_correlation(
        self, table: str, correlation_id: str, fields: Sequence[str] | None
    ) -> Record | None:
        query = Query().eq("correlation_id", correlation_id).order_by("sys_created_on")
        page = await self.list(table, query, fields=fields, limit=1)
        return page.records[0] if page.records else None

    async def patch(
        self,
        table: str,
        sys_id: str,
        values: Mapping[str, Any],
        *,
        fields: Sequence[str] | None = None,
    ) -> Record:
        """Update fields of one record; answers the whole record (or ``fields``)."""
        path = f"{_table(table)}/{validate_sys_id(sys_id)}"
        response = await self._request(
            "PATCH", path, params=self._fields(fields), body=dict(values), expect=(200,)
        )
        return _record(self._result(response))

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
