"""Action and callback ids of every record kind's shared buttons and forms.

Values are `<sys_id>:<table>` (`Interaction.record` is the sys_id): one listener serves
every kind.
"""

from __future__ import annotations

from enum import StrEnum


class RecordId(StrEnum):
    OPEN = "record_open"
    FOLLOW = "record_follow"
    UNFOLLOW = "record_unfollow"
    COMMENT = "record_comment"
    COMMENT_FORM = "record_comment"
    POST = "record_post"
    APPROVAL = "record_approval"


def value(sys_id: str, table: str) -> str:
    return f"{sys_id}:{table}"


def table_of(raw: str) -> str:
    return raw.partition(":")[2]
