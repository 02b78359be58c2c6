"""The rule library (规则库) as data: each rule a parametrised logic with its result type, scenes and stages.

The logics are the engine's checks (engine.py) and the same checks as SQL (yibao.analytics); the table
of their meanings is docs/supervision.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from typing import Any

from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen

FAMILIES = ("policy", "management", "medical")
CATEGORIES = {
    "policy": ("drug", "service", "consumable"),
    "management": ("data", "drug_control", "consumable_control", "behaviour"),
    "medical": ("drug_use", "service_use", "consumable_use"),
}
RESULTS = ("definite", "suspicious")
"""明确违规 / 可疑."""
STAGES = ("before", "during", "after")
"""事前 / 事中 / 事后."""
SCENES = ("outpatient", "inpatient", "pharmacy", "internet", "cross_region")
WINDOWS = ("visit", "stay", "day", "month", "person")

LINE_LOGICS = (
    "sex", "age", "insutype", "indication", "hosp_level", "med_type", "price_cap", "day_quantity",
    "visit_quantity", "days_supply", "exclusive_pair", "requires_item", "never_paid", "duplicate_group",
    "duplicate_line", "fee_outside_visit", "amount_mismatch", "unknown_item", "early_refill",
)  # fmt: skip
VISIT_LOGICS = (
    "missing_diagnosis", "readmission", "outpatient_during_stay", "bed_days_without_treatment",
    "same_day_repeat", "practitioner_load",
)  # fmt: skip
LOGICS = LINE_LOGICS + VISIT_LOGICS
CROSS_VISIT_LOGICS = ("readmission", "outpatient_during_stay", "same_day_repeat", "early_refill", "practitioner_load")
"""Logics that compare a visit with the person's (or the practitioner's) other visits."""


@frozen
class Rule:
    id: str
    name: str
    family: str
    category: str
    logic: str
    result: str
    window: str
    scenes: tuple[str, ...]
    stages: tuple[str, ...]
    list_types: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""

    def __post_init__(self) -> None:
        where = f"rule[{self.id}]"
        if self.family not in FAMILIES:
            raise DomainError(f"{where}.family", f"须为 {'/'.join(FAMILIES)}，得到 {self.family!r}")
        if self.category not in CATEGORIES[self.family]:
            raise DomainError(f"{where}.category", f"{self.family} 的类别须为 {'/'.join(CATEGORIES[self.family])}")
        if self.logic not in LOGICS:
            raise DomainError(f"{where}.logic", f"未知的规则逻辑 {self.logic!r}")
        if self.result not in RESULTS:
            raise DomainError(f"{where}.result", "须为 definite (明确违规) 或 suspicious (可疑)")
        if self.window not in WINDOWS:
            raise DomainError(f"{where}.window", f"须为 {'/'.join(WINDOWS)}")
        for name, values, allowed in (("scenes", self.scenes, SCENES), ("stages", self.stages, STAGES)):
            if not values or any(v not in allowed for v in values):
                raise DomainError(f"{where}.{name}", f"须为 {'/'.join(allowed)} 中的一个或多个")

    @property
    def cross_visit(self) -> bool:
        return self.logic in CROSS_VISIT_LOGICS

    def looks_at(self, list_type: str) -> bool:
        return not self.list_types or list_type in self.list_types


@frozen
class RuleLibrary:
    """One version of the rule library."""

    version: str
    rules: tuple[Rule, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise DomainError(f"rule[{rule.id}].id", "规则编号重复")
            seen.add(rule.id)

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def select(
        self, *, stage: str | None = None, scenes: Iterable[str] = (), rule_ids: Iterable[str] = ()
    ) -> tuple[Rule, ...]:
        """The rules of a stage that apply in any of ``scenes`` (all scenes when empty), limited to ``rule_ids``."""
        wanted, where = set(rule_ids), set(scenes)
        return tuple(
            r
            for r in self.rules
            if (stage is None or stage in r.stages)
            and (not where or where & set(r.scenes))
            and (not wanted or r.id in wanted)
        )


@frozen
class Finding:
    """A rule that fired: on a fee line (feedetl_sn) or on the whole visit (feedetl_sn "")."""

    rule_id: str
    result: str
    mdtrt_id: str
    feedetl_sn: str = ""
    med_list_codg: str = ""
    amount: int = 0
    """Fen at stake: the line's amount, or the visit's medfee_sumamt for a visit finding."""
    message: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule_id, self.mdtrt_id, self.feedetl_sn)
