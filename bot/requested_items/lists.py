"""`/incident requests` and the Home tab's "Your requests": my open requested items."""

from __future__ import annotations

from bot.identity import Person
from bot.records.lists import Listing
from bot.requested_items.cards import summary
from servicenow.client import ServiceNowClient
from servicenow.query import Query, validate_sys_id


async def mine(_: ServiceNowClient, person: Person) -> Query:
    return (
        Query()
        .eq("active", "true")
        .eq("requested_for", validate_sys_id(person.sys_user_id))
        .order_by_desc("sys_created_on")
        .order_by_desc("number")
    )


REQUESTS = Listing(
    word="requests",
    title="Your requests",
    usage="`/incident requests` — your open requested items (RITM…), newest first",
    page_action="requested_item_list_page",
    query=mine,
    summary=summary,
    empty="You have no open requests.",
)
