"""Reading transaction input nodes: tolerant, stripped, and without memory that grows per message."""

from __future__ import annotations

import gc
import tracemalloc
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.api.fsi.envelope import EnvelopeError, body_hash
from yibao.api.fsi.parsing import many, one
from yibao.app.commands import FeeLineIn, SettleIn


def fee_line(mdtrt_id: str, sn: int) -> dict[str, object]:
    return {"feedetl_sn": f" {sn} ", "med_list_codg": "XJ01CAA040A001010100039 ", "det_item_fee_sumamt": 12.5,
            "cnt": "1", "pric": "12.50", "fee_ocur_time": "2026-11-22 10:00:00", "mdtrt_id": mdtrt_id}  # fmt: skip


def test_strings_are_stripped_and_blanks_are_absent() -> None:
    line = many({"feedetail": [fee_line("  M1 ", 1)]}, "feedetail", FeeLineIn)[0]
    assert (line.feedetl_sn, line.med_list_codg, line.mdtrt_id) == ("1", "XJ01CAA040A001010100039", "M1")
    assert line.det_item_fee_sumamt == Decimal("12.5")
    with pytest.raises(EnvelopeError, match=r"input\.data\.psn_no: 不能为空"):
        one({"data": {"psn_no": "   ", "mdtrt_id": "M1", "medfee_sumamt": "1", "insutype": "310"}}, "data", SettleIn)


def test_validating_many_distinct_lines_keeps_no_memory() -> None:
    """Each message's strings (a new mdtrt_id every visit) must not stay behind: pydantic's own
    whitespace stripping kept each in a cache, about 78 bytes a message up to 1.3 MiB."""

    def visits(first: int, n: int) -> None:
        for i in range(first, first + n):
            many({"feedetail": [fee_line(f"440100M2026112210000000{i:06d}", sn) for sn in range(3)]},
                 "feedetail", FeeLineIn)  # fmt: skip

    visits(0, 500)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        visits(500, 3000)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # only what the parsing code allocated: a thread of an earlier test in this process (pytest-xdist
    # runs many tests in one) may allocate meanwhile, and once kept 25 KB
    mine = (tracemalloc.Filter(True, "*/yibao/api/fsi/*"), tracemalloc.Filter(True, "*/pydantic*"))
    grown = sum(d.size_diff for d in after.filter_traces(mine).compare_to(before.filter_traces(mine), "filename"))
    assert grown < 20_000, f"{grown} bytes kept after 3,000 messages"


SCALARS = (
    st.none() | st.booleans() | st.integers() | st.text()
    | st.decimals(allow_nan=False, allow_infinity=False, places=4)
    | st.sampled_from(["12.50", "0.10", "中文"])
)  # fmt: skip
KEYS = st.text(max_size=6)
DOCUMENTS = st.dictionaries(
    KEYS,
    st.recursive(
        SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8
    ),
    max_size=5,
)


def reordered(value: Any) -> Any:
    """The same value with every object's keys in the opposite order."""
    if isinstance(value, dict):
        return {k: reordered(v) for k, v in reversed(value.items())}
    return [reordered(v) for v in value] if isinstance(value, list) else value


@given(DOCUMENTS)
def test_the_body_hash_is_the_same_for_keys_in_any_order_and_differs_for_other_values(doc: dict[str, Any]) -> None:
    """Integers beyond 64 bits among them: those bodies are hashed as before 2026-11-23, the same each time."""
    assert body_hash("2207", reordered(doc)) == body_hash("2207", doc)
    assert body_hash("2207", {**doc, "": "another"}) != body_hash("2207", {**doc, "": "other"})
    assert body_hash("2208", doc) != body_hash("2207", doc)
