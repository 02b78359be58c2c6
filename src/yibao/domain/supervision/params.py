"""What each logic takes as params and which facts a rule's message may name (docs/supervision.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yibao.domain.errors import DomainError

PARAMS: dict[str, dict[str, tuple[type, bool]]] = {
    "age": {"child_only": (bool, False)},
    "insutype": {"insutype": (str, False)},
    "days_supply": {"max_days": (int, False)},
    "exclusive_pair": {"pairs": (list, True)},
    "requires_item": {"item": (str, True), "requires": (list, True)},
    "never_paid": {"codes": (list, True)},
    "duplicate_group": {"group_len": (int, True)},
    "readmission": {"days": (int, True), "same_institution": (bool, False)},
    "bed_days_without_treatment": {"bed_codes": (list, True), "nursing_codes": (list, False), "min_days": (int, True)},
    "early_refill": {"grace": (int, False)},
    "practitioner_load": {"max_visits": (int, True)},
}
"""logic → param → (type, required); logics not listed take none."""

FACTS = (
    "rule", "code", "name", "sn", "date", "cnt", "pric", "amount", "limit", "value", "other", "gend", "age",
    "dx", "insutype", "med_type", "hosp_lv", "days", "prev", "count",
)  # fmt: skip
"""The names a rule's message may use: see engine.py for what each holds."""


def check_params(rule_id: str, logic: str, params: Mapping[str, Any]) -> None:
    """Raise DomainError naming ``rule[id].params.key`` for a missing, unknown or mistyped param."""
    spec = PARAMS.get(logic, {})
    value: Any
    for key, value in params.items():
        where = f"rule[{rule_id}].params.{key}"
        if key not in spec:
            known = ", ".join(spec) or "无参数"
            raise DomainError(where, f"逻辑 {logic} 不接受此参数（可用：{known}）")
        kind = spec[key][0]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise DomainError(where, "须为非负整数")
        if not isinstance(value, kind):
            raise DomainError(where, f"须为 {kind.__name__}")
        items: list[Any] = value if isinstance(value, list) else []
        if kind is list and key == "pairs":
            if not items or any(not (isinstance(p, list) and len(p) == 2 and all(isinstance(c, str) and c for c in p))
                                for p in items):  # fmt: skip
                raise DomainError(where, "须为非空的 [[编码a, 编码b], …]")
        elif kind is list and any(not isinstance(c, str) or not c for c in items):
            raise DomainError(where, "须为非空字符串的列表")
    for key, (_, required) in spec.items():
        if required and key not in params:
            raise DomainError(f"rule[{rule_id}].params.{key}", f"逻辑 {logic} 需要此参数")
