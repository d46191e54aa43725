"""The real local bundling (pip for the Lambda platform, no Docker), as ``cdk synth`` stages each function's asset:
what it holds and lacks, the bytecode it ships (compiled by Python 3.13, valid without its sources' timestamps),
that two builds are byte for byte identical, and the zipped sizes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk.aws_logs import RetentionDays

from benchmarks.bundles import zip_size
from payment_stack.bundling import LocalPipBundler
from payment_stack.log_settings import LogSettings
from payment_stack.payment.events import HANDLER as PUBLISHER_HANDLER
from payment_stack.payment.hold_sweeper import HANDLER as SWEEPER_HANDLER
from payment_stack.payment_function import ARCHITECTURE, RUNTIME, PaymentFunction
from payment_stack.powertools_layer import LAYER_PROVIDED_DISTRIBUTIONS
from tests.support.cdk import make_app

FUNCTIONS = ("payment_api", "collect", "refund")
# What stays in a bundle although the Powertools layer may carry it too: /var/task comes first on sys.path.
KEPT_BESIDE_THE_LAYER = {"aws_xray_sdk", "wrapt", "jmespath", "typing_extensions.pyc"}
MAX_ZIP_BYTES = {"payment_api": 5_000_000, "collect": 1_000_000, "refund": 1_000_000}
# The handlers each asset serves: the API's bundle also runs the hold sweeper and the event publisher.
HANDLER_MODULES = {
    "payment_api": [
        "lambdas.payment_api.handler",
        SWEEPER_HANDLER.rsplit(".", 1)[0],
        PUBLISHER_HANDLER.rsplit(".", 1)[0],
    ],
    "collect": ["lambdas.collect.handler"],
    "refund": ["lambdas.refund.handler"],
}
PYC_HEADER_BYTES = 16
UNCHECKED_HASH_FLAGS = 0b01  # PEP 552: hash-based, source not checked


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
        log_settings=LogSettings(level="INFO", retention=RetentionDays.ONE_DAY, removal_policy=RemovalPolicy.DESTROY),
    )
    staged = [path for path in outdir.glob("asset.*") if path not in seen]
    assert len(staged) == 1, f"expected one new asset in {outdir}, found {staged}"
    seen.update(staged)
    return staged[0]


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    seen: set[Path] = set()
    return {name: bundle(name, outdir, seen) for name in FUNCTIONS}


def top_level(asset: Path) -> set[str]:
    return {path.name for path in asset.iterdir()}


def pyc_header(path: Path) -> tuple[bytes, int, bytes]:
    """(magic number, PEP 552 flags, source hash) of a ``.pyc`` file."""
    header = path.read_bytes()[:PYC_HEADER_BYTES]
    return header[:4], int.from_bytes(header[4:8], "little"), header[8:16]


def own_sources(asset: Path) -> list[Path]:
    return sorted((asset / "lambdas").rglob("*.py"))


def dependency_files(asset: Path) -> list[Path]:
    return sorted(
        path
        for path in asset.rglob("*")
        if path.is_file() and path.relative_to(asset).parts[0] != "lambdas" and ".dist-info" not in str(path)
    )


def test_every_bundle_has_its_own_code_and_the_shared_package(assets: dict[str, Path]) -> None:
    for name, asset in assets.items():
        assert (asset / "lambdas" / "__init__.py").is_file()
        assert (asset / "lambdas" / name / "__init__.py").is_file()
        assert (asset / "lambdas" / "shared" / "__init__.py").is_file()


def test_bundles_hold_no_other_function_no_cdk_no_dev_tools_no_powertools(assets: dict[str, Path]) -> None:
    forbidden = {"aws_cdk", "constructs", "jsii", "pytest", "moto", "localstripe", "mypy", "ruff", "boto3", "botocore"}
    for name, asset in assets.items():
        names = top_level(asset)
        assert forbidden.isdisjoint(names), f"{name} carries {forbidden & names}"
        others = set(FUNCTIONS) - {name}
        assert others.isdisjoint(path.name for path in (asset / "lambdas").iterdir())
        # Powertools comes from its official layer for every function.
        assert not [entry for entry in names if entry.startswith("aws_lambda_powertools")], names


def test_only_the_api_carries_stripe_and_requests(assets: dict[str, Path]) -> None:
    assert {"stripe", "requests"} <= top_level(assets["payment_api"])
    # Collect and Refund sign and send through botocore, which the Lambda runtime provides.
    for name in ("collect", "refund"):
        assert {"stripe", "requests", "urllib3"}.isdisjoint(top_level(assets[name]))


def test_stripe_type_hint_parameters_are_left_out(assets: dict[str, Path]) -> None:
    assert (assets["payment_api"] / "stripe" / "__init__.pyc").is_file()
    assert not (assets["payment_api"] / "stripe" / "params").exists()


def test_binary_wheels_are_for_the_lambda_platform(assets: dict[str, Path]) -> None:
    # wrapt (pulled in by the X-Ray SDK) ships a C extension: it must be built for Lambda's arm64 CPython 3.13.
    extensions = [path.name for path in (assets["collect"] / "wrapt").glob("*.so")]
    assert extensions
    assert all("cpython-313-aarch64-linux-gnu" in name for name in extensions), extensions


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_beside_the_layer_the_rest_of_the_closure_and_the_code_stay(assets: dict[str, Path], name: str) -> None:
    names = top_level(assets[name])
    assert names >= KEPT_BESIDE_THE_LAYER, KEPT_BESIDE_THE_LAYER - names
    assert (assets[name] / "lambdas" / name / "handler.py").is_file()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_own_modules_have_cpython_313_bytecode_beside_their_sources(assets: dict[str, Path], name: str) -> None:
    sources = own_sources(assets[name])
    assert (assets[name] / "lambdas" / name / "handler.py") in sources
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        assert compiled.is_file(), f"no bytecode beside {source}"
        magic, flags, source_hash = pyc_header(compiled)
        # Python 3.13's magic number, trusted without a timestamp check, and made from exactly this source.
        assert magic == importlib.util.MAGIC_NUMBER
        assert flags == UNCHECKED_HASH_FLAGS
        assert source_hash == importlib.util.source_hash(source.read_bytes())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_dependencies_ship_cpython_313_bytecode_in_place_of_their_sources(assets: dict[str, Path], name: str) -> None:
    files = dependency_files(assets[name])
    modules = [path for path in files if path.suffix == ".pyc"]
    assert len(modules) > 20
    assert not [path for path in files if path.suffix == ".py"], "a dependency still ships a source"
    assert not [path for path in files if "__pycache__" in path.parts]
    for module in modules:
        magic, flags, _ = pyc_header(module)
        assert (magic, flags) == (importlib.util.MAGIC_NUMBER, UNCHECKED_HASH_FLAGS), module


@pytest.mark.parametrize("name", FUNCTIONS)
def test_no_build_path_is_shipped_in_the_bytecode(assets: dict[str, Path], name: str) -> None:
    build_path = str(assets[name]).encode()
    for path in assets[name].rglob("*.pyc"):
        assert build_path not in path.read_bytes(), path


# Records every source compiled while the handlers are imported, as Powertools' own layer canary does.
_IMPORT_CHECK = """
import importlib, json, sys
from importlib.machinery import SourceFileLoader
compiled, original = [], SourceFileLoader.source_to_code
def tracking(loader, data, path, *, _optimize=-1):
    compiled.append(path)
    return original(loader, data, path, _optimize=_optimize)
