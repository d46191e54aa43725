"""Finish a function's bundle: compile its bytecode, ship dependencies as bytecode only, drop typing-only packages.

``python bundle_bytecode.py BUNDLE_DIR --python-version 3.13`` runs as a script on purpose, with the standard library
only: the local bundler runs it with the synth's interpreter, and the Docker fallback runs the same file (passed as
``python -c``) with the bundling image's Python, so both paths build the same bytes.

- ``lambdas/`` keeps its sources, with ``__pycache__/<module>.cpython-313.pyc`` beside each one (tracebacks of our
  own code show their lines).
- Third-party packages ship sourceless bytecode: ``<module>.pyc`` in place of ``<module>.py``. Their sources and
  bytecode together would double the zip (the API's: 8.7 MB instead of 4.2 MB, over its 5 MB target), and Python
  imports a lone ``.pyc`` without looking for a source.
- Packages only type checkers read (``TYPING_ONLY``: imported under ``TYPE_CHECKING`` alone) are left out.

Every file is compiled with ``unchecked-hash`` invalidation: the interpreter uses the bytecode without comparing
timestamps (the zip's fixed dates never match a source's), and the bytes depend on the sources alone, so two builds
of unchanged code are identical. Source paths in the bytecode are rewritten to Lambda's ``/var/task``.
"""

from __future__ import annotations

import argparse
import compileall
import py_compile
import shutil
import sys
from pathlib import Path

OWN_CODE = "lambdas"
LAMBDA_TASK_ROOT = "/var/task"
# stripe's request-parameter TypedDicts (~840 modules, 9 MB with bytecode): the SDK imports them only under
# TYPE_CHECKING, and stripe/__init__ only when someone reads ``stripe.params`` (a test guards both).
TYPING_ONLY = ("stripe/params",)
_MODE = py_compile.PycInvalidationMode.UNCHECKED_HASH


class BytecodeError(RuntimeError):
    """The bundle cannot be given valid bytecode: another interpreter version, or a module that does not compile."""


def _compile(directory: Path, bundle_dir: Path, *, legacy: bool) -> bool:
    return bool(
        compileall.compile_dir(
            directory,
            quiet=1,
            legacy=legacy,
            workers=0,
            invalidation_mode=_MODE,
            stripdir=str(bundle_dir),
            prependdir=LAMBDA_TASK_ROOT,
        )
    )


def _compile_module(source: Path, bundle_dir: Path) -> bool:
    return bool(
        compileall.compile_file(
            source,
            quiet=1,
            legacy=True,
            invalidation_mode=_MODE,
            stripdir=str(bundle_dir),
            prependdir=LAMBDA_TASK_ROOT,
        )
    )


def _drop_compiled_sources(directory: Path) -> None:
    sources = [directory] if directory.is_file() else list(directory.rglob("*.py"))
    for source in sources:
        if source.with_suffix(".pyc").is_file():
            source.unlink()


def finish_bundle(bundle_dir: Path, *, python_version: str) -> None:
    """Compile ``bundle_dir`` in place for ``python_version`` (``major.minor``), which must be this interpreter's."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running != python_version:
        raise BytecodeError(f"bytecode for Python {python_version} cannot be compiled by Python {running}")
    for typing_only in TYPING_ONLY:
        shutil.rmtree(bundle_dir / typing_only, ignore_errors=True)
    failed: list[str] = []
    if not _compile(bundle_dir / OWN_CODE, bundle_dir, legacy=False):
        failed.append(OWN_CODE)
    for entry in sorted(bundle_dir.iterdir()):
        if entry.name == OWN_CODE or entry.name.endswith(".dist-info"):
            continue
        if entry.is_dir():
            compiled = _compile(entry, bundle_dir, legacy=True)
        elif entry.suffix == ".py":
            compiled = _compile_module(entry, bundle_dir)
        else:
            continue
        if not compiled:
            failed.append(entry.name)
            continue
        _drop_compiled_sources(entry)
    if failed:
        raise BytecodeError(f"modules of {', '.join(failed)} do not compile (compileall printed which)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle_dir", type=Path)
    parser.add_argument("--python-version", required=True, help="major.minor of the function's runtime")
    args = parser.parse_args(argv)
    try:
        finish_bundle(args.bundle_dir, python_version=args.python_version)
    except BytecodeError as error:
        print(f"bundle_bytecode: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
