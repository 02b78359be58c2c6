"""The logics of docs/supervision.md as SQL, in the subset DuckDB and Spark SQL share.

``staging(dialect)`` lists the statements that build the tables once — ``pe_visits`` (visits with day
numbers), ``pe_codes`` and ``pe_lines`` (each line, by visit and code number, with the few visit facts every
rule reads), with the view ``pe_wide`` adding the line's catalogue facts — and
``findings_query(rules, dialect)`` is one UNION ALL of a SELECT per rule over them, each a scan of a
staged table (and a window or semi-join for the logics that compare lines or visits). Every SELECT
returns ``COLUMNS``. What differs between the engines is the ``Dialect``: day numbers, how a staged
table is made, how a string literal is written.

A runner may also go a few months at a time: ``staging(dialect, months)`` stages only those months'
visits (from ``pe_all_visits``), lines and diagnoses, which is all the logics outside ``CROSS_VISIT``
read; those then run over every visit with the lines ``cross_lines`` keeps.

Quantities compare in ten-thousandths (cnt has four decimals), prices in millionths of a yuan, so no
floating sum decides a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from yibao.domain.supervision.rules import Rule

COLUMNS = (
    "rule_id", "result", "mdtrt_id", "feedetl_sn", "med_list_codg", "amount", "fixmedins_code", "psn_no", "setl_id",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    day: str
    """Days since 1970-01-01 of the DATE ``{}``, an integer."""
    row_id: str
    """A distinct integer for each row of a query."""
    hash: str
    """An integer hash of the values ``{}`` (equal values, equal hashes; the engines' hashes differ): a cheap
    key to narrow a join or a grouping on text, whose text is then compared on the few rows left."""
    view: str
    """Make a view ``{name}`` of ``{query}``."""
    stage: str
    """Make a table ``{name}`` from ``{query}`` that later queries read many times (Spark caches the view)."""
    quote: Callable[[str], str]


def _quote_doubling(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote_backslash(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


DIALECTS = {
    "duckdb": Dialect(
        name="duckdb",
        day="date_diff('day', DATE '1970-01-01', {})",
        row_id="row_number() OVER ()",
        hash="hash({})",
        view="CREATE OR REPLACE TEMP VIEW {name} AS {query}",
        stage="CREATE OR REPLACE TEMP TABLE {name} AS {query}",
        quote=_quote_doubling,
    ),
    "spark": Dialect(
        name="spark",
        day="datediff({}, DATE '1970-01-01')",
        row_id="monotonically_increasing_id()",
        hash="xxhash64({})",
        view="CREATE OR REPLACE TEMPORARY VIEW {name} AS {query}",
        stage="CREATE OR REPLACE TEMPORARY VIEW {name} AS {query}",
        quote=_quote_backslash,
    ),
}


STAGED = ("pe_visits", "pe_codes", "pe_lists", "pe_lines", "pe_dx")
MONTHLY = ("pe_visits", "pe_lines", "pe_dx")
"""What ``staging`` makes with ``months``: pe_codes and pe_lists are the same for every month."""


def staging(d: Dialect, months: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(name, statement) of each staged table, in order. With ``months``, only those of the month partitions
    (a visit's lines and diagnoses share its partition): ``pe_visits`` taken from ``pe_all_visits`` (see
    ``all_visits``, so that a visit keeps its number from one month to the next), ``pe_lines``, ``pe_dx``."""
    # Joining a month's lines to that month's visits only keeps the hash table of mdtrt_id text small.
    among = f"month IN ({', '.join(d.quote(m) for m in months)})" if months else "FALSE"

    def of_months(table: str) -> str:
        return table if months is None else f"(SELECT * FROM {table} WHERE {among})"

    # Visits and codes get numbers (vid, cid) so that the tens of millions of staged lines carry integers,
    # not text; a finding takes the text back from pe_visits and pe_codes. cid follows the codes' order.
    visits = _visits(d, "")
    codes = """
SELECT ROW_NUMBER() OVER (ORDER BY c.med_list_codg) AS cid, c.med_list_codg,
       i.med_list_codg IS NOT NULL AS known, i.list_type, i.sex, i.age_min, i.age_max, i.min_hosp_lv, i.max_days,
       CAST(ROUND(i.price_cap * 1000000) AS BIGINT) AS cap_m,
       CAST(ROUND(i.max_cnt_per_visit * 10000) AS BIGINT) AS max_visit_q,
       CAST(ROUND(i.max_cnt_per_day * 10000) AS BIGINT) AS max_day_q,
       COALESCE(f.has_dx, 0) = 1 AS has_dx, COALESCE(f.has_med_type, 0) = 1 AS has_med_type,
       COALESCE(f.has_insutype, 0) = 1 AS has_insutype
FROM (SELECT DISTINCT med_list_codg FROM lines) c
LEFT JOIN items i ON i.med_list_codg = c.med_list_codg
LEFT JOIN (SELECT med_list_codg,
                  MAX(CASE WHEN kind = 'dx_prefix' THEN 1 ELSE 0 END) AS has_dx,
                  MAX(CASE WHEN kind = 'med_type' THEN 1 ELSE 0 END) AS has_med_type,
                  MAX(CASE WHEN kind = 'insutype' THEN 1 ELSE 0 END) AS has_insutype
           FROM item_lists GROUP BY med_list_codg) f ON f.med_list_codg = c.med_list_codg"""
    lists = "SELECT c.cid, il.kind, il.value FROM item_lists il JOIN pe_codes c ON c.med_list_codg = il.med_list_codg"
    lines = f"""
SELECT v.vid, c.cid, l.feedetl_sn, {d.day.format("l.fee_date")} AS fee_day,
       CAST(ROUND(l.cnt * 10000) AS BIGINT) AS cnt_q, CAST(ROUND(l.pric * 1000000) AS BIGINT) AS pric_m,
       l.cnt, l.pric, l.amount, COALESCE(l.days, 0) AS days, v.kind, v.cross_region, v.begn_day, v.end_day, v.ph
FROM {of_months("lines")} l
JOIN {of_months("pe_visits")} v ON v.mdtrt_id = l.mdtrt_id
JOIN pe_codes c ON c.med_list_codg = l.med_list_codg"""
    # Every diagnosis of a visit, the main one on the visit included, for the indication logic.
    dx = f"""
SELECT v.vid, d.diag_code FROM {of_months("diagnoses")} d JOIN {of_months("pe_visits")} v ON v.mdtrt_id = d.mdtrt_id
UNION ALL SELECT vid, main_dx AS diag_code FROM {of_months("pe_visits")} v WHERE main_dx <> ''"""
    queries = {"pe_visits": visits, "pe_codes": codes, "pe_lists": lists, "pe_lines": lines, "pe_dx": dx}
    if months is not None:
        queries["pe_visits"] = f"SELECT * FROM pe_all_visits WHERE {among}"
    names = STAGED if months is None else MONTHLY
    return [(name, d.stage.format(name=name, query=queries[name])) for name in names]


def all_visits(d: Dialect) -> str:
    """The statement staging ``pe_all_visits``: every visit, as ``pe_visits`` has them without ``months``."""
    return d.stage.format(name="pe_all_visits", query=_visits(d, ", month"))


def _visits(d: Dialect, more: str) -> str:
    return f"""
SELECT {d.row_id} AS vid, setl_id, mdtrt_id, psn_no, gend, age, insutype, fixmedins_code, hosp_lv, atddr_no,
       med_type, kind, cross_region, {d.day.format("begn_date")} AS begn_day, {d.day.format("end_date")} AS end_day,
       COALESCE(main_dx, '') AS main_dx, substr(COALESCE(main_dx, ''), 1, 3) AS dx3, medfee_sumamt,
       {d.hash.format("psn_no")} AS ph{more}
FROM visits"""


def views(d: Dialect) -> list[tuple[str, str]]:
    """Views over the staged tables: ``pe_wide``, each line with its item's facts (not stored: the items
    are few, and a rule's filter on them is applied before the lines are joined)."""
    wide = """
SELECT l.*, c.known, c.list_type, c.sex, c.age_min, c.age_max, c.min_hosp_lv, c.max_days, c.cap_m, c.max_visit_q,
       c.max_day_q, c.has_dx, c.has_med_type, c.has_insutype
FROM pe_lines l JOIN pe_codes c ON c.cid = l.cid"""
    return [("pe_wide", d.view.format(name="pe_wide", query=wide))]


# ---------------------------------------------------------------- pieces


class _Render:
    def __init__(self, rule: Rule, d: Dialect) -> None:
        self.rule, self.d = rule, d

    def lit(self, value: Any) -> str:
        if isinstance(value, bool):
            raise TypeError("a boolean parameter is not a literal")
        if isinstance(value, int):
            return str(value)
        return self.d.quote(str(value))

    def param(self, name: str, default: Any = None) -> Any:
        value = self.rule.params.get(name, default)
        if value is None:
            raise ValueError(f"rule[{self.rule.id}].params.{name}: required by logic {self.rule.logic}")
        return value

    def int_param(self, name: str, default: int | None = None) -> int:
        value = self.param(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"rule[{self.rule.id}].params.{name}: an integer is required")
        return value

    def codes(self, name: str) -> list[str]:
        value = self.param(name)
        values = [value] if isinstance(value, str) else list(value)
        if not values or not all(isinstance(v, str) and v for v in values):
            raise ValueError(f"rule[{self.rule.id}].params.{name}: a code or a list of codes is required")
        return values

    def starts(self, column: str, prefixes: Sequence[str]) -> str:
        ors = " OR ".join(f"substr({column}, 1, {len(p)}) = {self.lit(p)}" for p in prefixes)
        return f"({ors})"

    def scene(self, alias: str = "w.") -> str:
        """The visit is in one of the rule's scenes: its kind, or cross_region when settled across regions."""
        kinds = [s for s in self.rule.scenes if s != "cross_region"]
        parts = [f"{alias}kind IN ({', '.join(self.lit(k) for k in kinds)})"] if kinds else []
        if "cross_region" in self.rule.scenes:
            parts.append(f"{alias}cross_region")
        return "(" + " OR ".join(parts) + ")"

    def items(self, alias: str = "w.") -> str:
        """Lines of catalogue items of the rule's list types."""
        if not self.rule.list_types:
            return f"{alias}known"
        return f"({alias}known AND {alias}list_type IN ({', '.join(self.lit(t) for t in self.rule.list_types)}))"

    def cids(self, prefixes: Sequence[str]) -> str:
        """The numbers of the codes starting with one of ``prefixes``."""
        return f"(SELECT cid FROM pe_codes WHERE {self.starts('med_list_codg', prefixes)})"

    def cid(self, code: str) -> str:
        return f"(SELECT cid FROM pe_codes WHERE med_list_codg = {self.lit(code)})"

    def ours(self) -> str:
        return f"{self.scene()} AND {self.items()}"

    def found(self, hits: str) -> str:
        """Line findings from ``hits`` (vid, cid, feedetl_sn, amount), with their visit's ids and code."""
        return (
            f"SELECT {self.lit(self.rule.id)} AS rule_id, {self.lit(self.rule.result)} AS result, v.mdtrt_id, "
            f"h.feedetl_sn, c.med_list_codg, h.amount, {_TAIL} FROM ({hits}) h JOIN pe_visits v ON v.vid = h.vid "
            "JOIN pe_codes c ON c.cid = h.cid"
        )

    def lines(self, where: str) -> str:
        return self.found(f"SELECT {_HIT} FROM pe_wide w WHERE {self.ours()} AND {where}")

    def lines_of_visit(self, where: str) -> str:
        """Like ``lines``, with the visit's facts as ``pv``."""
        return self.found(
            f"SELECT {_HIT} FROM pe_wide w JOIN pe_visits pv ON pv.vid = w.vid WHERE {self.ours()} AND {where}"
        )

    def grouped(self, keys: Sequence[str], having: str, where: str, *, inner: str = "TRUE", extra: str = "") -> str:
        """Lines of groups (over the rule's lines, by ``keys``) that meet ``having``; ``g.x`` is ``extra``."""
        cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        on = " AND ".join(f"g.k{i} = {k}" for i, k in enumerate(keys))
        groups = (
            f"SELECT {cols}{', ' + extra + ' AS x' if extra else ''} FROM pe_wide w "
            f"WHERE {self.ours()} AND {inner} GROUP BY {', '.join(keys)} HAVING {having}"
        )
        return self.found(f"SELECT {_HIT} FROM pe_wide w JOIN ({groups}) g ON {on} WHERE {self.ours()} AND {where}")

    def visits(self, where: str) -> str:
        return (
            f"SELECT {self.lit(self.rule.id)} AS rule_id, {self.lit(self.rule.result)} AS result, v.mdtrt_id, "
            f"'' AS feedetl_sn, '' AS med_list_codg, v.medfee_sumamt AS amount, {_TAIL} FROM pe_visits v "
            f"WHERE {self.scene('v.')} AND {where}"
        )


_HIT = "w.vid, w.cid, w.feedetl_sn, w.amount"
_TAIL = "v.fixmedins_code, v.psn_no, v.setl_id"


def _not_listed(kind: str, column: str) -> str:
    return (
        f"NOT EXISTS (SELECT 1 FROM pe_lists il WHERE il.cid = w.cid AND il.kind = '{kind}' AND il.value = pv.{column})"
    )


# ---------------------------------------------------------------- the logics


def _sex(r: _Render) -> str:
    return r.lines_of_visit("w.sex IS NOT NULL AND w.sex <> '' AND pv.gend IN ('1', '2') AND pv.gend <> w.sex")


def _age(r: _Render) -> str:
    which = "w.age_max <= 17" if r.rule.params.get("child_only") else "(w.age_min IS NOT NULL OR w.age_max > 17)"
    return r.lines_of_visit(f"{which} AND (pv.age < w.age_min OR pv.age > w.age_max)")


def _insutype(r: _Render) -> str:
    # With param ``insutype``: only the items reserved to it (e.g. 510 生育保险 for 限生育保险).
    only = r.rule.params.get("insutype")
    reserved = (
        f" AND w.cid IN (SELECT cid FROM pe_lists WHERE kind = 'insutype' AND value = {r.lit(only)})" if only else ""
    )
    return r.lines_of_visit(f"w.has_insutype{reserved} AND {_not_listed('insutype', 'insutype')}")


def _indication(r: _Render) -> str:
    # The (visit, item) pairs whose item's indications some diagnosis of the visit meets.
    met = (
        "SELECT DISTINCT c.vid, c.cid FROM (SELECT DISTINCT vid, cid FROM pe_wide WHERE has_dx) c "
        "JOIN pe_lists il ON il.cid = c.cid AND il.kind = 'dx_prefix' "
        "JOIN pe_dx x ON x.vid = c.vid WHERE substr(x.diag_code, 1, length(il.value)) = il.value"
    )
    return r.found(
        f"SELECT {_HIT} FROM pe_wide w LEFT JOIN ({met}) m ON m.vid = w.vid AND m.cid = w.cid "
        f"WHERE {r.ours()} AND w.has_dx AND m.vid IS NULL"
    )


def _hosp_level(r: _Render) -> str:
    return r.lines_of_visit("w.min_hosp_lv IS NOT NULL AND w.min_hosp_lv > pv.hosp_lv")


def _med_type(r: _Render) -> str:
    return r.lines_of_visit(f"w.has_med_type AND {_not_listed('med_type', 'med_type')}")


def _price_cap(r: _Render) -> str:
    return r.lines("w.cap_m IS NOT NULL AND w.pric_m > w.cap_m")


def _day_quantity(r: _Render) -> str:
    keys = ("w.vid", "w.cid", "w.fee_day", "w.max_day_q")
    return r.grouped(keys, "SUM(w.cnt_q) > w.max_day_q", "TRUE", inner="w.max_day_q IS NOT NULL")


def _visit_quantity(r: _Render) -> str:
    keys = ("w.vid", "w.cid", "w.max_visit_q")
    return r.grouped(keys, "SUM(w.cnt_q) > w.max_visit_q", "TRUE", inner="w.max_visit_q IS NOT NULL")


def _days_supply(r: _Render) -> str:
    if r.rule.params.get("max_days") is not None:
        return r.lines(f"w.days > {r.int_param('max_days')}")
    return r.lines("w.max_days IS NOT NULL AND w.days > w.max_days")


def _exclusive_pair(r: _Render) -> str:
    pairs = r.param("pairs")
    if not pairs or not all(len(p) == 2 and all(isinstance(c, str) and c for c in p) for p in pairs):
        raise ValueError(f"rule[{r.rule.id}].params.pairs: a list of [code, code] pairs is required")
    named = " UNION ALL ".join(f"SELECT {r.lit(a)} AS a, {r.lit(b)} AS b" for a, b in pairs)
    table = (
        f"SELECT ca.cid AS a, cb.cid AS b FROM ({named}) p JOIN pe_codes ca ON ca.med_list_codg = p.a "
        "JOIN pe_codes cb ON cb.med_list_codg = p.b"
    )
    return r.found(
        f"SELECT DISTINCT {_HIT} FROM pe_wide w JOIN ({table}) p ON w.cid = p.b "
        f"WHERE {r.ours()} AND EXISTS (SELECT 1 FROM pe_wide o "
        f"WHERE o.vid = w.vid AND o.fee_day = w.fee_day AND o.cid = p.a AND {r.items('o.')})"
    )


def _requires_item(r: _Render) -> str:
    item = r.param("item")
    if not isinstance(item, str) or not item:
        raise ValueError(f"rule[{r.rule.id}].params.item: a code prefix is required")
    return r.lines(
        f"w.cid IN {r.cids([item])} AND NOT EXISTS (SELECT 1 FROM pe_lines o "
        f"WHERE o.vid = w.vid AND o.cid IN {r.cids(r.codes('requires'))})"
    )


def _never_paid(r: _Render) -> str:
    return r.lines(f"w.cid IN {r.cids(r.codes('codes'))}")


def _duplicate_group(r: _Render) -> str:
    # Codes of a group share a number (gid); cid follows the codes' order, so MIN(cid) is the smallest code.
    n = r.int_param("group_len")
    groups = f"SELECT cid, DENSE_RANK() OVER (ORDER BY substr(med_list_codg, 2, {n})) AS gid FROM pe_codes"
    keys = ("w.vid", "w.fee_day", "k.gid")
    on = " AND ".join(f"g.k{i} = {k}" for i, k in enumerate(keys))
    cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
    tagged = f"pe_wide w JOIN ({groups}) k ON k.cid = w.cid"
    found = (
        f"SELECT {cols}, MIN(w.cid) AS x FROM {tagged} WHERE {r.ours()} GROUP BY {', '.join(keys)} "
        "HAVING MIN(w.cid) < MAX(w.cid)"
    )
    return r.found(f"SELECT {_HIT} FROM {tagged} JOIN ({found}) g ON {on} WHERE {r.ours()} AND w.cid > g.x")


def _duplicate_line(r: _Render) -> str:
    keys = ("w.vid", "w.cid", "w.fee_day", "w.pric_m", "w.cnt_q")
    return r.grouped(keys, "COUNT(*) >= 2", "w.feedetl_sn > g.x", extra="MIN(w.feedetl_sn)")


def _fee_outside_visit(r: _Render) -> str:
    return r.lines("(w.fee_day < w.begn_day OR (w.end_day IS NOT NULL AND w.fee_day > w.end_day))")


def _amount_mismatch(r: _Render) -> str:
    # Exact decimals: pric has six decimals and cnt four; ROUND is half away from zero on both engines.
    exact = "CAST(w.pric AS DECIMAL(16, 6)) * CAST(w.cnt AS DECIMAL(16, 4)) * CAST(100 AS DECIMAL(3, 0))"
    # Rounded, a difference of 2 fen or more needs 1.5 unrounded: floats pass over the rest first.
    return r.lines(
        f"ABS(w.pric * w.cnt * 100 - w.amount) > 1.4 AND ABS(CAST(ROUND({exact}, 0) AS BIGINT) - w.amount) > 1"
    )


def _unknown_item(r: _Render) -> str:
    return r.found(f"SELECT {_HIT} FROM pe_wide w WHERE {r.scene()} AND NOT w.known")


def _missing_diagnosis(r: _Render) -> str:
    return r.visits("v.main_dx = '' AND NOT EXISTS (SELECT 1 FROM pe_dx d WHERE d.vid = v.vid)")


def _readmission(r: _Render) -> str:
    days = r.int_param("days")
    same = " AND p.fixmedins_code = s.fixmedins_code" if r.rule.params.get("same_institution") else ""
    return r.visits(
        "v.kind = 'inpatient' AND v.vid IN (SELECT s.vid FROM pe_visits s JOIN pe_visits p "
        "ON p.psn_no = s.psn_no AND p.dx3 = s.dx3 "
        "WHERE s.kind = 'inpatient' AND p.kind = 'inpatient' AND s.dx3 <> '' "
        "AND (p.begn_day < s.begn_day OR (p.begn_day = s.begn_day AND p.mdtrt_id < s.mdtrt_id)) "
        f"AND p.end_day IS NOT NULL AND s.begn_day - p.end_day BETWEEN 0 AND {days}{same})"
    )


def _outpatient_during_stay(r: _Render) -> str:
    return r.visits(
        "v.kind = 'outpatient' AND v.vid IN (SELECT o.vid FROM pe_visits o JOIN pe_visits s "
        "ON s.psn_no = o.psn_no WHERE o.kind = 'outpatient' AND s.kind = 'inpatient' "
        "AND o.begn_day > s.begn_day AND (s.end_day IS NULL OR o.begn_day < s.end_day))"
    )


def _bed_days_without_treatment(r: _Render) -> str:
    bed = r.starts("med_list_codg", r.codes("bed_codes"))
    care = r.starts("med_list_codg", r.codes("nursing_codes")) if r.rule.params.get("nursing_codes") else "FALSE"
    kinds = f"SELECT cid, {bed} AS bed, {bed} OR {care} AS care FROM pe_codes"
    days = (
        "SELECT l.vid, l.fee_day, MAX(CASE WHEN k.bed THEN 1 ELSE 0 END) AS bed, "
        "MAX(CASE WHEN k.care THEN 0 ELSE 1 END) AS other "
        f"FROM pe_lines l JOIN ({kinds}) k ON k.cid = l.cid WHERE l.kind = 'inpatient' GROUP BY l.vid, l.fee_day"
    )
    return r.visits(
        f"v.kind = 'inpatient' AND v.vid IN (SELECT vid FROM ({days}) b WHERE bed = 1 AND other = 0 "
        f"GROUP BY vid HAVING COUNT(*) >= {r.int_param('min_days')})"
    )


def _same_day_repeat(r: _Render) -> str:
    firsts = (
        "SELECT psn_no, fixmedins_code, begn_day, MIN(mdtrt_id) AS first FROM pe_visits WHERE kind = 'outpatient' "
        "GROUP BY psn_no, fixmedins_code, begn_day HAVING COUNT(*) >= 2"
    )
    return r.visits(
        f"v.kind = 'outpatient' AND EXISTS (SELECT 1 FROM ({firsts}) f WHERE f.psn_no = v.psn_no "
        "AND f.fixmedins_code = v.fixmedins_code AND f.begn_day = v.begn_day AND v.mdtrt_id > f.first)"
    )


def _practitioner_load(r: _Render) -> str:
    crowded = (
        "SELECT atddr_no, begn_day FROM pe_visits WHERE kind = 'outpatient' AND atddr_no <> '' "
        f"GROUP BY atddr_no, begn_day HAVING COUNT(*) > {r.int_param('max_visits')}"
    )
    return r.visits(
        f"v.kind = 'outpatient' AND EXISTS (SELECT 1 FROM ({crowded}) c WHERE c.atddr_no = v.atddr_no "
        "AND c.begn_day = v.begn_day)"
    )


def _early_refill(r: _Render) -> str:
    # Supplies of the person's outpatient visits: one row per visit, day and item, with the person.
    supplies = (
        "SELECT p.psn_no, s.cid, s.vid, s.fee_day, MAX(s.days) AS days FROM pe_lines s "
        "JOIN pe_visits p ON p.vid = s.vid WHERE s.kind = 'outpatient' AND s.days > 0 "
        "GROUP BY p.psn_no, s.cid, s.vid, s.fee_day"
    )
    grace = r.int_param("grace", 0)
    later = (
        f"SELECT {_HIT}, w.fee_day, p.psn_no FROM pe_wide w JOIN pe_visits p ON p.vid = w.vid "
        f"WHERE {r.ours()} AND w.kind = 'outpatient'"
    )
    return r.found(
        f"SELECT DISTINCT w.vid, w.cid, w.feedetl_sn, w.amount FROM ({later}) w JOIN ({supplies}) e "
        "ON e.psn_no = w.psn_no AND e.cid = w.cid "
        f"WHERE e.vid <> w.vid AND e.fee_day < w.fee_day AND w.fee_day < e.fee_day + e.days - {grace}"
    )


_LOGICS: dict[str, Callable[[_Render], str]] = {
    "sex": _sex,
    "age": _age,
    "insutype": _insutype,
    "indication": _indication,
    "hosp_level": _hosp_level,
    "med_type": _med_type,
    "price_cap": _price_cap,
    "day_quantity": _day_quantity,
    "visit_quantity": _visit_quantity,
    "days_supply": _days_supply,
    "exclusive_pair": _exclusive_pair,
    "requires_item": _requires_item,
    "never_paid": _never_paid,
    "duplicate_group": _duplicate_group,
    "duplicate_line": _duplicate_line,
    "fee_outside_visit": _fee_outside_visit,
    "amount_mismatch": _amount_mismatch,
    "unknown_item": _unknown_item,
    "missing_diagnosis": _missing_diagnosis,
    "readmission": _readmission,
    "outpatient_during_stay": _outpatient_during_stay,
    "bed_days_without_treatment": _bed_days_without_treatment,
    "same_day_repeat": _same_day_repeat,
    "practitioner_load": _practitioner_load,
    "early_refill": _early_refill,
}


def rule_select(rule: Rule, d: Dialect) -> str:
    """One rule's SELECT of ``COLUMNS`` over the staged tables."""
    return _LOGICS[rule.logic](_Render(rule, d))


def findings_query(rules: Sequence[Rule], d: Dialect) -> str:
    """All the rules' findings in one UNION ALL (at least one rule)."""
    if not rules:
        raise ValueError("no rules to run")
    return "\nUNION ALL\n".join(rule_select(rule, d) for rule in rules)


CROSS_VISIT = frozenset(
    {"readmission", "outpatient_during_stay", "same_day_repeat", "practitioner_load", "early_refill"}
)
"""Logics that compare a visit with the person's, the institution's or the practitioner's other visits; the
others read only the visit itself and its own lines and diagnoses, so they can run a month at a time."""


def cross_lines(rules: Sequence[Rule], d: Dialect) -> str:
    """A filter on ``pe_lines``: the lines the cross-visit ``rules`` read (early_refill: supplies and the
    rule's items on outpatient visits)."""
    refills = [_Render(rule, d).items("") for rule in rules if rule.logic == "early_refill"]
    if not refills:
        return "FALSE"
    return f"kind = 'outpatient' AND (days > 0 OR cid IN (SELECT cid FROM pe_codes WHERE {' OR '.join(refills)}))"