SourceFileLoader.source_to_code = tracking
files = [importlib.import_module(module).__file__ for module in sys.argv[1:]]
print(json.dumps({"compiled": compiled, "files": files}))
"""


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handlers_import_from_the_bundle_without_compiling_anything(assets: dict[str, Path], name: str) -> None:
    asset = assets[name]
    # As in Lambda: the bundle first (the working directory), then Powertools (the layer), then the runtime's
    # packages; nothing may be written beside the read-only code. LAMBDA_TASK_ROOT switches the Tracer on, so each
    # handler patches the libraries it traces (one missing from its bundle would fail the import).
    environment = {
        **os.environ,
        "LAMBDA_TASK_ROOT": str(asset),
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        "PYTHONPATH": os.pathsep.join([str(asset), sysconfig.get_paths()["purelib"]]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "POWERTOOLS_SERVICE_NAME": "payment",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "STRIPE_SECRET_KEY_PARAMETER": "/test/service/payment/stripe/secretKey",
        "STRIPE_WEBHOOK_SECRET_PARAMETER": "/test/service/payment/stripe/webhookSecret",
        "CORS_ALLOWED_ORIGINS": "http://localhost:8080",
        "MAX_CHARGE_AMOUNTS": json.dumps({"eur": 1_000_000}),
        "IDEMPOTENCY_TABLE_NAME": "idempotency",
        "LEDGER_TABLE_NAME": "ledger",
        "LEDGER_HOLDS_INDEX_NAME": "holds-by-age",
        "PAYMENT_EVENT_BUS_NAME": "payment-events",
        "PAYMENT_API_URL": "https://example.invalid/Prod/",
    }
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK, *HANDLER_MODULES[name]],
        cwd=asset,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.splitlines()[-1])
    assert [path for path in result["compiled"] if path.startswith(str(asset))] == []
    assert all(path.startswith(str(asset)) for path in result["files"]), result["files"]


def test_two_builds_are_byte_for_byte_identical(tmp_path: Path) -> None:
    # Given two builds of the same function in different directories
    builds = []
    for attempt in ("first", "second"):
        output = tmp_path / attempt
        output.mkdir()
        bundler = LocalPipBundler(
            function_dir="collect",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            layer_provided=LAYER_PROVIDED_DISTRIBUTIONS,
        )
        assert bundler.try_bundle(str(output))
        builds.append(
            {str(path.relative_to(output)): path.read_bytes() for path in output.rglob("*") if path.is_file()}
        )
    # Then they hold the same files with the same bytes (bytecode included), so an unchanged function's zip is too
    assert any(name.endswith(".pyc") for name in builds[0])
    assert builds[0].keys() == builds[1].keys()
    assert [name for name in builds[0] if builds[0][name] != builds[1][name]] == []


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_zipped_bundle_keeps_its_size_target(assets: dict[str, Path], name: str) -> None:
    size = zip_size(assets[name])
    assert size <= MAX_ZIP_BYTES[name], f"{name}: {size} bytes zipped"
