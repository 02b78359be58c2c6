"""The logics of docs/supervision.md as SQL, in the subset DuckDB and Spark SQL share.

``staging(dialect)`` lists the statements that build the tables once — ``pe_visits`` (visits with day
numbers), ``pe_codes`` and ``pe_lines`` (each line, by visit and code number, with the few visit facts every
rule reads: its scenes as bits, the person's hash), with the view ``pe_wide`` adding the line's catalogue
facts — and ``hits_query(rules, dialect)`` is one UNION ALL of a SELECT per rule over them, each a scan of a
staged table (and a window or join for the logics that compare lines or visits), returning ``HITS``:
findings by visit and code number. ``resolve`` turns those into ``COLUMNS`` (``findings_query`` does both).
What differs between the engines is the ``Dialect``: day numbers, a hash, how a staged or numbered table is
made, how a string literal is written.

A runner may also go a few months at a time: ``staging(dialect, months)`` stages only those months'
visits (from ``pe_all_visits``), lines and diagnoses, which is all the logics outside ``CROSS_VISIT``
read; those then run over every visit with the lines ``cross_lines`` keeps, and the hits of all are
resolved at the end.

Quantities compare in ten-thousandths (cnt has four decimals), prices in millionths of a yuan, so no
floating sum decides a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from yibao.domain.frozen import frozen
from yibao.domain.supervision.rules import Rule

COLUMNS = (
    "rule_id", "result", "mdtrt_id", "feedetl_sn", "med_list_codg", "amount", "fixmedins_code", "psn_no", "setl_id",
)  # fmt: skip
HITS = ("rule_id", "result", "vid", "cid", "feedetl_sn", "amount")
"""A rule's findings by number: cid is NULL and feedetl_sn '' for a visit finding. ``resolve`` makes ``COLUMNS``."""


@frozen
class Dialect:
    name: str
    day: str
    """Days since 1970-01-01 of the DATE ``{}``, an integer."""
    numbered: str
    """Make a table ``{name}`` of ``{query}``'s rows with ``vid`` before its columns, a distinct integer for each."""
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
        # A table's rowid numbers its rows as stored: row_number() OVER () numbers ten million on one thread.
        numbered="CREATE OR REPLACE TEMP TABLE {name}_rows AS {query}; "
        "CREATE OR REPLACE TEMP VIEW {name} AS SELECT rowid AS vid, * FROM {name}_rows",
        hash="hash({})",
        view="CREATE OR REPLACE TEMP VIEW {name} AS {query}",
        stage="CREATE OR REPLACE TEMP TABLE {name} AS {query}",
        quote=_quote_doubling,
    ),
    "spark": Dialect(
        name="spark",
        day="datediff({}, DATE '1970-01-01')",
        numbered="CREATE OR REPLACE TEMPORARY VIEW {name} AS "
        "SELECT monotonically_increasing_id() AS vid, * FROM ({query})",
        hash="xxhash64({})",
        view="CREATE OR REPLACE TEMPORARY VIEW {name} AS {query}",
        stage="CREATE OR REPLACE TEMPORARY VIEW {name} AS {query}",
        quote=_quote_backslash,
    ),
}


STAGED = ("pe_visits", "pe_codes", "pe_lists", "pe_lines", "pe_dx")
MONTHLY = ("pe_visits", "pe_lines", "pe_dx")
"""What ``staging`` makes with ``months``: pe_codes and pe_lists are the same for every month."""

_SCENE_BITS = {"outpatient": 1, "inpatient": 2, "pharmacy": 4, "internet": 8, "cross_region": 16}
"""A visit's scenes as the bits of its ``scene``: its kind's, and cross_region's when settled across regions. The
lines carry this integer, not the kind's text: a rule tests it with a bitwise AND, several times cheaper than
comparing texts over tens of millions of lines."""
_SCENE = (
    "CASE kind "
    + " ".join(f"WHEN '{k}' THEN {bit}" for k, bit in _SCENE_BITS.items() if k != "cross_region")
    + f" ELSE 0 END + CASE WHEN cross_region THEN {_SCENE_BITS['cross_region']} ELSE 0 END"
)


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
    visits = d.numbered.format(name="pe_visits", query=_visits(d, ""))
    if months is not None:  # a view: copying the months' visits cost as much as the rules that read them
        visits = d.view.format(name="pe_visits", query=f"SELECT * FROM pe_all_visits WHERE {among}")
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
       l.cnt, l.pric, l.amount, COALESCE(l.days, 0) AS days, v.scene, v.begn_day, v.end_day, v.ph
FROM {of_months("lines")} l
JOIN pe_visits v ON v.mdtrt_id = l.mdtrt_id
JOIN pe_codes c ON c.med_list_codg = l.med_list_codg"""
    # Every diagnosis of a visit, the main one on the visit included, for the indication logic.
    dx = f"""
