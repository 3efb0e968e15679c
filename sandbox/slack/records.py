"""What the Slack stand-in knows and records: users, channels, messages, views, calls, faults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Block = dict[str, Any]
EphemeralSource = Literal["api", "response_url", "ack"]
MessageSource = Literal["api", "response_url", "ack", "user"]


class ApiError(Exception):
    """A Web API failure: `{"ok": false, "error": code, **extra}` with `status` and `headers`."""

    def __init__(
        self,
        code: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.code, **self.extra}


@dataclass
class SlackUser:
    id: str
    name: str
    real_name: str
    email: str | None
    is_bot: bool = False
    tz: str = "Europe/London"
    deleted: bool = False
    bot_id: str | None = None


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_im: bool = False
    user: str | None = None  # the other member of a DM
    # A private channel: its messages come as message.groups, and only its members (the bot
    # once invited) see it.
    is_private: bool = False

    @property
    def channel_type(self) -> str:
        """As message events name it: channel, group or im."""
        return "im" if self.is_im else "group" if self.is_private else "channel"


@dataclass
class ApiCall:
    """One Web API call as the stand-in received it (`token` is never part of `args`)."""

    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int = 200
    error: str | None = None
    scopes: tuple[str, ...] = ()  # the granted scopes the answer relied on


@dataclass
class Message:
    """A message in a channel; `history` keeps every earlier version, oldest first."""

    channel: str
    ts: str
    text: str
    blocks: list[Block]
    user: str
    thread_ts: str | None = None
    edited: int = 0
    history: list[Message] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    source: MessageSource = "api"
    # chat.unfurl: each previewed link's unfurl ({"blocks": …}), the latest call's per link
    unfurls: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Ephemeral:
    """A message only `user` sees: chat.postEphemeral, an ephemeral response_url answer or an ack body."""

    channel: str
    user: str
    text: str
    blocks: list[Block]
    source: EphemeralSource
    ts: str = ""


@dataclass
class View:
    """A modal or a Home tab. `view` is the definition the bot sent; the rest is what Slack tracks."""

    id: str
    type: str
    user: str
    view: dict[str, Any]
    hash: str
    external_id: str = ""
    root_view_id: str = ""
    previous_view_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)  # last submitted state.values
    errors: dict[str, str] | None = None  # from response_action=errors
    closed: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier definitions


@dataclass
class ApiFault:
    """Make the next `times` calls to `method` ("*" = any) fail with `error` (none if empty),
    answering after `delay` seconds."""

    method: str
    error: str = "ratelimited"
    status: int | None = None  # None: 429 for ratelimited, else 200 like Slack
    retry_after: int = 1
    times: int = 1
    delay: float = 0.0  # answer this late (with `error=""`: late, then as usual)
    # Hold every call this fault meets until `together` of them have arrived (a barrier; `delay`
    # caps the wait): calls made one after another get no answer before `delay`.
    together: int = 0
    arrived: int = field(default=0, repr=False)

    @property
    def http_status(self) -> int:
        if self.status is not None:
            return self.status
        return 429 if self.error == "ratelimited" else 200


@dataclass
class SlackReply:
    """The bot's HTTP answer to a request the stand-in sent."""

    status: int
    body: str
    json: Any | None
    elapsed: float
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Trigger:
    id: str
    user: str
    issued_at: float
    view_id: str | None = None  # set when the interaction happened inside a modal
    used: bool = False


@dataclass
class ResponseUrl:
    id: str
    channel: str
    user: str
    issued_at: float
    message_ts: str | None = None  # the message a block action came from
    ephemeral: bool = False  # that message was ephemeral
    uses: int = 0


# The seeded workspace, by id: tests and tools name these rather than spelling the ids out.
ALICE = "U0ALICE000"
BOB = "U0BOB00000"
CAROL = "U0CAROL000"
DAVE = "U0DAVE0000"  # has no ServiceNow account
ERIN = "U0ERIN0000"  # inactive in ServiceNow
BOT = "U0BOT00000"
BOT_ID = "B0BOT00000"
GENERAL = "C0GENERAL0"
INCIDENTS = "C0INCIDENT"

BOT_USER = SlackUser(BOT, "incident-bot", "Incident Bot", None, is_bot=True, bot_id=BOT_ID)

DEFAULT_USERS: tuple[SlackUser, ...] = (
    SlackUser(ALICE, "alice", "Alice Chen", "alice@example.com"),
    SlackUser(BOB, "bob", "Bob Martin", "bob@example.com"),
    SlackUser(CAROL, "carol", "Carol Diaz", "carol@example.com"),
    SlackUser(DAVE, "dave", "Dave Jones", "dave@example.com"),
    SlackUser(ERIN, "erin", "Erin Park", "erin@example.com"),
)

DEFAULT_CHANNELS: tuple[Channel, ...] = (
    Channel(GENERAL, "general"),
    Channel(INCIDENTS, "incidents"),
)
