"""Pure Block Kit builders for subscriptions: the form, the channel's list, the announcements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.feed.filters import Event, Subscribable
from bot.feed.subscriptions import creator_text
from bot.slack.kit import (
    Block,
    Card,
    actions,
    button,
    context,
    escape,
    input_block,
    modal,
    option,
    plain,
    section,
)
from bot.subscriptions.ids import (
    EVENTS_BLOCK,
    FILTER_PREFIX,
    FLAGS_BLOCK,
    HISTORY_BLOCK,
    KIND_BLOCK,
    SubscriptionId,
)
from storage.subscriptions import StoredSubscription

OPTIONS_MAX = 100  # a static select shows at most 100 options
Options = Sequence[tuple[str, str]]  # (value, label)


def _checkboxes(
    block_id: str, label: str, options: Options, chosen: Sequence[str], *, optional: bool
) -> Block:
    element: Block = {
        "type": "checkboxes",
        "action_id": "value",
        "options": [option(text, value) for value, text in options],
    }
    initial = [option(text, value) for value, text in options if value in chosen]
    if initial:
        element["initial_options"] = initial
    return input_block(block_id, label, element, optional=optional)


def _multi(block_id: str, label: str, options: Options, chosen: Sequence[str]) -> Block:
    element: Block = {
        "type": "multi_static_select",
        "action_id": "value",
        "placeholder": plain(f"Any {label.lower()}"),
        "options": [option(text, value) for value, text in options][:OPTIONS_MAX],
    }
    initial = [option(text, value) for value, text in options[:OPTIONS_MAX] if value in chosen]
    if initial:
        element["initial_options"] = initial
    return input_block(block_id, label, element, optional=True)


def subscribe_modal(
    kind: Subscribable,
    kinds: Sequence[Subscribable],
    options: Mapping[str, Options],
    *,
    channel: str,
    existing: StoredSubscription | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The form: kind, events, filters from the instance's choices, history in a thread.

    `options`: each filter field's choices (a field missing here is not offered: the instance
    has no such list). `existing`: the subscription being edited."""
    chosen_events = existing.events if existing else (Event.CREATED,)
    filters = existing.filters if existing else {}
    who = (
        f"made by {creator_text(existing)}"
        if existing
        else "made by you; the channel is told you made it"
    )
    verb = "Change the subscription of" if existing else "Subscribe"
    blocks: list[Block] = [section(f"{verb} <#{channel}> ({who}).")]
    if len(kinds) > 1 and existing is None:
        element: Block = {
            "type": "static_select",
            "action_id": SubscriptionId.KIND,
            "options": [option(k.label, f"{k.table}:{channel}") for k in kinds],
            "initial_option": option(kind.label, f"{kind.table}:{channel}"),
        }
        blocks.append(
            {
                "type": "section",
                "block_id": KIND_BLOCK,
                "text": {"type": "mrkdwn", "text": "*Records*"},
                "accessory": element,
            }
        )
    else:
        blocks.append(context(f"Records: *{escape(kind.label)}*"))
    blocks.append(
        _checkboxes(
            EVENTS_BLOCK,
            "Post a card when",
            [(e.value, e.label) for e in kind.events],
            list(chosen_events),
            optional=False,
        )
    )
    for field in kind.filters:
        if field.field in options:
            blocks.append(
                _multi(
                    FILTER_PREFIX + field.field,
                    field.label,
                    options[field.field],
                    filters.get(field.field, []),
                )
            )
    flags = [f for f in kind.flags if f"flag:{f.key}" in options]
    if flags:
        flagged = [f.key for f in flags if "yes" in filters.get(f.key, [])]
        blocks.append(
            _checkboxes(
                FLAGS_BLOCK, "Only", [(f.key, f.label) for f in flags], flagged, optional=True
            )
        )
    blocks.append(
        _checkboxes(
            HISTORY_BLOCK,
            "History",
            [("thread", "Add a line in the card's thread for each event")],
            ["thread"] if existing and existing.history else [],
            optional=True,
        )
    )
    blocks += [context(note) for note in notes]
    metadata = {
        "channel": channel,
        "table": kind.table,
        "id": str(existing.id) if existing else "",
        "origin": "modal",
    }
    return modal(
        SubscriptionId.FORM,
        "Subscription" if existing else "Subscribe channel",
        blocks,
        submit="Save" if existing else "Subscribe",
        metadata=metadata,
    )


def subscription_line(rule: StoredSubscription, kinds: Mapping[str, Subscribable]) -> str:
    kind = kinds.get(rule.table)
    label = kind.label if kind else rule.table
    events = ", ".join(Event(e).label.lower() for e in rule.events if e in Event._value2member_map_)
    filters = f" · {escape(rule.summary)}" if rule.summary else " · everything"
    thread = " · history in threads" if rule.history else ""
    return f"*{escape(label)}* when {events}{filters}{thread} — made by {creator_text(rule)}"


def subscription_list(
    channel: str, rules: Sequence[StoredSubscription], kinds: Mapping[str, Subscribable]
) -> Card:
    """`/incident subscriptions`: this channel's, each with Edit and Delete."""
    if not rules:
        text = f"<#{channel}> has no subscriptions. `/incident subscribe` makes one."
        return Card(text=text, blocks=(section(text),))
    blocks: list[Block] = [section(f"*Subscriptions of <#{channel}>* ({len(rules)})")]
    for rule in rules[:20]:
        blocks.append(section(subscription_line(rule, kinds)))
        blocks.append(
            actions(
                [
                    button("Edit", SubscriptionId.EDIT, str(rule.id)),
                    button("Delete", SubscriptionId.DELETE, str(rule.id), style="danger"),
                ],
                f"subscription:{rule.id}",
            )
        )
    return Card(text=f"Subscriptions of <#{channel}>", blocks=tuple(blocks))


def announcement(text: str) -> Card:
    """What the channel is told when one of its subscriptions is made, changed or deleted."""
    return Card(text=text, blocks=(section(text),))
