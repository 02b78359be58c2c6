"""Masking of personal data for the pages people look at (个人信息脱敏).

The console and the portal never print an ID number, a name or a card number in full: staff see
enough to tell people apart (陈*国, 4401**********1236) and nothing more. Masking keeps the length,
so a masked value still looks like what it stands for.
"""

from __future__ import annotations

CLEAR_ANSWERS = frozenset({"2204", "2301"})
"""Transactions whose answers name no person, only how each fee line is classified: the message log
keeps them in clear (and PostgreSQL compresses them, where sealed text does not compress). Every other
answer is sealed: a 2207's carries the person's ID number and name."""


def mask_certno(certno: str, head: int = 4) -> str:
    """An ID number with its first ``head`` and last four characters kept: ``4401**********1236`` (the
    interface's answers keep the region, ``head=6``: ``440106********1236``).

    Short numbers keep less: a quarter at each end, at least one character masked.
    """
    value = certno.strip()
    if not value:
        return ""
    if len(value) < max(12, head + 6):
        keep = len(value) // 4
        return value[:keep] + "*" * (len(value) - 2 * keep) + value[len(value) - keep :] if keep else "*" * len(value)
    return value[:head] + "*" * (len(value) - head - 4) + value[-4:]


def mask_name(name: str) -> str:
    """A name with its first and last characters kept: 陈*国, 李*, 欧**明; one character is masked whole."""
    value = name.strip()
    if len(value) <= 1:
        return "*" * len(value)
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_card(card_no: str | None) -> str:
    """A social security card number with only its last four characters kept."""
    value = (card_no or "").strip()
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


def looks_like_certno(text: str) -> bool:
    """A resident ID number (18 characters, the last may be X) rather than a psn_no or a code."""
    value = text.strip().upper()
    return len(value) == 18 and value[:17].isdigit() and (value[17].isdigit() or value[17] == "X")
