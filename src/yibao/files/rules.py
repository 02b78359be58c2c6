"""The rule library file (src/yibao/files/supervision_rules.toml): version and an array of rules.

Every key of every rule is checked; an error names the file, the rule and the key, e.g.
``supervision_rules.toml: rule[GZ-YP-001].params.pairs: 须为非空的 [[编码a, 编码b], …]``.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from yibao.domain.errors import DomainError
from yibao.domain.supervision.params import FACTS, check_params
from yibao.domain.supervision.rules import Rule, RuleLibrary
from yibao.files.loader import FileError, file_or_shipped

SHIPPED = Path(__file__).with_name("supervision_rules.toml")
REQUIRED = ("id", "name", "family", "category", "logic", "result", "window", "scenes", "stages", "message")
OPTIONAL = ("list_types", "params")
LIST_TYPES = ("101", "102", "201", "301")


def load_rule_library(path: Path | None = None) -> RuleLibrary:
    """The rule library of ``path``; None: the shipped file (read once)."""
    return file_or_shipped(path, SHIPPED, rule_library_from_data)


def rule_library_from_data(data: Any, where: str) -> RuleLibrary:
    if not isinstance(data, dict):
        raise FileError(f"{where}: (top level): expected a table with version and rules")
    unknown = sorted(set(data) - {"version", "rules"})
    if unknown:
        raise FileError(f"{where}: {unknown[0]}: unknown key (version, rules)")
    if not isinstance(data.get("version"), str) or not data["version"]:
        raise FileError(f"{where}: version: a string is required")
    rows = data.get("rules")
    if not isinstance(rows, list) or not rows:
        raise FileError(f"{where}: rules: an array of tables [[rules]] is required")
    try:
        return RuleLibrary(data["version"], tuple(_rule(row, i) for i, row in enumerate(rows)))
    except DomainError as exc:
        raise FileError(f"{where}: {exc}") from None


def _rule(row: Any, index: int) -> Rule:
    if not isinstance(row, dict):
        raise DomainError(f"rules.{index}", "须为表 [[rules]]")
    rid = row.get("id")
    if not isinstance(rid, str) or not rid:
        raise DomainError(f"rules.{index}.id", "规则编号须为非空字符串")
    where = f"rule[{rid}]"
    unknown = sorted(set(row) - {*REQUIRED, *OPTIONAL})
    if unknown:
        raise DomainError(f"{where}.{unknown[0]}", f"未知的键（可用：{', '.join(REQUIRED + OPTIONAL)}）")
    for key in REQUIRED:
        if key not in row:
            raise DomainError(f"{where}.{key}", "缺少此键")
    for key in ("name", "family", "category", "logic", "result", "window", "message"):
        if not isinstance(row[key], str) or not row[key]:
            raise DomainError(f"{where}.{key}", "须为非空字符串")
    for key in ("scenes", "stages", "list_types"):
        value = row.get(key, [])
        if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
            raise DomainError(f"{where}.{key}", "须为字符串数组")
    bad = [t for t in row.get("list_types", []) if t not in LIST_TYPES]
    if bad:
        raise DomainError(f"{where}.list_types", f"{bad[0]!r} 不是目录类别（{'/'.join(LIST_TYPES)}）")
    params = row.get("params", {})
    if not isinstance(params, dict):
        raise DomainError(f"{where}.params", "须为表")
    rule = Rule(
        id=rid, name=row["name"], family=row["family"], category=row["category"], logic=row["logic"],
        result=row["result"], window=row["window"], scenes=tuple(row["scenes"]), stages=tuple(row["stages"]),
        list_types=tuple(row.get("list_types", [])), params=params, message=row["message"],
    )  # fmt: skip
    check_params(rid, rule.logic, params)
    _check_message(where, rule.message)
    return rule


def _check_message(where: str, message: str) -> None:
    try:
        names = [name for _, name, spec, conv in string.Formatter().parse(message) if name is not None]
    except ValueError as exc:
        raise DomainError(f"{where}.message", f"格式串有误：{exc}") from None
    for name in names:
        if name not in FACTS:
            raise DomainError(f"{where}.message", f"未知的占位 {{{name}}}（可用：{', '.join(FACTS)}）")
