"""Which ServiceNow record a link points at (pure): classic forms, `nav_to.do` and workspaces.

- `https://<instance>/<table>.do?sys_id=<sys_id>`
- `https://<instance>/nav_to.do?uri=<table>.do?sys_id=<sys_id>` (the `uri` encoded or not)
- `https://<instance>/now/<workspace…>/record/<table>/<sys_id>` (`/now/sow/record/incident/…`)

Only links to the configured instance count, and only tables some kind declares.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

SYS_ID = re.compile(r"[0-9a-f]{32}")
TABLE = re.compile(r"[a-z][a-z0-9_]{0,79}")
FORM = re.compile(r"/?([a-z][a-z0-9_]{0,79})\.do")
WORKSPACE = re.compile(r"/now/(?:[a-z0-9_-]+/)+record/([a-z][a-z0-9_]{0,79})/([0-9a-f]{32})(?:/|$)")


@dataclass(frozen=True)
class RecordLink:
    url: str
    table: str
    sys_id: str


def host_of(instance_url: str) -> str:
    return (urlsplit(instance_url).hostname or "").lower()


def parse(url: str, instance_host: str, tables: Collection[str]) -> RecordLink | None:
    """The record `url` points at, or None (another host, another page, an unknown table)."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host or host != instance_host:
        return None
    found = _record(parts.path, parts.query)
    if found is None or found[0] not in tables:
        return None
    return RecordLink(url, *found)


def _record(path: str, query: str) -> tuple[str, str] | None:
    workspace = WORKSPACE.match(path.lower())
    if workspace:
        return workspace.group(1), workspace.group(2)
    params = parse_qs(query)
    if path.rstrip("/").lower() == "/nav_to.do":
        uri = unquote((params.get("uri") or [""])[0])
        inner_path, _, inner_query = uri.partition("?")
        return _form(inner_path, inner_query)
    return _form(path, query)


def _form(path: str, query: str) -> tuple[str, str] | None:
    form = FORM.fullmatch(path.lower())
    if not form:
        return None
    sys_id = ((parse_qs(query).get("sys_id") or [""])[0]).lower()
    return (form.group(1), sys_id) if SYS_ID.fullmatch(sys_id) else None
