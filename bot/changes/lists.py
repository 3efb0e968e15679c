"""`/incident changes` and the Home tab's "Your changes": changes I requested or am assigned,
and those in my groups' queue, soonest window first."""

from __future__ import annotations

from bot.changes.cards import summary
from bot.identity import Person
from bot.records.lists import Listing
from servicenow.client import ServiceNowClient
from servicenow.query import Query, validate_sys_id


async def mine(servicenow: ServiceNowClient, person: Person) -> Query:
    me = validate_sys_id(person.sys_user_id)
    groups = await servicenow.list(
        "sys_user_grmember", Query().eq("user", me), fields=("group",), limit=100
    )
    group_ids = [validate_sys_id(row["group"]) for row in groups.records if row.get("group")]
    query = (
        Query()
        .eq("active", "true")
        .eq("requested_by", me)
        .new_query()
        .eq("active", "true")
        .eq("assigned_to", me)
    )
    if group_ids:
        query = query.new_query().eq("active", "true").in_("assignment_group", group_ids)
    return query.order_by("start_date").order_by("number")


CHANGES = Listing(
    word="changes",
    title="Your changes",
    usage="`/incident changes` — changes you requested or work on, and your groups' queue",
    page_action="change_list_page",
    query=mine,
    summary=summary,
    empty="No open changes for you or your groups.",
)
