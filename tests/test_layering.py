"""The architecture's dependency rule: yibao.domain imports only the standard library and itself."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[1] / "src" / "yibao" / "domain"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_domain_imports_only_the_standard_library_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    offenders = {
        f"{path.relative_to(DOMAIN)}: {name}"
        for path in DOMAIN.rglob("*.py")
        for name in imported_modules(path)
        if not (name == "yibao.domain" or name.startswith("yibao.domain.") or name.split(".")[0] in allowed)
    }
    assert not offenders


def test_domain_does_no_io() -> None:
    forbidden = {"os", "io", "pathlib", "socket", "sqlite3", "subprocess", "time", "logging", "random"}
    used = {name for path in DOMAIN.rglob("*.py") for name in imported_modules(path)}
    assert not used & forbidden


def test_import_linter_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency"
    run = subprocess.run([lint], capture_output=True, text=True, cwd=DOMAIN.parents[2], check=False)
    assert run.returncode == 0, run.stdout + run.stderr
