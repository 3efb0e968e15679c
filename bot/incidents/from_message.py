"""The message shortcut "Open an incident": a form filled from the message, the card in its thread.

The message's first line becomes the short description; the rest and a permalink to the message
(chat.getPermalink) the description, so the incident links back to Slack. The caller is the person
who asked, or the message's author when that author has a ServiceNow account. Submitting goes
through the duplicate check (bot/incidents/opening.py) and, once opened, the live card is posted
as a reply in the message's thread. The form is keyed by its view: a double submit or a Slack
retry opens one incident.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.identity import Identity, Person
from bot.incidents.cards import IMPACT_URGENCY, SHORT_DESCRIPTION_MAX
from bot.incidents.ids import IncidentId
from bot.incidents.opening import Opening
from bot.incidents.service import IncidentProblem, NewIncident, split_description
from bot.permissions import Action, Grant, Need
from bot.slack.explain import Refusal
from bot.slack.interactions import Interaction, Interactions
from bot.slack.kit import context, input_block, modal, option, plain, select_input, text_input

log = logging.getLogger(__name__)

DESCRIPTION_MAX = 3000
TS = re.compile(r"^\d{1,12}\.\d{1,8}$")
USER = re.compile(r"^[UW][A-Z0-9]{2,30}$")
# Slack's markup in message text: <@U123|name>, <#C123|name>, <!here>, <https://…|label>.
MARKUP = re.compile(r"<([@#!]?)([^<>|]*)(?:\|([^<>]*))?>")


def plain_text(text: str) -> str:
    """A message's text as a person reads it: links, mentions and escapes undone."""

    def one(match: re.Match[str]) -> str:
        sigil, target, label = match.groups()
        if sigil == "@":
            return f"@{label or target}"
        if sigil == "#":
            return f"#{label or target}"
        if sigil == "!":
            return f"@{(label or target).split('^')[0]}"
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(MARKUP.sub(one, text))


def prefill(text: str, permalink: str) -> tuple[str, str]:
    """(short description, description): the first line, and the rest with the permalink."""
    text = plain_text(text).strip()
    short, whole = split_description(text)
    first, _, rest = text.partition("\n")
    body = rest.strip() if short == first.strip() else whole
    if permalink:
        body = f"{body}\n\nFrom Slack: {permalink}".strip()
    return short, body[:DESCRIPTION_MAX]


def from_message_modal(
    short: str,
    description: str,
    callers: list[tuple[str, str]],
    metadata: dict[str, str],
) -> dict[str, Any]:
    """The form: pre-filled text, the caller (me first), impact and urgency."""
    caller = {
        "type": "static_select",
        "action_id": "value",
        "options": [option(label, value) for value, label in callers],
        "initial_option": option(callers[0][1], callers[0][0]),
    }
    blocks = [
        text_input(
            "short_description",
            "Short description",
            max_length=SHORT_DESCRIPTION_MAX,
            placeholder="What is wrong, in a line",
            initial=short or None,
        ),
        text_input(
            "description",
            "Description",
            multiline=True,
            optional=True,
            max_length=DESCRIPTION_MAX,
            initial=description or None,
        ),
        input_block("caller", "Caller", caller),
        select_input("impact", "Impact", IMPACT_URGENCY, initial="3"),
        select_input("urgency", "Urgency", IMPACT_URGENCY, initial="3"),
        context("The incident's card will be posted in the message's thread."),
    ]
    view = modal(
        IncidentId.FROM_MESSAGE_FORM, "Open an incident", blocks, submit="Open", metadata=metadata
    )
    view["close"] = plain("Cancel")
    return view


def install(
    opening: Opening, interactions: Interactions, identity: Identity, slack: AsyncWebClient
) -> None:
    async def permalink(channel: str, ts: str) -> str:
        try:
            answer = await slack.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError as exc:
            log.info("no permalink for %s/%s: %s", channel, ts, exc.response.get("error"))
            return ""
        return str(answer.get("permalink") or "")

    async def author_of(message: Mapping[str, Any], asker: str) -> Person | None:
        author = message.get("user")
        if not isinstance(author, str) or not USER.match(author) or author == asker:
            return None
        if message.get("bot_id") or message.get("subtype") == "bot_message":
            return None
        try:
            return await identity.person(author, for_someone_else=True)
        except Refusal:
            return None  # no ServiceNow account (or Slack won't say): the asker is the caller

    async def form(it: Interaction, grant: Grant[None]) -> dict[str, Any]:
        message = it.message
        ts = message.get("ts")
        if not it.channel or not isinstance(ts, str) or not TS.match(ts):
            raise IncidentProblem("I can't tell which message that was; nothing was opened.")
        thread = message.get("thread_ts")
        thread_ts = thread if isinstance(thread, str) and TS.match(thread) else ts
        text = message.get("text")
        link = await permalink(it.channel, ts)
        short, description = prefill(text if isinstance(text, str) else "", link)
        me = grant.person
        callers = [(me.slack_user_id, f"Me ({me.name or me.email})"[:75])]
        author = await author_of(message, it.user)
        if author is not None:
            callers.append(
                (author.slack_user_id, f"{author.name or author.email} (who wrote it)"[:75])
            )
        metadata = {
            "channel": it.channel,
            "thread_ts": thread_ts,
            "author": author.slack_user_id if author else "",
            "permalink": link,
        }
        return from_message_modal(short, description, callers, metadata)

    def errors(it: Interaction) -> Mapping[str, str]:
        found = {}
        if not it.text("short_description"):
            found["short_description"] = "Say in a line what is wrong."
        chosen = it.selected("caller")
        if chosen and chosen not in (it.user, it.metadata.get("author")):
            found["caller"] = "Choose yourself or the message's author."
        return found

    async def submit(it: Interaction, grant: Grant[None]) -> None:
        chosen = it.selected("caller") or it.user
        caller = (
            grant.person
            if chosen == it.user
            else await identity.person(chosen, for_someone_else=True)
        )
        description = it.text("description")
        link = it.metadata.get("permalink", "")
        if link and link not in description:  # the incident always links back to the message
            description = f"{description}\n\nFrom Slack: {link}".strip()
        new = NewIncident(
            short_description=it.text("short_description"),
            description=description,
            impact=it.selected("impact") or "3",
            urgency=it.selected("urgency") or "3",
        )
        thread = it.metadata.get("thread_ts", "")
        question = await opening.open(
            it,
            grant.person,
            new,
            correlation_id=f"slack-view:{it.view_id}",
            post_to=it.channel or it.user,
            thread_ts=thread if TS.match(thread) else None,
            caller=caller,
        )
        if question is not None:
            await interactions.reply(it, question)

    def creating(it: Interaction) -> Need[None]:
        return Need(Action.CREATE)

    interactions.on_message_shortcut(
        IncidentId.FROM_MESSAGE, "Open an incident", form, need=creating
    )
    interactions.on_view(IncidentId.FROM_MESSAGE_FORM, errors, submit, need=creating)
