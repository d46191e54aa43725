"""The real local bundling (pip for the Lambda platform, no Docker): what each function's asset holds and lacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk.aws_logs import RetentionDays

from payment_stack.payment_function import PaymentFunction
from tests.cdk_support import make_app


def bundle(function_dir: str, outdir: Path, seen: set[Path]) -> Path:
    stack = Stack(make_app(bundling=True, outdir=str(outdir)), "BundlingTest")
    PaymentFunction(
        stack,
        "Fn",
        function_dir=function_dir,
        handler=f"lambdas.{function_dir}.handler.handler",
        description="bundling test",
        timeout=Duration.seconds(5),
        memory_size=128,
        log_level="INFO",
        log_retention=RetentionDays.ONE_DAY,
        removal_policy=RemovalPolicy.DESTROY,
    )
    staged = [path for path in outdir.glob("asset.*") if path not in seen]
    assert len(staged) == 1, f"expected one new asset in {outdir}, found {staged}"
    seen.update(staged)
    return staged[0]


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    seen: set[Path] = set()
    return {name: bundle(name, outdir, seen) for name in ("payment_api", "collect")}


def top_level(asset: Path) -> set[str]:
    return {path.name for path in asset.iterdir()}


def test_every_bundle_has_its_own_code_and_the_shared_package(assets: dict[str, Path]) -> None:
    for name, asset in assets.items():
        assert (asset / "lambdas" / "__init__.py").is_file()
        assert (asset / "lambdas" / name / "__init__.py").is_file()
        assert (asset / "lambdas" / "shared" / "__init__.py").is_file()
        assert "aws_lambda_powertools" in top_level(asset)


def test_bundles_hold_no_other_function_no_cdk_no_dev_tools(assets: dict[str, Path]) -> None:
    forbidden = {"aws_cdk", "constructs", "jsii", "pytest", "moto", "localstripe", "mypy", "ruff", "boto3", "botocore"}
    for name, asset in assets.items():
        assert forbidden.isdisjoint(top_level(asset)), f"{name} carries {forbidden & top_level(asset)}"
        others = {"payment_api", "collect", "refund"} - {name}
        assert others.isdisjoint(path.name for path in (asset / "lambdas").iterdir())
        assert not list(asset.rglob("__pycache__")), f"{name} carries compiled caches"


def test_only_the_api_carries_stripe_and_requests(assets: dict[str, Path]) -> None:
    assert {"stripe", "requests"} <= top_level(assets["payment_api"])
    # Collect and Refund sign and send through botocore, which the Lambda runtime provides.
    assert {"stripe", "requests", "urllib3"}.isdisjoint(top_level(assets["collect"]))


def test_binary_wheels_are_for_the_lambda_platform(assets: dict[str, Path]) -> None:
    # wrapt (pulled in by the X-Ray SDK) ships a C extension: it must be built for Lambda's arm64 CPython 3.14.
    extensions = [path.name for path in (assets["collect"] / "wrapt").glob("*.so")]
    assert extensions
    assert all("cpython-314-aarch64-linux-gnu" in name for name in extensions), extensions