SELECT v.vid, d.diag_code FROM {of_months("diagnoses")} d JOIN pe_visits v ON v.mdtrt_id = d.mdtrt_id
UNION ALL SELECT vid, main_dx AS diag_code FROM pe_visits v WHERE main_dx <> ''"""
    queries = {"pe_codes": codes, "pe_lists": lists, "pe_lines": lines, "pe_dx": dx}
    statements = {name: d.stage.format(name=name, query=query) for name, query in queries.items()}
    statements["pe_visits"] = visits
    return [(name, statements[name]) for name in (STAGED if months is None else MONTHLY)]


def all_visits(d: Dialect) -> str:
    """The statement staging ``pe_all_visits``: every visit, as ``pe_visits`` has them without ``months``."""
    return d.numbered.format(name="pe_all_visits", query=_visits(d, ", month"))


def _visits(d: Dialect, more: str) -> str:
    return f"""
SELECT setl_id, mdtrt_id, psn_no, gend, age, insutype, fixmedins_code, hosp_lv, atddr_no,
       med_type, kind, cross_region, {_SCENE} AS scene,
       {d.day.format("begn_date")} AS begn_day, {d.day.format("end_date")} AS end_day,
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
        return _in_scene(alias, *self.rule.scenes)

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
        """Line findings (``HITS``) from ``hits`` (vid, cid, feedetl_sn, amount)."""
        return (
            f"SELECT {self.lit(self.rule.id)} AS rule_id, {self.lit(self.rule.result)} AS result, h.vid, h.cid, "
            f"h.feedetl_sn, h.amount FROM ({hits}) h"
        )

    def lines(self, where: str) -> str:
        return self.found(f"SELECT {_HIT} FROM pe_wide w WHERE {self.ours()} AND {where}")

    def lines_of_visit(self, where: str) -> str:
        """Like ``lines``, with the visit's facts as ``pv``."""
        return self.found(
            f"SELECT {_HIT} FROM pe_wide w JOIN pe_visits pv ON pv.vid = w.vid WHERE {self.ours()} AND {where}"
        )

    def grouped(self, keys: Sequence[str], having: str, where: str, *, inner: str = "TRUE") -> str:
        """Lines of groups (over the rule's lines, by ``keys``) that meet ``having``."""
        cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        on = " AND ".join(f"g.k{i} = {k}" for i, k in enumerate(keys))
        groups = (
            f"SELECT {cols} FROM pe_wide w WHERE {self.ours()} AND {inner} GROUP BY {', '.join(keys)} HAVING {having}"
        )
        return self.found(f"SELECT {_HIT} FROM pe_wide w JOIN ({groups}) g ON {on} WHERE {self.ours()} AND {where}")

    def visits(self, where: str, *, among: str = "") -> str:
        """Visit findings: the visits meeting ``where``, of those (vid) ``among`` finds when given. The visits
        are joined to ``among``'s few, not searched for them: ``v.vid IN (…)`` had the planner hash millions
        of visits."""
        of = f"(SELECT DISTINCT vid FROM ({among}) a) s JOIN pe_visits v ON v.vid = s.vid" if among else "pe_visits v"
        return (
            f"SELECT {self.lit(self.rule.id)} AS rule_id, {self.lit(self.rule.result)} AS result, v.vid, "
            f"CAST(NULL AS BIGINT) AS cid, '' AS feedetl_sn, v.medfee_sumamt AS amount FROM {of} "
            f"WHERE {self.scene('v.')} AND {where}"
        )


def _in_scene(alias: str, *scenes: str) -> str:
    """The line or visit ``alias`` is in one of ``scenes``."""
    return f"({alias}scene & {sum(_SCENE_BITS[s] for s in set(scenes))}) <> 0"


