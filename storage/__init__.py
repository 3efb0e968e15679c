"""Persistence for the bot: SQLAlchemy 2 async models, repositories and Alembic migrations."""

from storage.db import Database, create_engine
from storage.repositories import IdempotencyKeys, LinkedUser, Posted, PostedMessages, UserLinks

__all__ = [
    "Database",
    "IdempotencyKeys",
    "LinkedUser",
    "Posted",
    "PostedMessages",
    "UserLinks",
    "create_engine",
]
