"""What every record kind is built from: the shared clients, stores and the one interaction path.

The composition root (bot/app.py) builds one `Services` and hands it to each kind's `install`,
which adds its tracker to the feed, its listeners to the interaction path and its subcommands to
`/incident`. Nothing here knows about a particular kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.acting import Acting
from bot.commands.router import Router
from bot.feed.changes import Feed
from bot.feed.messenger import Messenger
from bot.feed.subscriptions import ChannelFeed
from bot.identity import Identity
from bot.settings import Settings
from bot.slack.interactions import Interactions
from servicenow.client import ServiceNowClient
from servicenow.records import ChoiceCache
from storage import Database, IdempotencyKeys


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
