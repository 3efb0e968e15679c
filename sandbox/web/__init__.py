"""The sandbox in a browser: a Slack-like page and a ServiceNow panel over the two stand-ins.

async with run_stack(database_url=...) as stack, run_web(stack.slack, stack.emulator) as url:
    ...  # open `url`: type /incident, press buttons, fill modals, act in ServiceNow
"""

from sandbox.web.app import create_app, run_web
from sandbox.web.feed import ChangeFeed

__all__ = ["ChangeFeed", "create_app", "run_web"]
