"""Lambda code assets built without Docker: pip installs a function's runtime requirements for the Lambda platform.

Each asset holds ``lambdas/__init__.py``, ``lambdas/<function>/`` and ``lambdas/shared/`` (so the handler imports
``lambdas.<function>...`` exactly as the tests do) plus the wheels listed in ``lambdas/<function>/requirements.txt``
and nothing else: no CDK, no test tools, and no ``stripe`` in functions that do not list it. ``layer_provided``
names distributions a Lambda layer brings (e.g. Powertools): they stay pinned in requirements.txt (the dev venv and
the closure test read it) but are left out of the bundle.

Every bundle ships bytecode compiled by an interpreter of the runtime's own version (``payment_stack.bundle_bytecode``
says how): ``/var/task`` is read-only, so without it each cold start compiles every module it imports and never
keeps the result.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, ILocalBundling
from aws_cdk import aws_lambda as lambda_

LAMBDAS_ROOT = Path(__file__).resolve().parent.parent / "lambdas"
SHARED_PACKAGE = "shared"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache")

# Bumped whenever what a bundle holds changes for unchanged inputs, so every asset hash (and function) changes.
BUNDLE_LAYOUT = "bytecode:unchecked-hash,sourceless-dependencies"
_FINISH_SCRIPT = Path(__file__).resolve().parent / "bundle_bytecode.py"

_PIP_PLATFORMS = {
    lambda_.Architecture.ARM_64.name: "manylinux2014_aarch64",
    lambda_.Architecture.X86_64.name: "manylinux2014_x86_64",
}


def canonical_name(name: str) -> str:
    """A distribution name as pip compares it (PEP 503): ``typing_extensions`` -> ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    """The canonical name of the distribution a requirements line installs; ``None`` for blank lines and comments."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#", 1)[0])
    return canonical_name(match.group(1)) if match else None


def bundled_requirements(function_dir: str, *, layer_provided: Iterable[str] = ()) -> str:
    """``lambdas/<function_dir>/requirements.txt`` without the lines of distributions a layer provides."""
    excluded = {canonical_name(name) for name in layer_provided}
    lines = (LAMBDAS_ROOT / function_dir / "requirements.txt").read_text().splitlines()
    return "".join(f"{line}\n" for line in lines if requirement_name(line) not in excluded)


def _bundle_members(function_dir: str) -> list[Path]:
    return [LAMBDAS_ROOT / "__init__.py", LAMBDAS_ROOT / function_dir, LAMBDAS_ROOT / SHARED_PACKAGE]


def _python_version(runtime: lambda_.Runtime) -> str:
    return runtime.name.removeprefix("python")


def interpreter_version() -> str:
    """``major.minor`` of the interpreter running the synth, e.g. ``3.13``."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def finish_command(python: str, bundle_dir: str, *, python_version: str) -> list[str]:
    """``payment_stack/bundle_bytecode.py`` run on ``bundle_dir`` by ``python``, passed as ``-c`` so that it also
    runs in the bundling container, which sees only ``lambdas/``."""
    return [python, "-c", _FINISH_SCRIPT.read_text(), bundle_dir, "--python-version", python_version]


class BytecodeVersionMismatch(RuntimeError):
    """The synth runs on a Python whose bytecode the function's runtime cannot load, and Docker is not available."""


