"""Tables: who a Slack user is in ServiceNow, and which Slack messages show which record."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes even for timezone=True columns; they were stored as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class UserLink(Base):
    """A Slack user resolved to a ServiceNow sys_user by e-mail; sys_user_id None means "no match"."""

    __tablename__ = "user_links"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    sys_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    resolved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PostedMessage(Base):
    """A Slack message the bot posted that renders one ServiceNow record."""

    __tablename__ = "posted_messages"
    __table_args__ = (
        UniqueConstraint("channel", "ts", name="uq_posted_messages_channel_ts"),
        Index("ix_posted_messages_record", "table_name", "sys_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(80))
    sys_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    # Set when the card was posted as a reply in a thread (then it is no thread's root).
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    rendered_hash: Mapped[str] = mapped_column(String(64))
    rendered: Mapped[str] = mapped_column(Text)
    posted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IdempotencyKey(Base):
    """A request already handled (a Slack retry, a double click): its key, and what it produced."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    result: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class Snapshot(Base):
    """The last version of a ServiceNow record the bot has acted on, to diff the next one against."""

    __tablename__ = "snapshots"

    table_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    sys_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sys_mod_count: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PollCursor(Base):
    """Where the delta poll of one table got to (a ServiceNow UTC `sys_updated_on`)."""

    __tablename__ = "poll_cursors"

    table_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(19))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxMessage(Base):
    """A Slack write waiting to be delivered: a post, a DM, or a chat.update of a posted card.

    Updates of one message share a `coalesce_key` while pending, so a burst of changes leaves one
    row holding the newest card (`version` counts rewrites, so a delivery in flight can tell).
    A claim (`claimed_until`, `claim_token`) is kept alive by its holder while it delivers; DMs
    sharing a `fold_key` while waiting out their window fold into one (`fold_state`: where the
    burst started, as the record's tracker remembers it).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "uq_outbox_pending_key",
            "coalesce_key",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_outbox_due", "status", "available_at"),
        Index("ix_outbox_target", "target", "status", "id"),
        Index("ix_outbox_fold", "fold_key", "status"),
        Index("ix_outbox_record", "table_name", "sys_id", "status"),
        Index("ix_outbox_age", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    coalesce_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    table_name: Mapped[str | None] = mapped_column(String(80))
    sys_id: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    fold_key: Mapped[str | None] = mapped_column(String(200))
    fold_state: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Follower(Base):
    """Someone who pressed Follow on a card: they hear about every change of that record."""

    __tablename__ = "followers"

    table_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    sys_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sys_user_id: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class NotificationSetting(Base):
    """`/incident notify off` mutes one's own DMs; no row means DMs are on."""

    __tablename__ = "notification_settings"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PendingEvent(Base):
    """A change event answered 202 and not yet acted on (one row per record: the highest version).

    Also where a record the poller could not reconcile waits for its next try (`available_at`).
    """

    __tablename__ = "pending_events"
    __table_args__ = (
        UniqueConstraint("table_name", "sys_id", name="uq_pending_events_record"),
        Index("ix_pending_events_due", "available_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(80))
    sys_id: Mapped[str] = mapped_column(String(32))
    sys_mod_count: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    available_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class LinkState(Base):
    """One "Connect ServiceNow" in progress (account linking): the OAuth `state` is kept only as
    its SHA-256, bound to the Slack user who started it and to their browser (the SHA-256 of a
    cookie), with the PKCE verifier encrypted. Used once (`used_at`), short-lived (`expires_at`)."""

    __tablename__ = "link_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    browser_hash: Mapped[str] = mapped_column(String(64))
    verifier: Mapped[str] = mapped_column(Text)  # encrypted (TOKEN_ENCRYPTION_KEYS)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LinkedAccount(Base):
    """A Slack user's ServiceNow account, linked by the authorization code grant: the sys_user the
    token belongs to, and the tokens, encrypted. `version` grows with every token write (a
    replica that loses a refresh re-reads the winner's)."""

    __tablename__ = "linked_accounts"

    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sys_user_id: Mapped[str] = mapped_column(String(32), index=True)
    user_name: Mapped[str] = mapped_column(String(100), default="")
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    access_token: Mapped[str] = mapped_column(Text)  # encrypted
    refresh_token: Mapped[str] = mapped_column(Text)  # encrypted; "" when none was given
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IncidentDraft(Base):
    """An incident someone asked for while similar open ones exist: kept until they choose
    (follow one of those, add their details to it, or open it anyway), pruned with the keys."""

    __tablename__ = "incident_drafts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32), default="")
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    correlation_id: Mapped[str] = mapped_column(String(100))
    data: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class ChannelSetting(Base):
    """`/incident threads off` in a channel: its cards' threads and comments stop syncing."""

    __tablename__ = "channel_settings"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    threads: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ThreadLink(Base):
    """A thread a live card was posted into to keep in step with its record (an incident opened
    from a message: its card goes in that message's thread, whose replies become its comments)."""

    __tablename__ = "thread_links"
    __table_args__ = (
        UniqueConstraint("channel", "thread_ts", "table_name", "sys_id", name="uq_thread_links"),
        Index("ix_thread_links_record", "table_name", "sys_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str] = mapped_column(String(32))
    table_name: Mapped[str] = mapped_column(String(80))
    sys_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JournalOrigin(Base):
    """A comment the bot wrote from Slack (the SHA-256 of its text), claimed by the journal entry
    it became (`entry_id`) when the feed first sees it: that entry is never posted back."""

    __tablename__ = "journal_origins"
    __table_args__ = (Index("ix_journal_origins_record", "table_name", "sys_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(80))
    sys_id: Mapped[str] = mapped_column(String(32))
    digest: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Unfurl(Base):
    """A link preview the bot gave a person's message: refreshed when its record changes."""

    __tablename__ = "unfurls"
    __table_args__ = (
        UniqueConstraint("channel", "ts", "url", name="uq_unfurls_message_url"),
        Index("ix_unfurls_record", "table_name", "sys_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(Text)
    table_name: Mapped[str] = mapped_column(String(80))
    sys_id: Mapped[str] = mapped_column(String(32))
    slack_user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Subscription(Base):
    """A channel's standing order: cards of the records of one table that match its filters,
    posted when one of its events happens (`filters`, `events`: JSON). `creator` is the Slack user
    who made it ("" for one made from the INCIDENT_CHANNEL setting)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_table", "table_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    table_name: Mapped[str] = mapped_column(String(80))
    events: Mapped[str] = mapped_column(Text)
    filters: Mapped[str] = mapped_column(Text)
    history: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(Text, default="")  # its filters, as people read them
    creator: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelCard(Base):
    """The one live card a channel's subscriptions keep of a record: whether the record still
    matches, and the blocks (JSON) appended to that copy of the card (who subscribed, or that it
    no longer matches); every rewrite of the record's card keeps them."""

    __tablename__ = "channel_cards"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    sys_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(Integer)
    matching: Mapped[bool] = mapped_column(Boolean, default=True)
    footer: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OnceDone(Base):
    """A one-time step already taken (e.g. INCIDENT_CHANNEL turned into a subscription)."""

    __tablename__ = "once_done"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    done_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
