"""The encoded-query parser and matcher, on plain dict records (no HTTP)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sandbox.servicenow.query import Condition, Order, matches, parse, sort, split_terms

USERS = [
    {"sys_id": "1", "email": "a@example.com", "active": "true", "name": "Alice", "n": "2"},
    {"sys_id": "2", "email": "b@example.com", "active": "true", "name": "Bob", "n": "10"},
    {"sys_id": "3", "email": "c^x@example.com", "active": "false", "name": "Carol", "n": ""},
]


def lookup(record: dict[str, str], field: str) -> str | None:
    return record.get(field)


def select(query: str, user_id: str = "") -> list[str]:
    parsed = parse(query)
    found = [r for r in USERS if matches(parsed, r, lookup, user_id)]
    return [r["sys_id"] for r in sort(found, parsed.order, lookup)]


def test_double_caret_is_a_literal_caret_inside_the_term() -> None:
    assert split_terms("a=1^^2^b=3") == ["a=1^2", "b=3"]


def test_escaped_or_injection_does_not_widen_the_user_lookup() -> None:
    parsed = parse("email=a^^ORactive=true")
    assert parsed.groups == ((((Condition("email", "=", "a^ORactive=true")),),),)
    assert select("email=a^^ORactive=true") == []


def test_unescaped_or_injection_widens_as_it_would_on_an_instance() -> None:
    assert select("email=nobody@example.com^ORactive=true") == ["1", "2"]


def test_caret_in_a_stored_value_matches_when_escaped() -> None:
    assert select("email=c^^x@example.com") == ["3"]


def test_and_or_and_new_query() -> None:
    assert select("active=true^name=Bob") == ["2"]
    assert select("name=Alice^ORname=Carol") == ["1", "3"]
    assert select("name=Alice^NQactive=false") == ["1", "3"]
    assert select("active=true^name=Carol^NQname=Bob") == ["2"]


def test_eq_end_marker_is_ignored() -> None:
    assert select("nameSTARTSWITHB^EQ") == ["2"]


def test_equality_is_case_insensitive() -> None:
    assert select("email=A@EXAMPLE.COM") == ["1"]


def test_comparison_operators_compare_numbers_as_numbers() -> None:
    assert select("n>3") == ["2"]
    assert select("n<3") == ["1"]  # an empty value is never less or greater than anything
    assert select("n<=2^nISNOTEMPTY") == ["1"]
    assert select("n>=2") == ["1", "2"]
    assert select("name<Bob") == ["1"]


def test_in_and_not_in() -> None:
    assert select("nameINAlice,Bob") == ["1", "2"]
    assert select("nameNOT INAlice,Bob") == ["3"]


def test_like_startswith_endswith_and_negations() -> None:
    assert select("emailLIKEexample") == ["1", "2", "3"]
    assert select("nameLIKEo") == ["2", "3"]
    assert select("nameNOT LIKEo") == ["1"]
    assert select("nameSTARTSWITHca") == ["3"]
    assert select("nameENDSWITHob") == ["2"]


def test_empty_and_not_empty() -> None:
    assert select("nISEMPTY") == ["3"]
    assert select("nISNOTEMPTY") == ["1", "2"]


def test_unknown_fields_are_ignored_like_an_instance_does() -> None:
    assert select("nosuchfield=1^name=Bob") == ["2"]
    assert select("name=Bob^ORnosuchfield=1") == ["2"]


def test_unsupported_operator_is_dropped() -> None:
    assert parse("nameSAMEASemail").groups[0][0][0].operator == ""
    assert select("nameSAMEASemail^name=Alice") == ["1"]


def test_get_user_id_script_is_the_caller() -> None:
    assert select("sys_id=javascript:gs.getUserID()", user_id="2") == ["2"]


def test_any_other_script_matches_nothing() -> None:
    assert select("sys_id=javascript:gs.getUser().getID()", user_id="2") == []
    assert select("name!=javascript:'x'") == []


def test_order_by_and_order_by_desc_chain() -> None:
    assert select("ORDERBYDESCname") == ["3", "2", "1"]
    assert select("active=true^ORDERBYDESCn") == ["2", "1"]
    assert select("ORDERBYactive^ORDERBYDESCname") == ["3", "2", "1"]
    assert parse("ORDERBYa^ORDERBYDESCb").order == (Order("a"), Order("b", True))


def test_order_by_puts_empty_values_first() -> None:
    assert select("ORDERBYn") == ["3", "1", "2"]


def test_empty_query_matches_everything() -> None:
    assert select("") == ["1", "2", "3"]


def test_dot_walk_field_name_is_kept_whole() -> None:
    assert parse("caller_id.email=a@b.c").groups[0][0][0] == Condition(
        "caller_id.email", "=", "a@b.c"
    )


def test_order_field_named_like_an_operator_prefix() -> None:
    parsed = parse("order=5^ORDERBYorder")
    assert parsed.groups[0][0][0] == Condition("order", "=", "5")
    assert parsed.order == (Order("order"),)


@given(st.text())
def test_any_escaped_value_stays_one_condition(value: str) -> None:
    parsed = parse("email=" + value.replace("^", "^^"))
    assert parsed.groups == (((Condition("email", "=", value),),),)
