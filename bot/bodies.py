"""Request bodies read with a limit: a body over it is refused (413) before it is held whole.

Slack's payloads are far below 1 MB and a change event is a few hundred bytes; an unsigned 50 MB
POST must cost the bot a read buffer, not 50 MB (Bolt parses a body before it checks the
signature, so the limit comes first).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

SLACK_LIMIT = 256 * 1024
CHANGE_EVENT_LIMIT = 64 * 1024


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or TooLarge as soon as it says or proves to be over `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def too_large() -> Response:
    """413, and the connection closed: the rest of the body is not waited for."""
    return Response("request body too large\n", status_code=413, headers={"connection": "close"})
