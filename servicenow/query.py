"""A small immutable builder for ServiceNow encoded queries, and validators for user-supplied values.

Every value is escaped (``^`` becomes ``^^``) so user text can never start a new condition; values with
CR/LF or starting with ``javascript:`` are refused, because the instance would evaluate them as script.
``IN`` lists have no escape for ``,``, so their items may not contain one.

    >>> str(Query().eq("email", "a@b.c").eq("active", "true").order_by("sys_id"))
    'email=a@b.c^active=true^ORDERBYsys_id'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from enum import Enum
from typing import Literal

from servicenow.errors import UnsafeQueryValue

__all__ = [
    "Query",
    "UnsafeQueryValue",
    "Value",
    "escape_value",
    "validate_email",
    "validate_field",
    "validate_number",
    "validate_sys_id",
]

Value = str | int | float | bool | datetime | date | Enum

_FIELD = re.compile(r"[a-z0-9_.]+")
_SYS_ID = re.compile(r"[0-9a-f]{32}")
# Local part: RFC 5322 "atext" dot-atoms (may contain ^, which the builder escapes).
# Domain: letters, digits, hyphens and dots only.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)

Join = Literal["^", "^OR", "^NQ"]


def validate_field(name: str) -> str:
    """A field name (dot-walks allowed): lowercase letters, digits, ``_`` and ``.``."""
    if not isinstance(name, str) or not _FIELD.fullmatch(name) or ".." in name:
        raise UnsafeQueryValue(f"{name!r} is not a valid field name")
    if name.startswith(".") or name.endswith("."):
        raise UnsafeQueryValue(f"{name!r} is not a valid field name")
    return name


def _text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _text(value.value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    raise UnsafeQueryValue(f"unsupported query value type {type(value).__name__}")


def escape_value(value: Value) -> str:
    """The value as it may appear in an encoded query: ``^`` doubled; unsafe values refused.

    Datetimes are sent as UTC ``YYYY-MM-DD HH:MM:SS`` (naive ones are taken to be UTC already).
    """
    text = _text(value)
    if "\r" in text or "\n" in text:
        raise UnsafeQueryValue("a query value may not contain a line break")
    if "\x00" in text:
        raise UnsafeQueryValue("a query value may not contain a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsafeQueryValue("a query value must be valid Unicode text") from exc
    if text.strip().lower().startswith("javascript:"):
        raise UnsafeQueryValue("a query value may not start with 'javascript:'")
    return text.replace("^", "^^")


@dataclass(frozen=True, slots=True)
class Query:
    """An encoded query, built one condition at a time; every method returns a new Query."""

    _conditions: tuple[str, ...] = ()
    _orders: tuple[str, ...] = ()
    _next_join: Join = "^"

    # -- conditions ------------------------------------------------------------------------------

    def _add(self, condition: str) -> Query:
        if not self._conditions:
            if self._next_join != "^":
                raise ValueError("or_() / new_query() needs a condition before it")
            return replace(self, _conditions=(condition,))
        joined = f"{self._next_join}{condition}"
        return replace(self, _conditions=(*self._conditions, joined), _next_join="^")

    def _cond(self, name: str, operator: str, value: Value) -> Query:
        return self._add(f"{validate_field(name)}{operator}{escape_value(value)}")

    def eq(self, name: str, value: Value) -> Query:
        return self._cond(name, "=", value)

    def ne(self, name: str, value: Value) -> Query:
        return self._cond(name, "!=", value)

    def gt(self, name: str, value: Value) -> Query:
        return self._cond(name, ">", value)

    def gte(self, name: str, value: Value) -> Query:
        return self._cond(name, ">=", value)

    def lt(self, name: str, value: Value) -> Query:
        return self._cond(name, "<", value)

    def lte(self, name: str, value: Value) -> Query:
        return self._cond(name, "<=", value)

    def like(self, name: str, value: Value) -> Query:
        """Contains."""
        return self._cond(name, "LIKE", value)

    def not_like(self, name: str, value: Value) -> Query:
        return self._cond(name, "NOT LIKE", value)

    def starts_with(self, name: str, value: Value) -> Query:
        return self._cond(name, "STARTSWITH", value)

    def ends_with(self, name: str, value: Value) -> Query:
        return self._cond(name, "ENDSWITH", value)

    def is_empty(self, name: str) -> Query:
        return self._add(f"{validate_field(name)}ISEMPTY")

    def is_not_empty(self, name: str) -> Query:
        return self._add(f"{validate_field(name)}ISNOTEMPTY")

    def in_(self, name: str, values: Iterable[Value]) -> Query:
        return self._add(f"{validate_field(name)}IN{_in_list(values)}")

    def not_in(self, name: str, values: Iterable[Value]) -> Query:
        return self._add(f"{validate_field(name)}NOT IN{_in_list(values)}")

    # -- joins -----------------------------------------------------------------------------------

    def or_(self) -> Query:
        """Join the next condition with ``^OR``: it is OR-ed with the condition just before it."""
        if not self._conditions:
            raise ValueError("or_() needs a condition before it")
        return replace(self, _next_join="^OR")

    def or_eq(self, name: str, value: Value) -> Query:
        return self.or_().eq(name, value)

    def new_query(self) -> Query:
        """Start a new OR-ed group (``^NQ``)."""
        if not self._conditions:
            raise ValueError("new_query() needs a condition before it")
        return replace(self, _next_join="^NQ")

    # -- ordering --------------------------------------------------------------------------------

    def order_by(self, name: str) -> Query:
        return replace(self, _orders=(*self._orders, f"ORDERBY{validate_field(name)}"))

    def order_by_desc(self, name: str) -> Query:
        return replace(self, _orders=(*self._orders, f"ORDERBYDESC{validate_field(name)}"))

    @property
    def ordered(self) -> bool:
        return bool(self._orders)

    def __bool__(self) -> bool:
        return bool(self._conditions or self._orders)

    def __str__(self) -> str:
        if self._next_join != "^":
            raise ValueError("the query ends with or_() / new_query() and no condition")
        parts = ["".join(self._conditions), *self._orders]
        return "^".join(part for part in parts if part)


def _in_list(values: Iterable[Value]) -> str:
    items = [escape_value(value) for value in values]
    if not items:
        raise UnsafeQueryValue("an IN list needs at least one value")
    for item in items:
        if "," in item:
            raise UnsafeQueryValue(f"{item!r}: an IN list value may not contain ','")
    return ",".join(items)


def validate_number(text: str, prefix: str = "INC") -> str:
    """A record number such as ``INC0010001`` (case-insensitive input, upper-case result)."""
    if not re.fullmatch(r"[A-Z]{2,8}", prefix.upper()):
        raise ValueError(f"{prefix!r} is not a number prefix")
    candidate = text.strip().upper() if isinstance(text, str) else ""
    if not re.fullmatch(rf"{prefix.upper()}[0-9]{{7}}", candidate):
        raise UnsafeQueryValue(
            f"{text!r} is not a valid {prefix.upper()} number (expected {prefix.upper()} and 7 digits)"
        )
    return candidate


def validate_email(text: str) -> str:
    """An e-mail address, stripped; refuses anything that is not a plain ``local@domain``."""
    candidate = text.strip() if isinstance(text, str) else ""
    if len(candidate) > 254 or not _EMAIL.fullmatch(candidate):
        raise UnsafeQueryValue(f"{text!r} is not a valid e-mail address")
    return candidate


def validate_sys_id(text: str) -> str:
    """A sys_id: 32 hexadecimal characters (returned lower-case)."""
    candidate = text.strip().lower() if isinstance(text, str) else ""
    if not _SYS_ID.fullmatch(candidate):
        raise UnsafeQueryValue(
            f"{text!r} is not a valid sys_id (expected 32 hexadecimal characters)"
        )
    return candidate
