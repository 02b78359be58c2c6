"""Money: integer fen at rest, Decimal in arithmetic, one rounding rule.

Every amount the platform stores or passes between functions is an ``int`` of fen (分).
Arithmetic that can produce fractions of a fen (ratios, unit prices) is done in ``Decimal``
and brought back to fen by :func:`round_fen` — ROUND_HALF_UP to 0.01 yuan, the rule the
published worked examples follow. No float ever touches money.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

Fen = int
"""An amount of money in fen (0.01 yuan)."""

FEN_PER_YUAN = 100
_ONE = Decimal(1)
_FEN_PER_YUAN = Decimal(FEN_PER_YUAN)
_ZERO_YUAN = Decimal("0.00")


class MoneyError(ValueError):
    """A value that is not a valid amount of money."""


def round_fen(amount_in_fen: Decimal) -> Fen:
    """The single rounding rule: half up to a whole fen (0.01 yuan)."""
    return int(amount_in_fen.quantize(_ONE, ROUND_HALF_UP))  # positional: a keyword costs 0.4 µs a call


def to_decimal(value: object) -> Decimal:
    """A Decimal from an int, a Decimal or a numeric string; floats are refused."""
    if isinstance(value, bool | float):
        raise MoneyError(f"{value!r}: money must not be a float")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise MoneyError(f"{value!r} is not a number") from None
    else:
        raise MoneyError(f"{value!r} is not a number")
    if not result.is_finite():
        raise MoneyError(f"{value!r} is not a finite number")
    return result


def yuan_to_fen(value: object) -> Fen:
    """Yuan (e.g. ``"404.2"`` or ``Decimal("8500")``) to fen; more than two decimals are rounded."""
    if type(value) is Decimal and value.is_finite():  # the usual case, without to_decimal's checks
        return round_fen(value * _FEN_PER_YUAN)
    return round_fen(to_decimal(value) * _FEN_PER_YUAN)


def fen_to_yuan(amount: Fen) -> Decimal:
    """Fen to yuan with exactly two decimals, as the national interface prints amounts."""
    if amount == 0:  # most of a line's amounts (over the cap, paid first, outside the catalogue)
        return _ZERO_YUAN
    return Decimal(amount).scaleb(-2)  # the fen as the coefficient, two places: exact, no rounding


def apply_ratio(amount: Fen, ratio: Decimal) -> Fen:
    """``amount × ratio`` rounded to the fen: the named point where a share of a sum is taken."""
    return round_fen(Decimal(amount) * ratio)
