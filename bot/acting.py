"""ServiceNow for this person: the client every read and write done *for* someone goes through.

With SERVICENOW_JWT_PRIVATE_KEY set, `client_for(person)` answers a client whose requests carry
that person's own bearer token (JWT bearer grant, `sub` = their e-mail): ServiceNow's ACLs decide
what they may see and do, and its audit trail (`sys_updated_by`, journal `sys_created_by`) names
them. Without it, everyone shares the integration user, as before. Polling, change-event
reconciles and identity look-ups always use the integration user (`services.servicenow`).

With SERVICENOW_LINKING, the token is the one the person granted by connecting their account
(bot/linking): someone who has not connected, or whose grant ended, gets `NotLinked` (a refusal
with a "Connect ServiceNow" button) from the first request, before anything reaches ServiceNow.
"""

from __future__ import annotations

from collections import OrderedDict

import httpx

from bot.identity import Person
from bot.linking import Linking
from servicenow.auth import JwtBearer, JwtSigner
from servicenow.client import ServiceNowClient

__all__ = ["Acting"]


class Acting:
    def __init__(
        self,
        servicenow: ServiceNowClient,
        signer: JwtSigner | None = None,
        client_secret: str = "",
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_people: int = 2000,
        linking: Linking | None = None,
    ) -> None:
        self._servicenow = servicenow
        self._signer = signer
        self._client_secret = client_secret
        self._timeout = timeout
        self._transport = transport
        self._max_people = max_people
        self.linking = linking
        # One client (and so one token cache and one exchange lock) per person, most recent last.
        self._clients: OrderedDict[str, ServiceNowClient] = OrderedDict()

    @property
    def as_person(self) -> bool:
        """True when writes carry the person's own identity (no "via Slack by" notes needed)."""
        return self._signer is not None or self.linking is not None

    def client_for(self, person: Person) -> ServiceNowClient:
        """The ServiceNow client that acts as `person` (the integration user when not acting)."""
        if self._signer is None and self.linking is None:
            return self._servicenow
        key = person.slack_user_id if self.linking else person.email.lower()
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._servicenow.acting_as(self._auth(person))
            while len(self._clients) > self._max_people:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(key)
        return client

    def _auth(self, person: Person) -> httpx.Auth:
        if self.linking is not None:
            return self.linking.auth(person.slack_user_id)
        assert self._signer is not None
        return JwtBearer(
            self._servicenow.instance_url,
            signer=self._signer,
            client_secret=self._client_secret,
            subject=person.email,
            timeout=self._timeout,
            transport=self._transport,
        )
