"""`yibao load-reference` as an operator runs it: a real process, what changed per list, one line for a bad file."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import GZ, yibao


def test_load_reference_reports_what_changed_and_refuses_a_bad_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'yibao.db'}"
    assert yibao("db", "init", "--database-url", url).returncode == 0
    first = yibao("load-reference", GZ / "reference.toml", "--database-url", url)
    assert first.returncode == 0, first.stderr
    assert "1307 43 changed" in first.stdout and "1317 10 changed" in first.stdout
    again = yibao("load-reference", GZ / "reference.toml", "--database-url", url)
    assert "1307 0 changed" in again.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text('ver = "20240101001"\n[[diagnoses]]\ndiag_code = "I10.x00"\n', encoding="utf-8")
    run = yibao("load-reference", bad, "--database-url", url)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "diagnoses.0.diag_name: required" in run.stderr
