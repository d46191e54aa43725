"""How a bundle gets its bytecode, offline: ``payment_stack.bundle_bytecode`` on a small bundle, the script as the
Docker fallback runs it, the refusal of another interpreter version, and the guard behind leaving ``stripe.params``
out."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import stripe
from aws_cdk import aws_lambda as lambda_

from payment_stack import bundling
from payment_stack.bundle_bytecode import TYPING_ONLY, BytecodeError, finish_bundle
from payment_stack.bundling import BytecodeVersionMismatch, LocalPipBundler, finish_command, interpreter_version
from payment_stack.payment_function import ARCHITECTURE, RUNTIME

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
RUNTIME_VERSION = RUNTIME.name.removeprefix("python")


def small_bundle(root: Path) -> Path:
    """Our code, a dependency package, a single-module dependency, metadata, and a typing-only package."""
    (root / "lambdas" / "fn").mkdir(parents=True)
    (root / "lambdas" / "__init__.py").write_text("")
    (root / "lambdas" / "fn" / "__init__.py").write_text("")
    (root / "lambdas" / "fn" / "handler.py").write_text(
        "from dep.core import VALUE\ndef handler(e, c):\n    return VALUE\n"
    )
    (root / "dep").mkdir()
    (root / "dep" / "__init__.py").write_text("")
    (root / "dep" / "core.py").write_text("VALUE = 42\n")
    (root / "dep" / "data.json").write_text("{}")
    (root / "single.py").write_text("X = 1\n")
    (root / "dep-1.0.dist-info").mkdir()
    (root / "dep-1.0.dist-info" / "METADATA").write_text("Name: dep\n")
    (root / "stripe" / "params").mkdir(parents=True)
    (root / "stripe" / "__init__.py").write_text("")
    (root / "stripe" / "params" / "__init__.py").write_text("")
    return root


def files_of(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_own_code_keeps_its_sources_and_gains_cached_bytecode(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path)
    finish_bundle(bundle, python_version=interpreter_version())
    files = files_of(bundle)
    assert {"lambdas/fn/handler.py", "lambdas/fn/__pycache__/handler.cpython-313.pyc"} <= files


def test_dependencies_become_bytecode_only_and_keep_their_data(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path)
    finish_bundle(bundle, python_version=interpreter_version())
    files = files_of(bundle)
    assert {"dep/__init__.pyc", "dep/core.pyc", "single.pyc", "dep/data.json", "dep-1.0.dist-info/METADATA"} <= files
    assert not {"dep/core.py", "single.py", "dep/__init__.py"} & files
    assert not [name for name in files if name.startswith("dep/__pycache__")]


def test_typing_only_packages_are_removed(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path)
    finish_bundle(bundle, python_version=interpreter_version())
    assert TYPING_ONLY == ("stripe/params",)
    assert not (bundle / "stripe" / "params").exists()
    assert (bundle / "stripe" / "__init__.pyc").is_file()


def test_the_finished_bundle_runs_from_its_bytecode(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path)
    finish_bundle(bundle, python_version=interpreter_version())
    completed = subprocess.run(
        [sys.executable, "-c", "from lambdas.fn.handler import handler; print(handler(None, None))"],
        cwd=bundle,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == "42"


def test_bytecode_names_its_sources_under_var_task_not_the_build_directory(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path)
    finish_bundle(bundle, python_version=interpreter_version())
    for compiled in bundle.rglob("*.pyc"):
        assert str(tmp_path).encode() not in compiled.read_bytes()
    assert b"/var/task/dep/core.py" in (bundle / "dep" / "core.pyc").read_bytes()


def test_two_builds_in_different_directories_are_identical(tmp_path: Path) -> None:
    first, second = small_bundle(tmp_path / "a"), small_bundle(tmp_path / "b")
    for bundle in (first, second):
        finish_bundle(bundle, python_version=interpreter_version())
    assert files_of(first) == files_of(second)
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in files_of(first))


def test_bytecode_for_another_version_is_refused(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path)
    with pytest.raises(BytecodeError, match=r"bytecode for Python 3\.12 cannot be compiled by Python 3\.13"):
        finish_bundle(bundle, python_version="3.12")
    assert not list(bundle.rglob("*.pyc"))


def test_a_module_that_does_not_compile_fails_the_bundle(tmp_path: Path) -> None:
    bundle = small_bundle(tmp_path)
    (bundle / "dep" / "broken.py").write_text("def broken(:\n")
    with pytest.raises(BytecodeError, match="dep"):
        finish_bundle(bundle, python_version=interpreter_version())


def test_the_docker_fallback_runs_the_same_script_as_a_command(tmp_path: Path) -> None:
    # Given the command the bundling container runs, with this interpreter in place of the image's python
    bundle = small_bundle(tmp_path)
    command = finish_command(sys.executable, str(bundle), python_version=RUNTIME_VERSION)
    assert command[1] == "-c"
    # When it runs, the bundle is finished as the local bundler finishes it
    subprocess.run(command, check=True, capture_output=True)
    assert {"dep/core.pyc", "lambdas/fn/__pycache__/handler.cpython-313.pyc"} <= files_of(bundle)
    # And with another version it refuses, exit 1 and a message
    other = subprocess.run(
        finish_command(sys.executable, str(small_bundle(tmp_path / "other")), python_version="3.14"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert other.returncode == 1
    assert "cannot be compiled by Python 3.13" in other.stderr


def test_the_tests_run_on_the_runtime_s_own_python() -> None:
    assert interpreter_version() == RUNTIME_VERSION


def bundler() -> LocalPipBundler:
    return LocalPipBundler(function_dir="collect", runtime=RUNTIME, architecture=ARCHITECTURE)


def test_another_interpreter_without_docker_stops_with_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundling, "interpreter_version", lambda: "3.11")
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(BytecodeVersionMismatch, match=r"runtime is python3\.13, but the synth runs on Python 3\.11"):
        bundler().try_bundle(str(tmp_path))
    assert not list(tmp_path.iterdir())


def test_another_interpreter_with_docker_declines_to_the_bundling_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bundling, "interpreter_version", lambda: "3.12")
    monkeypatch.setattr(shutil, "which", lambda _name: "/usr/bin/docker")
    assert bundler().try_bundle(str(tmp_path)) is False
    assert "bundling collect in Docker" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_the_asset_hash_follows_the_runtime_and_the_bundle_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    # A bundle that changes shape for the same sources (another Python, another layout) gets a new asset hash.
    before = bundling.source_hash(function_dir="collect", runtime=RUNTIME, architecture=ARCHITECTURE)
    assert before == bundling.source_hash(function_dir="collect", runtime=RUNTIME, architecture=ARCHITECTURE)
    assert before != bundling.source_hash(
        function_dir="collect", runtime=lambda_.Runtime.PYTHON_3_12, architecture=ARCHITECTURE
    )
    monkeypatch.setattr(bundling, "BUNDLE_LAYOUT", "another layout")
    assert before != bundling.source_hash(function_dir="collect", runtime=RUNTIME, architecture=ARCHITECTURE)


def _runtime_imports_of(tree: ast.Module, package: str) -> list[int]:
    """Lines importing ``package`` outside ``if TYPE_CHECKING:`` blocks, or naming it in a lazy-import string."""
    type_checking_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    lines = []
    for node in ast.walk(tree):
        if id(node) in type_checking_only:
            continue
        if (
            (isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package))
            or (isinstance(node, ast.Import) and any(alias.name.startswith(package) for alias in node.names))
            or (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(package))
        ):
            lines.append(node.lineno)
    return lines


def test_stripe_imports_its_params_only_for_type_checkers() -> None:
    # Given the stripe SDK the bundles pin (the dev venv installs the same version)
    root = Path(stripe.__file__).parent
    found = {}
    for source in root.rglob("*.py"):
        if source.relative_to(root).parts[0] == "params":
            continue
        lines = _runtime_imports_of(ast.parse(source.read_text()), "stripe.params")
        if lines:
            found[str(source.relative_to(root))] = lines
    # Then nothing imports stripe.params at run time but the lazy attribute of stripe/__init__ (read on access)
    assert list(found) == ["__init__.py"], found
    assert len(found["__init__.py"]) == 1
    # And our own code never reaches it
    for source in LAMBDAS.rglob("*.py"):
        assert "stripe.params" not in source.read_text(), source
