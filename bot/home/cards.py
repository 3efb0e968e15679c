"""The App Home tab: my pending approvals and my open incidents, with their buttons (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from bot.approvals.cards import ApprovalRequest, approval_items
from bot.incidents.cards import open_button, summary_line
from bot.incidents.ids import IncidentId
from bot.slack.kit import (
    VIEW_BLOCKS_MAX,
    Block,
    actions,
    button,
    context,
    escape,
    plain,
    section,
)
from servicenow.records import Incident

HOME_INCIDENTS_MAX = 10
HOME_TITLE = "Your ServiceNow work"


class HomeId(StrEnum):
    REFRESH = "home_refresh"
    DISCONNECT = "home_disconnect"
    VIEW = "home"


def _home_header(notice: str | None) -> list[Block]:
    blocks: list[Block] = [{"type": "header", "text": plain(HOME_TITLE, 150)}]
    if notice:
        blocks.append(section(notice))
    blocks.append(actions([button("Refresh", HomeId.REFRESH, "refresh")], "home:tools"))
    return blocks


def _home_incident(incident: Incident, url: str, scope: str) -> list[Block]:
    elements = [button("Comment", IncidentId.COMMENT, incident.sys_id)]
    if scope == "assigned":
        elements.append(button("Resolve", IncidentId.RESOLVE, incident.sys_id, style="primary"))
    elements.append(open_button(url))
    return [
        section(summary_line(incident, url)),
        actions(elements, f"home:{scope}:{incident.sys_id}:{incident.sys_mod_count}"),
    ]


def _home_incidents(
    title: str, scope: str, incidents: Sequence[tuple[Incident, str]], total: int, empty: str
) -> list[Block]:
    blocks: list[Block] = [{"type": "divider"}, section(f"*{title}* ({total})")]
    if not incidents:
        return [*blocks, context(empty)]
    for incident, url in incidents[:HOME_INCIDENTS_MAX]:
        blocks += _home_incident(incident, url, scope)
    shown = min(len(incidents), HOME_INCIDENTS_MAX)
    if total > shown:
        command = "/incident list" + (" assigned" if scope == "assigned" else "")
        blocks.append(context(f"…and {total - shown} more: `{command}` lists them all."))
    return blocks


def home_view(
    *,
    approvals: Sequence[ApprovalRequest],
    opened: Sequence[tuple[Incident, str]],
    assigned: Sequence[tuple[Incident, str]],
    opened_total: int | None = None,
    assigned_total: int | None = None,
    notice: str | None = None,
    connected_as: str | None = None,
    more: Sequence[Block] = (),
    subscriptions: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The Home tab: my pending approvals, my open incidents (as caller, as assignee), buttons.
    `connected_as`: the ServiceNow account the person linked (account linking), with Disconnect."""
    blocks = _home_header(notice)
    if connected_as is not None:
        blocks.append(
            actions(
                [button("Disconnect", HomeId.DISCONNECT, "disconnect")],
                "home:connection",
            )
        )
        blocks.insert(-1, context(f"Connected to ServiceNow as *{escape(connected_as)}*"))
    blocks += [{"type": "divider"}, section(f"*Waiting for your approval* ({len(approvals)})")]
    if not approvals:
        blocks.append(context("Nothing is waiting for you."))
    blocks += approval_items(approvals, "home")
    blocks += _home_incidents(
        "Your open incidents",
        "mine",
        opened,
        len(opened) if opened_total is None else opened_total,
        "You have no open incidents.",
    )
    blocks += _home_incidents(
        "Assigned to you",
        "assigned",
        assigned,
        len(assigned) if assigned_total is None else assigned_total,
        "Nothing is assigned to you.",
    )
    blocks += more
    if subscriptions:
        blocks += [
            {"type": "divider"},
            section(f"*Subscriptions you made* ({len(subscriptions)})"),
            *(section(f"<#{channel}>: {line}") for channel, line in subscriptions[:10]),
            context("`/incident subscriptions` in a channel edits or deletes its subscriptions."),
        ]
    return {"type": "home", "callback_id": HomeId.VIEW, "blocks": blocks[:VIEW_BLOCKS_MAX]}


def home_problem(
    reason: str, fix: Sequence[Block] = (), notice: str | None = None
) -> dict[str, Any]:
    """The Home tab when it can't be filled (no ServiceNow account, ServiceNow down): why, what
    next; `fix` (a Connect ServiceNow button) replaces the bare reason."""
    blocks = _home_header(notice)
    blocks += [
        *(fix or [section(f":wave: {reason}")]),
        context("Once that is sorted, press *Refresh*: your incidents and approvals show up here."),
    ]
    return {"type": "home", "callback_id": HomeId.VIEW, "blocks": blocks}
