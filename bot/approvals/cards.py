"""Approval cards (the approver's live DM), lists and the reject form: pure functions of records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.approvals.ids import ApprovalId
from bot.slack.kit import (
    FIELD_TEXT_MAX,
    MESSAGE_BLOCKS_MAX,
    MESSAGE_TEXT_MAX,
    Block,
    Card,
    actions,
    button,
    clip,
    context,
    escape,
    link,
    link_button,
    modal,
    mrkdwn,
    section,
    text_input,
    when,
)
from servicenow.records import Approval, ApprovalState

APPROVAL_TABLE_LABELS = {
    "change_request": "Change request",
    "sc_req_item": "Requested item",
    "sc_request": "Request",
}
APPROVAL_MARKERS: dict[str, str] = {
    ApprovalState.REQUESTED: ":hourglass_flowing_sand:",
    ApprovalState.APPROVED: ":white_check_mark:",
    ApprovalState.REJECTED: ":x:",
    ApprovalState.CANCELLED: ":no_entry_sign:",
    ApprovalState.NOT_REQUIRED: ":heavy_minus_sign:",
}
APPROVALS_SHOWN_MAX = 15  # in a list or the Home tab: 2 blocks each, well inside 50 and 100
REASON_MAX = 3000


@dataclass(frozen=True)
class ApprovalRequest:
    """An approval and what it is about: the parent record's page and who asked for it."""

    approval: Approval
    url: str  # the record being approved, in ServiceNow
    requester: str = ""
    # Its table needs an e-signature (ServiceNow's e_signature_registry): only ServiceNow can take
    # the decision, so the card links to where to sign instead of offering buttons that would fail.
    sign_at: str = ""

    @property
    def what(self) -> str:
        return approval_table_label(self.approval.source_table)

    @property
    def name(self) -> str:
        return self.approval.parent_number or f"this {self.what.lower()}"


def approval_table_label(table: str) -> str:
    if table in APPROVAL_TABLE_LABELS:
        return APPROVAL_TABLE_LABELS[table]
    return table.replace("_", " ").capitalize() if table else "Record"


def approval_outcome(approval: Approval) -> str:
    """Who decided and when ("Approved by Carol Diaz on …"); "" while the approval is pending.
    Plain text (the approver's name is ServiceNow's): escape it on its way into mrkdwn."""
    state = approval.state
    if state == ApprovalState.REQUESTED:
        return ""
    moment = when(approval.sys_updated_on)
    if state in (ApprovalState.APPROVED, ApprovalState.REJECTED) and approval.approver_name:
        return f"{state.label} by {approval.approver_name} on {moment}"
    return f"{state.label} on {moment}"


def _approval_title(request: ApprovalRequest) -> str:
    approval = request.approval
    number = approval.parent_number or "Open in ServiceNow"
    title = escape(clip(approval.parent_short_description, 300))
    return f"*{link(request.url, number)}*  {title}".rstrip()


SIGN_NOTE = (
    ":lock: This approval needs your e-signature, which only ServiceNow can take: "
    "open it there to approve or reject."
)


def approval_buttons(request: ApprovalRequest) -> list[Block]:
    sys_id = request.approval.sys_id
    if request.sign_at:
        return [link_button("Sign in ServiceNow", ApprovalId.SIGN, request.sign_at)]
    return [
        button("Approve", ApprovalId.APPROVE, sys_id, style="primary"),
        button("Reject", ApprovalId.REJECT, sys_id, style="danger"),
        link_button("Open in ServiceNow", ApprovalId.OPEN, request.url),
    ]