@jsii.implements(ILocalBundling)
class LocalPipBundler:
    """Bundles on this machine with the running interpreter's pip and compiles the bundle's bytecode with it.

    Declines (so CDK bundles in the runtime's image, whose Python is the runtime's) without pip, or when the running
    interpreter is another minor version than the runtime: its bytecode would be ignored (another magic number) and
    every cold start would compile again. Without Docker either, raises ``BytecodeVersionMismatch`` saying so.
    """

    def __init__(
        self,
        *,
        function_dir: str,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        layer_provided: frozenset[str] = frozenset(),
    ) -> None:
        self._function_dir = function_dir
        self._python_version = _python_version(runtime)
        self._platform = _PIP_PLATFORMS[architecture.name]
        self._layer_provided = layer_provided

    # jsii passes the asset's BundlingOptions after output_dir; local bundling needs none of them.
    def try_bundle(self, output_dir: str, *_options: Any, **_kw_options: Any) -> bool:
        if importlib.util.find_spec("pip") is None:
            return False
        if interpreter_version() != self._python_version:
            return self._decline_for_version()
        output = Path(output_dir)
        self._install_requirements(output)
        self._copy_sources(output)
        self._compile(output)
        return True

    def _decline_for_version(self) -> bool:
        found = f"Python {interpreter_version()} ({sys.executable})"
        if shutil.which("docker") is None:
            raise BytecodeVersionMismatch(
                f"bundling {self._function_dir}: its runtime is python{self._python_version}, but the synth runs on "
                f"{found} and Docker is not installed. Bytecode must be compiled by Python {self._python_version}: "
                f"run the synth from the project's venv (make synth), or install Docker."
            )
        # CDK shows the app's stderr: falling back to Docker must not be silent.
        print(
            f"bundling {self._function_dir} in Docker: the synth runs on {found}, the runtime is "
            f"python{self._python_version}",
            file=sys.stderr,
        )
        return False

    def _compile(self, output: Path) -> None:
        command = finish_command(sys.executable, str(output), python_version=self._python_version)
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(
                f"bundling {self._function_dir}: compiling the bundle's bytecode failed:\n"
                f"{(completed.stdout + completed.stderr).strip()}"
            )

    def _install_requirements(self, output: Path) -> None:
        requirements = LAMBDAS_ROOT / self._function_dir / "requirements.txt"
        with tempfile.TemporaryDirectory() as scratch:
            bundled = Path(scratch) / "requirements.txt"
            bundled.write_text(bundled_requirements(self._function_dir, layer_provided=self._layer_provided))
            self._pip_install(bundled, output, shown_as=requirements)

    def _pip_install(self, requirements: Path, output: Path, *, shown_as: Path) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            # requirements.txt is the function's whole pinned closure, so nothing the runtime provides slips in.
            "--no-deps",
            "--requirement",
            str(requirements),
            "--target",
            str(output),
            "--platform",
            self._platform,
            "--implementation",
            "cp",
            "--python-version",
            self._python_version,
            "--only-binary=:all:",
            "--upgrade",
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(
                f"bundling {self._function_dir}: pip could not install {shown_as} for "
                f"{self._platform}/python{self._python_version}:\n{completed.stderr.strip()}"
            )

    def _copy_sources(self, output: Path) -> None:
        package_dir = output / LAMBDAS_ROOT.name
        package_dir.mkdir(parents=True, exist_ok=True)
        for member in _bundle_members(self._function_dir):
            target = package_dir / member.name
            if member.is_dir():
                shutil.copytree(member, target, ignore=_IGNORED, dirs_exist_ok=True)
            else:
                shutil.copy2(member, target)


def source_hash(
    *,
    function_dir: str,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    layer_provided: frozenset[str] = frozenset(),
) -> str:
    """A hash of everything that goes into one function's asset, so an unchanged function is never rebundled."""
    digest = hashlib.sha256(f"{runtime.name}|{architecture.name}|{function_dir}|{BUNDLE_LAYOUT}".encode())
    if layer_provided:
        # Only when set, so the hashes (and assets) of functions without a layer stay as they were.
        digest.update(f"|layer-provided:{','.join(sorted(canonical_name(n) for n in layer_provided))}".encode())
    for member in _bundle_members(function_dir):
        files = [member] if member.is_file() else sorted(p for p in member.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(LAMBDAS_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def function_code(
    *,
    function_dir: str,
    runtime: lambda_.Runtime,
    architecture: lambda_.Architecture,
    layer_provided: Iterable[str] = (),
) -> lambda_.Code:
    """The code asset of ``lambdas/<function_dir>`` with its bytecode: bundled locally, else in the runtime's image.

    ``layer_provided``: distributions a layer of the function provides, left out of the bundle.
    """
    if not (LAMBDAS_ROOT / function_dir / "requirements.txt").is_file():
        raise FileNotFoundError(f"{LAMBDAS_ROOT / function_dir / 'requirements.txt'} is missing")
    provided = frozenset(canonical_name(name) for name in layer_provided)
    requirements = f"{function_dir}/requirements.txt"
    write_requirements = ""
    if provided:
        requirements = "/tmp/requirements.txt"  # noqa: S108 - inside the throw-away bundling container
        content = bundled_requirements(function_dir, layer_provided=provided)
        write_requirements = f"printf %s {shlex.quote(content)} > {requirements} && "
    docker_command = (
        f"{write_requirements}pip install --no-compile --no-deps -r {requirements} -t /asset-output"
        f" && mkdir -p /asset-output/lambdas && cp __init__.py /asset-output/lambdas/"
        f" && cp -r {function_dir} {SHARED_PACKAGE} /asset-output/lambdas/"
        # The bundling image's python is the runtime's own version.
        f" && {shlex.join(finish_command('python', '/asset-output', python_version=_python_version(runtime)))}"
    )
    return lambda_.Code.from_asset(
        str(LAMBDAS_ROOT),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=source_hash(
            function_dir=function_dir, runtime=runtime, architecture=architecture, layer_provided=provided
        ),
        bundling=BundlingOptions(
            image=runtime.bundling_image,
            platform=f"linux/{'arm64' if architecture.name == lambda_.Architecture.ARM_64.name else 'amd64'}",
            command=["bash", "-c", docker_command],
            local=LocalPipBundler(
                function_dir=function_dir, runtime=runtime, architecture=architecture, layer_provided=provided
            ),
        ),
    )
