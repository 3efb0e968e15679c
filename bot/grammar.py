"""What a `/incident …` text asks for. Pure: text in, a typed request out."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Help:
    """`/incident`, `/incident help`, or anything not understood (then `unknown` holds the word)."""

    unknown: str | None = None


@dataclass(frozen=True)
class Create:
    text: str


Request = Help | Create

_HELP_WORDS = {"help", "-h", "--help", "?", "usage"}


def parse(text: str) -> Request:
    words = text.strip()
    if not words:
        return Help()
    head, _, rest = words.partition(" ")
    keyword = head.lower()
    if keyword in _HELP_WORDS:
        return Help()
    if keyword == "new":
        return Create(rest.strip()) if rest.strip() else Help(unknown=None)
    return Create(words)
