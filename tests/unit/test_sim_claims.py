"""The synthetic claims generator: seeded, in the documented layout, honest when nothing is planted."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from yibao.analytics.layout import DIAGNOSES, ITEMS, LINES, VISITS
from yibao.domain.supervision.encounter import Encounter, Line
from yibao.domain.supervision.engine import review
from yibao.files.rules import load_rule_library
from yibao.sim.claims import ClaimsConfig, Knowledge, build_world, generate

LIBRARY = load_rule_library()
CONFIG = ClaimsConfig(visits=4_000, seed=7, months=2, knowledge=Knowledge.of(LIBRARY))


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("honest")
    generate(out, CONFIG)
    return out


def _table(root: Path, name: str) -> pa.Table:
    return ds.dataset(root / name, format="parquet", partitioning="hive").to_table()


def test_the_same_seed_writes_the_same_files(honest: Path, tmp_path: Path) -> None:
    generate(tmp_path / "again", CONFIG)
    generate(tmp_path / "other", ClaimsConfig(visits=4_000, seed=8, months=2, knowledge=CONFIG.knowledge))
    for name in ("visits", "lines", "diagnoses"):
        assert _table(tmp_path / "again", name).equals(_table(honest, name)), name
    assert not _table(tmp_path / "other", "lines").equals(_table(honest, "lines"))


def test_the_layout_is_the_documented_one(honest: Path) -> None:
    for name, schema in (("visits", VISITS), ("lines", LINES), ("diagnoses", DIAGNOSES)):
        files = sorted((honest / name).rglob("*.parquet"))
        assert [f.parent.relative_to(honest / name).as_posix() for f in files] == [
            "admdvs=440100/month=2026-01", "admdvs=440100/month=2026-02"
        ]  # fmt: skip
        assert pq.read_schema(files[0]).remove_metadata() == schema
    assert pq.read_schema(honest / "items.parquet").remove_metadata() == ITEMS
    visits = _table(honest, "visits")
    assert 3_900 <= visits.num_rows <= 4_000
    assert set(visits.column("kind").to_pylist()) == {"outpatient", "inpatient", "pharmacy"}
    assert len(set(visits.column("mdtrt_id").to_pylist())) == visits.num_rows


def test_lines_are_priced_within_caps_and_add_up(honest: Path) -> None:
    world = build_world(CONFIG)
    lines = _table(honest, "lines").to_pylist()
    assert len(lines) > 4 * 4_000
    for ln in lines:
        item = world.catalog.get(ln["med_list_codg"])
        assert item is not None
        assert item.pric_uplmt_amt is None or Decimal(str(ln["pric"])) <= item.pric_uplmt_amt
        assert ln["amount"] == round(ln["pric"] * ln["cnt"] * 100)
    visits = _table(honest, "visits").to_pylist()
    total: dict[str, int] = defaultdict(int)
    for ln in lines:
        total[ln["mdtrt_id"]] += ln["amount"]
    assert all(v["medfee_sumamt"] == total[v["mdtrt_id"]] for v in visits)
    assert all(v["fund_pay_sumamt"] + v["psn_cash_pay"] == v["medfee_sumamt"] for v in visits)
    stays = [v for v in visits if v["kind"] == "inpatient"]
    assert stays and all(v["end_date"] > v["begn_date"] for v in stays)


def encounters(root: Path) -> list[Encounter]:
    """The claims as the rule engine's visits."""
    lines: dict[str, list[Line]] = defaultdict(list)
    for ln in _table(root, "lines").to_pylist():
        cnt, pric = Decimal(str(ln["cnt"])), Decimal(str(ln["pric"]))
        line = Line(ln["feedetl_sn"], ln["med_list_codg"], ln["fee_date"], cnt, pric, ln["amount"], ln["days"])
        lines[ln["mdtrt_id"]].append(line)
    others: dict[str, list[str]] = defaultdict(list)
    for d in _table(root, "diagnoses").to_pylist():
        if not d["maindiag"]:
            others[d["mdtrt_id"]].append(d["diag_code"])
    out = []
    for v in _table(root, "visits").to_pylist():
        m = v["mdtrt_id"]
        out.append(Encounter(m, v["psn_no"], v["gend"], v["age"], v["insutype"], v["fixmedins_code"], v["hosp_lv"],
                             v["med_type"], v["kind"], v["begn_date"], v["end_date"], v["main_dx"],
                             tuple(others[m]), tuple(sorted(lines[m], key=lambda x: x.feedetl_sn)),
                             v["cross_region"], str(v["admdvs"]), v["atddr_no"], v["medfee_sumamt"]))  # fmt: skip
    return out


def test_honest_claims_give_the_python_engine_next_to_no_definite_findings(honest: Path) -> None:
    """Every item is drawn within its restrictions, so a definite finding would be a generator or rule bug.

    Bound: fewer than 0.5 % of visits with a definite finding (none is expected); suspicious ones (an early
    refill of a chronic drug, a second visit on a day) stay under 2 %.
    """
    catalog = build_world(CONFIG).catalog
    visits = encounters(honest)
    by_person: dict[str, list[Encounter]] = defaultdict(list)
    for e in visits:
        by_person[e.psn_no].append(e)
    definite: set[str] = set()
    suspicious: set[str] = set()
    for e in visits:
        for f in review(e, LIBRARY, catalog, stage="after", history=by_person[e.psn_no]):
            (definite if f.result == "definite" else suspicious).add(f.mdtrt_id)
    assert len(definite) < 0.005 * len(visits), sorted(definite)[:5]
    assert len(suspicious) < 0.02 * len(visits)
    assert date(2026, 1, 1) <= min(e.begn_date for e in visits if e.kind != "inpatient")
