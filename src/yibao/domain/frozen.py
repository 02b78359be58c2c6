"""The ``frozen`` decorator: an immutable record with slots, as ``@dataclass(frozen=True, slots=True)``
declares one, but made at the cost of a plain dataclass.

A frozen dataclass's ``__init__`` stores each field through ``object.__setattr__``: a 14-field record
cost 4.2 µs to make against 0.6 µs unfrozen, and a settlement makes a few hundred records (about a tenth
of the dispatcher's CPU). Here the class is an ordinary slotted dataclass hashed by its fields, and the
type checker, told by ``dataclass_transform`` that these classes are frozen, refuses any assignment to
a field; nothing refuses it at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def frozen(cls: type[T]) -> type[T]:
    return dataclass(slots=True, unsafe_hash=True)(cls)
