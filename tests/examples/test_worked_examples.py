"""Every published worked example (../shared/examples/worked_examples.json), reproduced to the fen.

Each example lives under examples/<id>/ as its own policy, claim and expected figures; the
published figures there are checked against the shared file too, so the copy cannot drift.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.money import fen_to_yuan
from yibao.domain.settlement import Settlement, calculate
from yibao.files import load_claim, load_policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("E*") if p.is_dir())
SHARED = ROOT.parent / "shared" / "examples" / "worked_examples.json"


def settle(example: Path) -> Settlement:
    return calculate(load_claim(example / "claim.json"), load_policy(example / "policy.toml"), EMPTY_CATALOG)


def expected(example: Path) -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads((example / "expected.json").read_text(), parse_float=Decimal)
    return data


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_published_figures_to_the_fen(example: Path) -> None:
    result = settle(example)
    for group in ("published", "derived"):
        figures = expected(example).get(group, {})
        for name, want in dict(figures.get("setlinfo", {})).items():  # type: ignore[call-overload]
            assert fen_to_yuan(getattr(result.setlinfo, name)) == Decimal(want), f"{group} {name}"
        for key, want_parts in dict(figures.get("segments", {})).items():  # type: ignore[call-overload]
            assert [fen_to_yuan(p) for p in result.segments[key]] == [Decimal(w) for w in want_parts]


def test_every_published_example_is_here() -> None:
    if not SHARED.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED} is missing: CI has shared/ beside the clone")
        pytest.skip("shared/ is not beside this checkout")
    published = json.loads(SHARED.read_text(), parse_float=Decimal)["examples"]
    assert {e["id"] for e in published} == {p.name for p in EXAMPLES}
    for source in published:
        here = expected(ROOT / "examples" / source["id"])["published"]
        outputs = dict(source["expected_outputs"])
        setlinfo = dict(here.get("setlinfo", {}))  # type: ignore[call-overload]
        # the published names map onto setlinfo, except the account balance after (balc)
        # and the per-segment amounts of a 大病 layer
        if "acct_balance_after" in outputs:
            outputs["balc"] = outputs.pop("acct_balance_after")
        segments = outputs.pop("segments", None)
        assert {k: Decimal(v) for k, v in outputs.items()} == {k: Decimal(v) for k, v in setlinfo.items()}
        if segments is not None:
            (mine,) = dict(here["segments"]).values()  # type: ignore[call-overload]
            assert [Decimal(s) for s in segments] == [Decimal(s) for s in mine]
