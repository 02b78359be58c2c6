"""The last answers of a pure function, by its inputs: a 2207 usually repeats, a moment later, the
2206 of the same visit, and what the calculator and the rule engine made then holds for it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class RecentAnswers(Generic[V]):
    """Answers by (``values``, ``objects``): values count by equality, objects (a policy, a catalogue,
    a rule set: large, and replaced whole when reloaded) by identity. The oldest are forgotten first."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._answers: OrderedDict[tuple[Hashable, tuple[int, ...]], tuple[tuple[object, ...], V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, values: Hashable, objects: tuple[object, ...], make: Callable[[], V]) -> V:
        key = (values, tuple(map(id, objects)))
        with self._lock:
            found = self._answers.get(key)
        # an object's id may be reused once it is gone: the answer holds the objects it was made of
        if found is not None and all(a is b for a, b in zip(found[0], objects, strict=True)):
            return found[1]
        answer = make()
        with self._lock:
            self._answers[key] = (objects, answer)
            if len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer
