"""Masking of personal data for pages (yibao.app.privacy)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from yibao.app.privacy import looks_like_certno, mask_card, mask_certno, mask_name


def test_an_id_number_keeps_four_characters_at_each_end() -> None:
    assert mask_certno("440106195804021236") == "4401**********1236"
    assert mask_certno("44010619580402123X") == "4401**********123X"
    assert mask_certno(" 440106195804021236 ") == "4401**********1236"


def test_short_numbers_keep_less() -> None:
    assert mask_certno("") == ""
    assert mask_certno("123") == "***"
    assert mask_certno("12345678") == "12****78"
    assert mask_certno("123456789012") == "1234****9012"


def test_a_name_keeps_its_first_and_last_characters() -> None:
    assert mask_name("陈建国") == "陈*国"
    assert mask_name("李敏") == "李*"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_name("王") == "*"
    assert mask_name("") == ""


def test_a_card_number_keeps_its_last_four_characters() -> None:
    assert mask_card("K44010012345") == "********2345"
    assert mask_card(None) == ""
    assert mask_card("123") == "***"


def test_id_numbers_are_told_from_other_numbers() -> None:
    assert looks_like_certno("440106195804021236")
    assert looks_like_certno("44010619580402123x")
    assert not looks_like_certno("44010000000000012345")  # a psn_no: 20 digits
    assert not looks_like_certno("H44010600001")


@given(st.text(st.characters(blacklist_characters="*"), min_size=1, max_size=40).map(str.strip).filter(bool))
def test_masking_keeps_the_length_and_never_shows_the_whole(value: str) -> None:
    for mask in (mask_certno, mask_name, mask_card):
        masked = mask(value)
        assert len(masked) == len(value)
        assert masked != value
        assert "*" in masked
