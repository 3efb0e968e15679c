"""Action and callback ids of subscriptions (shared by cards and listeners)."""

from enum import StrEnum


class SubscriptionId(StrEnum):
    FORM = "subscription:form"
    KIND = "subscription:kind"
    EDIT = "subscription:edit"
    DELETE = "subscription:delete"


EVENTS_BLOCK = "events"
FLAGS_BLOCK = "flags"
HISTORY_BLOCK = "history"
KIND_BLOCK = "kind"
FILTER_PREFIX = "filter:"
