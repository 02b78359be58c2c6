"""Policy, claim and catalogue files: exact decimals, and a clear error naming the key for a bad one."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from yibao.files import FileError, load_catalog, load_claim, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
[policy]
admdvs = "440100"
insutype = "310"
name = "t"
begndate = 2024-01-01
fund_pay_type = "310100"
[[policy.benefits]]
name = "住院"
med_types = ["21"]
pool = "inpatient"
ratios = [{ ratio = 0.9 }]
deductible = { period = "admission", rows = [{ amount = 404.2 }] }
"""


def error_of(text: str) -> str:
    with pytest.raises(FileError) as err:
        parse_policy(text, "p.toml")
    message = str(err.value)
    assert "\n" not in message
    return message


def test_amounts_are_exact_decimals() -> None:
    p = parse_policy(GOOD)
    assert p.benefits[0].deductible.rows[0].amount == Decimal("404.2")
    assert p.benefits[0].ratios[0].ratio == Decimal("0.9")


def test_shipped_policies_load() -> None:
    for path in [*ROOT.glob("examples/*/*.toml")]:
        if path.name not in ("catalog.toml", "reference.toml"):
            assert load_policy(path).sources, f"{path} names no source"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("pool = ", "pol = "), "benefits.0.pol"),  # misspelt key
        (('period = "admission"', 'period = "stay"'), "benefits.0.deductible.period"),
        (("ratio = 0.9", "ratio = 1.9"), "benefits.0.ratios.0"),
        (("amount = 404.2", "amount = -1"), "benefits.0.deductible.rows.0"),
        (('insutype = "310"', 'insutype = "999"'), "insutype"),
        (("begndate = 2024-01-01", 'begndate = "soon"'), "begndate"),
        (('fund_pay_type = "310100"\n', ""), "fund_pay_type"),
    ],
)
def test_a_bad_policy_names_the_key(change: tuple[str, str], where: str) -> None:
    message = error_of(GOOD.replace(*change))
    assert message.startswith(f"p.toml: {where}"), message


def test_overlapping_segments_are_refused() -> None:
    bad = GOOD.replace(
        "ratios = [{ ratio = 0.9 }]",
        "ratios = [{ bands = [{ lower = 0, upper = 100, ratio = 0.5 }, { lower = 50, ratio = 0.6 }] }]",
    )
    assert "bands" in error_of(bad)


def test_a_med_type_in_two_benefits_is_refused() -> None:
    twice = GOOD + GOOD[GOOD.index("[[policy.benefits]]") :]
    assert "med_type 21" in error_of(twice)


def test_not_toml_at_all() -> None:
    assert "not valid TOML" in error_of("[policy\n")


def test_claim_file_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text('{"person": {"psn_no": "1", "insutype": "310", "psn_type": "1101"}, "visit": {"med_type": "21"}}')
    with pytest.raises(FileError, match=r"c.json: visit.hosp_lv: Field required"):
        load_claim(bad)
    bad.write_text("{not json")
    with pytest.raises(FileError, match="not valid JSON"):
        load_claim(bad)
    with pytest.raises(FileError, match="unknown file type"):
        load_claim(tmp_path / "c.yaml")
    with pytest.raises(FileError, match="No such file"):
        load_claim(tmp_path / "missing.json")


def test_catalogue_file(tmp_path: Path) -> None:
    cat = load_catalog(ROOT / "examples/guangzhou/catalog.toml")
    statin = cat.get("XC10AAA050A001010101444")
    assert statin is not None
    assert statin.selfpay_prop_in("440100") == Decimal("0.05")
    dup = tmp_path / "cat.toml"
    dup.write_text(
        'admdvs = "1"\nversion = "v"\n'
        + '[[items]]\nmed_list_codg = "A"\nname = "a"\nlist_type = "101"\nchrgitm_lv = "01"\n' * 2
    )
    with pytest.raises(FileError, match=r"items.1.med_list_codg: A appears twice"):
        load_catalog(dup)
