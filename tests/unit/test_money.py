from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.money import MoneyError, apply_ratio, fen_to_yuan, round_fen, to_decimal, yuan_to_fen


def test_rounding_is_half_up_to_the_fen() -> None:
    assert round_fen(Decimal("2456451.4")) == 2456451
    assert round_fen(Decimal("0.5")) == 1
    assert round_fen(Decimal("2.5")) == 3  # not banker's rounding
    assert round_fen(Decimal("-0.5")) == -1


def test_yuan_and_fen() -> None:
    assert yuan_to_fen("404.2") == 40420
    assert yuan_to_fen(Decimal("0.005")) == 1
    assert yuan_to_fen(8500) == 850000
    assert str(fen_to_yuan(2456451)) == "24564.51"
    assert str(fen_to_yuan(0)) == "0.00"


def test_ratio_of_an_amount() -> None:
    assert apply_ratio(2959580, Decimal("0.83")) == 2456451


@pytest.mark.parametrize("bad", [1.5, "abc", "NaN", "Infinity", None, True])
def test_floats_and_non_numbers_are_refused(bad: object) -> None:
    with pytest.raises(MoneyError):
        to_decimal(bad)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_fen_yuan_round_trip(fen: int) -> None:
    yuan = fen_to_yuan(fen)
    assert yuan_to_fen(yuan) == fen
    assert yuan.as_tuple().exponent == -2  # always printed with two decimals, as the interface does


@given(st.integers(min_value=0, max_value=10**10), st.decimals(min_value=0, max_value=1, places=4))
def test_a_share_never_exceeds_the_whole(amount: int, ratio: Decimal) -> None:
    assert 0 <= apply_ratio(amount, ratio) <= amount