_HIT = "w.vid, w.cid, w.feedetl_sn, w.amount"


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
        "SELECT DISTINCT c.vid, c.cid "
        f"FROM (SELECT DISTINCT w.vid, w.cid FROM pe_wide w WHERE {r.ours()} AND w.has_dx) c "
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
    # The days of the pairs' first items, from their lines only (a correlated EXISTS hashed every line).
    firsts = (
        f"SELECT DISTINCT o.vid, o.fee_day, o.cid FROM pe_wide o JOIN (SELECT DISTINCT a FROM ({table}) t) q "
        f"ON q.a = o.cid WHERE {r.items('o.')}"
    )
    return r.found(
        f"SELECT DISTINCT {_HIT} FROM pe_wide w JOIN ({table}) p ON w.cid = p.b JOIN ({firsts}) o "
        f"ON o.vid = w.vid AND o.fee_day = w.fee_day AND o.cid = p.a WHERE {r.ours()}"
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
    # Only the groups of two codes or more among the rule's can have a duplicate: the lines of the others are
    # left out before the grouping (more than half the drug lines of the synthetic city).
    n = r.int_param("group_len")
    group = f"substr(med_list_codg, 2, {n})"
    groups = (
        f"SELECT cid, gid FROM (SELECT cid, DENSE_RANK() OVER (ORDER BY {group}) AS gid, "
        f"COUNT(*) OVER (PARTITION BY {group}) AS codes FROM pe_codes WHERE {r.items('')}) g WHERE codes >= 2"
    )
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
    # The groups of two or more first, counted on integers; the smallest feedetl_sn (text) only among their lines.
    keys = ("w.vid", "w.cid", "w.fee_day", "w.pric_m", "w.cnt_q")
    cols = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
    on = " AND ".join(f"g.k{i} = {k}" for i, k in enumerate(keys))
    groups = f"SELECT {cols} FROM pe_wide w WHERE {r.ours()} GROUP BY {', '.join(keys)} HAVING COUNT(*) >= 2"
    twins = (
        f"SELECT {_HIT}, MIN(w.feedetl_sn) OVER (PARTITION BY {', '.join(keys)}) AS x "
        f"FROM pe_wide w JOIN ({groups}) g ON {on} WHERE {r.ours()}"
    )
    return r.found(f"SELECT t.vid, t.cid, t.feedetl_sn, t.amount FROM ({twins}) t WHERE t.feedetl_sn > t.x")


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
        "v.kind = 'inpatient'",
        among="SELECT s.vid FROM pe_visits s JOIN pe_visits p ON p.psn_no = s.psn_no AND p.dx3 = s.dx3 "
        "WHERE s.kind = 'inpatient' AND p.kind = 'inpatient' AND s.dx3 <> '' "
        "AND (p.begn_day < s.begn_day OR (p.begn_day = s.begn_day AND p.mdtrt_id < s.mdtrt_id)) "
        f"AND p.end_day IS NOT NULL AND s.begn_day - p.end_day BETWEEN 0 AND {days}{same}",
    )


def _outpatient_during_stay(r: _Render) -> str:
    # Joined on the person's hash, the names compared on the pairs (an equality in a CASE: see _early_refill).
    return r.visits(
        "v.kind = 'outpatient'",
        among="SELECT o.vid FROM pe_visits o JOIN pe_visits s ON s.ph = o.ph "
        "WHERE o.kind = 'outpatient' AND s.kind = 'inpatient' AND o.begn_day > s.begn_day "
        "AND (s.end_day IS NULL OR o.begn_day < s.end_day) AND CASE WHEN s.psn_no = o.psn_no THEN TRUE ELSE FALSE END",
    )


def _bed_days_without_treatment(r: _Render) -> str:
    bed = r.starts("med_list_codg", r.codes("bed_codes"))
    care = r.starts("med_list_codg", r.codes("nursing_codes")) if r.rule.params.get("nursing_codes") else "FALSE"
    kinds = f"SELECT cid, {bed} AS bed, {bed} OR {care} AS care FROM pe_codes"
    days = (
        "SELECT l.vid, l.fee_day, MAX(CASE WHEN k.bed THEN 1 ELSE 0 END) AS bed, "
        "MAX(CASE WHEN k.care THEN 0 ELSE 1 END) AS other "
        f"FROM pe_lines l JOIN ({kinds}) k ON k.cid = l.cid WHERE {_in_scene('l.', 'inpatient')} "
        "GROUP BY l.vid, l.fee_day"
    )
    return r.visits(
        "v.kind = 'inpatient'",
        among=f"SELECT vid FROM ({days}) b WHERE bed = 1 AND other = 0 GROUP BY vid "
        f"HAVING COUNT(*) >= {r.int_param('min_days')}",
    )


def _same_day_repeat(r: _Render) -> str:
    # Outpatient visits sharing a hash of (person, institution, day) with another: the few that may repeat;
    # among them, the texts decide.
    key = r.d.hash.format("ph, fixmedins_code, begn_day")
    shared = f"SELECT {key} AS h FROM pe_visits WHERE kind = 'outpatient' GROUP BY {key} HAVING COUNT(*) >= 2"
    maybe = (
        "SELECT s.vid, s.mdtrt_id, MIN(s.mdtrt_id) OVER (PARTITION BY s.psn_no, s.fixmedins_code, s.begn_day) AS first "
        f"FROM pe_visits s JOIN ({shared}) k ON k.h = {r.d.hash.format('s.ph, s.fixmedins_code, s.begn_day')} "
        "WHERE s.kind = 'outpatient'"
    )
    return r.visits("v.kind = 'outpatient'", among=f"SELECT m.vid FROM ({maybe}) m WHERE m.mdtrt_id > m.first")


