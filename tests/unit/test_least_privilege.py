"""Least privilege across both synthesized templates: no wildcard action anywhere, ``Resource: "*"`` only for the
actions that support no resource-level permissions, managed policies one role each, and KMS keys no wider than
CloudWatch Logs needs. Checked for a branch, local mode and production (see SECURITY.md, "Least privilege").
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from payment_stack.app_builder import AppStacks, build_stacks
from tests.support.cdk import make_app
from tests.support.iam import actions_of, as_list, identity_policy_statements, resources_in

# Actions AWS offers no resource-level permissions for, which CDK grants on "*": X-Ray (Lambda active tracing and the
# state machine's tracing), CloudWatch Logs delivery (Step Functions execution logging) and listing DynamoDB streams
# (the event publisher's event source mapping).
XRAY_ACTIONS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}
LOG_DELIVERY_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
STREAM_LIST_ACTIONS = {"dynamodb:ListStreams"}
# The one AWS managed policy left: the account-level API Gateway logging role's (accepted in SECURITY.md).
API_GATEWAY_LOGGING_POLICY = "AmazonAPIGatewayPushToCloudWatchLogs"

CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "branch": {"env": "feature-x"},
    "local": {"env": "local", "payment:apiGatewayCloudWatchRole": "false"},
    "prod": {"env": "prod"},
}


@pytest.fixture(scope="module", params=sorted(CONFIGURATIONS))
def stacks(request: pytest.FixtureRequest) -> AppStacks:
    return build_stacks(make_app(**CONFIGURATIONS[request.param]), environ={})


@pytest.fixture(scope="module")
def templates(stacks: AppStacks) -> dict[str, Template]:
    return {stack.stack_name: Template.from_stack(stack) for stack in (stacks.payment, stacks.booking)}


def allowed_statements(templates: dict[str, Template]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}/{logical_id}", statement)
        for name, template in templates.items()
        for logical_id, statement in identity_policy_statements(template)
        if statement["Effect"] == "Allow"
    ]


def test_roles_hold_statements(templates: dict[str, Template]) -> None:
    # Guard: the checks below look at something (three functions and the state machine)
    assert len(allowed_statements(templates)) >= 10


def test_no_allowed_action_is_a_wildcard(templates: dict[str, Template]) -> None:
    # Given every Allow statement of every role in both stacks
    for where, statement in allowed_statements(templates):
        # Then no action is "*", "dynamodb:*" or any other pattern: every action is named
        for action in actions_of(statement):
            assert "*" not in action, f"{where}: {action}"
        assert "NotAction" not in statement, where


def test_resource_star_only_for_actions_without_resource_level_permissions(templates: dict[str, Template]) -> None:
    # Given every Allow statement
    for where, statement in allowed_statements(templates):
        assert "NotResource" not in statement, where
        if "*" in resources_in(statement):
            # Then "*" goes only with X-Ray, CloudWatch Logs delivery and ListStreams, never with a data or payment
            # action
            assert set(actions_of(statement)) <= XRAY_ACTIONS | LOG_DELIVERY_ACTIONS | STREAM_LIST_ACTIONS, where


def test_no_other_resource_wildcard_than_the_functions_versions(templates: dict[str, Template]) -> None:
    # Given every resource of every Allow statement, as text
    for where, statement in allowed_statements(templates):
        for resource in resources_in(statement):
            if resource == "*":
                continue
            text = json.dumps(resource)
            # Then the only wildcard is LambdaInvoke's "<function ARN>:*" (versions and aliases of one function)
            if "*" in text:
                assert set(actions_of(statement)) == {"lambda:InvokeFunction"}, where
                assert resource["Fn::Join"][1][-1] == ":*", where
                # Exactly [<function ARN>, ":*"]
                assert len(resource["Fn::Join"][1]) == 2, where


def test_every_role_has_one_managed_policy_of_its_own_and_no_inline_policy(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        resources = template.to_json()["Resources"]
        # Then CDK's inline default policies are gone ...
        assert not template.find_resources("AWS::IAM::Policy"), name
        roles = {i: r for i, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
        managed = {i: r for i, r in resources.items() if r["Type"] == "AWS::IAM::ManagedPolicy"}
        for role_id, role in roles.items():
            assert "Policies" not in role["Properties"], role_id
            aws_managed = [json.dumps(arn) for arn in role["Properties"].get("ManagedPolicyArns", [])]
            # ... no AWS managed policy, but for API Gateway's account-level logging role
            assert all(API_GATEWAY_LOGGING_POLICY in arn for arn in aws_managed), (role_id, aws_managed)
            if aws_managed:
                assert "apigateway.amazonaws.com" in json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
        # ... and each customer managed policy belongs to exactly one role of the stack
        for policy_id, policy in managed.items():
            (role_ref,) = policy["Properties"]["Roles"]
            assert role_ref["Ref"] in roles, policy_id


def test_kms_keys_rotate_and_grant_no_more_than_the_account_and_cloudwatch(
    templates: dict[str, Template],
) -> None:
    for name, template in templates.items():
        keys = template.find_resources("AWS::KMS::Key")
        # One customer managed key per stack
        assert len(keys) == 1, name
        (key,) = keys.values()
        assert key["Properties"]["EnableKeyRotation"] is True
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        for statement in statements:
            principal = json.dumps(statement["Principal"])
            if "kms:*" in as_list(statement["Action"]):
                # KMS's default statement: the account itself, so that IAM policies govern the key
                assert ":root" in principal, statement
            elif "cloudwatch.amazonaws.com" in principal:
                # CloudWatch alarms publishing to the encrypted alarm topic: exactly what SNS needs from the key
                assert sorted(as_list(statement["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey*"], statement
            else:
                # CloudWatch Logs of this region, for this account's log groups only, explicit actions
                assert "logs." in principal, statement
                assert all("*" not in action for action in actions_of(statement))
                assert "kms:EncryptionContext:aws:logs:arn" in json.dumps(statement["Condition"])
        # The account statement, the CloudWatch Logs statement and (where the alarm topic lives) the alarms one
        assert len(statements) in (2, 3), name


def test_every_log_group_is_encrypted_with_its_stacks_key(templates: dict[str, Template]) -> None:
    for name, template in templates.items():
        (key_id,) = template.find_resources("AWS::KMS::Key")
        for log_group_id, log_group in template.find_resources("AWS::Logs::LogGroup").items():
            assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}, (name, log_group_id)


def test_the_booking_topic_is_encrypted_with_the_booking_key(stacks: AppStacks) -> None:
    template = Template.from_stack(stacks.booking)
    (key_id,) = template.find_resources("AWS::KMS::Key")
    (topic,) = template.find_resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
