"""A ServiceNow instance emulator over real HTTP (Table API, OAuth, faults, signed webhooks).

It imitates ServiceNow from the notes and fixtures alone and imports nothing from `bot/`,
`servicenow/` or `storage/`, so tests that pit our client against it mean something.

    async with run_emulator() as emulator:
        emulator.instance_url  # http://127.0.0.1:<port>; user incident.bot / incident-bot
"""

from sandbox.servicenow.app import create_app, run_emulator
from sandbox.servicenow.auth import OAuthClient
from sandbox.servicenow.emulator import Emulator, RecordedRequest
from sandbox.servicenow.errors import (
    AclError,
    BadRequest,
    DataPolicyError,
    InvalidTable,
    RecordNotFound,
    ServiceNowError,
)
from sandbox.servicenow.faults import Fault, FaultPlan
from sandbox.servicenow.webhook import WebhookDelivery, WebhookTarget, sign

__all__ = [
    "AclError",
    "BadRequest",
    "DataPolicyError",
    "Emulator",
    "Fault",
    "FaultPlan",
    "InvalidTable",
    "OAuthClient",
    "RecordNotFound",
    "RecordedRequest",
    "ServiceNowError",
    "WebhookDelivery",
    "WebhookTarget",
    "create_app",
    "run_emulator",
    "sign",
]
