"""The GitHub Actions workflows, read as data: every ``make`` target they call exists, every action is pinned by
commit, permissions are empty at the top and ``id-token: write`` only where OIDC is used, deployments of one
environment never overlap or cancel, the destroy workflow's guard runs before anything else, and no expression of
the event is spliced into a shell script. (``make workflow-lint`` checks them against GitHub's schema and zizmor.)"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cdk import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
NAMES = ("ci", "deploy", "destroy")
OIDC_ACTION = "aws-actions/configure-aws-credentials"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
MAKE_TARGET = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)\s*:(?!=)", re.MULTILINE)
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def load(name: str) -> dict[str, Any]:
    raw: dict[Any, Any] = yaml.safe_load((WORKFLOWS / f"{name}.yml").read_text())
    # YAML 1.1 (PyYAML) reads the key `on` as the boolean True
    return {("on" if key is True else str(key)): value for key, value in raw.items()}


def jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = workflow["jobs"]
    return found


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job.get("steps", [])
    return found


def all_steps() -> list[tuple[str, str, dict[str, Any]]]:
    return [(name, job_id, step) for name in NAMES for job_id, job in jobs(load(name)).items() for step in steps(job)]


def makefile_targets() -> set[str]:
    return set(MAKE_TARGET.findall((PROJECT_ROOT / "Makefile").read_text()))


def make_targets_called(script: str) -> list[str]:
    """The targets of every ``make`` command in a shell script (``make deploy ENV=x`` → ``deploy``)."""
    targets = []
    for line in script.replace("\\\n", " ").splitlines():
        for command in re.split(r"&&|\|\||;|\|", line):
            words = shlex.split(command, comments=True)
            if words and words[0] == "make":
                targets += [word for word in words[1:] if not word.startswith("-") and "=" not in word]
    return targets


def test_the_three_workflows_are_there() -> None:
    assert sorted(path.stem for path in WORKFLOWS.glob("*.y*ml")) == sorted(NAMES)


def test_every_make_target_a_workflow_calls_exists() -> None:
    targets = makefile_targets()
    assert {"test", "deploy", "destroy", "stripe-key", "install", "workflow-lint", "deploy-delivery"} <= targets
    called = {target for _, _, step in all_steps() for target in make_targets_called(step.get("run", ""))}
    assert called, "the workflows call no make target"
    assert called - targets == set()


def test_the_make_target_parser_sees_what_a_script_runs() -> None:
    script = 'make install\nmake deploy ENV="$ENV_NAME" CDK_ARGS="--force" && make -s stripe-key # make nothing\n'
    assert make_targets_called(script) == ["install", "deploy", "stripe-key"]


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version() -> None:
    for name in NAMES:
        text = (WORKFLOWS / f"{name}.yml").read_text()
        for line in text.splitlines():
            if "uses:" in line:
                assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), f"{name}.yml: {line.strip()}"
    for name, job_id, step in all_steps():
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{name}.yml {job_id}: {step['uses']}"


def test_one_version_of_each_action_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for _, _, step in all_steps():
        if "uses" in step:
            action, _, sha = step["uses"].partition("@")
            pins.setdefault(action, set()).add(sha)
    assert {action: len(shas) for action, shas in pins.items()} == dict.fromkeys(pins, 1)


def test_permissions_are_empty_at_the_top_and_granted_per_job() -> None:
    for name in NAMES:
        workflow = load(name)
        assert workflow["permissions"] == {}, name
        for job_id, job in jobs(workflow).items():
            uses_oidc = any(step.get("uses", "").startswith(f"{OIDC_ACTION}@") for step in steps(job))
            expected = {"contents": "read", "id-token": "write"} if uses_oidc else {"contents": "read"}
            assert job["permissions"] == expected, f"{name}.yml {job_id}"


def test_only_deploy_and_destroy_use_aws_and_no_long_lived_key_appears() -> None:
    oidc_jobs = {
        (name, job_id) for name, job_id, step in all_steps() if step.get("uses", "").startswith(f"{OIDC_ACTION}@")
    }
    assert oidc_jobs == {("deploy", "deploy"), ("destroy", "destroy")}
    for name in NAMES:
        text = (WORKFLOWS / f"{name}.yml").read_text()
        assert "aws-access-key-id" not in text
        assert "AWS_SECRET_ACCESS_KEY" not in text
    roles = {
        step["with"]["role-to-assume"]
        for _, _, step in all_steps()
        if step.get("uses", "").startswith(f"{OIDC_ACTION}@")
    }
    assert roles == {"${{ vars.AWS_DEPLOY_ROLE_ARN }}", "${{ vars.AWS_DESTROY_ROLE_ARN }}"}


def test_checkout_never_keeps_the_token() -> None:
    for name, job_id, step in all_steps():
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False, f"{name}.yml {job_id}"


def test_ci_runs_make_test_on_every_push_and_pull_request() -> None:
    workflow = load("ci")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["on"]["push"] is None
    assert workflow["on"]["pull_request"] is None
    (job,) = jobs(workflow).values()
    assert [step["run"] for step in steps(job) if "run" in step] == ["make test"]


def test_deploy_runs_on_branches_one_deployment_per_environment_never_cancelled() -> None:
    workflow = load("deploy")
    assert workflow["on"] == {"push": {"branches": ["**"]}, "workflow_dispatch": None}
    deploy = jobs(workflow)["deploy"]
    assert deploy["needs"] == "environment"
    assert deploy["concurrency"] == {
        "group": "deploy-${{ needs.environment.outputs.name }}",
        "cancel-in-progress": False,
    }
    # The name comes from the guard script's sanitising, computed in the first job
    first = jobs(workflow)["environment"]
    assert "needs" not in first
    assert "python -m scripts.delivery_env deploy" in steps(first)[-1]["run"]
    assert first["outputs"]["name"] == "${{ steps.name.outputs.name }}"


def test_deploy_puts_the_stripe_key_only_when_absent_and_summarises() -> None:
    deploy_steps = steps(jobs(load("deploy"))["deploy"])
    put = next(step for step in deploy_steps if "make stripe-key" in step.get("run", ""))
    assert put["if"] == "${{ steps.stripe-key.outputs.state == 'absent' }}"
    assert put["env"] == {"STRIPE_SECRET_KEY": "${{ secrets.STRIPE_SECRET_KEY }}"}
    # The secret reaches that one step only
    assert [step for step in deploy_steps if "secrets." in str(step)] == [put]
    runs = [step.get("run", "") for step in deploy_steps]
    order = [
        next(i for i, run in enumerate(runs) if marker in run)
        for marker in ("scripts.stripe_key_present", "make stripe-key", "make deploy", "scripts.delivery_summary")
    ]
    assert order == sorted(order)
    assert '>> "$GITHUB_STEP_SUMMARY"' in runs[order[-1]]
    assert "--require-approval never" in runs[order[2]]


def test_destroy_runs_on_branch_deletion_and_the_guard_runs_first() -> None:
    workflow = load("destroy")
    assert workflow["on"] == {"delete": None}
    guard = jobs(workflow)["guard"]
    assert guard["if"] == "${{ github.event.ref_type == 'branch' }}"
    # Nothing runs before the guard: only checkout and Python are set up, with no credentials
    guard_steps = steps(guard)
    first_run = next(i for i, step in enumerate(guard_steps) if "run" in step)
    assert "python -m scripts.delivery_env destroy" in guard_steps[first_run]["run"]
    assert all(
        step["uses"].split("@")[0] in {"actions/checkout", "actions/setup-python"} for step in guard_steps[:first_run]
    )
    assert guard_steps[first_run]["env"]["DELETED_REF"] == "${{ github.event.ref }}"
    # Every other job waits for the guard, and destroys the name it let through
    others = {job_id: job for job_id, job in jobs(workflow).items() if job_id != "guard"}
    assert others
    for job in others.values():
        assert job["needs"] == "guard"
    destroy = others["destroy"]
    assert destroy["concurrency"] == {"group": "deploy-${{ needs.guard.outputs.name }}", "cancel-in-progress": False}
    assert destroy["env"]["ENV_NAME"] == "${{ needs.guard.outputs.name }}"
    assert any("make destroy" in step.get("run", "") for step in steps(destroy))


def test_no_expression_is_spliced_into_a_shell_script() -> None:
    # Values reach scripts through env: (zizmor's template-injection); ${{ }} in run: would be pasted into bash
    for name, job_id, step in all_steps():
        assert not EXPRESSION.search(step.get("run", "")), f"{name}.yml {job_id}: {step.get('name')}"


def test_make_receives_only_the_sanitised_environment() -> None:
    # ENV= is the first job's output (letters, digits, '-'), never the raw branch name
    for _, _, step in all_steps():
        run = step.get("run", "")
        if re.search(r"make (deploy|destroy|stripe-key)\b", run):
            assert 'ENV="$ENV_NAME"' in run


# --- the lint that `make test` runs (make workflow-lint) catches what it is there for ------------------------------

ZIZMOR = PROJECT_ROOT / ".venv" / "bin" / "zizmor"
CONFIG = PROJECT_ROOT / ".github" / "zizmor.yml"
INJECTABLE = """\
name: bad
on: delete
permissions: {}
jobs:
  guard:
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.ref }}"
"""


def test_zizmor_flags_an_injection_and_a_tag_pin(tmp_path: Path) -> None:
    if not ZIZMOR.exists():
        pytest.fail(".venv/bin/zizmor is missing: run `make venv` (requirements-dev.txt pins it)")
    workflow = tmp_path / ".github" / "workflows" / "bad.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(INJECTABLE)
    result = subprocess.run(
        [str(ZIZMOR), "--offline", "--persona", "auditor", "--config", str(CONFIG), "--format", "json", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert {"template-injection", "unpinned-uses", "artipacked"} <= {
        finding["ident"] for finding in yaml.safe_load(result.stdout)
    }
