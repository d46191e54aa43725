"""A Lambda-like Python for the functions: an empty interpreter plus exactly what Lambda gives each function.

The project's dev venv holds far more than a bundle (moto, aiohttp, localstripe, the CDK...), and libraries
import optional dependencies when they find them (stripe imports aiohttp, urllib3 imports PySocks), so importing a
handler from the dev venv would time code Lambda never loads. Instead, each function process runs a fresh venv
without packages (``--without-pip``: the base interpreter, ``site`` on, nothing installed) whose ``PYTHONPATH`` is
what Lambda puts on ``sys.path``, in Lambda's order:

1. the function's bundle exactly as shipped (``/var/task``, also the working directory): the asset ``cdk synth``
   staged, or in quick mode the same bundler's output, with its bytecode;
2. the Powertools layer (``/opt/python``): symlinks to the dev venv's Powertools, with the bytecode pip compiled;
3. what the Lambda runtime provides (boto3, botocore and their dependencies), likewise;
4. the benchmark harness alone (``benchmarks/``), last, so that it shadows nothing.

Two more layouts are kept for comparison: the old design's packages (``old_design_dir``) and the sources-only
layout of a bundle without bytecode (``sources_python_path``: ``lambdas/`` from the project, the requirements as
symlinks), which is what every cold start compiled before bundles shipped bytecode.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.functions import FUNCTIONS, PROJECT_ROOT
from payment_stack.powertools_layer import POWERTOOLS_DISTRIBUTION

# What the Lambda Python runtime ships (outside the bundle, after it on sys.path).
RUNTIME_PROVIDED = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "python-dateutil",
    "six",
    "urllib3",
    "snapshot-restore-py",
)
_DEV_SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])


def requirement_names(function: str) -> list[str]:
    names = []
    for line in (PROJECT_ROOT / "lambdas" / function / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>!~;\[ ]", line.strip(), maxsplit=1)[0]
        if name and not name.startswith("#"):
            names.append(name)
    return names


def top_levels(distribution: str) -> set[str]:
    """The top-level modules/packages a distribution installed into site-packages (e.g. ``six.py``, ``botocore``)."""
    tops = set()
    for file in importlib.metadata.distribution(distribution).files or []:
        top = file.parts[0]
        if top not in {"..", "__pycache__"} and not top.endswith((".dist-info", ".pth")) and "stubs" not in top:
            tops.add(top)
    return tops


def _link_distributions(target: Path, distributions: list[str]) -> None:
    target.mkdir(parents=True)
    for distribution in distributions:
        for top in top_levels(distribution):
            source = _DEV_SITE_PACKAGES / top
            if source.exists():
                (target / top).symlink_to(source, target_is_directory=source.is_dir())


@dataclass(frozen=True)
class LambdaSite:
    root: Path
    python: str  # the empty venv's interpreter
    bundles: Mapping[str, Path]  # per function, its shipped bundle
    layer_dir: Path
    runtime_dir: Path
    harness_dir: Path

    def task_root(self, function: str) -> Path:
        """``/var/task`` of ``function``: its shipped bundle (Lambda's working directory too)."""
        return self.bundles[function]

    def python_path(self, function: str) -> str:
        return os.pathsep.join(
            str(path) for path in (self.task_root(function), self.layer_dir, self.runtime_dir, self.harness_dir)
        )

    def sources_dir(self, function: str) -> Path:
        """The function's requirements as sources (symlinks into the dev venv), for the no-bytecode figure."""
        return self.root / "sources" / function

    def sources_python_path(self, function: str) -> str:
        return os.pathsep.join([str(PROJECT_ROOT), str(self.sources_dir(function)), str(self.runtime_dir)])

    def old_design_dir(self, function: str) -> Path:
        """The old design's packages for ``function`` (``FunctionSpec.old_design_packages``)."""
        return self.root / "old-bundles" / function

    def old_design_python_path(self, function: str) -> str:
        """What the old design's function had: its packages and what the runtime provides."""
        return os.pathsep.join([str(self.old_design_dir(function)), str(self.runtime_dir)])


def create_site(root: Path, bundles: Mapping[str, Path]) -> LambdaSite:
    """Build the empty venv and the folders around the shipped ``bundles`` under ``root`` (a scratch directory)."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    site = LambdaSite(
        root=root,
        python=str(venv / "bin" / "python"),
        bundles=dict(bundles),
        layer_dir=root / "layer",
        runtime_dir=root / "runtime",
        harness_dir=root / "harness",
    )
    _link_distributions(site.runtime_dir, list(RUNTIME_PROVIDED))
    _link_distributions(site.layer_dir, [POWERTOOLS_DISTRIBUTION])
    site.harness_dir.mkdir()
    (site.harness_dir / "benchmarks").symlink_to(PROJECT_ROOT / "benchmarks", target_is_directory=True)
    for spec in FUNCTIONS:
        _link_distributions(site.sources_dir(spec.name), requirement_names(spec.name))
        old_packages = spec.old_design_packages or requirement_names(spec.name)
        _link_distributions(site.old_design_dir(spec.name), list(old_packages))
    return site
