"""Action and callback ids of approval cards and the reject form (cards and listeners share them)."""

from __future__ import annotations

from enum import StrEnum


class ApprovalId(StrEnum):
    OPEN = "approval_open"
    SIGN = "approval_sign"
    APPROVE = "approval_approve"
    REJECT = "approval_reject"
    REJECT_FORM = "approval_reject"
