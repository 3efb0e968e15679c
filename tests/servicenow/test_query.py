"""The encoded-query builder: user text can never add, widen or script a condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicenow.query import (
    Query,
    UnsafeQueryValue,
    escape_value,
    validate_email,
    validate_number,
    validate_sys_id,
)


def split_terms(encoded: str) -> list[str]:
    """Split an encoded query on its separators the way the instance does: ``^^`` is a literal."""
    terms: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(encoded):
        if encoded.startswith("^^", i):
            current.append("^")
            i += 2
        elif encoded[i] == "^":
            terms.append("".join(current))
            current = []
            i += 1
        else:
            current.append(encoded[i])
            i += 1
    terms.append("".join(current))
    return terms


def test_conditions_are_joined_with_carets_and_orders_come_last() -> None:
    query = (
        Query()
        .order_by("sys_updated_on")
        .eq("active", "true")
        .gte("impact", 2)
        .order_by_desc("sys_id")
    )
    assert str(query) == "active=true^impact>=2^ORDERBYsys_updated_on^ORDERBYDESCsys_id"


def test_every_operator_renders_its_documented_token() -> None:
    query = (
        Query()
        .eq("a", "1")
        .ne("b", "2")
        .gt("c", "3")
        .gte("d", "4")
        .lt("e", "5")
        .lte("f", "6")
        .like("g", "x")
        .not_like("h", "y")
        .starts_with("i", "p")
        .ends_with("j", "s")
        .is_empty("k")
        .is_not_empty("l")
        .in_("m", ["1", "2"])
        .not_in("n", ["3"])
    )
    assert str(query) == (
        "a=1^b!=2^c>3^d>=4^e<5^f<=6^gLIKEx^hNOT LIKEy^iSTARTSWITHp^jENDSWITHs"
        "^kISEMPTY^lISNOTEMPTY^mIN1,2^nNOT IN3"
    )


def test_or_binds_to_the_previous_condition_and_new_query_starts_a_group() -> None:
    query = (
        Query()
        .eq("active", "true")
        .eq("state", 1)
        .or_()
        .eq("state", 2)
        .new_query()
        .eq("number", "INC0010001")
    )
    assert str(query) == "active=true^state=1^ORstate=2^NQnumber=INC0010001"
    assert str(Query().eq("a", "1").or_eq("b", "2")) == "a=1^ORb=2"


def test_or_without_a_condition_before_it_is_refused() -> None:
    with pytest.raises(ValueError):
        Query().or_()
    with pytest.raises(ValueError):
        Query().new_query()
    with pytest.raises(ValueError):
        str(Query().eq("a", "1").or_())


def test_queries_are_immutable_values() -> None:
    base = Query().eq("active", "true")
    narrowed = base.eq("state", 1)
    assert str(base) == "active=true"
    assert str(narrowed) == "active=true^state=1"
    assert base == Query().eq("active", "true")
    assert not Query()
    assert not base.ordered and base.order_by("sys_id").ordered


def test_a_caret_in_a_value_is_doubled() -> None:
    assert str(Query().eq("email", "x@y.z^ORactive=true")) == "email=x@y.z^^ORactive=true"
    assert split_terms(str(Query().eq("email", "x@y.z^ORactive=true"))) == [
        "email=x@y.z^ORactive=true"
    ]


@pytest.mark.parametrize(
    "value",
    [
        "javascript:gs.getUserID()",
        "JavaScript:gs.getUserID()",
        "  javascript:gs.getUserID()",
        "\tJAVASCRIPT: 1",
    ],
)
def test_script_values_are_refused(value: str) -> None:
    with pytest.raises(UnsafeQueryValue):
        Query().eq("caller_id", value)


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "line\r\n", "nul\x00", "lone \ud800"])
def test_line_breaks_and_unsendable_text_are_refused(value: str) -> None:
    with pytest.raises(UnsafeQueryValue):
        Query().like("short_description", value)


def test_a_script_word_inside_a_value_is_only_text() -> None:
    assert (
        str(Query().like("description", "see javascript:foo"))
        == "descriptionLIKEsee javascript:foo"
    )


@pytest.mark.parametrize("name", ["", "Number", "state^ORactive", "a=b", "x y", ".a", "a.", "a..b"])
def test_field_names_are_validated(name: str) -> None:
    with pytest.raises(UnsafeQueryValue):
        Query().eq(name, "1")
    with pytest.raises(UnsafeQueryValue):
        Query().order_by(name)


def test_dot_walked_field_names_are_allowed() -> None:
    assert str(Query().eq("caller_id.email", "a@b.c")) == "caller_id.email=a@b.c"


def test_in_lists_refuse_commas_and_emptiness() -> None:
    with pytest.raises(UnsafeQueryValue):
        Query().in_("category", ["a,b"])
    with pytest.raises(UnsafeQueryValue):
        Query().in_("category", [])
    assert str(Query().in_("state", [1, 2, 3])) == "stateIN1,2,3"


def test_values_of_other_types_are_rendered_as_servicenow_strings() -> None:
    local = datetime(2024, 5, 2, 11, 15, 10, tzinfo=timezone(timedelta(hours=2)))
    assert escape_value(local) == "2024-05-02 09:15:10"
    assert escape_value(datetime(2024, 5, 2, 9, 15, 10, tzinfo=UTC)) == "2024-05-02 09:15:10"
    assert escape_value(True) == "true"
    assert escape_value(3) == "3"


SURROGATES: tuple[Literal["Cs"]] = ("Cs",)
_condition_values = st.text(
    alphabet=st.characters(blacklist_categories=SURROGATES, blacklist_characters="\r\n\x00")
).filter(lambda v: not v.strip().lower().startswith("javascript:"))


@settings(max_examples=400)
@given(_condition_values)
def test_no_value_can_add_a_condition_and_every_value_round_trips(value: str) -> None:
    encoded = str(Query().eq("email", value).eq("active", "true"))
    terms = split_terms(encoded)
    assert terms == [f"email={value}", "active=true"]


@settings(max_examples=200)
@given(st.lists(_condition_values, min_size=1, max_size=6))
def test_the_number_of_conditions_is_the_number_of_calls(values: list[str]) -> None:
    query = Query()
    for value in values:
        query = query.like("short_description", value)
    terms = split_terms(str(query.order_by("sys_id")))
    assert terms[:-1] == [f"short_descriptionLIKE{value}" for value in values]
    assert terms[-1] == "ORDERBYsys_id"


@given(st.text())
def test_any_value_is_either_refused_or_escaped(value: str) -> None:
    try:
        escaped = escape_value(value)
    except UnsafeQueryValue:
        assert (
            any(c in value for c in "\r\n\x00")
            or any(0xD800 <= ord(c) <= 0xDFFF for c in value)
            or value.strip().lower().startswith("javascript:")
        )
    else:
        assert escaped.replace("^^", "").count("^") == 0
        assert escaped.replace("^^", "^") == value


# -- validators -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("INC0010001", "INC0010001"), (" inc0000046 ", "INC0000046"), ("Inc1234567", "INC1234567")],
)
def test_incident_numbers_are_normalised(text: str, expected: str) -> None:
    assert validate_number(text) == expected


@pytest.mark.parametrize(
    "text", ["INC001", "INC00100011", "CHG0000001", "INC0010001^ORactive=true", "", "INC 0010001"]
)
def test_malformed_incident_numbers_are_refused(text: str) -> None:
    with pytest.raises(UnsafeQueryValue, match="not a valid INC number"):
        validate_number(text)


def test_number_prefix_is_configurable() -> None:
    assert validate_number("chg0000001", prefix="CHG") == "CHG0000001"


@pytest.mark.parametrize(
    "text", ["alice@example.com", " Bob.Smith+ops@sub.example.co.uk ", "o'brien@example.ie"]
)
def test_plain_email_addresses_are_accepted(text: str) -> None:
    assert validate_email(text) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "x@y.z^ORactive=true",
        "alice@example.com^NQactive=true",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "a b@example.com",
        "alice@exa mple.com",
        "javascript:gs.getUserID()@example.com",
    ],
)
def test_anything_but_a_plain_email_is_refused(text: str) -> None:
    with pytest.raises(UnsafeQueryValue, match="not a valid e-mail address"):
        validate_email(text)


def test_sys_ids_are_32_hex_characters() -> None:
    assert (
        validate_sys_id(" A9E30C7DC61122760116894DE7BCC7BD ") == "a9e30c7dc61122760116894de7bcc7bd"
    )
    for bad in [
        "",
        "global",
        "a9e30c7dc61122760116894de7bcc7b",
        "a9e30c7dc61122760116894de7bcc7bdx",
        "../sys_user/a9e30c7dc61122760116894de7bc",
    ]:
        with pytest.raises(UnsafeQueryValue, match="not a valid sys_id"):
            validate_sys_id(bad)
