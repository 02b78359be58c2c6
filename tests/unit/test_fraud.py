"""Planted schemes are labelled and really in the claims; the evaluation's figures are the hand-computed ones."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from yibao.analytics.post_event import FindingRow
from yibao.cli import app
from yibao.files.rules import load_rule_library
from yibao.sim.claims import ClaimsConfig, Knowledge, build_world, generate
from yibao.sim.evaluate import evaluate, roc_auc, scheme_recall, score, top_k
from yibao.sim.fraud import SCHEMES, Injector, _dearer

LIBRARY = load_rule_library()
CONFIG = ClaimsConfig(visits=6_000, seed=3, months=2, knowledge=Knowledge.of(LIBRARY))
RATE = 0.2


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("planted")
    generate(out, CONFIG, Injector(rate=RATE, colluders=3, seed=3))
    return out


def _rows(root: Path, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = ds.dataset(root / name, format="parquet", partitioning="hive").to_table().to_pylist()
    return rows


@pytest.fixture(scope="module")
def claims(planted: Path) -> dict[str, Any]:
    visits = {v["mdtrt_id"]: v for v in _rows(planted, "visits")}
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ln in _rows(planted, "lines"):
        lines[ln["mdtrt_id"]].append(ln)
    by_person: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in visits.values():
        by_person[v["psn_no"]].append(v)
    truth = pq.read_table(planted / "truth" / "claims.parquet").to_pylist()
    return {"visits": visits, "lines": lines, "person": by_person, "truth": truth}


def _line(claims: dict[str, Any], t: dict[str, str]) -> dict[str, Any]:
    return next(ln for ln in claims["lines"][t["mdtrt_id"]] if ln["feedetl_sn"] == t["feedetl_sn"])


def test_every_scheme_is_planted_near_its_rate_and_labelled(planted: Path, claims: dict[str, Any]) -> None:
    truth = claims["truth"]
    assert {t["scheme"] for t in truth} == set(SCHEMES)
    share = len({t["mdtrt_id"] for t in truth}) / len(claims["visits"])
    assert 0.6 * RATE < share < 1.2 * RATE
    for t in truth:
        assert t["mdtrt_id"] in claims["visits"]
        if t["feedetl_sn"]:
            _line(claims, t)
    colluders = pq.read_table(planted / "truth" / "institutions.parquet").to_pylist()
    assert len(colluders) == 3 and all(3 <= len(c["schemes"]) <= 4 for c in colluders)


def test_visit_level_schemes_are_in_the_data(claims: dict[str, Any]) -> None:
    visits, lines, person, truth = claims["visits"], claims["lines"], claims["person"], claims["truth"]
    k = CONFIG.knowledge
    for t in truth:
        v = visits[t["mdtrt_id"]]
        stays = [s for s in person[v["psn_no"]] if s["kind"] == "inpatient" and s["mdtrt_id"] != v["mdtrt_id"]]
        if t["scheme"] == "split_admission":
            assert any(0 <= (v["begn_date"] - s["end_date"]).days <= 4 and s["main_dx"][:3] == v["main_dx"][:3]
                       and s["fixmedins_code"] == v["fixmedins_code"] for s in stays)  # fmt: skip
        elif t["scheme"] == "outpatient_during_stay":
            assert v["kind"] == "outpatient"
            assert any(s["begn_date"] < v["begn_date"] < s["end_date"] for s in stays)
        elif t["scheme"] == "phantom_bed_days":
            days: dict[Any, set[str]] = defaultdict(set)
            for ln in lines[v["mdtrt_id"]]:
                days[ln["fee_date"]].add(ln["med_list_codg"])
            idle = [d for d, codes in days.items() if all(c.startswith(k.bed_codes + k.nursing_codes) for c in codes)]
            assert len(idle) >= k.idle_min_days


def test_line_level_schemes_are_in_the_data(claims: dict[str, Any]) -> None:
    world = build_world(CONFIG)
    visits, lines, person, truth = claims["visits"], claims["lines"], claims["person"], claims["truth"]
    dearer = set(_dearer(world).tolist())
    seen = set()
    for t in (t for t in truth if t["feedetl_sn"]):
        ln, v = _line(claims, t), visits[t["mdtrt_id"]]
        i = world.item_index[ln["med_list_codg"]]
        item, cap = world.items[i], world.cap[i]
        scheme = t["scheme"]
        seen.add(scheme)
        if scheme == "duplicate_line":
            assert any(o["feedetl_sn"] < ln["feedetl_sn"] and all(o[c] == ln[c] for c in
                       ("med_list_codg", "fee_date", "pric", "cnt")) for o in lines[t["mdtrt_id"]])  # fmt: skip
        elif scheme == "exclusive_pair":
            day_codes = {o["med_list_codg"] for o in lines[t["mdtrt_id"]] if o["fee_date"] == ln["fee_date"]}
            assert any(b == ln["med_list_codg"] and a in day_codes for a, b in CONFIG.knowledge.pairs)
        elif scheme == "over_quantity":
            assert (ln["days"] > min(world.max_days[i], CONFIG.knowledge.max_days)
                    or ln["cnt"] > min(world.max_day[i], world.max_visit[i]))  # fmt: skip
        elif scheme == "price_above_cap":
            assert 0 <= cap < round(ln["pric"] * 100)
        elif scheme == "upcoded_service":
            assert i in dearer
        elif scheme == "early_refill":
            grace = CONFIG.knowledge.refill_grace
            earlier = [o for p in person[v["psn_no"]] if p["kind"] == "outpatient" and p["mdtrt_id"] != v["mdtrt_id"]
                       for o in lines[p["mdtrt_id"]] if o["med_list_codg"] == ln["med_list_codg"]]  # fmt: skip
            assert any(o["fee_date"] < ln["fee_date"] < o["fee_date"] + timedelta(days=o["days"] - grace)
                       for o in earlier)  # fmt: skip
        elif scheme == "swapped_item":
            age, sex = v["age"], v["gend"]
            outside = ((item.sex is not None and item.sex != sex) or (item.age_min is not None and age < item.age_min)
                       or (item.age_max is not None and age > item.age_max)
                       or (item.insutypes and v["insutype"] not in item.insutypes)
                       or (item.dx_prefixes and not v["main_dx"].startswith(item.dx_prefixes)))  # fmt: skip
            honest_price = world.price[world.inst_codes.index(v["fixmedins_code"]), i]
            assert outside or round(ln["pric"] * 100) != honest_price
    assert seen == {s for s in SCHEMES if s not in ("split_admission", "phantom_bed_days", "outpatient_during_stay")}


def test_nothing_is_planted_at_rate_zero(tmp_path: Path) -> None:
    generate(tmp_path, ClaimsConfig(visits=500, seed=1, months=1), Injector(rate=0.0))
    assert pq.read_table(tmp_path / "truth" / "claims.parquet").num_rows == 0


def test_scores_are_the_hand_computed_ones() -> None:
    s = score("x", {"a", "b", "c"}, {"b", "c", "d", "e"})
    assert (s.predicted, s.truth, s.hits, s.precision, s.recall) == (3, 4, 2, 2 / 3, 0.5)
    # positives 0.9 and 0.7 against negatives 0.8 and 0.1: three of the four pairs ordered right
    assert roc_auc([0.9, 0.8, 0.7, 0.1], [True, False, True, False]) == 0.75
    assert roc_auc([0.5, 0.5, 0.2], [True, False, False]) == 0.75  # a tie counts half
    assert np.isnan(roc_auc([0.1, 0.2], [False, False]))
    at = top_k("k", ["h1", "h2", "h3", "h4"], [0.2, 0.9, 0.9, 0.1], {"h2", "h4"}, 2)
    assert (at.precision, at.recall) == (0.5, 0.5)
    truth = [("m1", "", "split_admission"), ("m2", "0003", "price_above_cap"), ("m3", "0001", "price_above_cap")]
    findings = [
        FindingRow("R1", "suspicious", "m1", "", "", 0, "H1", "P1", "S1"),
        FindingRow("R2", "definite", "m2", "0003", "X", 10, "H1", "P2", "S2"),
        FindingRow("R3", "definite", "m3", "0002", "X", 10, "H1", "P3", "S3"),
    ]
    logic = {"R1": "readmission", "R2": "price_cap", "R3": "price_cap"}
    assert scheme_recall(truth, findings, logic) == [("split_admission", 1, 1.0, 1.0), ("price_above_cap", 2, 0.5, 1.0)]


def test_the_rules_catch_the_schemes_meant_for_them(planted: Path) -> None:
    result = evaluate(planted, LIBRARY)
    recall = {name: own for name, _, own, _ in result.schemes}
    for scheme in ("split_admission", "outpatient_during_stay", "phantom_bed_days", "exclusive_pair",
                   "price_above_cap", "early_refill", "over_quantity"):  # fmt: skip
        assert recall[scheme] == 1.0, scheme
    assert recall["upcoded_service"] < 0.2  # no rule looks at what a dearer sibling replaced
    definite = next(s for s in result.claims if s.name == "definite finding")
    assert definite.precision == 1.0


def test_the_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["sim", "claims", "--out", str(tmp_path / "c"), "--visits", "3000", "--months", "1",
                               "--fraud-rate", "0.1", "--colluders", "2"])  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "planted:" in made.output and "2 colluding institutions" in made.output
    told = runner.invoke(app, ["sim", "evaluate", "--data", str(tmp_path / "c")])
    assert told.exit_code == 0, told.output
    assert "price_above_cap" in told.output and "ROC-AUC" in told.output
    honest = runner.invoke(app, ["sim", "claims", "--out", str(tmp_path / "h"), "--visits", "500", "--months", "1",
                                 "--fraud-rate", "0"])  # fmt: skip
    assert honest.exit_code == 0 and not (tmp_path / "h" / "truth").exists()
    refused = runner.invoke(app, ["sim", "evaluate", "--data", str(tmp_path / "h")])
    assert refused.exit_code == 2 and "no truth" in refused.output
