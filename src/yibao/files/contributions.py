"""The contribution rate table (src/yibao/files/contribution_rates.toml; docs/contributions.md).

Every key is checked; an error names the file, the row and the key, e.g.
``contribution_rates.toml: reduction[gd-9-month].value: 须为小数字符串，如 "0.005"``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from yibao.domain.contribution import (
    EMPLOYEE_SIDE,
    EMPLOYER_SIDE,
    FACTOR,
    POINTS,
    CollectionRules,
    Population,
    RateRow,
    RateTable,
    Reduction,
    ResidentRate,
    WageBase,
    parse_month,
)
from yibao.domain.errors import DomainError
from yibao.domain.money import yuan_to_fen
from yibao.files.loader import FileError, file_or_shipped

SHIPPED = Path(__file__).with_name("contribution_rates.toml")
SECTIONS = ("version", "rules", "wage", "rate", "reduction", "resident", "population")


def load_rate_table(path: Path | None = None) -> RateTable:
    """The rate table of ``path``; None: the shipped file (read once)."""
    return file_or_shipped(path, SHIPPED, rate_table_from_data)


def rate_table_from_data(data: Any, where: str) -> RateTable:
    if not isinstance(data, dict):
        raise FileError(f"{where}: (top level): expected a table")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise FileError(f"{where}: {unknown[0]}: unknown key ({', '.join(SECTIONS)})")
    if not isinstance(data.get("version"), str) or not data["version"]:
        raise FileError(f"{where}: version: a string is required")
    try:
        return RateTable(
            version=data["version"],
            rules=_rules(data.get("rules", {})),
            wages=tuple(_wage(Row(r, f"wage.{i}")) for i, r in enumerate(_rows(data, "wage"))),
            rates=tuple(_rate(Row(r, f"rate.{i}")) for i, r in enumerate(_rows(data, "rate"))),
            reductions=tuple(
                _reduction(Row(r, f"reduction.{i}", "id")) for i, r in enumerate(_rows(data, "reduction"))
            ),
            residents=tuple(_resident(Row(r, f"resident.{i}")) for i, r in enumerate(_rows(data, "resident"))),
            populations=tuple(_population(Row(r, f"population.{i}")) for i, r in enumerate(_rows(data, "population"))),
        )
    except DomainError as exc:
        raise FileError(f"{where}: {exc}") from None


def _rows(data: dict[str, Any], key: str) -> list[Any]:
    rows = data.get(key, [])
    if not isinstance(rows, list):
        raise DomainError(key, f"须为表数组 [[{key}]]")
    return rows


class Row:
    """One table of the file, read key by key; every key must be used."""

    def __init__(self, data: Any, where: str, label: str = "") -> None:
        if not isinstance(data, dict):
            raise DomainError(where, "须为表")
        name = data.get(label) if label else None
        self.where = f"{where.split('.')[0]}[{name}]" if isinstance(name, str) and name else where
        self.data = data
        self.used: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is None:
                raise DomainError(f"{self.where}.{key}", "缺少此项")
            return default
        return self.data[key]

    def text(self, key: str, default: str | None = None) -> str:
        value = self.get(key, default)
        if not isinstance(value, str):
            raise DomainError(f"{self.where}.{key}", "须为字符串")
        return value

    def month(self, key: str, default: str | None = None) -> str:
        value = self.text(key, default)
        if value:
            parse_month(value, f"{self.where}.{key}")
        return value

    def decimal(self, key: str, default: str | None = None) -> Decimal:
        value = self.get(key, default)
        try:
            if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
                raise InvalidOperation
            result = Decimal(value)
            if not result.is_finite() or result < 0:
                raise InvalidOperation
        except InvalidOperation:
            raise DomainError(f"{self.where}.{key}", f'须为非负小数字符串，如 "0.005"：{value!r}') from None
        return result

    def yuan(self, key: str, default: str | None = None) -> int:
        return yuan_to_fen(self.decimal(key, default))

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DomainError(f"{self.where}.{key}", f"须为非负整数：{value!r}")
        return value

    def day(self, key: str) -> date:
        value = self.get(key)
        if not isinstance(value, date):
            raise DomainError(f"{self.where}.{key}", f"须为日期（如 2019-09-01）：{value!r}")
        return value

    def admdvs(self) -> str:
        value = self.text("admdvs")
        if len(value) != 6 or not value.isdigit():
            raise DomainError(f"{self.where}.admdvs", f"须为6位行政区划代码：{value!r}")
        return value

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise DomainError(f"{self.where}.{unknown[0]}", "未知的项")


def _rules(data: Any) -> CollectionRules:
    r = Row(data, "rules")
    rules = CollectionRules(
        late_fee_daily=r.decimal("late_fee_daily", "0.0005"),
        deferral_max_months=int(r.decimal("deferral_max_months", "6")),
        suspend_after_months=int(r.decimal("suspend_after_months", "3")),
    )
    r.done()
    return rules


def _wage(r: Row) -> WageBase:
    w = WageBase(r.admdvs(), r.month("begin"), r.yuan("average"), r.decimal("floor", "0.6"), r.decimal("ceiling", "3"))
    r.text("source", "")
    r.done()
    if w.floor > w.ceiling:
        raise DomainError(f"{r.where}.floor", "下限不能高于上限")
    return w


def _rate(r: Row) -> RateRow:
    row = RateRow(
        admdvs=r.admdvs(), insutype=r.text("insutype"), begin=r.month("begin"), end=r.month("end", ""),
        employer=r.decimal("employer"), employee=r.decimal("employee"),
        employee_to_account=r.decimal("employee_to_account", "1"),
        employer_to_account=r.decimal("employer_to_account", "0"), retiree_credit=r.yuan("retiree_credit", "0"),
        source=r.text("source", ""),
    )  # fmt: skip
    r.done()
    if row.end and row.end < row.begin:
        raise DomainError(f"{r.where}.end", f"结束月 {row.end} 早于开始月 {row.begin}")
    if row.employee_to_account > 1:
        raise DomainError(f"{r.where}.employee_to_account", "划入比例不能超过 1")
    return row


def _reduction(r: Row) -> Reduction:
    kind = r.text("kind")
    if kind not in (FACTOR, POINTS):
        raise DomainError(f"{r.where}.kind", f"须为 {FACTOR}（倍数）或 {POINTS}（百分点）：{kind!r}")
    side = r.text("side", EMPLOYER_SIDE)
    if side not in (EMPLOYER_SIDE, EMPLOYEE_SIDE):
        raise DomainError(f"{r.where}.side", f"须为 {EMPLOYER_SIDE} 或 {EMPLOYEE_SIDE}：{side!r}")
    above = r.get("reserve_above", "")
    red = Reduction(
        id=r.text("id"), name=r.text("name"), admdvs=r.admdvs(), insutype=r.text("insutype"),
        begin=r.month("begin"), end=r.month("end", ""), kind=kind, value=r.decimal("value"), side=side,
        reserve_above=r.decimal("reserve_above") if above != "" else None, source=r.text("source", ""),
    )  # fmt: skip
    r.done()
    if kind == FACTOR and red.value > 1:
        raise DomainError(f"{r.where}.value", "倍数须在 0 与 1 之间")
    return red


def _resident(r: Row) -> ResidentRate:
    rate = ResidentRate(
        admdvs=r.admdvs(), year=r.integer("year"), individual=r.yuan("individual"), subsidy=r.yuan("subsidy"),
        enrol_begin=r.day("enrol_begin"), enrol_end=r.day("enrol_end"), source=r.text("source", ""),
    )  # fmt: skip
    r.done()
    if rate.enrol_end < rate.enrol_begin:
        raise DomainError(f"{r.where}.enrol_end", "缴费期结束早于开始")
    return rate


def _population(r: Row) -> Population:
    p = Population(r.admdvs(), r.integer("year"), r.integer("persons"), r.text("source", ""))
    r.done()
    return p
