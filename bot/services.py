"""What every record kind is built from: the shared clients, stores and the one interaction path.

The composition root (bot/app.py) builds one `Services` and hands it to each kind's `install`,
which adds its tracker to the feed, its listeners to the interaction path and its subcommands to
`/incident`. Nothing here knows about a particular kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient

from bot.acting import Acting
from bot.commands.router import Router
from bot.feed.changes import Feed
from bot.feed.messenger import Messenger
from bot.feed.subscriptions import ChannelFeed
from bot.identity import Identity, Person
from bot.records.registry import Kinds
from bot.settings import Settings
from bot.slack.interactions import Interactions
from bot.slack.kit import Block
from servicenow.client import ServiceNowClient
from servicenow.records import ChoiceCache
from storage import Database, IdempotencyKeys

# A section of the App Home tab a kind adds (say "Your requests"): the person's blocks.
HomeSection = Callable[[Person], Awaitable[Sequence[Block]]]


@dataclass
class Services:
    settings: Settings
    db: Database
    servicenow: ServiceNowClient
    slack: AsyncWebClient
    identity: Identity
    choices: ChoiceCache
    feed: Feed
    messenger: Messenger
    keys: IdempotencyKeys
    interactions: Interactions
    commands: Router
    acting: Acting  # ServiceNow for this person (the integration user unless acting as people)
    channels: ChannelFeed  # channel subscriptions on the feed: kinds offer themselves here
    # The record kinds installed, by table and number (threads, previews, mentions use it too).
    kinds: Kinds = field(default_factory=Kinds)
    home_sections: list[HomeSection] = field(default_factory=list)  # shown after the incidents