def approval_card(request: ApprovalRequest) -> Card:
    """The approver's DM: what is asked, by whom, by when; buttons while pending, the outcome after."""
    approval = request.approval
    state = approval.state
    marker = APPROVAL_MARKERS.get(state, ":grey_question:")
    pending = state == ApprovalState.REQUESTED
    heading = "*Your approval is requested*" if pending else f"*{state.label}*"
    fields = [
        mrkdwn(f"*What*\n{escape(request.what)}", FIELD_TEXT_MAX),
        mrkdwn(f"*Requested by*\n{escape(request.requester) or '—'}", FIELD_TEXT_MAX),
        mrkdwn(f"*Due*\n{when(approval.due_date)}", FIELD_TEXT_MAX),
        mrkdwn(f"*Approver*\n{escape(approval.approver_name) or '—'}", FIELD_TEXT_MAX),
    ]
    blocks: list[Block] = [
        {
            "type": "section",
            "text": mrkdwn(f"{marker} {heading}\n{_approval_title(request)}"),
            "fields": fields,
        }
    ]
    if pending:
        blocks.append(
            actions(
                approval_buttons(request), f"approval:{approval.sys_id}:{approval.sys_mod_count}"
            )
        )
        if request.sign_at:
            blocks.append(context(SIGN_NOTE))
        text = escape(f"Approval requested: {request.name} {approval.parent_short_description}")
    else:
        outcome = approval_outcome(approval)
        blocks.append(context(f"{marker} {escape(outcome)}"))
        text = escape(f"{request.name}: {outcome}")
    return Card(text=clip(text.strip(), MESSAGE_TEXT_MAX), blocks=tuple(blocks))


def approval_item(request: ApprovalRequest, where: str) -> list[Block]:
    """One pending approval in a list (`where` keeps block_ids unique per surface): 2 blocks."""
    approval = request.approval
    details = [request.what]
    if request.sign_at:
        details.append("needs your e-signature in ServiceNow")
    if request.requester:
        details.append(f"requested by {request.requester}")
    if approval.due_date:
        details.append(f"due {when(approval.due_date)}")
    return [
        section(f"{_approval_title(request)}\n{escape(' · '.join(details))}"),
        actions(
            approval_buttons(request),
            f"{where}:approval:{approval.sys_id}:{approval.sys_mod_count}",
        ),
    ]


def approval_items(requests: Sequence[ApprovalRequest], where: str) -> list[Block]:
    """Up to APPROVALS_SHOWN_MAX pending approvals, and how many more there are."""
    blocks: list[Block] = []
    for request in requests[:APPROVALS_SHOWN_MAX]:
        blocks += approval_item(request, where)
    if len(requests) > APPROVALS_SHOWN_MAX:
        blocks.append(context(f"…and {len(requests) - APPROVALS_SHOWN_MAX} more in ServiceNow."))
    return blocks


def approval_list(requests: Sequence[ApprovalRequest], *, lead: str | None = None) -> Card:
    """`/incident approvals`: my pending approvals with their buttons (ephemeral)."""
    title = "Your pending approvals"
    blocks: list[Block] = [section(lead)] if lead else []
    if not requests:
        message = f"*{title}*: none, nothing is waiting for you."
        blocks.append(section(message))
        text = clip(f"{lead or ''} {message}".strip(), MESSAGE_TEXT_MAX)
        return Card(text=text, blocks=tuple(blocks))
    blocks.append(section(f"*{title}* — {len(requests)}"))
    blocks += approval_items(requests, "list")
    text = f"{lead + ' ' if lead else ''}{title}: {len(requests)}"
    return Card(text=clip(text, MESSAGE_TEXT_MAX), blocks=tuple(blocks[:MESSAGE_BLOCKS_MAX]))


def reject_modal(request: ApprovalRequest, carry: dict[str, str]) -> dict[str, Any]:
    """Ask why before rejecting; the reason becomes the approval's comment in ServiceNow."""
    approval = request.approval
    details = request.what + (f" · requested by {request.requester}" if request.requester else "")
    return modal(
        ApprovalId.REJECT_FORM,
        "Reject approval",
        [
            section(f"{_approval_title(request)}\n{escape(details)}"),
            text_input(
                "reason",
                "Reason",
                multiline=True,
                max_length=REASON_MAX,
                placeholder="Why you reject it; it is written to ServiceNow",
            ),
        ],
        submit="Reject",
        metadata={**carry, "sys_id": approval.sys_id},
    )
