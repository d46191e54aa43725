"""The real local bundling (pip for the Lambda platform, no Docker): what each function's asset holds and lacks,
with Powertools bundled (``PaymentFunction``'s default) and with it from the layer (Collect and Refund as deployed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk.aws_logs import RetentionDays

from benchmarks.bundles import zip_size
from payment_stack.payment_function import PaymentFunction
from tests.cdk_support import make_app

LAYERED = ("collect", "refund")
# What stays in a layered bundle although the layer may carry it too: /var/task comes first on sys.path.
KEPT_BESIDE_THE_LAYER = {"aws_xray_sdk", "wrapt", "jmespath", "typing_extensions.py"}
MAX_LAYERED_ZIP_BYTES = 1_000_000


def bundle(function_dir: str, outdir: Path, seen: set[Path], *, powertools_layer: bool = False) -> Path:
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
        powertools_layer=powertools_layer,
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


@pytest.fixture(scope="module")
def layered_assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    seen: set[Path] = set()
    return {name: bundle(name, outdir, seen, powertools_layer=True) for name in LAYERED}


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


@pytest.mark.parametrize("name", LAYERED)
def test_with_the_layer_powertools_is_not_in_the_bundle(layered_assets: dict[str, Path], name: str) -> None:
    names = top_level(layered_assets[name])
    assert "aws_lambda_powertools" not in names
    assert not [entry for entry in names if entry.startswith("aws_lambda_powertools-")], names


@pytest.mark.parametrize("name", LAYERED)
def test_with_the_layer_the_rest_of_the_closure_and_the_code_stay(layered_assets: dict[str, Path], name: str) -> None:
    names = top_level(layered_assets[name])
    assert names >= KEPT_BESIDE_THE_LAYER, KEPT_BESIDE_THE_LAYER - names
    assert (layered_assets[name] / "lambdas" / name / "handler.py").is_file()
    assert (layered_assets[name] / "lambdas" / "shared" / "__init__.py").is_file()


@pytest.mark.parametrize("name", LAYERED)
def test_with_the_layer_the_zipped_bundle_is_at_most_1_mb(layered_assets: dict[str, Path], name: str) -> None:
    size = zip_size(layered_assets[name])
    assert size <= MAX_LAYERED_ZIP_BYTES, f"{name}: {size} bytes zipped"
