"""The PaymentDelivery stack: GitHub's OIDC provider, and deploy/destroy roles that only this repository's workflows
can assume (the trust conditions are evaluated against sample token subjects, as IAM would), holding only what
``cdk deploy``/``destroy`` and the Stripe key need; cdk-nag's packs and cfn-lint pass."""

from __future__ import annotations

import json
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, cast

import pytest
from aws_cdk import App, CfnElement
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from payment_stack.delivery.stack import (
    AUD_KEY,
    DELIVERY_SUPPRESSIONS,
    GITHUB_OIDC_URL,
    STACK_NAME,
    STS_AUDIENCE,
    SUB_KEY,
    DeliveryConfigError,
    DeliverySettings,
    DeliveryStack,
    build_delivery,
    delivery_packs,
)
from payment_stack.names import (
    api_url_parameter_name,
    function_parameter_name,
    stripe_secret_key_parameter_name,
    stripe_webhook_secret_parameter_name,
)
from tests.support.cdk import make_app
from tests.support.iam import actions_of, resources_in, statements_of_role

REPO = "acme/payments"
ACCOUNT_PLACEHOLDERS = {"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}

# Subjects GitHub puts in the OIDC token's `sub` (docs: "Example subject claims").
BRANCH_SUBJECTS = [
    f"repo:{REPO}:ref:refs/heads/main",
    f"repo:{REPO}:ref:refs/heads/feature/ABC-12",
    f"repo:{REPO}:ref:refs/heads/dependabot/npm_and_yarn/x",
]
FOREIGN_SUBJECTS = [
    f"repo:{REPO}:pull_request",  # any pull request, a fork's included
    f"repo:{REPO}:ref:refs/tags/v1.0",
    f"repo:{REPO}:environment:prod",
    "repo:acme/payments-fork:ref:refs/heads/main",
    "repo:acme/payment:ref:refs/heads/main",
    "repo:mallory/payments:ref:refs/heads/main",
    "repo:mallory/acme-payments:ref:refs/heads/main",
    f"repo:mallory/x:ref:refs/heads/repo:{REPO}:ref:refs/heads/main",
    "",
]


def synth(**context: Any) -> tuple[DeliveryStack, Template]:
    app = make_app(repo=REPO, **context)
    stack = build_delivery(app)
    return stack, Template.from_stack(stack)


def resources_of_type(template: Template, resource_type: str) -> dict[str, Any]:
    return dict(template.find_resources(resource_type))


def render(value: Any) -> str:
    """A template value as one string: ``Fn::Join`` joined, ``Ref`` of a pseudo parameter as its sample value."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    if "Ref" in value:
        return ACCOUNT_PLACEHOLDERS.get(value["Ref"], f"<{value['Ref']}>")
    raise AssertionError(f"cannot render {value!r}")


def trust_of(template: Template, role_logical_id: str) -> dict[str, Any]:
    statements = template.to_json()["Resources"][role_logical_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert len(statements) == 1
    statement: dict[str, Any] = statements[0]
    return statement


def allows(condition: dict[str, dict[str, str]], claims: dict[str, str]) -> bool:
    """Whether IAM grants with ``condition`` for a token carrying ``claims``: every key of every operator must match
    (``StringEquals``: exactly; ``StringLike``: ``*`` any characters, ``?`` one, case-sensitive)."""
    assert set(condition) <= {"StringEquals", "StringLike"}, condition
    for operator, keys in condition.items():
        for key, expected in keys.items():
            assert isinstance(expected, str)
            claim = claims.get(key)
            if claim is None:
                return False
            if operator == "StringEquals" and claim != expected:
                return False
            if operator == "StringLike":
                assert "[" not in expected, "fnmatch's [] classes are not IAM's; keep patterns to * and ?"
                if not fnmatchcase(claim, expected):
                    return False
    return True


def role_ids(stack: DeliveryStack) -> dict[str, str]:
    """``{"DeployRole": logical id, "DestroyRole": logical id}``."""
    return {
        role.node.id: stack.resolve(stack.get_logical_id(cast(CfnElement, role.node.default_child)))
        for role in (stack.deploy_role, stack.destroy_role)
    }


# --- the OIDC provider ------------------------------------------------------------------------------------------


def test_the_stack_creates_githubs_oidc_provider_for_sts() -> None:
    _, template = synth()
    template.resource_count_is("AWS::IAM::OIDCProvider", 1)
    template.has_resource_properties(
        "AWS::IAM::OIDCProvider",
        {"Url": "https://token.actions.githubusercontent.com", "ClientIdList": ["sts.amazonaws.com"]},
    )
    # The native resource: no custom resource, so no Lambda function anywhere
    assert resources_of_type(template, "AWS::Lambda::Function") == {}
    assert GITHUB_OIDC_URL == "https://token.actions.githubusercontent.com"


def test_an_existing_provider_is_used_by_its_arn_instead() -> None:
    # Given an account that already has GitHub's provider (one per URL and account)
    stack, template = synth(existingOidcProvider="true")
    template.resource_count_is("AWS::IAM::OIDCProvider", 0)
    federated = {render(trust_of(template, rid)["Principal"]["Federated"]) for rid in role_ids(stack).values()}
    assert federated == {"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}


def test_the_roles_trust_the_created_provider() -> None:
    stack, template = synth()
    (provider_id,) = resources_of_type(template, "AWS::IAM::OIDCProvider")
    for role_id in role_ids(stack).values():
        statement = trust_of(template, role_id)
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == {"Federated": {"Ref": provider_id}}


# --- who may assume the roles -----------------------------------------------------------------------------------


def test_the_deploy_role_trusts_any_branch_of_the_repository_only() -> None:
    stack, template = synth()
    condition = trust_of(template, role_ids(stack)["DeployRole"])["Condition"]
    assert condition == {
        "StringEquals": {AUD_KEY: STS_AUDIENCE},
        "StringLike": {SUB_KEY: f"repo:{REPO}:ref:refs/heads/*"},
    }
    for subject in BRANCH_SUBJECTS:
        assert allows(condition, {AUD_KEY: STS_AUDIENCE, SUB_KEY: subject}), subject
    for subject in FOREIGN_SUBJECTS:
        assert not allows(condition, {AUD_KEY: STS_AUDIENCE, SUB_KEY: subject}), subject
    # A token for another audience is refused even from the right branch
    assert not allows(condition, {AUD_KEY: "sigstore", SUB_KEY: BRANCH_SUBJECTS[0]})
    assert not allows(condition, {SUB_KEY: BRANCH_SUBJECTS[0]})


def test_the_destroy_role_trusts_the_default_branch_only() -> None:
    # delete events run the default branch's workflow, so that is the only subject destroy.yml presents
    stack, template = synth()
    condition = trust_of(template, role_ids(stack)["DestroyRole"])["Condition"]
    assert condition == {"StringEquals": {AUD_KEY: STS_AUDIENCE, SUB_KEY: f"repo:{REPO}:ref:refs/heads/main"}}
    assert allows(condition, {AUD_KEY: STS_AUDIENCE, SUB_KEY: f"repo:{REPO}:ref:refs/heads/main"})
    for subject in [*BRANCH_SUBJECTS[1:], *FOREIGN_SUBJECTS, f"repo:{REPO}:ref:refs/heads/main-old"]:
        assert not allows(condition, {AUD_KEY: STS_AUDIENCE, SUB_KEY: subject}), subject


def test_another_default_branch_is_trusted_for_destroy() -> None:
    stack, template = synth(defaultBranch="trunk")
    condition = trust_of(template, role_ids(stack)["DestroyRole"])["Condition"]
    assert condition["StringEquals"][SUB_KEY] == f"repo:{REPO}:ref:refs/heads/trunk"


@pytest.mark.parametrize(
    "repository",
    ["", "acme", "acme/payments/x", "acme/*", "*/payments", "acme/pay?", "acme/pay ments", "acme/..", "-a/b"],
)
def test_a_repository_that_is_not_owner_slash_name_is_refused(repository: str) -> None:
    with pytest.raises(DeliveryConfigError, match=r"-c repo=owner/name"):
        DeliverySettings.from_context({"repo": repository}.get)


def test_the_repository_is_required() -> None:
    with pytest.raises(DeliveryConfigError, match="make deploy-delivery REPO=owner/name"):
        build_delivery(App())


@pytest.mark.parametrize("branch", ["feature/*", "ma?n", "a b", "/main", "-main"])
def test_a_default_branch_with_wildcards_or_spaces_is_refused(branch: str) -> None:
    with pytest.raises(DeliveryConfigError, match="defaultBranch"):
        DeliverySettings.from_context({"repo": REPO, "defaultBranch": branch}.get)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), (True, True), (None, False)])
def test_existing_provider_flag(value: object, expected: bool) -> None:
    settings = DeliverySettings.from_context({"repo": REPO, "existingOidcProvider": value}.get)
    assert settings.existing_oidc_provider is expected


def test_an_unclear_existing_provider_flag_is_refused() -> None:
    with pytest.raises(DeliveryConfigError, match="existingOidcProvider"):
        DeliverySettings.from_context({"repo": REPO, "existingOidcProvider": "maybe"}.get)


# --- what the roles may do --------------------------------------------------------------------------------------


def bootstrap_role(kind: str, qualifier: str = "hnb659fds") -> str:
    return f"arn:aws:iam::123456789012:role/cdk-{qualifier}-{kind}-role-123456789012-eu-west-1"


def parameter_arn(name: str) -> str:
    return f"arn:aws:ssm:eu-west-1:123456789012:parameter{name}"


def granted(stack: DeliveryStack, template: Template, role: str) -> set[tuple[str, str]]:
    """Every ``(action, resource)`` the role's statements allow, resources rendered with sample account values."""
    pairs = set()
    for statement in statements_of_role(template, role_ids(stack)[role]):
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement
        for action in actions_of(statement):
            for resource in resources_in(statement):
                pairs.add((action, render(resource)))
    return pairs


def test_the_deploy_role_may_assume_cdks_roles_and_use_the_stripe_key_and_url_parameters_only() -> None:
    stack, template = synth()
    assert granted(stack, template, "DeployRole") == {
        ("sts:AssumeRole", bootstrap_role("deploy")),
        ("sts:AssumeRole", bootstrap_role("file-publishing")),
        ("sts:AssumeRole", bootstrap_role("lookup")),
        ("ssm:GetParameter", parameter_arn(stripe_secret_key_parameter_name("*"))),
        ("ssm:PutParameter", parameter_arn(stripe_secret_key_parameter_name("*"))),
        ("ssm:GetParameter", parameter_arn(api_url_parameter_name("*"))),
    }


def test_the_destroy_role_may_only_assume_the_roles_cdk_destroy_uses() -> None:
    stack, template = synth()
    assert granted(stack, template, "DestroyRole") == {
        ("sts:AssumeRole", bootstrap_role("deploy")),
        ("sts:AssumeRole", bootstrap_role("lookup")),
    }


def test_the_parameter_patterns_reach_every_environment_but_no_other_parameter() -> None:
    stack, template = synth()
    patterns = {resource for action, resource in granted(stack, template, "DeployRole") if action.startswith("ssm:")}
    for env in ("main", "feature-x", "env-123-fix"):
        assert any(fnmatchcase(parameter_arn(stripe_secret_key_parameter_name(env)), p) for p in patterns)
        assert any(fnmatchcase(parameter_arn(api_url_parameter_name(env)), p) for p in patterns)
        for other in (stripe_webhook_secret_parameter_name(env), function_parameter_name(env, "collect")):
            assert not any(fnmatchcase(parameter_arn(other), p) for p in patterns), other
    assert not any(fnmatchcase(parameter_arn("/cdk-bootstrap/hnb659fds/version"), p) for p in patterns)


def test_no_wildcard_action_no_wildcard_resource_no_kms_and_no_inline_policy() -> None:
    stack, template = synth()
    for role in ("DeployRole", "DestroyRole"):
        for statement in statements_of_role(template, role_ids(stack)[role]):
            assert all("*" not in action for action in actions_of(statement))
            assert all(render(resource) != "*" for resource in resources_in(statement))
            assert not any(action.startswith("kms:") for action in actions_of(statement))
    assert resources_of_type(template, "AWS::IAM::Policy") == {}
    for resource in resources_of_type(template, "AWS::IAM::Role").values():
        assert "Policies" not in resource["Properties"]
        assert "ManagedPolicyArns" not in resource["Properties"]


def test_a_custom_bootstrap_qualifier_names_its_roles() -> None:
    stack, template = synth(**{"@aws-cdk/core:bootstrapQualifier": "pay123"})
    assert ("sts:AssumeRole", bootstrap_role("deploy", "pay123")) in granted(stack, template, "DestroyRole")


def test_the_role_arns_are_outputs_for_the_repository_variables() -> None:
    stack, template = synth()
    outputs = template.to_json()["Outputs"]
    ids = role_ids(stack)
    assert outputs["DeployRoleArn"]["Value"] == {"Fn::GetAtt": [ids["DeployRole"], "Arn"]}
    assert outputs["DestroyRoleArn"]["Value"] == {"Fn::GetAtt": [ids["DestroyRole"], "Arn"]}
    assert "AWS_DEPLOY_ROLE_ARN" in outputs["DeployRoleArn"]["Description"]
    assert "AWS_DESTROY_ROLE_ARN" in outputs["DestroyRoleArn"]["Description"]


# --- cdk-nag and cfn-lint ---------------------------------------------------------------------------------------


def test_the_packs_are_the_services() -> None:
    from payment_stack.compliance import compliance_packs  # noqa: PLC0415 - the service's app, loaded only here

    assert [type(pack) for pack in delivery_packs()] == [type(pack) for pack in compliance_packs()]


@pytest.mark.parametrize("context", [{}, {"existingOidcProvider": "true"}, {"defaultBranch": "trunk"}])
def test_the_synth_has_no_unaccepted_finding_and_uses_every_acknowledgment(
    tmp_path: Path, context: dict[str, Any]
) -> None:
    app = make_app(repo=REPO, outdir=str(tmp_path), **context)
    build_delivery(app)
    app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    suppressed = set()
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
        assert plugin["conclusion"] == "success", plugin["pluginName"]
        for violation in plugin.get("suppressedViolations", []):
            for construct in violation["violatingConstructs"]:
                suppressed.add((construct["constructPath"], violation["ruleName"]))
    assert suppressed == {(f"{STACK_NAME}/{s.path}", s.rule_id) for s in DELIVERY_SUPPRESSIONS}


def test_every_acknowledgment_is_one_rule_on_one_wildcard_with_a_reason() -> None:
    assert len({(s.path, s.rule_id) for s in DELIVERY_SUPPRESSIONS}) == len(DELIVERY_SUPPRESSIONS)
    for suppression in DELIVERY_SUPPRESSIONS:
        assert suppression.rule == "AwsSolutions-IAM5"
        assert suppression.applies_to.startswith("Resource::arn:")
        assert len(suppression.reason) > 80


def test_a_non_compliant_resource_fails_the_synth_with_all_three_packs(tmp_path: Path) -> None:
    # Given the delivery app plus an unencrypted queue and a role with an inline policy
    app = make_app(repo=REPO, outdir=str(tmp_path))
    stack = build_delivery(app)
    sqs.Queue(stack, "BadQueue", encryption=sqs.QueueEncryption.UNENCRYPTED, enforce_ssl=False)
    role = iam.Role(stack, "BadRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["arn:aws:s3:::bucket/key"]))
    # Then the synth fails naming rules of each pack
    with pytest.raises(RuntimeError, match="ValidationFailed") as failure:
        app.synth()
    for rule in ("AwsSolutions-SQS4", "PCI.DSS.321-IAMNoInlinePolicy", "Serverless-SQSRedrivePolicy"):
        assert rule in str(failure.value)


def test_cfn_lint_finds_nothing_in_the_template(tmp_path: Path) -> None:
    # As `make cfn-lint` runs it on the service's templates
    _, template = synth()
    path = tmp_path / f"{STACK_NAME}.template.json"
    path.write_text(json.dumps(template.to_json()))
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--ignore-checks", "W3005", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (0, "")
