"""cdk-nag on every synth: the three packs run, an unaccepted finding fails the synth, and the accepted ones are exactly
the table in ``payment_stack/suppressions.py``, which ``SECURITY.md`` lists (same resources, rules, conditions,
reasons).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_sqs as sqs

from payment_stack.app_builder import AppStacks, build_stacks
from payment_stack.compliance import PACK_NAMESPACES, find_resource, resolve_rule_id
from payment_stack.suppressions import BOOKING, CONDITIONS, PAYMENT, SUPPRESSIONS, Suppression
from tests.support.cdk import PROJECT_ROOT, make_app

SECURITY_MD = PROJECT_ROOT / "SECURITY.md"
CDK_CLI = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
# Every configuration that changes which suppressions apply: a branch, local mode, main, production (WAF).
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "branch": {"env": "feature-x"},
    "local": {"env": "local", "payment:apiGatewayCloudWatchRole": "false"},
    "main": {"env": "main"},
    "prod": {"env": "prod"},
}


def synth_report(tmp_path: Path, **context: Any) -> tuple[AppStacks, dict[str, Any]]:
    """Synthesize the app into ``tmp_path`` and return its stacks and CDK's validation report."""
    app = make_app(outdir=str(tmp_path), **context)
    stacks = build_stacks(app, environ={})
    app.synth()
    report: dict[str, Any] = json.loads((tmp_path / "validation-report.json").read_text())
    return stacks, report


def stack_key(stacks: AppStacks, construct_path: str) -> tuple[str, str]:
    """``Payment-feature-x/PaymentApi/...`` → ``("Payment", "PaymentApi/...")``."""
    stack_name, _, path = construct_path.partition("/")
    names = {stacks.payment.node.id: PAYMENT, stacks.booking.node.id: BOOKING}
    return names[stack_name], path


# --- the packs run and an unaccepted finding fails -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_every_configuration_synthesizes_with_no_unaccepted_finding(tmp_path: Path, name: str) -> None:
    # Given the app for a branch, local mode, main or production
    stacks, report = synth_report(tmp_path, **CONFIGURATIONS[name])
    plugins = {plugin["pluginName"]: plugin for plugin in report["pluginReports"]}
    # Then the three packs ran and passed, with no violation left
    assert {"AwsSolutions", "PCI.DSS.321", "Serverless"} <= set(plugins)
    for plugin in plugins.values():
        assert plugin["violations"] == [], plugin["pluginName"]
        assert plugin["conclusion"] == "success", plugin["pluginName"]
    # And what they accepted is exactly the table's suppressions for this configuration: none unused, none extra
    suppressed = {
        (*stack_key(stacks, construct["constructPath"]), violation["ruleName"])
        for plugin in plugins.values()
        for violation in plugin.get("suppressedViolations", [])
        for construct in violation["violatingConstructs"]
    }
    expected = {
        (s.stack, s.path, resolve_rule_id(s, payment=stacks.payment, booking=stacks.booking))
        for s in SUPPRESSIONS
        if s.active_for(stacks.payment.config)
    }
    assert suppressed == expected


def add_non_compliant_queue(stack: Stack) -> None:
    # No encryption and no SSL enforcement: AwsSolutions-SQS2 and -SQS4 (and SQS3, Serverless-SQSRedrivePolicy: no
    # dead-letter queue).
    sqs.Queue(stack, "NonCompliantQueue", encryption=sqs.QueueEncryption.UNENCRYPTED, enforce_ssl=False)


def test_a_non_compliant_resource_fails_the_synth_naming_the_rules(tmp_path: Path) -> None:
    # Given the app with an unencrypted queue that accepts plain HTTP
    app = make_app(outdir=str(tmp_path), env="feature-x")
    stacks = build_stacks(app, environ={})
    add_non_compliant_queue(stacks.payment)
    # When it is synthesized, then the synth fails and the report names the queue and the rules it breaks
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    message = str(failure.value)
    for rule in ("AwsSolutions-SQS2", "AwsSolutions-SQS3", "AwsSolutions-SQS4", "Serverless-SQSRedrivePolicy"):
        assert rule in message
    assert "Payment-feature-x/NonCompliantQueue/Resource" in message


