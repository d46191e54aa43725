"""A Lambda-like Python for the functions: an empty interpreter plus exactly what the function's bundle holds.

The project's dev venv holds far more than a bundle (moto, aiohttp, localstripe, the CDK...), and libraries
import optional dependencies when they find them (stripe imports aiohttp, urllib3 imports PySocks), so importing a
handler from the dev venv would time code Lambda never loads. Instead, each function process runs a fresh venv
without packages (``--without-pip``: the base interpreter, ``site`` on, nothing installed) with ``PYTHONPATH`` =
the project root (the bundle's ``lambdas/``), then the function's requirements (symlinks into the dev venv, the
versions the bundles pin), then what the Lambda runtime provides (boto3, botocore and their dependencies).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from benchmarks.functions import FUNCTIONS, PROJECT_ROOT

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
    runtime_dir: Path

    def function_dir(self, function: str) -> Path:
        return self.root / "bundles" / function

    def python_path(self, function: str) -> str:
        return os.pathsep.join([str(PROJECT_ROOT), str(self.function_dir(function)), str(self.runtime_dir)])

    def old_design_dir(self, function: str) -> Path:
        """The old design's packages for ``function`` (``FunctionSpec.old_design_packages``)."""
        return self.root / "old-bundles" / function

    def old_design_python_path(self, function: str) -> str:
        """What the old design's function had: its packages and what the runtime provides."""
        return os.pathsep.join([str(self.old_design_dir(function)), str(self.runtime_dir)])


def create_site(root: Path) -> LambdaSite:
    """Build the empty venv and the per-function dependency folders under ``root`` (a scratch directory)."""
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    site = LambdaSite(root=root, python=str(venv / "bin" / "python"), runtime_dir=root / "runtime")
    _link_distributions(site.runtime_dir, list(RUNTIME_PROVIDED))
    for spec in FUNCTIONS:
        _link_distributions(site.function_dir(spec.name), requirement_names(spec.name))
        old_packages = spec.old_design_packages or requirement_names(spec.name)
        _link_distributions(site.old_design_dir(spec.name), list(old_packages))
    return site
