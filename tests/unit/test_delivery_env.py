"""scripts/delivery_env.py: the environment a pushed branch deploys to (exactly ``make deploy ENV=<branch>``'s), and
the destroy guard: main, prod, the default branch, cdk.json's protected list, tags and other refs are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_stack.environment import EnvironmentNameError, resolve_env_name, sanitise_env_name
from scripts import delivery_env
from scripts.delivery_env import (
    ALWAYS_PROTECTED,
    EXIT_INVALID,
    EXIT_REFUSED,
    PROTECTED_CONTEXT_KEY,
    NotABranchError,
    ProtectedEnvironmentError,
    ProtectionConfigError,
    branch_of,
    check_destroyable,
    destroyable_env,
    protected_environments,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]

BRANCHES = [
    "feature/ABC-12_x",
    "Release/2.0",
    "123-fix",
    "café/über",
    "fix/日本語-bug",
    "dependabot/npm_and_yarn/aws-cdk-2.1148.1",
    "feature/" + "a" * 120,
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = delivery_env.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def destroy(
    capsys: pytest.CaptureFixture[str], ref: str, *, default_branch: str = "main", cdk_json: Path | None = None
) -> tuple[int, str, str]:
    """The guard as destroy.yml runs it, for the deleted branch ``ref``."""
    argv = ["destroy", "--ref", ref, "--ref-type", "branch", "--default-branch", default_branch]
    return run(capsys, *argv, *(["--cdk-json", str(cdk_json)] if cdk_json else []))


def write_cdk_json(tmp_path: Path, protected: object) -> Path:
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps({"app": "x", "context": {PROTECTED_CONTEXT_KEY: protected}}))
    return path


# --- deploy: the branch's environment ----------------------------------------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
def test_a_pushed_branch_deploys_the_environment_make_deploy_would(
    branch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a push to the branch (GITHUB_REF refs/heads/<branch>) / When the workflow asks for its environment
    code, out, err = run(capsys, "deploy", "--ref", f"refs/heads/{branch}")
    # Then it is the name `make deploy ENV=<branch>` resolves, alone on stdout
    assert (code, err) == (0, "")
    assert out == resolve_env_name(context_value=branch, environ={}) + "\n"


@given(st.text(min_size=1, max_size=300))
def test_the_sanitised_name_is_a_fixed_point(branch: str) -> None:
    # The workflow passes the sanitised name on as ENV=, which make sanitises again: that must change nothing
    try:
        name = sanitise_env_name(branch)
    except EnvironmentNameError:
        return
    assert sanitise_env_name(name) == name
    assert resolve_env_name(context_value=name, environ={}) == name


@pytest.mark.parametrize("ref", ["refs/tags/v1.0", "refs/pull/7/merge", "refs/remotes/origin/x", "feature/x", ""])
def test_deploy_refuses_what_is_not_a_full_branch_ref(ref: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "deploy", "--ref", ref)
    assert (code, out) == (EXIT_INVALID, "")
    assert err.startswith("error: ")


def test_a_branch_with_nothing_usable_in_its_name_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "deploy", "--ref", "refs/heads/日本語")
    assert (code, out) == (EXIT_INVALID, "")
    assert "no letters or digits" in err


# --- destroy: the guard -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
def test_a_deleted_feature_branch_may_be_destroyed(branch: str, capsys: pytest.CaptureFixture[str]) -> None:
    # Given GitHub's delete event for a feature branch (ref: the short name, ref_type: branch)
    code, out, err = destroy(capsys, branch)
    # Then the guard lets it through and names its environment, as deploy did
    assert (code, err) == (0, "")
    assert out == sanitise_env_name(branch) + "\n"


@pytest.mark.parametrize("branch", ["main", "prod", "Main", "PROD", "prod/", "main-", "_main_", "refs/heads/prod"])
def test_main_and_prod_are_never_destroyed(branch: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a cdk.json that protects nothing: main and prod are refused all the same, however they are spelled
    cdk_json = write_cdk_json(tmp_path, [])
    code, out, err = destroy(capsys, branch, default_branch="trunk", cdk_json=cdk_json)
    assert (code, out) == (EXIT_REFUSED, "")
    assert "refusing to destroy environment" in err
    assert "never destroyed by a workflow" in err


def test_the_default_branch_is_never_destroyed(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a repository whose default branch is `trunk`
    code, out, err = destroy(capsys, "trunk", default_branch="trunk")
    assert (code, out) == (EXIT_REFUSED, "")
    assert "default branch 'trunk'" in err


@pytest.mark.parametrize("branch", ["staging", "Staging", "release/2.0", "release-2-0"])
def test_environments_listed_in_cdk_json_are_never_destroyed(
    branch: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given cdk.json protecting `staging` and `release/2.0` (compared once sanitised: release-2-0)
    cdk_json = write_cdk_json(tmp_path, ["staging", "release/2.0"])
    code, out, err = destroy(capsys, branch, default_branch="main", cdk_json=cdk_json)
    assert (code, out) == (EXIT_REFUSED, "")
    assert f"listed in {PROTECTED_CONTEXT_KEY}" in err


def test_the_projects_cdk_json_is_what_the_guard_reads() -> None:
    # The list in the repository's cdk.json (the default branch's, in the destroy workflow) is the one applied
    listed = CDK_JSON_CONTEXT[PROTECTED_CONTEXT_KEY]
    assert protected_environments() == tuple(listed)
    assert protected_environments(PROJECT_ROOT / "cdk.json") == tuple(listed)
    assert set(ALWAYS_PROTECTED) <= set(listed)


def test_without_the_key_only_the_fixed_names_are_protected(tmp_path: Path) -> None:
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps({"context": {}}))
    assert protected_environments(path) == ()
    assert destroyable_env("staging", ref_type="branch", default_branch="main", protected=()) == "staging"


@pytest.mark.parametrize("value", ["main", [1], [""], {"main": True}, ["ok", None]])
def test_a_malformed_protected_list_stops_the_guard(
    value: object, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cdk_json = write_cdk_json(tmp_path, value)
    code, out, err = destroy(capsys, "feature/x", default_branch="main", cdk_json=cdk_json)
    assert (code, out) == (EXIT_INVALID, "")
    assert PROTECTED_CONTEXT_KEY in err


def test_an_unreadable_cdk_json_stops_the_guard(tmp_path: Path) -> None:
    with pytest.raises(ProtectionConfigError, match="cannot read"):
        protected_environments(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ProtectionConfigError, match="cannot read"):
        protected_environments(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("ref", "ref_type"),
    [("v1.0", "tag"), ("refs/tags/v1.0", None), ("refs/pull/3/head", None), ("feature/x", None), ("", "branch")],
)
def test_tags_and_other_refs_are_refused(ref: str, ref_type: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["destroy", "--ref", ref, "--default-branch", "main"]
    if ref_type is not None:
        argv += ["--ref-type", ref_type]
    code, out, err = run(capsys, *argv)
    assert (code, out) == (EXIT_INVALID, "")
    assert err.startswith("error: ")


def test_an_unknown_default_branch_stops_the_guard(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = destroy(capsys, "feature/x", default_branch=" ")
    assert (code, out) == (EXIT_INVALID, "")
    assert "default branch" in err


def test_branch_of_reads_full_refs_and_delete_events() -> None:
    assert branch_of("refs/heads/feature/x") == "feature/x"
    assert branch_of("feature/x", ref_type="branch") == "feature/x"
    assert branch_of("refs/heads/feature/x", ref_type="branch") == "feature/x"
    with pytest.raises(NotABranchError, match="is a tag"):
        branch_of("refs/heads/x", ref_type="tag")


def test_check_destroyable_compares_sanitised_names_without_case() -> None:
    check_destroyable("feature-main", default_branch="main", protected=["prod"])
    with pytest.raises(ProtectedEnvironmentError, match="listed in"):
        check_destroyable("QA-env", default_branch="main", protected=["qa/env"])
    with pytest.raises(ProtectionConfigError, match="unusable"):
        check_destroyable("feature-x", default_branch="main", protected=["///"])


def test_the_guard_needs_nothing_but_the_standard_library() -> None:
    # The workflows run it before any install (setup-python's interpreter, no venv): -S leaves site-packages out
    result = subprocess.run(
        [sys.executable, "-S", "-m", "scripts.delivery_env", "deploy", "--ref", "refs/heads/feature/x"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "feature-x\n", "")
