"""Encoded queries (`sysparm_query`): parse them, match records, sort records.

Grammar (ServiceNow docs c_EncodedQueryStrings.md, r_OpAvailableFiltersQueries.md):
`^` joins conditions with AND, `^OR` joins a condition to the previous one with OR, `^NQ`
starts a new OR-ed query, `^EQ` is an end marker, `ORDERBY<f>` / `ORDERBYDESC<f>` sort, and
`^^` is a literal caret inside a value. A condition is `<field><OPERATOR><value>`; field names
are lower case (dot-walk one level with `ref.field`), operators are upper case or symbols.

As on an instance with default settings, a condition on an unknown field (or with an operator
we do not implement) is silently dropped. A `javascript:` value is evaluated only for
`javascript:gs.getUserID()`; any other script value matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

R = TypeVar("R")
Lookup = Callable[[R, str], "str | None"]

# Longest first, so that `NOT LIKE` wins over `LIKE`, `<=` over `<`, `ISNOTEMPTY` over `IN`.
OPERATORS = (
    "ISNOTEMPTY",
    "ISEMPTY",
    "ANYTHING",
    "EMPTYSTRING",
    "STARTSWITH",
    "ENDSWITH",
    "NOT LIKE",
    "NOT IN",
    "LIKE",
    "IN",
    "!=",
    "<=",
    ">=",
    "!*",
    "=",
    "<",
    ">",
    "*",
    "%",
)
ALIASES = {"*": "LIKE", "!*": "NOT LIKE", "%": "ENDSWITH"}
NO_VALUE = {"ISNOTEMPTY", "ISEMPTY", "ANYTHING", "EMPTYSTRING"}
USER_ID_SCRIPT = re.compile(r"javascript:\s*gs\.getUserID\(\)\s*;?\s*", re.IGNORECASE)
_FIELD = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*")


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str  # "" when the term could not be parsed: such a condition is dropped
    value: str = ""


@dataclass(frozen=True)
class Order:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class EncodedQuery:
    """`groups` are OR-ed (`^NQ`); each is a list of AND-ed terms; each term OR-s its conditions."""

    groups: tuple[tuple[tuple[Condition, ...], ...], ...] = ()
    order: tuple[Order, ...] = ()


def split_terms(query: str) -> list[str]:
    """Split on `^`, turning `^^` into a literal caret that stays inside its term."""
    terms: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char == "^":
            if query.startswith("^^", i):
                current.append("^")
                i += 2
                continue
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    terms.append("".join(current))
    return terms


def parse_condition(term: str) -> Condition:
    match = _FIELD.match(term)
    if not match:
        return Condition(term, "")
    name, rest = match.group(), term[match.end() :]
    for operator in OPERATORS:
        if rest.startswith(operator):
            value = rest[len(operator) :]
            operator = ALIASES.get(operator, operator)
            if operator in NO_VALUE and value:
                return Condition(name, "")
            return Condition(name, operator, value)
    return Condition(name, "")


def parse(query: str) -> EncodedQuery:
    groups: list[list[list[Condition]]] = [[]]
    order: list[Order] = []
    for index, term in enumerate(split_terms(query)):
        if term in ("", "EQ"):
            continue
        if term.startswith("ORDERBYDESC"):
            order.append(Order(term.removeprefix("ORDERBYDESC"), True))
        elif term.startswith("ORDERBY"):
            order.append(Order(term.removeprefix("ORDERBY")))
        elif term.startswith("NQ") and index > 0:
            groups.append([])
            if term[2:]:
                groups[-1].append([parse_condition(term[2:])])
        elif term.startswith("OR") and index > 0 and groups[-1]:
            groups[-1][-1].append(parse_condition(term[2:]))
        else:
            groups[-1].append([parse_condition(term)])
    return EncodedQuery(
        tuple(tuple(tuple(term) for term in group) for group in groups if group), tuple(order)
    )


def _number(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _compare(left: str, right: str) -> int:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    x, y = left.casefold(), right.casefold()
    return (x > y) - (x < y)


def _resolve_value(value: str, user_id: str) -> str | None:
    """The literal to compare with; None when the value is a script we refuse to run."""
    if value[:11].lower() != "javascript:":
        return value
    return user_id if USER_ID_SCRIPT.fullmatch(value) else None


def evaluate(condition: Condition, actual: str, user_id: str = "") -> bool:
    op = condition.operator
    if op == "ISEMPTY":
        return actual == ""
    if op == "ISNOTEMPTY":
        return actual != ""
    if op == "ANYTHING":
        return True
    if op == "EMPTYSTRING":
        return actual == ""
    wanted = _resolve_value(condition.value, user_id)
    if wanted is None:
        return False
    if op in ("<", "<=", ">", ">=") and actual == "":
        return False  # like SQL NULL: an empty value is neither less nor greater
    here, there = actual.casefold(), wanted.casefold()
    if op in ("IN", "NOT IN"):
        items = {item.casefold() for item in wanted.split(",")}
        return (here in items) == (op == "IN")
    tests: dict[str, Callable[[], bool]] = {
        "=": lambda: here == there,
        "!=": lambda: here != there,
        "<": lambda: _compare(actual, wanted) < 0,
        "<=": lambda: _compare(actual, wanted) <= 0,
        ">": lambda: _compare(actual, wanted) > 0,
        ">=": lambda: _compare(actual, wanted) >= 0,
        "LIKE": lambda: there in here,
        "NOT LIKE": lambda: there not in here,
        "STARTSWITH": lambda: here.startswith(there),
        "ENDSWITH": lambda: here.endswith(there),
    }
    return tests[op]()


def matches(query: EncodedQuery, record: R, lookup: Lookup[R], user_id: str = "") -> bool:
    """True if `record` satisfies the query. `lookup(record, field)` is None for unknown fields."""
    if not query.groups:
        return True
    for group in query.groups:
        if all(_term(term, record, lookup, user_id) for term in group):
            return True
    return False


def _term(term: Sequence[Condition], record: R, lookup: Lookup[R], user_id: str) -> bool:
    known = False
    for condition in term:
        if not condition.operator:
            continue
        actual = lookup(record, condition.field)
        if actual is None:
            continue
        known = True
        if evaluate(condition, actual, user_id):
            return True
    return not known  # a term made only of dropped conditions constrains nothing


def _sort_key(value: str) -> tuple[int, int, str]:
    if value == "":
        return (0, 0, "")
    number = _number(value)
    if number is not None:
        return (1, number, "")
    return (2, 0, value.casefold())


def sort(records: Iterable[R], order: Sequence[Order], lookup: Lookup[R]) -> list[R]:
    """Stable multi-key sort; orders on unknown fields are ignored."""
    result = list(records)
    for item in reversed(order):

        def key(record: R, name: str = item.field) -> tuple[int, int, str]:
            return _sort_key(lookup(record, name) or "")

        result.sort(key=key, reverse=item.descending)
    return result
