"""Init cost: fresh interpreters importing a handler (or the old design's import set), against a bare interpreter.

Every sample is the wall time of a whole ``python -c ...`` process with the function's Lambda-like environment
and only its bundle's packages (``lambda_site``), from spawn to exit. The rounds interleave every variant (in a
rotating order), so drift on the machine affects them all alike; each variant's median is divided by the bare
interpreter's median of the same run.

The headline ratios run with bytecode caches, as a warm developer machine has them. Lambda cannot use or write
them for the bundled packages (the bundles are built with ``pip --no-compile`` and ``/var/task`` is read-only), so
with ``without_bytecode`` the run also measures each variant with a ``PYTHONPYCACHEPREFIX`` that holds compiled
bytecode for the standard library and what the runtime provides (boto3, botocore, ...) but none for the bundled
packages and ``lambdas/``: the import cost a real cold start pays.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.functions import FUNCTIONS, PROJECT_ROOT, FunctionSpec, lambda_environment
from benchmarks.lambda_site import LambdaSite

NO_BYTECODE = "no-bytecode:"


@dataclass(frozen=True)
class Variant:
    key: str
    code: str
    environment: dict[str, str]
    python: str


@dataclass(frozen=True)
class InitResult:
    bare_ms: float
    medians_ms: dict[str, float]  # per variant key
    runs: int

    def ratio(self, key: str) -> float:
        return self.medians_ms[key] / self.bare_ms

    def ratio_if_measured(self, key: str) -> float | None:
        return self.ratio(key) if key in self.medians_ms else None


def old_key(spec: FunctionSpec) -> str:
    return "old:api" if spec.name == "payment_api" else "old:task"


def variants(site: LambdaSite) -> list[Variant]:
    collect = next(spec for spec in FUNCTIONS if spec.name == "collect")

    def environment(spec: FunctionSpec) -> dict[str, str]:
        return lambda_environment(spec, python_path=site.python_path(spec.name))

    found: list[Variant] = [Variant("bare", "pass", environment(collect), site.python)]
    for spec in FUNCTIONS:
        found.append(Variant(spec.name, f"import {spec.module}", environment(spec), site.python))
        # Collect and Refund share the old import set: measured once, with Collect's environment.
        if all(variant.key != old_key(spec) for variant in found):
            old_environment = lambda_environment(spec, python_path=site.old_design_python_path(spec.name))
            found.append(Variant(old_key(spec), spec.old_design_imports, old_environment, site.python))
    return found


def _run_once(variant: Variant) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        [variant.python, "-c", variant.code],
        cwd=PROJECT_ROOT,
        env=variant.environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"init of {variant.key} failed:\n{completed.stderr.decode(errors='replace')[-2000:]}")
    return elapsed * 1000


def _bytecode_prefix(prefix: Path, site: LambdaSite, measured: list[Variant]) -> None:
    """Fill ``prefix`` with bytecode for every module the variants import, then drop that of bundled code."""
    for variant in measured:
        _run_once(replace(variant, environment={**variant.environment, "PYTHONPYCACHEPREFIX": str(prefix)}))
    bundled = [site.function_dir(spec.name) for spec in FUNCTIONS] + [PROJECT_ROOT / "lambdas"]
    bundled += [site.old_design_dir(spec.name) for spec in FUNCTIONS]
    for directory in bundled:
        shutil.rmtree(prefix / directory.relative_to("/"), ignore_errors=True)


def measure_init(site: LambdaSite, runs: int, *, without_bytecode: bool) -> InitResult:
    all_variants = variants(site)
    with tempfile.TemporaryDirectory(prefix="payment-bench-pyc-") as scratch:
        if without_bytecode:
            prefix = Path(scratch)
            _bytecode_prefix(prefix, site, all_variants)
            all_variants += [
                Variant(
                    NO_BYTECODE + variant.key,
                    variant.code,
                    {**variant.environment, "PYTHONPYCACHEPREFIX": str(prefix), "PYTHONDONTWRITEBYTECODE": "1"},
                    variant.python,
                )
                for variant in all_variants
                if variant.key != "bare"
            ]
        for variant in all_variants:  # warm-up: bytecode caches written, files in the page cache
            _run_once(variant)
        samples: dict[str, list[float]] = {variant.key: [] for variant in all_variants}
        for round_number in range(runs):
            shift = round_number % len(all_variants)
            for variant in all_variants[shift:] + all_variants[:shift]:
                samples[variant.key].append(_run_once(variant))
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return InitResult(bare_ms=medians.pop("bare"), medians_ms=medians, runs=runs)
