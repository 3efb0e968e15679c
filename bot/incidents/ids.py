"""Action, callback and options ids of the incident cards, lists and forms (cards and listeners share them)."""

from __future__ import annotations

from enum import StrEnum


class IncidentId(StrEnum):
    # buttons and menus
    OPEN = "incident_open"
    ASSIGN_ME = "incident_assign_me"
    COMMENT = "incident_comment"
    RESOLVE = "incident_resolve"
    STATE = "incident_state"
    FOLLOW = "incident_follow"  # follows (again is the same): never a toggle
    UNFOLLOW = "incident_unfollow"  # on the follow confirmation, only to the follower
    REOPEN = "incident_reopen"
    POST = "incident_post"
    LIST_PAGE = "incident_list_page"
    GROUP_OPTIONS = "group"
    # the duplicate check's choices (only one of them is ever taken)
    DRAFT_FOLLOW = "incident_draft_follow"
    DRAFT_COMMENT = "incident_draft_comment"
    DRAFT_OPEN = "incident_draft_open"
    # the message shortcut "Open an incident" (its callback_id in the manifest) and its form
    FROM_MESSAGE = "incident_from_message"
    FROM_MESSAGE_FORM = "incident_from_message_form"
    # modals (the comment and resolve forms answer to the same ids as the buttons that open them)
    CREATE_FORM = "incident_create"
    COMMENT_FORM = "incident_comment"
    RESOLVE_FORM = "incident_resolve"
    HOLD_FORM = "incident_hold"
