"""The unit tier stays a unit tier: no test in it reaches local mode (which starts servers and child processes)."""

from __future__ import annotations

import ast
from pathlib import Path

UNIT_TIER = Path(__file__).resolve().parent


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), filename=str(source))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_unit_test_imports_local_mode() -> None:
    offenders = {
        str(path.relative_to(UNIT_TIER)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "local_mode")
        for path in UNIT_TIER.rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}


def test_the_check_sees_an_import_of_local_mode(tmp_path: Path) -> None:
    # Given a module importing local mode both ways / Then both are found
    module = tmp_path / "sample.py"
    module.write_text("import local_mode.run\nfrom local_mode.console import server\n")
    assert imported_modules(module) == {"local_mode.run", "local_mode.console"}
