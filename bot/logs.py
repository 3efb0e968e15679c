"""The bot's log: one line per record, nothing a request carried, and repeated failures counted.

- Every record is one line: newlines and carriage returns in a message (and in a traceback) are
  escaped, so text that came from outside cannot forge a line.
- `LOG_FORMAT=json`: one JSON object per line (time, level, logger, message, any extras, and
  `exc` for a traceback).
- Bolt logs whole request bodies (a refused signature at INFO, an unhandled request at WARNING):
  those records are rewritten to say what happened without the body, and request-bearing
  third-party loggers are kept at WARNING whatever `LOG_LEVEL` says (slack_sdk's DEBUG lines carry
  the bot token).
- uvicorn's access lines keep the path, never the query string (a sign-in's `code` and `state`).
- `Throttle`: a failure that repeats (the database is away, every worker fails every second) is
  logged once per interval, with how many times it happened meanwhile.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Loggers that may print requests, responses or tokens below WARNING.
CHATTY = ("slack_bolt", "slack_sdk", "httpx", "httpcore", "aiohttp", "asyncio", "sqlalchemy")
# What no log line may carry even if some library puts it in a message.
SECRETS = re.compile(r"\b(xox[a-z]-|xapp-)[A-Za-z0-9-]+")
STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def one_line(text: str) -> str:
    return SECRETS.sub(r"\1…", text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n"))


class OneLineFormatter(logging.Formatter):
    """The usual text format, every record on one line (a traceback too, escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": SECRETS.sub(r"\1…", record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exc"] = SECRETS.sub(r"\1…", self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)  # json escapes newlines: one line


class NoRequestBodies(logging.Filter):
    """Bolt's records about refused or unhandled requests, without the request they carry."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("slack_bolt"):
            return True
        message = record.getMessage()
        if "Invalid request signature" in message:
            return False  # Bolt answers 401; the body (a live response_url, say) is not ours to log
        if "Unhandled request" in message or "body" in message.lower():
            record.msg, record.args = "a Slack request was not handled (body not logged)", None
        return True


class NoQueryStrings(logging.Filter):
    """uvicorn's access lines name the path only: a query string may carry what must not be
    logged (Connect ServiceNow's callback brings `code` and `state`, its link a ticket)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) >= 3:
            path = str(args[2])
            if "?" in path:
                record.args = (*args[:2], path.split("?", 1)[0] + "?…", *args[3:])
        return True


def configure(
    level: str = "INFO", fmt: LogFormat = "text", stream: TextIO | None = None
) -> logging.Handler:
    """Install the one handler on the root logger (replacing any), at `level`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else OneLineFormatter(TEXT_FORMAT))
    handler.addFilter(NoRequestBodies())
    handler.addFilter(NoQueryStrings())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    quietest = max(logging.WARNING, root.level)
    for name in CHATTY:
        logging.getLogger(name).setLevel(quietest)
    return handler


@dataclass
class Throttle:
    """Log a repeating failure once per `interval` seconds: the first at once, then one line
    saying how many more there were (`… (and 57 more times in the last 60 s)`)."""

    logger: logging.Logger
    interval: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _since: dict[str, tuple[float, int]] = field(default_factory=dict)

    def failed(
        self, key: str, message: str, *args: object, exc: BaseException | None = None
    ) -> None:
        now = self.clock()
        started, more = self._since.get(key, (None, 0))
        if started is not None and now - started < self.interval:
            self._since[key] = (started, more + 1)
            return
        self._since[key] = (now, 0)
        if started is not None and more:
            message += f" (and {more} more times in the last {now - started:.0f} s)"
        # The traceback once, when the trouble starts; after that the error says enough.
        self.logger.warning(message, *args, exc_info=exc if started is None else None)

    def recovered(self, key: str, message: str = "") -> None:
        """The failure stopped; with `message`, say so if it had happened more than once."""
        started, more = self._since.pop(key, (None, 0))
        if started is not None and more and message:
            self.logger.info("%s (after %d more failures)", message, more)
