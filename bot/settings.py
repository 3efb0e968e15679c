"""Configuration from the environment or `.env`, as the design's table names it."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["serve", "socket", "check", "migrate"]


class SettingsError(Exception):
    """Start-up must stop: one line per problem, each naming the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    # An empty variable counts as unset, as in a .env copied from .env.example (`SLACK_APP_TOKEN=`).
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = "https://slack.com/api/"

    servicenow_instance_url: str
    servicenow_username: str | None = None
    servicenow_password: str | None = None
    servicenow_client_id: str | None = None
    servicenow_client_secret: str | None = None
    servicenow_webhook_secret: str | None = None
    servicenow_poll_seconds: float = Field(default=30, ge=0)
    # Requests in flight to ServiceNow at once; the rest wait in the bot's own queue (the poller,
    # reconciles and identity look-ups first). See servicenow.client.DEFAULT_MAX_IN_FLIGHT.
    servicenow_max_in_flight: int = Field(default=10, ge=1, le=1000)

    # The outbox: how long a claim lasts unless its holder keeps it alive (a crashed replica's
    # work resumes after this), how old a message may get before it is given up (a Slack outage
    # of up to this long loses nothing), the longest wait between retries, and the window in
    # which DMs about one record to one person fold into one.
    outbox_lease_seconds: float = Field(default=10, gt=0)
    outbox_give_up_hours: float = Field(default=24, gt=0)
    outbox_max_backoff_seconds: float = Field(default=300, gt=0)
    dm_fold_seconds: float = Field(default=3, ge=0)
    # Card rewrites (chat.update, Slack's Tier 3: "50+ per minute", per workspace, "sporadic bursts
    # are welcome"): a burst of this many goes out at once, then this many a minute.
    slack_updates_per_minute: float = Field(default=50, gt=0)
    slack_update_burst: int = Field(default=200, ge=1)

    # Housekeeping: what the bot remembers about a record (its cards, its snapshot) goes this
    # long after the record closed or was last seen, and so does an identity unused this long;
    # the cards of a closed record go after `retention_closed_days`. Open records keep all.
    retention_days: float = Field(default=30, gt=0)
    retention_closed_days: float = Field(default=7, gt=0)

    # The log: `text` (one line per record) or `json` (one object per line), and its level.
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Who may do what (README, "Who may do what"): comma-separated ServiceNow role names that may
    # read any incident, and that may work one (assign, work notes, hold, resolve, close, cancel);
    # the tables whose approvals need an e-signature (decided in ServiceNow, never by a button).
    read_roles: str = "itil"
    fulfiller_roles: str = "itil"
    e_signature_tables: str = "change_request"

    database_url: str = "sqlite+aiosqlite:///./incident-bot.db"
    # Database connections kept open (SQLite: no more are ever opened; it has one writer). Work
    # waits in line for a free one however long it takes, and the log says so each
    # `database_pool_timeout` seconds it waits: nothing is dropped for want of a connection.
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_pool_timeout: float = Field(default=30, gt=0)
    incident_channel: str | None = None
    # `serve` with 1: a lean front answers slash commands and hands the work to a worker process
    # (bot/front.py); 0: one process, as ever.
    serve_workers: int = Field(default=0, ge=0, le=1)
    host: str = "0.0.0.0"
    port: int = Field(default=3000, ge=0, le=65535)  # 0: any free port (the log says which)

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return value.lower() if value.lower() in ("text", "json") else value.upper()

    # Acting as the person (JWT bearer grant): the private key (a PEM, or the path of a PEM file)
    # whose public half the admin registered in ServiceNow, and the key id it was registered under.
    # The OAuth client is SERVICENOW_CLIENT_ID / SERVICENOW_CLIENT_SECRET.
    servicenow_jwt_private_key: str | None = Field(default=None, repr=False)
    servicenow_jwt_key_id: str | None = None
    # Acting as the person (account linking, the authorization code grant with PKCE): each
    # person connects their own ServiceNow account once. Tokens are kept encrypted with the first
    # of TOKEN_ENCRYPTION_KEYS (comma-separated Fernet keys; every one of them decrypts, so a new
    # key goes first and old ones stay until re-encrypted), and ServiceNow sends people back to
    # PUBLIC_URL + /servicenow/oauth/callback.
    servicenow_linking: bool = False
    token_encryption_keys: str | None = Field(default=None, repr=False)
    public_url: str | None = None

    @field_validator("slack_api_url", "servicenow_instance_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("servicenow_instance_url", "public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value is not None else None

    @field_validator("token_encryption_keys")
    @classmethod
    def _fernet_keys(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from cryptography.fernet import Fernet

        keys = [key.strip() for key in value.split(",") if key.strip()]
        for number, key in enumerate(keys, 1):
            try:
                Fernet(key)
            except (ValueError, TypeError):
                # never repeat the value: it is a key
                raise ValueError(
                    f"key {number} is not a Fernet key (32 url-safe base64-encoded bytes; "
                    "`incident-bot encryption-key` makes one)"
                ) from None
        if not keys:
            raise ValueError("needs at least one key")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                f"(got {value.split('://')[0]}://)"
            )
        return value

    @field_validator("read_roles", "fulfiller_roles", "e_signature_tables")
    @classmethod
    def _names(cls, value: str) -> str:
        for name in _names(value):
            if not name.replace("_", "").replace(".", "").isalnum():
                raise ValueError(f"must be comma-separated names, got {name!r}")
        return value

    @property
    def read_role_set(self) -> frozenset[str]:
        return _names(self.read_roles)

    @property
    def fulfiller_role_set(self) -> frozenset[str]:
        return _names(self.fulfiller_roles)

    @property
    def e_signature_table_set(self) -> frozenset[str]:
        return _names(self.e_signature_tables)

    @field_validator("servicenow_jwt_private_key")
    @classmethod
    def _rsa_private_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from servicenow.auth import load_private_key

        try:
            load_private_key(value)
        except OSError as exc:
            raise ValueError(f"can't read the key file ({exc.strerror})") from None
        except (ValueError, TypeError):
            # never repeat the value: it may be a private key
            raise ValueError("must be an RSA private key in PEM, or the path of one") from None
        return value

    @property
    def acts_as_person(self) -> bool:
        """True when the bot reads and writes for a person with that person's own token."""
        return self.servicenow_jwt_private_key is not None or self.servicenow_linking

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _names(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


_REQUIRED: dict[str, tuple[str, ...]] = {
    "serve": ("slack_bot_token", "slack_signing_secret"),
    "socket": ("slack_bot_token", "slack_app_token"),
    "check": ("slack_bot_token",),
    "migrate": (),
}


def load_settings(mode: Mode, **overrides: object) -> Settings:
    """Read and check settings for `mode`; raise SettingsError listing every problem at once."""
    raw = _raw(overrides)
    problems = [
        f"{name.upper()}: required for `incident-bot {mode}` but not set"
        for name in _REQUIRED[mode]
        if not raw.get(name)
    ]
    if mode != "migrate":
        problems += _auth_problems(raw)
        problems += _acting_problems(raw)
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = _describe(exc) + problems
    if problems:
        raise SettingsError(problems)
    return settings


def _raw(overrides: dict[str, object]) -> dict[str, object]:
    """Every setting as found in the environment/.env, unvalidated, to tell set from unset."""
    fields: dict[str, Any] = {name: (str | None, None) for name in Settings.model_fields}
    model = create_model("RawSettings", __base__=BaseSettings, **fields)
    model.model_config = Settings.model_config
    values: dict[str, object] = model().model_dump()
    return {**values, **overrides}


def _auth_problems(raw: dict[str, object]) -> list[str]:
    has_user = bool(raw.get("servicenow_username"))
    has_password = bool(raw.get("servicenow_password"))
    has_client = bool(raw.get("servicenow_client_id"))
    has_secret = bool(raw.get("servicenow_client_secret"))
    problems: list[str] = []
    if has_client != has_secret:
        missing = "SERVICENOW_CLIENT_SECRET" if has_client else "SERVICENOW_CLIENT_ID"
        problems.append(f"{missing}: required when the other OAuth client setting is set")
    if has_user != has_password:
        missing = "SERVICENOW_PASSWORD" if has_user else "SERVICENOW_USERNAME"
        problems.append(f"{missing}: required when the other one is set")
    if not has_user and not has_client:
        problems.append(
            "SERVICENOW_USERNAME: set it with SERVICENOW_PASSWORD (basic auth or OAuth password "
            "grant), or set SERVICENOW_CLIENT_ID and SERVICENOW_CLIENT_SECRET (client credentials)"
        )
    return problems


def _linking_problems(raw: dict[str, object]) -> list[str]:
    if str(raw.get("servicenow_linking") or "").strip().lower() not in ("true", "1", "yes", "on"):
        return []
    if raw.get("servicenow_jwt_private_key"):
        return [
            "SERVICENOW_LINKING: choose one way of acting as the person, account linking or the "
            "JWT bearer grant (SERVICENOW_JWT_PRIVATE_KEY), not both"
        ]
    problems: list[str] = []
    if not raw.get("token_encryption_keys"):
        problems.append(
            "TOKEN_ENCRYPTION_KEYS: required with SERVICENOW_LINKING (the keys people's tokens "
            "are encrypted with; `incident-bot encryption-key` makes one)"
        )
    if not raw.get("public_url"):
        problems.append(
            "PUBLIC_URL: required with SERVICENOW_LINKING (the bot's public address; ServiceNow "
            "sends people back to PUBLIC_URL/servicenow/oauth/callback)"
        )
    if not raw.get("servicenow_client_id") or not raw.get("servicenow_client_secret"):
        problems.append(
            "SERVICENOW_CLIENT_ID: SERVICENOW_LINKING needs the OAuth client (id and secret) "
            "people connect their accounts to"
        )
    return problems


def _acting_problems(raw: dict[str, object]) -> list[str]:
    if not raw.get("servicenow_jwt_private_key"):
        return _linking_problems(raw)
    problems: list[str] = _linking_problems(raw)
    if not raw.get("servicenow_jwt_key_id"):
        problems.append(
            "SERVICENOW_JWT_KEY_ID: required with SERVICENOW_JWT_PRIVATE_KEY (the key id the "
            "public key was registered under in ServiceNow; `incident-bot jwt-keypair` prints it)"
        )
    if not raw.get("servicenow_client_id") or not raw.get("servicenow_client_secret"):
        problems.append(
            "SERVICENOW_CLIENT_ID: SERVICENOW_JWT_PRIVATE_KEY needs the OAuth client (id and "
            "secret) whose JWT provider trusts the key"
        )
    return problems


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors():
        name = str(error["loc"][0]).upper() if error["loc"] else "SETTINGS"
        if error["type"] == "missing":
            problems.append(f"{name}: required but not set")
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{name}: {message}")
    return problems