def test_the_cdk_cli_exits_non_zero_on_an_unaccepted_finding(tmp_path: Path) -> None:
    # Given an app (the real one plus a non-compliant queue) run by the CDK CLI, as `make synth` and `make test` do
    assert CDK_CLI.exists(), "node_modules/.bin/cdk is missing: run `make install`"
    script = tmp_path / "non_compliant_app.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(PROJECT_ROOT)!r})\n"
        "from payment_stack.app_builder import build_stacks\n"
        "from tests.support.cdk import make_app\n"
        "from tests.unit.test_compliance import add_non_compliant_queue\n"
        "app = make_app()\n"
        "add_non_compliant_queue(build_stacks(app, environ={}).payment)\n"
        "app.synth()\n"
    )
    # The CLI decides how the app reports; a test runner's variables must not leak into the app's process.
    environ = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    environ |= {
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "true",
        "CDK_CLI_TELEMETRY_DISABLED": "true",
    }
    # When `cdk synth` runs it
    completed = subprocess.run(
        [
            str(CDK_CLI),
            "synth",
            "--quiet",
            "--no-notices",
            "--app",
            f"{sys.executable} {script}",
            "--context",
            "env=feature-nag",
            "--output",
            str(tmp_path / "cdk.out"),
        ],
        cwd=PROJECT_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    # Then it fails, naming the rule and the resource
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "AwsSolutions-SQS4" in output
    assert "Payment-feature-nag/NonCompliantQueue/Resource" in output


# --- the table of suppressions -------------------------------------------------------------------------------------


def test_every_suppression_names_one_resource_one_rule_of_a_pack_and_a_reason() -> None:
    keys = [(s.stack, s.path, s.rule_id) for s in SUPPRESSIONS]
    assert len(keys) == len(set(keys)), "a suppression is listed twice"
    for suppression in SUPPRESSIONS:
        assert suppression.stack in (PAYMENT, BOOKING)
        # One CloudFormation resource (its L1 construct), never a stack or a construct subtree
        assert suppression.path.endswith("/Resource"), suppression
        assert suppression.rule.split("-", 1)[0] in PACK_NAMESPACES, suppression
        assert suppression.when in CONDITIONS
        # IAM4/IAM5 findings are accepted one managed policy / one wildcard at a time
        if suppression.rule in ("AwsSolutions-IAM4", "AwsSolutions-IAM5"):
            assert suppression.applies_to, suppression
        assert len(suppression.reason) >= 80, f"reason too thin for an auditor: {suppression}"
        assert "|" not in suppression.reason, "reasons go into a Markdown table"


def test_a_suppression_for_a_missing_resource_is_an_error() -> None:
    stacks = build_stacks(make_app(env="feature-x"), environ={})
    with pytest.raises(LookupError, match="NoSuchThing"):
        find_resource(stacks.payment, "PaymentApi/NoSuchThing/Resource")


def security_md_rows() -> list[dict[str, str]]:
    """The rows of SECURITY.md's suppression table (the one whose header starts with ``| Stack | Resource``)."""
    lines = SECURITY_MD.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Stack | Resource |"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def unquote(cell: str) -> str:
    return re.sub(r"`([^`]*)`", r"\1", cell)


def as_row(suppression: Suppression) -> tuple[str, str, str, str, str]:
    return (suppression.stack, suppression.path, suppression.rule_id, suppression.when, suppression.reason)


def test_security_md_lists_exactly_the_suppressions_in_the_code() -> None:
    # Given SECURITY.md's table and the code's
    documented = [
        (
            row["Stack"],
            unquote(row["Resource"]),
            unquote(row["Rule"]),
            unquote(row["When"]),
            " ".join(row["Reason"].split()),
        )
        for row in security_md_rows()
    ]
    in_code = [as_row(s) for s in SUPPRESSIONS]
    # Then they hold the same (stack, resource, rule) entries ...
    assert sorted(row[:3] for row in documented) == sorted(row[:3] for row in in_code)
    # ... each with the same condition and reason
    assert sorted(documented) == sorted(in_code)
