"""Init cost: fresh interpreters importing a handler (or the old design's import set), against a bare interpreter.

Every sample is the wall time of a whole ``python -c ...`` process with the function's Lambda-like environment and
``sys.path`` (``lambda_site``), from spawn to exit. The rounds interleave every variant (in a rotating order), so
drift on the machine affects them all alike; each variant's median is divided by the bare interpreter's median of
the same run.

- ``<function>``: the bundle exactly as shipped, started in it as Lambda does (``/var/task`` is the working
  directory) with ``PYTHONDONTWRITEBYTECODE`` (``/var/task`` is read-only): its own bytecode or nothing.
- ``old:api`` / ``old:task``: the old design's import set, with the bytecode pip compiled when it installed the
  packages (the dev venv's caches).
- With ``without_bytecode`` (information): ``no-bytecode:<variant>`` measures the sources-only layouts with a
  ``PYTHONPYCACHEPREFIX`` that holds bytecode for the standard library and what the runtime provides (boto3,
  botocore, ...) but none for the bundled packages and ``lambdas/``: what every cold start paid before bundles
  shipped bytecode.
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
_READ_ONLY = {"PYTHONDONTWRITEBYTECODE": "1"}


@dataclass(frozen=True)
class Variant:
    key: str
    code: str
    environment: dict[str, str]
    python: str
    cwd: Path


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
    """The bare interpreter, each shipped function, and the old design's two import sets."""

    def shipped(spec: FunctionSpec) -> dict[str, str]:
        return {
            **lambda_environment(spec, python_path=site.python_path(spec.name), task_root=site.task_root(spec.name)),
            **_READ_ONLY,
        }

    collect = next(spec for spec in FUNCTIONS if spec.name == "collect")
    found: list[Variant] = [Variant("bare", "pass", shipped(collect), site.python, site.task_root(collect.name))]
    for spec in FUNCTIONS:
        found.append(Variant(spec.name, f"import {spec.module}", shipped(spec), site.python, site.task_root(spec.name)))
        # Collect and Refund share the old import set: measured once, with Collect's environment.
        if all(variant.key != old_key(spec) for variant in found):
            old_dir = site.old_design_dir(spec.name)
            old_environment = lambda_environment(
                spec, python_path=site.old_design_python_path(spec.name), task_root=old_dir
            )
            found.append(
                Variant(old_key(spec), spec.old_design_imports, {**old_environment, **_READ_ONLY}, site.python, old_dir)
            )
    return found


def _without_bytecode(site: LambdaSite, measured: list[Variant], prefix: Path) -> list[Variant]:
    """The sources-only counterpart of every measured variant, with ``prefix`` as its only bytecode cache."""
    cache = {"PYTHONPYCACHEPREFIX": str(prefix), **_READ_ONLY}
    specs = {spec.name: spec for spec in FUNCTIONS}
    found = []
    for variant in measured:
        if variant.key == "bare":
            continue
        environment, cwd = variant.environment, variant.cwd
        if variant.key in specs:  # the pre-bytecode bundle: lambdas/ from the project, requirements as sources
            environment = lambda_environment(
                specs[variant.key], python_path=site.sources_python_path(variant.key), task_root=PROJECT_ROOT
            )
            cwd = PROJECT_ROOT
        found.append(replace(variant, key=NO_BYTECODE + variant.key, environment={**environment, **cache}, cwd=cwd))
    return found


def _run_once(variant: Variant) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        [variant.python, "-c", variant.code],
        cwd=variant.cwd,
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


def _fill_prefix(prefix: Path, site: LambdaSite, measured: list[Variant]) -> None:
    """Fill ``prefix`` with bytecode for every module the variants import, then drop that of bundled code."""
    for variant in measured:
        environment = {key: value for key, value in variant.environment.items() if key != "PYTHONDONTWRITEBYTECODE"}
        _run_once(replace(variant, environment=environment))
    bundled = [site.sources_dir(spec.name) for spec in FUNCTIONS] + [PROJECT_ROOT / "lambdas"]
    bundled += [site.old_design_dir(spec.name) for spec in FUNCTIONS]
    for directory in bundled:
        shutil.rmtree(prefix / directory.relative_to("/"), ignore_errors=True)


def measure_init(site: LambdaSite, runs: int, *, without_bytecode: bool) -> InitResult:
    all_variants = variants(site)
    with tempfile.TemporaryDirectory(prefix="payment-bench-pyc-") as scratch:
        if without_bytecode:
            prefix = Path(scratch)
            sources_only = _without_bytecode(site, all_variants, prefix)
            _fill_prefix(prefix, site, sources_only)
            all_variants += sources_only
        for variant in all_variants:  # warm-up: files in the page cache
            _run_once(variant)
        samples: dict[str, list[float]] = {variant.key: [] for variant in all_variants}
        for round_number in range(runs):
            shift = round_number % len(all_variants)
            for variant in all_variants[shift:] + all_variants[:shift]:
                samples[variant.key].append(_run_once(variant))
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return InitResult(bare_ms=medians.pop("bare"), medians_ms=medians, runs=runs)