def _practitioner_load(r: _Render) -> str:
    crowded = (
        "SELECT atddr_no, begn_day FROM pe_visits WHERE kind = 'outpatient' AND atddr_no <> '' "
        f"GROUP BY atddr_no, begn_day HAVING COUNT(*) > {r.int_param('max_visits')}"
    )
    return r.visits(
        "v.kind = 'outpatient'",
        among=f"SELECT p.vid FROM pe_visits p JOIN ({crowded}) c "
        "ON c.atddr_no = p.atddr_no AND c.begn_day = p.begn_day WHERE p.kind = 'outpatient'",
    )


def _early_refill(r: _Render) -> str:
    # Lines meet the supplies of the same item by the hash of the person (``ph``, on every line: no join to the
    # visits for tens of millions of lines); the persons' numbers then decide, on the few pairs found.
    grace = r.int_param("grace", 0)
    # d1 < d2 < d1 + days - grace: only days > grace + 1 can cover a later day.
    supplies = (
        f"SELECT ph, cid, vid, fee_day, days FROM pe_lines WHERE {_in_scene('', 'outpatient')} "
        f"AND days > {max(grace + 1, 0)}"
    )
    later = f"SELECT {_HIT}, w.fee_day, w.ph FROM pe_wide w WHERE {r.ours()} AND {_in_scene('w.', 'outpatient')}"
    pairs = (
        f"SELECT DISTINCT w.vid, w.cid, w.feedetl_sn, w.amount, e.vid AS other FROM ({later}) w JOIN ({supplies}) e "
        "ON e.ph = w.ph AND e.cid = w.cid "
        f"WHERE e.vid <> w.vid AND e.fee_day < w.fee_day AND w.fee_day < e.fee_day + e.days - {grace}"
    )
    # The equality inside a CASE: as a join key it would have the planner join every visit with the person's
    # others first.
    return r.found(
        f"SELECT DISTINCT p.vid, p.cid, p.feedetl_sn, p.amount FROM ({pairs}) p JOIN pe_visits a ON a.vid = p.vid "
        "JOIN pe_visits b ON b.vid = p.other WHERE CASE WHEN a.psn_no = b.psn_no THEN TRUE ELSE FALSE END"
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
    """One rule's SELECT of ``HITS`` over the staged tables."""
    return _LOGICS[rule.logic](_Render(rule, d))


def hits_query(rules: Sequence[Rule], d: Dialect) -> str:
    """All the rules' findings as ``HITS``, in one UNION ALL (at least one rule)."""
    if not rules:
        raise ValueError("no rules to run")
    return "\nUNION ALL\n".join(rule_select(rule, d) for rule in rules)


def resolve(hits: str) -> str:
    """The findings (``COLUMNS``) of ``hits`` (a table or a parenthesised query of ``HITS``): the visits' ids and
    the codes joined once for all the rules. A join per rule hashed a few months' visits each time the planner
    took a rule's findings for many."""
    return (
        "SELECT h.rule_id, h.result, v.mdtrt_id, h.feedetl_sn, COALESCE(c.med_list_codg, '') AS med_list_codg, "
        f"h.amount, v.fixmedins_code, v.psn_no, v.setl_id FROM {hits} h JOIN pe_visits v ON v.vid = h.vid "
        "LEFT JOIN pe_codes c ON c.cid = h.cid"
    )


def findings_query(rules: Sequence[Rule], d: Dialect) -> str:
    """All the rules' findings (``COLUMNS``) in one query (at least one rule)."""
    return resolve(f"({hits_query(rules, d)})")


CROSS_VISIT = frozenset(
    {"readmission", "outpatient_during_stay", "same_day_repeat", "practitioner_load", "early_refill"}
)
"""Logics that compare a visit with the person's, the institution's or the practitioner's other visits; the
others read only the visit itself and its own lines and diagnoses, so they can run a month at a time."""


def cross_lines(rules: Sequence[Rule], d: Dialect) -> str:
    """A query of ``pe_lines``: the lines the cross-visit ``rules`` read (early_refill: supplies and the
    rule's items on outpatient visits), with only the columns they read."""
    refills = [_Render(rule, d) for rule in rules if rule.logic == "early_refill"]
    # The supplies (see _early_refill: days > grace + 1) and the rules' items.
    days = min((max(r.int_param("grace", 0) + 1, 0) for r in refills), default=0)
    items = " OR ".join(r.items("") for r in refills)
    where = (
        f"{_in_scene('', 'outpatient')} AND (days > {days} OR cid IN (SELECT cid FROM pe_codes WHERE {items}))"
        if refills
        else "FALSE"
    )
    return f"SELECT vid, cid, feedetl_sn, amount, fee_day, days, ph, scene FROM pe_lines WHERE {where}"
