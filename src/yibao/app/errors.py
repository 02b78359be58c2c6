"""Refusals of a use case: the field (as the interface names it) and why, never a stack trace."""

from __future__ import annotations

from yibao.domain.errors import DomainError


class Refused(DomainError):
    """A request the platform will not carry out as it stands; nothing has been written."""


class NotFound(Refused):
    """The thing a field points at does not exist (or is not the caller's)."""


class Busy(Refused):
    """Another transaction held what this one needed for longer than the platform waits; nothing has
    been written, and the same message may be sent again."""
