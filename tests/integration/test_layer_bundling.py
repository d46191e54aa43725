"""The real local bundling of Collect and Refund with the Powertools layer: Powertools out, the rest in, under 1 MB."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk.aws_logs import RetentionDays

from payment_stack.payment_function import PaymentFunction
from tests.cdk_support import make_app

LAYERED = ("collect", "refund")
# What stays in the bundle although the layer may carry it too: /var/task comes first on sys.path.
KEPT = {"aws_xray_sdk", "wrapt", "jmespath", "typing_extensions.py"}
MAX_ZIPPED_BYTES = 1_000_000


def bundle_with_layer(function_dir: str, outdir: Path, seen: set[Path]) -> Path:
    stack = Stack(make_app(bundling=True, outdir=str(outdir)), f"LayerBundlingTest{function_dir.title()}")
    PaymentFunction(
        stack,
        "Fn",
        function_dir=function_dir,
        handler=f"lambdas.{function_dir}.handler.handler",
        description="layer bundling test",
        timeout=Duration.seconds(5),
        memory_size=128,
        log_level="INFO",
        log_retention=RetentionDays.ONE_DAY,
        removal_policy=RemovalPolicy.DESTROY,
        powertools_layer=True,
    )
    staged = [path for path in outdir.glob("asset.*") if path not in seen]
    assert len(staged) == 1, f"expected one new asset in {outdir}, found {staged}"
    seen.update(staged)
    return staged[0]


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    seen: set[Path] = set()
    return {name: bundle_with_layer(name, outdir, seen) for name in LAYERED}


def zipped_size(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return len(buffer.getvalue())


@pytest.mark.parametrize("name", LAYERED)
def test_powertools_is_not_in_the_bundle(assets: dict[str, Path], name: str) -> None:
    top_level = {path.name for path in assets[name].iterdir()}
    assert "aws_lambda_powertools" not in top_level
    assert not [entry for entry in top_level if entry.startswith("aws_lambda_powertools-")], top_level


@pytest.mark.parametrize("name", LAYERED)
def test_the_rest_of_the_closure_and_the_code_stay(assets: dict[str, Path], name: str) -> None:
    top_level = {path.name for path in assets[name].iterdir()}
    assert top_level >= KEPT, KEPT - top_level
    assert (assets[name] / "lambdas" / name / "handler.py").is_file()
    assert (assets[name] / "lambdas" / "shared" / "__init__.py").is_file()


@pytest.mark.parametrize("name", LAYERED)
def test_the_zipped_bundle_is_at_most_1_mb(assets: dict[str, Path], name: str) -> None:
    size = zipped_size(assets[name])
    assert size <= MAX_ZIPPED_BYTES, f"{name}: {size} bytes zipped"
