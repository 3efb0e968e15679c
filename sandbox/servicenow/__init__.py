"""A ServiceNow instance emulator over real HTTP (Table API, OAuth, faults, signed webhooks).

It imitates ServiceNow from the notes and fixtures alone and imports nothing from `bot/`,
`servicenow/` or `storage/`, so tests that pit our client against it mean something.

    async with run_emulator() as emulator:
        emulator.instance_url  # http://127.0.0.1:<port>; user incident.bot / incident-bot

Requests made as a person (basic auth, or a bearer token issued to them) get that person's rights:
roles from `sys_user_has_role`, groups from `sys_user_grmember`, the ACLs in `acl.py` (a record you
may not read is a 404, a refused write a 403, both with ServiceNow's documented bodies). Per-user
tokens come from `/oauth_token.do`: the authorization code grant (consent page `/oauth_auth.do`,
PKCE S256), refresh, and the RS256 JWT bearer grant once the admin registered the signer's key
(`emulator.register_jwt_key(client_id, public_key_pem, kid)`); `emulator.revoke(user)` ends a
person's tokens. See `auth.py` for every check.
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
