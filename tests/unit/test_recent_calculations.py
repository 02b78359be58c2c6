"""The settlement use cases remember the calculator's last answers, by every input of the pure function."""

from __future__ import annotations

from collections.abc import Callable

from tests.helpers import claim, policy
from tests.unit.test_policy_rules import inpatient
from yibao.app.recent import RecentAnswers
from yibao.app.settle import RecentCalculations
from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.settlement import calculate


def test_an_equal_claim_gets_the_answer_already_made_and_any_other_input_a_new_one() -> None:
    recent, rules = RecentCalculations(size=2), policy(inpatient())
    first = recent.calculate(claim("10000", acc={"inpatient.dedc": "0"}), rules, EMPTY_CATALOG)
    assert first == calculate(claim("10000", acc={"inpatient.dedc": "0"}), rules, EMPTY_CATALOG)
    assert recent.calculate(claim("10000", acc={"inpatient.dedc": "0"}), rules, EMPTY_CATALOG) is first

    # the same claim after another settlement moved the person's counters: computed afresh
    moved = claim("10000", acc={"inpatient.dedc": "500"})
    later = recent.calculate(moved, rules, EMPTY_CATALOG)
    assert later is not first and later == calculate(moved, rules, EMPTY_CATALOG)
    # an equal policy reloaded is another object: computed afresh, never confused with the old one
    reloaded = recent.calculate(claim("10000", acc={"inpatient.dedc": "0"}), policy(inpatient()), EMPTY_CATALOG)
    assert reloaded is not first and reloaded == first
    # bounded: the oldest answers are forgotten
    for hosp_lv in (1, 3):
        recent.calculate(claim("10000", hosp_lv=hosp_lv), rules, EMPTY_CATALOG)
    assert recent.calculate(claim("10000", acc={"inpatient.dedc": "0"}), rules, EMPTY_CATALOG) is not first


def test_recent_answers_count_values_by_equality_and_objects_by_identity() -> None:
    recent: RecentAnswers[list[str]] = RecentAnswers(size=2)
    made: list[str] = []

    def make(tag: str) -> Callable[[], list[str]]:
        def answer() -> list[str]:
            made.append(tag)
            return [tag]

        return answer

    rules, same_rules = ("r1", "r2"), tuple(["r1", "r2"])
    first = recent.get(("visit", 1), (rules,), make("a"))
    assert recent.get(("visit", 1), (rules,), make("b")) is first and made == ["a"]
    assert recent.get(("visit", 1), (same_rules,), make("c")) == ["c"]  # an equal object is not the same one
    assert recent.get(("visit", 2), (rules,), make("d")) == ["d"]
    assert recent.get(("visit", 1), (rules,), make("e")) == ["e"]  # forgotten: size 2
    assert made == ["a", "c", "d", "e"]
