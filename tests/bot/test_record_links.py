"""Which record a ServiceNow link points at (bot/previews/links.py), and the message markup a
thread reply is written with (bot/threads/listeners.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.previews.links import RecordLink, parse
from bot.threads.listeners import plain_text

HOST = "dev12345.service-now.com"
SYS_ID = "9d385017c611228701d22104cc95c371"
TABLES = ("incident", "problem")


@pytest.mark.parametrize(
    ("url", "table"),
    [
        (f"https://{HOST}/nav_to.do?uri=incident.do?sys_id={SYS_ID}", "incident"),
        (f"https://{HOST}/nav_to.do?uri=incident.do%3Fsys_id%3D{SYS_ID}", "incident"),
        (f"https://{HOST}/nav_to.do?uri=%2Fincident.do%3Fsys_id%3D{SYS_ID}", "incident"),
        (f"https://{HOST}/incident.do?sys_id={SYS_ID}", "incident"),
        (f"https://{HOST}/incident.do?sysparm_view=ess&sys_id={SYS_ID.upper()}", "incident"),
        (f"https://{HOST}/now/sow/record/incident/{SYS_ID}", "incident"),
        (f"https://{HOST}/now/cwf/agent/record/incident/{SYS_ID}/params/x", "incident"),
        (f"https://{HOST.upper()}/problem.do?sys_id={SYS_ID}", "problem"),
    ],
)
def test_record_links_of_every_shape_name_their_table_and_sys_id(url: str, table: str) -> None:
    assert parse(url, HOST, TABLES) == RecordLink(url, table, SYS_ID)


@pytest.mark.parametrize(
    "url",
    [
        f"https://evil.example.org/incident.do?sys_id={SYS_ID}",  # another host
        f"https://{HOST}.evil.example.org/incident.do?sys_id={SYS_ID}",
        f"https://{HOST}/change_request.do?sys_id={SYS_ID}",  # a table no kind declares
        f"https://{HOST}/incident.do?sys_id=not-a-sys-id",
        f"https://{HOST}/incident_list.do?sysparm_query=active=true",
        f"https://{HOST}/nav_to.do?uri=javascript:alert(1)",
        f"javascript://{HOST}/incident.do?sys_id={SYS_ID}",
        "https://[::1/incident.do",
        "",
    ],
)
def test_other_links_are_no_record(url: str) -> None:
    assert parse(url, HOST, TABLES) is None


@given(st.text())
def test_parsing_never_raises(url: str) -> None:
    parse(url, HOST, TABLES)


def test_slack_markup_becomes_the_words_a_person_typed() -> None:
    assert plain_text("see <https://a.example/x|the log> &amp; <https://b.example/y>") == (
        "see the log (https://a.example/x) & https://b.example/y"
    )
    assert (
        plain_text("<@U0BOB00000> can you check &lt;this&gt;?")
        == "@U0BOB00000 can you check <this>?"
    )
    assert plain_text("<!here> <#C0GENERAL0|general>") == "@here #general"
