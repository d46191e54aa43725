"""CDK assertions on the Payment-<env> stack and the function construct every payment function is built with."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import Duration
from aws_cdk.assertions import Match, Template

from payment_stack.app_builder import build_app
from payment_stack.environment import EnvironmentNameError
from payment_stack.payment.stack import PaymentStack
from payment_stack.payment_function import PaymentFunction
from tests.support.cdk import make_app
from tests.support.iam import accept_in_test


def stack_for(env: str, **context: Any) -> PaymentStack:
    return build_app(make_app(env=env, **context), environ={})


def add_sample_function(stack: PaymentStack) -> PaymentFunction:
    sample = PaymentFunction(
        stack,
        "Sample",
        function_dir="collect",
        handler="lambdas.collect.handler.handler",
        description="sample",
        timeout=Duration.seconds(10),
        memory_size=256,
        log_settings=stack.log_settings,
        environment={"PAYMENT_API_URL": "https://example.invalid/Prod"},
    )
    # The app's own functions have these accepted in payment_stack.suppressions; so does the test's sample.
    accept_in_test(
        sample,
        "PCI.DSS.321-LambdaInsideVPC",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-L1",
        "Serverless-LambdaLatestVersion",
        "Serverless-LambdaDLQ",
    )
    return sample


def test_stack_is_named_and_tagged_after_the_sanitised_environment() -> None:
    stack = stack_for("feature/ABC-12_x")
    assert stack.stack_name == "Payment-feature-ABC-12-x"
    assert stack.tags.tag_values() == {"service": "payment", "env": "feature-ABC-12-x"}


def test_aws_branch_is_used_when_no_context_is_given() -> None:
    stack = build_app(make_app(), environ={"AWS_BRANCH": "release/3.1"})
    assert stack.stack_name == "Payment-release-3-1"


def test_unresolvable_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("payment_stack.environment.current_git_branch", lambda: None)
    with pytest.raises(EnvironmentNameError, match="-c env=NAME"):
        build_app(make_app(), environ={})


def test_functions_run_python_3_13_on_arm_with_tracing_and_powertools_settings() -> None:
    stack = stack_for("feature-x", **{"payment:logLevel": "DEBUG"})
    add_sample_function(stack)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "Handler": "lambdas.collect.handler.handler",
            "Timeout": 10,
            "MemorySize": 256,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {
                "Variables": {
                    "POWERTOOLS_SERVICE_NAME": "payment",
                    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessAirline",
                    "POWERTOOLS_LOG_LEVEL": "DEBUG",
                    "PAYMENT_API_URL": "https://example.invalid/Prod",
                }
            },
            "Tags": Match.array_with([{"Key": "env", "Value": "feature-x"}, {"Key": "service", "Value": "payment"}]),
        },
    )


@pytest.mark.parametrize(
    ("env", "retention_days", "policy"),
    [
        pytest.param("feature-x", 14, "Delete", id="branch-destroyed-with-the-stack"),
        pytest.param("main", 90, "Retain", id="production-like-retained"),
    ],
)
def test_function_log_groups_follow_the_environment(env: str, retention_days: int, policy: str) -> None:
    stack = stack_for(env)
    add_sample_function(stack)
    Template.from_stack(stack).has_resource(
        "AWS::Logs::LogGroup",
        {"Properties": {"RetentionInDays": retention_days}, "DeletionPolicy": policy, "UpdateReplacePolicy": policy},
    )


# Properties named like names that need not be unique in the account (scoped to a parent, or not a name at all).
PARENT_SCOPED_NAMES = {
    ("AWS::IAM::Policy", "PolicyName"),
    ("AWS::ApiGateway::Stage", "StageName"),
    ("AWS::CloudWatch::Alarm", "MetricName"),  # the metric an alarm watches, not a resource name
}


def physical_names(template: Template) -> set[str]:
    """Every explicitly set account-level name (properties ending in ``Name`` with a literal string value)."""
    names: set[str] = set()
    for resource in template.to_json()["Resources"].values():
        for key, value in resource.get("Properties", {}).items():
            scoped = (resource["Type"], key) in PARENT_SCOPED_NAMES
            if key.endswith("Name") and isinstance(value, str) and not scoped:
                names.add(value)
    return names


def test_two_environments_in_one_account_share_no_physical_name() -> None:
    app = make_app()
    first = build_app(app, environ={"AWS_BRANCH": "feature/one"})
    second_app = make_app()
    second = build_app(second_app, environ={"AWS_BRANCH": "feature/two"})
    for stack in (first, second):
        add_sample_function(stack)
    assert first.stack_name != second.stack_name
    assert physical_names(Template.from_stack(first)).isdisjoint(physical_names(Template.from_stack(second)))
