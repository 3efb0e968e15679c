"""What a thread shows: a ServiceNow comment as a reply (pure builders)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.slack.kit import (
    MESSAGE_TEXT_MAX,
    SECTION_TEXT_MAX,
    Card,
    clip,
    context,
    escape,
    link,
    section,
    when,
)


class Comment(Protocol):
    """A journal entry as a kind reads it (bot/incidents/cards.py: Comment)."""

    @property
    def text(self) -> str: ...
    @property
    def author(self) -> str: ...
    @property
    def created_on(self) -> datetime | None: ...
    @property
    def id(self) -> str: ...


def comment_reply(number: str, record_url: str, comment: Comment) -> Card:
    """A comment written in ServiceNow, as a reply in the thread of the record's card."""
    author = escape(comment.author) or "someone"
    body = escape(comment.text.strip()) or "—"
    heading = f":speech_balloon: *{author}* commented on {link(record_url, number)} in ServiceNow"
    blocks = (
        section(clip(f"{heading}\n{body}", SECTION_TEXT_MAX)),
        context(f"{when(comment.created_on)} · replies here are added as comments"),
    )
    text = clip(
        escape(f"{comment.author or 'someone'} on {number}: {comment.text.strip()}"),
        MESSAGE_TEXT_MAX,
    )
    return Card(text=text, blocks=blocks)


def edit_comment(text: str) -> str:
    """The follow-up comment an edited Slack reply becomes (the journal is append-only)."""
    return f"Correction (edited in Slack): {text.strip()}"
