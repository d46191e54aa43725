"""One meaning per class name across ``lambdas/``: the workflow matches Collect's and Refund's errors by class name
(``lambdas/shared/payment_errors.py``), so no other package may define a class of the same name with another
meaning (the payment API's own errors are ``ApiError`` and its subclasses)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def class_definitions(root: Path) -> dict[str, list[str]]:
    """Class name → the modules (relative paths) that define it."""
    found: defaultdict[str, list[str]] = defaultdict(list)
    for module in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ClassDef):
                found[node.name].append(str(module.relative_to(root)))
    return dict(found)


def test_no_class_name_is_defined_twice_in_lambdas() -> None:
    twice = {name: modules for name, modules in class_definitions(LAMBDAS).items() if len(modules) > 1}
    assert twice == {}


def test_the_check_sees_a_name_defined_in_two_modules(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("class PaymentConflict(Exception):\n    pass\n")
    (tmp_path / "b.py").write_text("class PaymentConflict(RuntimeError):\n    pass\n")
    assert class_definitions(tmp_path) == {"PaymentConflict": ["a.py", "b.py"]}
