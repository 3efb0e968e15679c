"""Persistence for the bot: SQLAlchemy 2 async models, repositories and Alembic migrations."""

from storage.db import Database, create_engine
from storage.drafts import Draft, Drafts
from storage.events import Pending, PendingEvents
from storage.feed import Card, Claimed, FeedStore, Fold, PendingFold, SlackWrite, StoredSnapshot
from storage.links import LinkedAccounts, LockedAccount, StoredAccount, TakenState
from storage.repositories import (
    Followers,
    IdempotencyKeys,
    LinkedUser,
    NotificationSettings,
    Posted,
    PostedMessages,
    UserLinks,
)
from storage.retention import Pruned, Retention
from storage.threads import StoredUnfurl, ThreadRoot, Threads, text_digest

__all__ = [
    "Card",
    "Claimed",
    "Database",
    "Draft",
    "Drafts",
    "FeedStore",
    "Fold",
    "Followers",
    "IdempotencyKeys",
    "LinkedAccounts",
    "LinkedUser",
    "LockedAccount",
    "NotificationSettings",
    "Pending",
    "PendingEvents",
    "PendingFold",
    "Posted",
    "PostedMessages",
    "Pruned",
    "Retention",
    "SlackWrite",
    "StoredAccount",
    "StoredSnapshot",
    "StoredUnfurl",
    "TakenState",
    "ThreadRoot",
    "Threads",
    "UserLinks",
    "create_engine",
    "text_digest",
]
