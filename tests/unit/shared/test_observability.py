"""Every function makes its Powertools Logger, Tracer and Metrics one way (``observability``), and the libraries X-Ray
patches are ones the X-Ray SDK supports (a typo would fail every cold start; tests/integration/test_bundling.py
imports each handler with the Tracer on, from its real bundle)."""

from __future__ import annotations

import ast
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_xray_sdk.core.patcher import SUPPORTED_MODULES

from lambdas.collect import handler as collect_handler
from lambdas.payment_api import handler as api_handler
from lambdas.shared.observability import AWS_TRACED_MODULES, STRIPE_TRACED_MODULES, observability

LAMBDAS = Path(__file__).resolve().parents[3] / "lambdas"
FACTORY = LAMBDAS / "shared" / "observability.py"


def test_every_traced_module_is_one_the_xray_sdk_patches() -> None:
    assert set(STRIPE_TRACED_MODULES) <= set(SUPPORTED_MODULES)


def test_observability_gives_the_three_powertools_utilities() -> None:
    logger, tracer, metrics = observability(AWS_TRACED_MODULES)
    assert isinstance(logger, Logger)
    assert isinstance(tracer, Tracer)
    assert isinstance(metrics, Metrics)


def test_handlers_take_their_utilities_from_observability() -> None:
    # Given two handler modules / Then their module-level utilities are Powertools' own, from the factory
    assert isinstance(collect_handler.tracer, Tracer)
    assert isinstance(api_handler.metrics, Metrics)


def constructed_outside_the_factory(source: Path, root: Path = LAMBDAS) -> list[str]:
    """Calls of ``Tracer(...)``/``Metrics(...)``, or of ``Logger(...)`` other than a child logger, in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            child = any(keyword.arg == "child" for keyword in node.keywords)
            if name in ("Tracer", "Metrics") or (name == "Logger" and not child):
                found.append(f"{source.relative_to(root)}:{node.lineno} {name}")
    return found


def test_no_function_module_makes_its_own_tracer_metrics_or_root_logger() -> None:
    modules = [path for path in LAMBDAS.rglob("*.py") if path != FACTORY]
    assert [call for path in modules for call in constructed_outside_the_factory(path)] == []


def test_the_check_finds_a_hand_made_tracer_but_not_a_child_logger(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("from aws_lambda_powertools import Logger, Tracer\nlog = Logger(child=True)\ntracer = Tracer()\n")
    assert constructed_outside_the_factory(module, tmp_path) == ["sample.py:3 Tracer"]
