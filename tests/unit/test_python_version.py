"""One Python version for everything: the Lambda runtime, the Makefile's venv, the tools' settings, and how the
Makefile finds that interpreter (``scripts/find_python.sh``) and rebuilds a venv made by another one.

The Makefile cases run ``make venv`` on a copy of the Makefile with stand-in interpreters: small shell scripts that
answer the version question and record the venv and pip calls, so nothing is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from payment_stack.payment_function import RUNTIME

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VERSION = RUNTIME.name.removeprefix("python")
FIND_PYTHON = PROJECT_ROOT / "scripts" / "find_python.sh"
# A stand-in interpreter: answers the version question, "creates" a venv (a copy of itself), records pip calls.
FAKE_PYTHON = """#!/bin/bash
if [ "$1" = -c ]; then echo "{version}"; exit 0; fi
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; echo "venv by {version}" >> "$3/made-by"; exit 0
fi
if [ "$1 $2" = "-m pip" ]; then echo "pip $*" >> "$(dirname "$0")/../pip-calls"; exit 0; fi
exit 3
"""
BROKEN_SHIM = "#!/bin/bash\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n"


def fake_python(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(FAKE_PYTHON.format(version=version))
    path.chmod(0o755)
    return path


def find_python(*, path: str, pyenv_root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(FIND_PYTHON), VERSION],
        env={"PATH": path, "PYENV_ROOT": str(pyenv_root), "HOME": str(pyenv_root)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_makefile_and_the_tools_name_the_runtime_s_version() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^PYTHON_VERSION := (\S+)$", makefile, re.MULTILINE).group(1) == VERSION  # type: ignore[union-attr]
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f"=={VERSION}.*"
    assert pyproject["tool"]["mypy"]["python_version"] == VERSION
    assert pyproject["tool"]["ruff"]["target-version"] == f"py{VERSION.replace('.', '')}"


def test_python_on_path_is_found_first(tmp_path: Path) -> None:
    on_path = fake_python(tmp_path / "bin" / f"python{VERSION}", VERSION)
    fake_python(tmp_path / "pyenv" / "versions" / f"{VERSION}.9" / "bin" / f"python{VERSION}", VERSION)
    found = find_python(path=f"{tmp_path / 'bin'}:/usr/bin:/bin", pyenv_root=tmp_path / "pyenv")
    assert (found.returncode, found.stdout.strip()) == (0, str(on_path))


def test_a_shim_that_does_not_run_is_skipped_for_the_newest_pyenv_version(tmp_path: Path) -> None:
    # Given pyenv's shim on PATH (it fails when 3.13 is not pyenv's selected version) and two installed 3.13s
    shim = tmp_path / "shims" / f"python{VERSION}"
    shim.parent.mkdir()
    shim.write_text(BROKEN_SHIM)
    shim.chmod(0o755)
    versions = tmp_path / "pyenv" / "versions"
    fake_python(versions / f"{VERSION}.2" / "bin" / f"python{VERSION}", VERSION)
    newest = fake_python(versions / f"{VERSION}.10" / "bin" / f"python{VERSION}", VERSION)
    # When it looks without pyenv on PATH
    found = find_python(path=f"{shim.parent}:/usr/bin:/bin", pyenv_root=tmp_path / "pyenv")
    # Then it takes the newest installed patch release (by version, not by name)
    assert (found.returncode, found.stdout.strip()) == (0, str(newest))


def test_an_interpreter_of_another_version_is_not_taken(tmp_path: Path) -> None:
    if Path(f"/usr/bin/python{VERSION}").exists() or Path(f"/usr/local/bin/python{VERSION}").exists():
        pytest.skip(f"this machine has a system python{VERSION}, which the script rightly finds")
    fake_python(tmp_path / "bin" / f"python{VERSION}", "3.11")
    found = find_python(path=f"{tmp_path / 'bin'}:/usr/bin:/bin", pyenv_root=tmp_path / "pyenv")
    assert (found.returncode, found.stdout) == (1, "")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of what ``make venv`` reads: the Makefile, the finder script and the requirements files."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "Makefile", root / "Makefile")
    shutil.copy(FIND_PYTHON, root / "scripts" / "find_python.sh")
    for name in ("requirements.txt", "requirements-dev.txt", "package-lock.json"):
        (root / name).write_text("")
    return root


def make_venv(project: Path, *arguments: str, path: str = "/usr/bin:/bin") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "venv", *arguments],
        cwd=project,
        env={"PATH": path, "PYENV_ROOT": str(project / "no-pyenv"), "HOME": str(project)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_venv_built_by_another_version_is_rebuilt_with_the_right_one(project: Path, tmp_path: Path) -> None:
    # Given a venv an older checkout built with Python 3.11, and Python 3.13 on PATH
    fake_python(project / ".venv" / "bin" / "python", "3.11")
    fake_python(tmp_path / "bin" / f"python{VERSION}", VERSION)
    # When make builds the venv
    made = make_venv(project, path=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    # Then it says so, recreates it with 3.13 and installs the requirements into it
    assert made.returncode == 0, made.stderr
    assert f"Recreating .venv: it was not built by Python {VERSION}" in made.stdout
    assert (project / ".venv" / "made-by").read_text() == f"venv by {VERSION}\n"
    assert "install --quiet --requirement requirements-dev.txt" in (project / ".venv" / "pip-calls").read_text()
    # And a second run finds it up to date: nothing rebuilt, nothing installed
    again = make_venv(project, path=f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert again.returncode == 0, again.stderr
    assert "Recreating" not in again.stdout
    assert len((project / ".venv" / "pip-calls").read_text().splitlines()) == 1


def test_without_python_3_13_make_says_how_to_install_it(project: Path) -> None:
    if Path(f"/usr/bin/python{VERSION}").exists() or Path(f"/usr/local/bin/python{VERSION}").exists():
        pytest.skip(f"this machine has a system python{VERSION}")
    made = make_venv(project)
    assert made.returncode != 0
    assert f"Python {VERSION} was not found" in made.stderr
    assert f"pyenv install {VERSION}" in made.stderr
    assert f"make PYTHON=/path/to/python{VERSION}" in made.stderr
    assert not (project / ".venv").exists()


def test_a_python_of_another_version_named_by_hand_is_refused(project: Path, tmp_path: Path) -> None:
    other = fake_python(tmp_path / "bin" / "python3.12", "3.12")
    made = make_venv(project, f"PYTHON={other}")
    assert made.returncode != 0
    assert f"PYTHON={other} is not Python {VERSION}" in made.stderr
    assert not (project / ".venv").exists()
