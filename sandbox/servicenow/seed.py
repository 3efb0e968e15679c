"""Deterministic demo data: people, groups, roles, choices, incidents and pending approvals.

Every sys_id is `md5("<table>:<key>")`, so tests and the browser UI can name records without
looking them up (`sys_id_for("sys_user", "alice.chen")`, or the constants below). Dates are
relative to the emulator's clock at construction time.

People (user_name / password):
- alice.chen / alice.chen: Alice Chen, alice@example.com, an employee (caller), no roles.
- bob.martin / bob.martin: Bob Martin, bob@example.com, itil; Service Desk and Hardware.
- carol.diaz / carol.diaz: Carol Diaz, carol@example.com, itil; Network and CAB; an approver.
- erin.park / erin.park: Erin Park, erin@example.com, inactive (cannot log in).
- incident.bot / incident-bot: the integration user, itil + approval_admin.
- admin / admin: System Administrator.
dave@example.com deliberately has no sys_user (the Slack user without a ServiceNow account).
Roles are rows of `sys_user_has_role`, group memberships rows of `sys_user_grmember` (both readable
over the Table API); acl.py reads the same rows.
OAuth client "sandbox-client" / "sandbox-secret" (client_credentials runs as incident.bot; any http(s)
redirect_uri; no JWT key until a test or the sandbox registers one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from sandbox.servicenow.auth import OAuthClient
from sandbox.servicenow.store import format_date


class Instance(Protocol):
    """What seeding needs of the emulator: its clock, backdated writes and credentials."""

    def clock(self) -> datetime: ...

    def insert(
        self,
        table: str,
        values: Mapping[str, Any],
        *,
        as_user: str = ...,
        at: datetime | None = ...,
    ) -> dict[str, str]: ...

    def update(
        self,
        table: str,
        sys_id: str,
        values: Mapping[str, Any],
        *,
        as_user: str = ...,
        at: datetime | None = ...,
    ) -> dict[str, str]: ...

    @property
    def passwords(self) -> dict[str, str]: ...

    @property
    def oauth_clients(self) -> dict[str, OAuthClient]: ...


def sys_id_for(table: str, key: str) -> str:
    return hashlib.md5(f"{table}:{key}".encode(), usedforsecurity=False).hexdigest()


def user_id(user_name: str) -> str:
    return sys_id_for("sys_user", user_name)


def group_id(name: str) -> str:
    return sys_id_for("sys_user_group", name)


ALICE = user_id("alice.chen")
BOB = user_id("bob.martin")
CAROL = user_id("carol.diaz")
ERIN = user_id("erin.park")
INCIDENT_BOT = user_id("incident.bot")
ADMIN = user_id("admin")
SERVICE_DESK = group_id("Service Desk")
NETWORK = group_id("Network")
HARDWARE = group_id("Hardware")
CAB = group_id("CAB")
CHANGE = sys_id_for("change_request", "CHG0000001")
REQUEST = sys_id_for("sc_request", "REQ0000001")
REQUESTED_ITEM = sys_id_for("sc_req_item", "RITM0000001")
CHANGE_APPROVAL = sys_id_for("sysapproval_approver", "CHG0000001:carol.diaz")
ITEM_APPROVAL = sys_id_for("sysapproval_approver", "RITM0000001:carol.diaz")
PROBLEM = sys_id_for("problem", "PRB0000001")
LAPTOP = sys_id_for("sc_cat_item", "Standard Laptop")
CORE_SWITCH = sys_id_for("cmdb_ci", "core-sw-01")
ACME = sys_id_for("core_company", "ACME North America")
GLOBEX = sys_id_for("core_company", "Globex Corporation")
BOSTON = sys_id_for("cmn_location", "Boston")
LONDON = sys_id_for("cmn_location", "London")

OAUTH_CLIENT_ID = "sandbox-client"
OAUTH_CLIENT_SECRET = "sandbox-secret"

# user_name, first, last, email, active, roles, groups, department, title, password
USERS: list[tuple[str, str, str, str, bool, tuple[str, ...], tuple[str, ...], str, str, str]] = [
    ("alice.chen", "Alice", "Chen", "alice@example.com", True, (), (), "Finance", "Accountant",
     "alice.chen"),
    ("bob.martin", "Bob", "Martin", "bob@example.com", True, ("itil",),
     ("Service Desk", "Hardware"), "IT", "Service Desk Analyst", "bob.martin"),
    ("carol.diaz", "Carol", "Diaz", "carol@example.com", True, ("itil",), ("Network", "CAB"),
     "IT", "Network Engineer", "carol.diaz"),
    ("erin.park", "Erin", "Park", "erin@example.com", False, (), (), "Finance", "Analyst",
     "erin.park"),
    ("incident.bot", "Incident", "Bot", "incident.bot@example.com", True,
     ("itil", "approval_admin"), (), "IT", "Integration user", "incident-bot"),
    ("admin", "System", "Administrator", "admin@example.com", True, ("admin",), (), "IT",
     "System Administrator", "admin"),
]  # fmt: skip

GROUPS = {
    "Service Desk": "First-line support",
    "Network": "Network operations",
    "Hardware": "Desktop and hardware support",
    "CAB": "Change Advisory Board",
}
ROLES = {
    "itil": "Fulfiller: works incidents, problems and changes",
    "approval_admin": "Can act on any approval",
    "admin": "System administrator",
}
DEPARTMENTS = {"IT": "IT", "Finance": "FIN"}
# name: (stock symbol, city, country)
COMPANIES = {
    "ACME North America": ("ACME", "Boston", "USA"),
    "Globex Corporation": ("GLBX", "London", "UK"),
}
# name: (full name, street, city, country, company)
LOCATIONS = {
    "Boston": ("North America/USA/MA/Boston", "1 Federal St", "Boston", "USA",
               "ACME North America"),
    "London": ("EMEA/UK/London", "30 St Mary Axe", "London", "UK", "Globex Corporation"),
}  # fmt: skip
# Where each person works (company, location); the rest work for neither.
WORKPLACES = {
    "alice.chen": ("Globex Corporation", "London"),
    "bob.martin": ("ACME North America", "Boston"),
    "carol.diaz": ("ACME North America", "Boston"),
    "erin.park": ("Globex Corporation", "London"),
}

CLOSE_CODES = [
    "Duplicate",
    "Known error",
    "No resolution provided",
    "Resolved by caller",
    "Resolved by change",
    "Resolved by problem",
    "Resolved by request",
    "Solution provided",
    "Workaround provided",
    "User error",
]
LEVELS = [("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")]
STATES = [
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
]
CHOICES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("incident", "state"): STATES,
    ("incident", "incident_state"): STATES,
    ("incident", "impact"): LEVELS,
    ("incident", "urgency"): LEVELS,
    ("incident", "priority"): [
        ("1", "1 - Critical"),
        ("2", "2 - High"),
        ("3", "3 - Moderate"),
        ("4", "4 - Low"),
        ("5", "5 - Planning"),
    ],
    ("incident", "category"): [
        ("inquiry", "Inquiry / Help"),
        ("software", "Software"),
        ("hardware", "Hardware"),
        ("network", "Network"),
        ("database", "Database"),
    ],
    ("incident", "close_code"): [(code, code) for code in CLOSE_CODES],
    # Major Incident Management (a plugin): a proposed major incident is accepted or rejected.
    ("incident", "major_incident_state"): [
        ("proposed", "Proposed"),
        ("accepted", "Accepted"),
        ("rejected", "Rejected"),
        ("canceled", "Canceled"),
    ],
    ("incident", "hold_reason"): [
        ("1", "Awaiting Caller"),
        ("3", "Awaiting Problem"),
        ("4", "Awaiting Vendor"),
        ("5", "Awaiting Change"),
    ],
    ("task", "approval"): [
        ("not requested", "Not Yet Requested"),
        ("requested", "Requested"),
        ("approved", "Approved"),
        ("rejected", "Rejected"),
    ],
    ("task", "impact"): LEVELS,
    ("task", "urgency"): LEVELS,
    ("change_request", "state"): [
        ("-5", "New"),
        ("-4", "Assess"),
        ("-3", "Authorize"),
        ("-2", "Scheduled"),
        ("-1", "Implement"),
        ("0", "Review"),
        ("3", "Closed"),
        ("4", "Canceled"),
    ],
    ("change_request", "type"): [
        ("standard", "Standard"),
        ("normal", "Normal"),
        ("emergency", "Emergency"),
    ],
    ("change_request", "risk"): [
        ("1", "Very High"),
        ("2", "High"),
        ("3", "Moderate"),
        ("4", "Low"),
    ],
    ("sc_req_item", "stage"): [
        ("waiting_for_approval", "Waiting for Approval"),
        ("request_approved", "Approved"),
        ("fulfillment", "Fulfillment"),
        ("delivery", "Out for Delivery"),
        ("complete", "Delivered"),
        ("request_cancelled", "Request Cancelled"),
    ],
    ("problem", "state"): [
        ("101", "New"),
        ("102", "Assess"),
        ("103", "Root Cause Analysis"),
        ("104", "Fix in Progress"),
        ("106", "Resolved"),
        ("107", "Closed"),
    ],
    ("task", "state"): [
        ("-5", "Pending"),
        ("1", "Open"),
        ("2", "Work in Progress"),
        ("3", "Closed Complete"),
        ("4", "Closed Incomplete"),
        ("7", "Closed Skipped"),
    ],
    ("sysapproval_approver", "state"): [
        ("not requested", "Not Yet Requested"),
        ("requested", "Requested"),
        ("approved", "Approved"),
        ("rejected", "Rejected"),
        ("cancelled", "Cancelled"),
        ("not_required", "No Longer Required"),
    ],
}


def seed_instance(emulator: Instance) -> None:
    base = emulator.clock()

    def at(days: float) -> datetime:
        return base - timedelta(days=days)

    def put(
        table: str, key: str, values: dict[str, Any], who: str = "admin", days: float = 30
    ) -> str:
        sys_id = sys_id_for(table, key)
        emulator.insert(table, {"sys_id": sys_id, **values}, as_user=who, at=at(days))
        return sys_id

    emulator.oauth_clients[OAUTH_CLIENT_ID] = OAuthClient(
        OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, application_user="incident.bot"
    )
    for name, code in DEPARTMENTS.items():
        put("cmn_department", name, {"name": name, "id": code})
    for name, (symbol, city, country) in COMPANIES.items():
        put("core_company", name, {"name": name, "stock_symbol": symbol, "city": city,
            "country": country, "customer": "true", "vendor": "false"})  # fmt: skip
    for name, (full_name, street, city, country, company) in LOCATIONS.items():
        put("cmn_location", name, {"name": name, "full_name": full_name, "street": street,
            "city": city, "country": country,
            "company": sys_id_for("core_company", company)})  # fmt: skip
    for name, description in ROLES.items():
        put("sys_user_role", name, {"name": name, "description": description})
    for name, description in GROUPS.items():
        put("sys_user_group", name, {"name": name, "description": description})
    for user_name, first, last, email, active, roles, groups, dept, title, pw in USERS:
        put(
            "sys_user",
            user_name,
            {
                "user_name": user_name,
                "first_name": first,
                "last_name": last,
                "name": f"{first} {last}",
                "email": email,
                "active": "true" if active else "false",
                "department": sys_id_for("cmn_department", dept),
                "title": title,
                **_workplace(user_name),
            },
        )
        emulator.passwords[user_name] = pw
        for role in roles:
            put(
                "sys_user_has_role",
                f"{user_name}:{role}",
                {"user": user_id(user_name), "role": sys_id_for("sys_user_role", role)},
            )
        for group in groups:
            put(
                "sys_user_grmember",
                f"{user_name}:{group}",
                {"user": user_id(user_name), "group": group_id(group)},
            )
    for (table, element), choices in CHOICES.items():
        for sequence, (value, label) in enumerate(choices):
            put(
                "sys_choice",
                f"{table}.{element}.{value}",
                {
                    "name": table,
                    "element": element,
                    "value": value,
                    "label": label,
                    "sequence": str(sequence * 100),
                },
            )
    put("sc_cat_item", "Standard Laptop", {"name": "Standard Laptop", "price": "1299.00",
        "short_description": "14-inch laptop for office work", "active": "true"})  # fmt: skip
    put("cmdb_ci", "core-sw-01", {"name": "core-sw-01", "sys_class_name": "cmdb_ci_ip_switch",
        "company": ACME, "location": BOSTON})  # fmt: skip
    _seed_problem(put)
    _seed_incidents(emulator, put, at)
    _seed_approvals(emulator, put, at)


def _workplace(user_name: str) -> dict[str, str]:
    if user_name not in WORKPLACES:
        return {}
    company, location = WORKPLACES[user_name]
    return {
        "company": sys_id_for("core_company", company),
        "location": sys_id_for("cmn_location", location),
    }


def _seed_problem(put: Any) -> None:
    """A problem the network team works, with three incidents linked to it (INC0000001, 3, 4)."""
    put(
        "problem",
        "PRB0000001",
        {
            "number": "PRB0000001",
            "short_description": "Intermittent VPN drops for remote staff",
            "assignment_group": NETWORK,
            "assigned_to": CAROL,
            "impact": "2",
            "urgency": "2",
            "state": "103",
            "workaround": "Reconnect with the TCP profile instead of UDP.",
        },
        "carol.diaz",
        3.5,
    )


def _seed_incidents(emulator: Instance, put: Any, at: Any) -> None:
    def incident(number: str, days: float, **values: str) -> str:
        return str(
            put(
                "incident",
                number,
                {"number": number, "caller_id": ALICE, **values},
                "alice.chen",
                days,
            )
        )

    def change(sys_id: str, who: str, days: float, **values: str) -> None:
        emulator.update("incident", sys_id, values, as_user=who, at=at(days))

    first = incident(
        "INC0000001",
        6,
        short_description="Email not syncing on my phone",
        description="Mail on my phone stopped syncing yesterday afternoon.",
        category="software",
        impact="2",
        urgency="2",
        assignment_group=SERVICE_DESK,
        problem_id=PROBLEM,  # the phone reaches the mail server through the VPN
        comments="It still works on my laptop, only the phone is stuck.",
    )
    change(first, "alice.chen", 5.9, comments="Restarting the phone did not help.")

    second = incident(
        "INC0000002",
        5,
        short_description="Laptop battery is swelling",
        category="hardware",
        impact="2",
        urgency="1",
        assignment_group=HARDWARE,
    )
    change(second, "bob.martin", 4.9, assigned_to=BOB, state="2",
           work_notes="Replacement battery ordered from the vendor.")  # fmt: skip
    change(second, "bob.martin", 4.8,
           comments="Please stop using the laptop on battery until we swap it.")  # fmt: skip

    third = incident(
        "INC0000003",
        4,
        short_description="VPN disconnects every few minutes",
        category="network",
        problem_id=PROBLEM,
        impact="3",
        urgency="2",
        assignment_group=NETWORK,
    )
    change(third, "carol.diaz", 3.9, assigned_to=CAROL, state="2")
    change(third, "carol.diaz", 3.8, state="3", hold_reason="1",
           comments="Could you send me the VPN client log?")  # fmt: skip

    fourth = incident(
        "INC0000004",
        3,
        short_description="Cannot print to the 3rd floor printer",
        category="hardware",
        problem_id=PROBLEM,  # printing from home, over the VPN
        assignment_group=HARDWARE,
    )
    change(fourth, "bob.martin", 2.9, assigned_to=BOB, state="2")
    change(fourth, "bob.martin", 2.5, state="6", close_code="Solution provided",
           close_notes="Re-added the printer queue on the laptop.")  # fmt: skip

    fifth = incident(
        "INC0000005",
        10,
        short_description="Request a second monitor",
        category="inquiry",
        assignment_group=SERVICE_DESK,
    )
    change(fifth, "bob.martin", 9, assigned_to=BOB, state="6", close_code="Resolved by request",
           close_notes="Raised a catalog request for the monitor.")  # fmt: skip
    change(fifth, "bob.martin", 2, state="7")


def _seed_approvals(emulator: Instance, put: Any, at: Any) -> None:
    put(
        "change_request",
        "CHG0000001",
        {
            "number": "CHG0000001",
            "short_description": "Upgrade core switch firmware",
            "description": "Apply the vendor's security release to both core switches.",
            "requested_by": BOB,
            "assignment_group": NETWORK,
            "assigned_to": CAROL,
            "cmdb_ci": CORE_SWITCH,
            "type": "normal",
            "risk": "3",
            "state": "-3",
            "impact": "2",
            "urgency": "2",
            "start_date": _fmt(at(-3)),
            "end_date": _fmt(at(-3.1)),
        },
        "bob.martin",
        1,
    )
    put(
        "sysapproval_approver",
        "CHG0000001:carol.diaz",
        {
            "approver": CAROL,
            "sysapproval": CHANGE,
            "source_table": "change_request",
            "document_id": CHANGE,
            "state": "requested",
            "due_date": _fmt(at(-2)),
        },
        "system",
        1,
    )
    put(
        "sc_request",
        "REQ0000001",
        {
            "number": "REQ0000001",
            "short_description": "Standard laptop",
            "requested_for": ALICE,
            "opened_by": ALICE,
        },
        "alice.chen",
        0.5,
    )
    put(
        "sc_req_item",
        "RITM0000001",
        {
            "number": "RITM0000001",
            "short_description": "Standard laptop",
            "request": REQUEST,
            "requested_for": ALICE,
            "opened_by": ALICE,
            "cat_item": LAPTOP,
            "assignment_group": HARDWARE,
            "due_date": _fmt(at(-5)),
            "price": "1299.00",
        },
        "alice.chen",
        0.5,
    )
    put(
        "sysapproval_approver",
        "RITM0000001:carol.diaz",
        {
            "approver": CAROL,
            "sysapproval": REQUESTED_ITEM,
            "source_table": "sc_req_item",
            "document_id": REQUESTED_ITEM,
            "state": "requested",
            "due_date": _fmt(at(-3)),
        },
        "system",
        0.5,
    )


def _fmt(moment: datetime) -> str:
    return format_date(moment)
