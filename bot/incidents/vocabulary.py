"""The incident vocabulary Slack speaks: hold reasons and the state moves, each spelled once.

The state menu on a card, the `/incident` subcommands and the service's checks all read the same
table, so "what can follow Resolved" is decided in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from servicenow.records import IncidentState


class HoldReason(StrEnum):
    """ServiceNow's `hold_reason` choices, with the word a person types for each."""

    CALLER = "1"
    PROBLEM = "3"
    VENDOR = "4"
    CHANGE = "5"

    @property
    def label(self) -> str:
        return f"Awaiting {self.name.capitalize()}"

    @property
    def word(self) -> str:
        return self.name.lower()

    @classmethod
    def from_word(cls, word: str) -> HoldReason | None:
        return next((reason for reason in cls if reason.word == word.lower()), None)

    @classmethod
    def label_of(cls, value: str) -> str:
        """The label of a stored hold_reason, or the value itself when this one is unknown."""
        return cls(value).label if value in cls._value2member_map_ else value


class Move(StrEnum):
    """A change of state someone can ask for (the value travels in the state menu)."""

    START = "2"
    HOLD = "3"
    RESOLVE = "6"
    CLOSE = "7"
    CANCEL = "8"
    REOPEN = "reopen"


@dataclass(frozen=True)
class Step:
    label: str  # in the state menu
    verb: str  # in the work note: "<verb> via Slack by …"
    target: IncidentState
    needs_form: bool = False  # asks for more (hold reason, resolution) in a modal first


STEPS: dict[Move, Step] = {
    Move.START: Step("In Progress", "In Progress", IncidentState.IN_PROGRESS),
    Move.HOLD: Step("On Hold…", "Put on hold", IncidentState.ON_HOLD, needs_form=True),
    Move.RESOLVE: Step("Resolved…", "Resolved", IncidentState.RESOLVED, needs_form=True),
    Move.CLOSE: Step("Closed", "Closed", IncidentState.CLOSED),
    Move.CANCEL: Step("Canceled", "Canceled", IncidentState.CANCELED),
    Move.REOPEN: Step("Reopen", "Reopened", IncidentState.IN_PROGRESS),
}

# What may follow each state, in menu order. The service refuses anything else.
TRANSITIONS: dict[IncidentState, tuple[Move, ...]] = {
    IncidentState.NEW: (Move.START, Move.HOLD, Move.RESOLVE, Move.CANCEL),
    IncidentState.IN_PROGRESS: (Move.HOLD, Move.RESOLVE),
    IncidentState.ON_HOLD: (Move.START, Move.RESOLVE),
    IncidentState.RESOLVED: (Move.REOPEN, Move.CLOSE),
}


def moves_from(state: IncidentState) -> tuple[Move, ...]:
    return TRANSITIONS.get(state, ())


def allowed(state: IncidentState, move: Move) -> bool:
    return move in moves_from(state)
