"""Which environment a synth is for: resolved once from CDK context, ``AWS_BRANCH`` or git, then sanitised."""

from __future__ import annotations

import hashlib
import re
import subprocess
import unicodedata
from collections.abc import Callable, Mapping

ENV_CONTEXT_KEY = "env"
MAX_ENV_NAME_LENGTH = 32
_HASH_LENGTH = 8
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9]+")

ENV_OPTION_HINT = "pass the environment explicitly: `cdk synth -c env=NAME` or `make synth ENV=NAME`"


class EnvironmentNameError(ValueError):
    """The environment cannot be determined, or its name has nothing usable in it."""


def sanitise_env_name(raw: str) -> str:
    """Turn a branch or environment name into one valid for stack names, SSM paths and resource names.

    Only ASCII letters, digits and single ``-`` remain, the value starts with a letter (``env-`` is put in front
    otherwise) and is at most ``MAX_ENV_NAME_LENGTH`` characters. A longer name keeps its start and gets a short hash
    of the whole raw name, so two long branches that differ only at the end still get different environments.

    Raises ``EnvironmentNameError`` when nothing usable is left (e.g. ``"///"``).
    """
    ascii_only = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    name = _NOT_ALLOWED.sub("-", ascii_only).strip("-")
    if not name:
        raise EnvironmentNameError(f"environment name {raw!r} has no letters or digits; {ENV_OPTION_HINT}")
    if not name[0].isalpha():
        name = f"env-{name}"
    if len(name) > MAX_ENV_NAME_LENGTH:
        digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:_HASH_LENGTH]
        name = f"{name[: MAX_ENV_NAME_LENGTH - _HASH_LENGTH - 1].rstrip('-')}-{digest}"
    return name


def current_git_branch() -> str | None:
    """The checked-out branch, or ``None`` for a detached HEAD, no git, or a directory outside a repository."""
    try:
        completed = subprocess.run(
            ["git", "symbolic-ref", "--quiet", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    branch = completed.stdout.strip()
    return branch if completed.returncode == 0 and branch else None


def resolve_env_name(
    *,
    context_value: object,
    environ: Mapping[str, str],
    git_branch: Callable[[], str | None] | None = None,
) -> str:
    """The sanitised environment name: CDK context ``env``, else ``AWS_BRANCH``, else the current git branch.

    Raises ``EnvironmentNameError`` (saying how to pass ``-c env=...``) when none of them gives a name.
    """
    if context_value is not None and not isinstance(context_value, str):
        raise EnvironmentNameError(f"context `env` must be a string, got {context_value!r}; {ENV_OPTION_HINT}")
    for candidate in (context_value, environ.get("AWS_BRANCH")):
        if isinstance(candidate, str) and candidate.strip():
            return sanitise_env_name(candidate)
    branch = (git_branch or current_git_branch)()
    if branch is None:
        raise EnvironmentNameError(
            "cannot tell the environment: no `env` context, no AWS_BRANCH, and no git branch "
            f"(detached HEAD or not a git checkout); {ENV_OPTION_HINT}"
        )
    return sanitise_env_name(branch)
