"""Each function's requirements.txt is installed with --no-deps, so it must pin its whole dependency closure."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
# What the Lambda Python runtime already provides: bundling these would only add size.
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "python-dateutil", "six"}
FUNCTIONS = sorted(path.parent.name for path in LAMBDAS.glob("*/requirements.txt"))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned(function_dir: str) -> dict[str, str]:
    lines = (LAMBDAS / function_dir / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    return {canonical(req.name): str(req.specifier) for req in requirements}


@pytest.mark.parametrize("function_dir", FUNCTIONS)
def test_requirements_are_exact_pins(function_dir: str) -> None:
    for name, specifier in pinned(function_dir).items():
        assert specifier.startswith("=="), f"{function_dir}: {name} is not pinned with =="


@pytest.mark.parametrize("function_dir", FUNCTIONS)
def test_requirements_are_a_closed_set(function_dir: str) -> None:
    # Given the pinned packages, as installed in the development venv from the same files
    packages = pinned(function_dir)
    for name in packages:
        for requirement_text in metadata.requires(name) or []:
            requirement = Requirement(requirement_text)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            dependency = canonical(requirement.name)
            # Then every dependency is pinned too, or comes with the Lambda runtime
            assert dependency in packages or dependency in RUNTIME_PROVIDED, (
                f"{function_dir}: {name} needs {dependency}, which is neither pinned nor provided by the runtime"
            )


@pytest.mark.parametrize("function_dir", FUNCTIONS)
def test_pins_match_the_development_venv(function_dir: str) -> None:
    for name, specifier in pinned(function_dir).items():
        assert specifier == f"=={metadata.version(name)}", f"{function_dir}: {name} differs from the venv"
