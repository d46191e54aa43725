"""Which environment a git ref deploys to, and whether a deleted branch's environment may be destroyed.

The GitHub Actions workflows (``.github/workflows/deploy.yml``, ``destroy.yml``) run this before anything else, with
nothing but the standard library and ``payment_stack.environment``/``names`` (no venv needed):

    python -m scripts.delivery_env deploy --ref refs/heads/feature/x
    python -m scripts.delivery_env destroy --ref feature/x --ref-type branch --default-branch main

Both print the environment name alone on stdout: the branch sanitised exactly as ``make deploy ENV=<branch>`` does
(``payment_stack.environment.sanitise_env_name``). ``destroy`` refuses (exit 1) the environments ``main`` and
``prod``, the repository's default branch and every name listed in ``cdk.json`` under
``payment:protectedEnvironments``; names are compared once sanitised and without regard to case, so ``Prod`` or
``main/`` are refused too. A tag or any other ref that is not a branch, or a name with nothing usable in it, is an
error (exit 2). Messages go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from payment_stack.environment import EnvironmentNameError, sanitise_env_name

PROTECTED_CONTEXT_KEY = "payment:protectedEnvironments"
# Never destroyed from a workflow, whatever cdk.json says.
ALWAYS_PROTECTED = ("main", "prod")
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
BRANCH_PREFIX = "refs/heads/"

EXIT_REFUSED = 1
EXIT_INVALID = 2


class NotABranchError(ValueError):
    """The ref is a tag, a pull request or anything else that is not a branch."""


class ProtectionConfigError(ValueError):
    """``payment:protectedEnvironments`` in cdk.json is not a list of names."""


class ProtectedEnvironmentError(Exception):
    """The environment may not be destroyed by a workflow; the message says why."""


def branch_of(ref: str, *, ref_type: str | None = None) -> str:
    """The branch name of ``ref``: a full ref (``refs/heads/feature/x``), or a short name with ``ref_type`` ``branch``
    (how GitHub's ``delete`` event gives it: ``github.event.ref`` plus ``github.event.ref_type``).

    Raises ``NotABranchError`` for tags (``refs/tags/v1``, or ``ref_type`` ``tag``), other refs (``refs/pull/...``),
    a short name without ``ref_type`` and an empty name.
    """
    if ref_type is not None and ref_type != "branch":
        raise NotABranchError(f"{ref!r} is a {ref_type}, not a branch: no environment belongs to it")
    if ref.startswith(BRANCH_PREFIX):
        branch = ref.removeprefix(BRANCH_PREFIX)
    elif ref.startswith("refs/"):
        raise NotABranchError(f"{ref!r} is not a branch (only refs/heads/... are): no environment belongs to it")
    elif ref_type == "branch":
        branch = ref
    else:
        raise NotABranchError(f"{ref!r} is not a full ref: give refs/heads/<branch>, or the name with --ref-type")
    if not branch.strip():
        raise NotABranchError(f"{ref!r} names no branch")
    return branch


def env_for_branch(branch: str) -> str:
    """The environment ``make deploy ENV=<branch>`` deploys: the branch sanitised. Raises ``EnvironmentNameError``."""
    return sanitise_env_name(branch)


def protected_environments(cdk_json: Path = CDK_JSON) -> tuple[str, ...]:
    """The names listed under ``payment:protectedEnvironments`` in ``cdk_json``'s context (none if the key is absent).

    Raises ``ProtectionConfigError`` when the file cannot be read or the value is not a list of non-empty strings.
    """
    try:
        context = json.loads(cdk_json.read_text(encoding="utf-8")).get("context", {})
    except (OSError, ValueError, AttributeError) as error:
        raise ProtectionConfigError(f"cannot read the context of {cdk_json}: {error}") from error
    names = context.get(PROTECTED_CONTEXT_KEY, [])
    if not isinstance(names, list) or not all(isinstance(name, str) and name.strip() for name in names):
        raise ProtectionConfigError(
            f"{PROTECTED_CONTEXT_KEY} in {cdk_json} must be a list of environment names, got {names!r}"
        )
    return tuple(names)


def _key(name: str) -> str:
    return sanitise_env_name(name).casefold()


def check_destroyable(env_name: str, *, default_branch: str, protected: Iterable[str]) -> None:
    """Raise ``ProtectedEnvironmentError`` if ``env_name`` (sanitised) is ``main``, ``prod``, the default branch's
    environment or one of ``protected``; all are sanitised and compared without regard to case.

    Raises ``ProtectionConfigError`` if a protected name or the default branch has nothing usable in it.
    """
    reasons: dict[str, str] = {}
    try:
        for name in ALWAYS_PROTECTED:
            reasons.setdefault(_key(name), f"{name!r} is never destroyed by a workflow")
        reasons.setdefault(_key(default_branch), f"it is the environment of the default branch {default_branch!r}")
        for name in protected:
            reasons.setdefault(_key(name), f"{name!r} is listed in {PROTECTED_CONTEXT_KEY} (cdk.json)")
    except EnvironmentNameError as error:
        raise ProtectionConfigError(f"a protected name is unusable: {error}") from error
    reason = reasons.get(env_name.casefold())
    if reason is not None:
        raise ProtectedEnvironmentError(f"refusing to destroy environment {env_name!r}: {reason}")


def destroyable_env(
    ref: str, *, ref_type: str | None, default_branch: str, protected: Sequence[str] = ALWAYS_PROTECTED
) -> str:
    """The environment of the deleted branch ``ref``, if a workflow may destroy it (see ``check_destroyable``)."""
    if not default_branch.strip():
        raise ProtectionConfigError("the repository's default branch is not known: pass --default-branch")
    env_name = env_for_branch(branch_of(ref, ref_type=ref_type))
    check_destroyable(env_name, default_branch=default_branch, protected=protected)
    return env_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser("deploy", help="print the environment a pushed branch deploys to")
    deploy.add_argument("--ref", required=True, help="the full ref, e.g. refs/heads/feature/x (GITHUB_REF)")
    destroy = commands.add_parser("destroy", help="print a deleted branch's environment if it may be destroyed")
    destroy.add_argument("--ref", required=True, help="the deleted ref (github.event.ref: the short name)")
    destroy.add_argument("--ref-type", help="github.event.ref_type: branch or tag")
    destroy.add_argument("--default-branch", required=True, help="the repository's default branch")
    destroy.add_argument("--cdk-json", type=Path, default=CDK_JSON, help="where the protected list is (cdk.json)")
    args = parser.parse_args(argv)
    try:
        if args.command == "deploy":
            env_name = env_for_branch(branch_of(args.ref))
        else:
            protected = (*ALWAYS_PROTECTED, *protected_environments(args.cdk_json))
            env_name = destroyable_env(
                args.ref, ref_type=args.ref_type, default_branch=args.default_branch, protected=protected
            )
    except ProtectedEnvironmentError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_REFUSED
    except (NotABranchError, EnvironmentNameError, ProtectionConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    print(env_name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
