"""Persistence for the bot: SQLAlchemy 2 async models, repositories and Alembic migrations."""

from storage.db import Database, create_engine
from storage.repositories import LinkedUser, Posted, PostedMessages, UserLinks

__all__ = ["Database", "LinkedUser", "Posted", "PostedMessages", "UserLinks", "create_engine"]
