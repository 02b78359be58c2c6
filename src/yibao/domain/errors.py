"""Errors the domain returns to its callers: each names the field that is wrong and why."""

from __future__ import annotations


class DomainError(ValueError):
    """Something in the input that the rules cannot accept; ``field`` is a path like ``visit.med_type``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PolicyError(DomainError):
    """A policy that cannot be applied to a claim, or none that is in force."""


class ClaimError(DomainError):
    """A claim (person, visit, fee lines, amounts) that cannot be settled as it is."""
