from __future__ import annotations

from bot.incidents.cards import SHORT_DESCRIPTION_MAX
from bot.incidents.service import split_description


def test_short_text_is_the_whole_short_description() -> None:
    assert split_description("printer on fire") == ("printer on fire", "")


def test_long_text_goes_to_description_and_the_short_one_is_cut_at_a_word() -> None:
    text = "word " * 60
    short, description = split_description(text)
    assert len(short) <= SHORT_DESCRIPTION_MAX
    assert short.endswith("word…")
    assert description == text.strip()


def test_several_lines_keep_the_first_as_short_description() -> None:
    short, description = split_description("VPN down\nsince 9am, error 809")
    assert short == "VPN down"
    assert description == "VPN down\nsince 9am, error 809"
