"""Bundle size per function (the zip CDK uploads) and the time of a full ``cdk synth``.

Full mode synthesizes the app (``cdk synth -c env=bench --quiet -o <tmp>``, timed: that is ``make synth`` into a
fresh output directory, bundling included) and zips the three function assets it staged; the init benchmark then
runs those very assets. Quick mode skips the synth and runs the same bundling code
(``payment_stack.bundling.LocalPipBundler``) for each function instead.
Assets are zipped as the CDK CLI does (``yazl``: deflate at zlib's default level, files only, fixed DOS dates).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchmarks.functions import ENV_NAME, FUNCTIONS, PROJECT_ROOT, REGION

CDK = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class BundleResult:
    assets: dict[str, Path]  # per function, its bundle as shipped (alive as long as the caller's workdir)
    bundle_bytes: dict[str, int]
    unzipped_bytes: dict[str, int]
    synth_seconds: float | None  # None when not timed (quick mode) or when the synth failed
    source: str
    synth_error: str | None = None


def zip_size(directory: Path) -> int:
    """The size of ``directory`` zipped the way the CDK CLI zips a file asset."""
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "asset.zip"
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for path in sorted(p for p in directory.rglob("*") if p.is_file()):
                info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = (path.stat().st_mode & 0xFFFF) << 16
                archive.writestr(info, path.read_bytes(), compresslevel=6)
        return target.stat().st_size


def tree_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def synth(outdir: Path) -> float:
    """``cdk synth`` of environment ``bench`` into ``outdir``; the seconds it took."""
    environment = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "true",
        "CDK_CLI_TELEMETRY_DISABLED": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
        "CDK_DEFAULT_REGION": REGION,
        "CDK_DEFAULT_ACCOUNT": "123456789012",
    }
    command = [str(CDK), "synth", "-c", f"env={ENV_NAME}", "--quiet", "-o", str(outdir)]
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=900, check=False
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"cdk synth failed:\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
    return elapsed


def synthesized_assets(outdir: Path) -> dict[str, Path]:
    """Each function's staged asset directory, found through its handler in the templates."""
    found: dict[str, Path] = {}
    for template_path in outdir.glob("*.template.json"):
        template = json.loads(template_path.read_text())
        for resource in template.get("Resources", {}).values():
            properties = resource.get("Properties", {})
            if resource.get("Type") != "AWS::Lambda::Function" or "S3Key" not in properties.get("Code", {}):
                continue
            handler = str(properties.get("Handler", ""))
            name = handler.removeprefix("lambdas.").split(".", 1)[0]
            # Exactly the function's handler: the hold sweeper (lambdas.payment_api.sweeper) is not measured.
            if handler == f"lambdas.{name}.handler.handler" and name in {spec.name for spec in FUNCTIONS}:
                asset_hash = str(properties["Code"]["S3Key"]).removesuffix(".zip")
                found[name] = outdir / f"asset.{asset_hash}"
    missing = {spec.name for spec in FUNCTIONS} - found.keys()
    if missing:
        raise RuntimeError(f"no staged asset found for {sorted(missing)} in {outdir}")
    return found


def bundled_locally(workdir: Path) -> dict[str, Path]:
    """The assets built directly with the stack's bundling code (what synth would stage), in parallel."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # as the Makefile exports it
    from payment_stack.bundling import LocalPipBundler  # noqa: PLC0415 - loads the CDK (jsii) only when needed
    from payment_stack.payment_function import ARCHITECTURE, RUNTIME  # noqa: PLC0415
    from payment_stack.powertools_layer import LAYER_PROVIDED_DISTRIBUTIONS  # noqa: PLC0415

    # As PaymentFunction builds them: every function takes Powertools from its official layer.
    bundlers = {
        spec.name: LocalPipBundler(
            function_dir=spec.name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            layer_provided=LAYER_PROVIDED_DISTRIBUTIONS,
        )
        for spec in FUNCTIONS
    }
    outputs = {name: workdir / name for name in bundlers}
    for output in outputs.values():
        output.mkdir()
    with ThreadPoolExecutor(max_workers=len(bundlers)) as pool:
        done = {name: pool.submit(bundler.try_bundle, str(outputs[name])) for name, bundler in bundlers.items()}
        for name, future in done.items():
            if not future.result():
                raise RuntimeError(f"local bundling of {name} declined (pip missing?)")
    return outputs


def measure_bundles(workdir: Path, *, with_synth: bool) -> BundleResult:
    """Build (or synthesize) the three bundles under ``workdir`` and measure them; they stay there for the caller."""
    seconds: float | None = None
    error: str | None = None
    assets: dict[str, Path] | None = None
    if with_synth:
        try:
            seconds = synth(workdir / "cdk.out")
            assets = synthesized_assets(workdir / "cdk.out")
        except RuntimeError as failure:  # reported by the caller; the bundles are still measured below
            seconds, error = None, str(failure)
    source = "cdk synth" if assets is not None else "payment_stack.bundling (no synth)"
    if assets is None:
        local = workdir / "bundled"
        local.mkdir()
        assets = bundled_locally(local)
    return BundleResult(
        assets=assets,
        bundle_bytes={name: zip_size(path) for name, path in assets.items()},
        unzipped_bytes={name: tree_size(path) for name, path in assets.items()},
        synth_seconds=seconds,
        source=source,
        synth_error=error,
    )
