"""A fake Slack over real HTTP: the Web API the bot calls, and Slack's signed requests to the bot.

async with run_slack() as slack:
    slack.bot_url = bot_server.url
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.url + "/api/")
    reply = await slack.send_command("alice", "printer on fire")
    card = await slack.wait_for(lambda: slack.messages_in("C0GENERAL0"))
"""

from sandbox.slack.app import create_app, run_slack
from sandbox.slack.installed import InstalledApp, NotInManifest
from sandbox.slack.records import (
    ApiCall,
    ApiFault,
    Channel,
    Ephemeral,
    Message,
    SlackReply,
    SlackUser,
    View,
)
from sandbox.slack.standin import SlackStandIn

__all__ = [
    "ApiCall",
    "ApiFault",
    "Channel",
    "Ephemeral",
    "InstalledApp",
    "Message",
    "NotInManifest",
    "SlackReply",
    "SlackStandIn",
    "SlackUser",
    "View",
    "create_app",
    "run_slack",
]
