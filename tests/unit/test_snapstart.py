"""CDK assertions on ``snapStart``: SnapStart, a published version and alias ``live`` per function, callers on it.

Off (the default, and local mode): the template has no versions or aliases and every caller uses the function.
"""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from payment_stack.app_builder import AppStacks, build_stacks
from tests.support.cdk import make_app
from tests.support.iam import actions_of, resources_in, statements_of_role
from tests.support.templates import resources_of

ENV = "feature/x"
SANITISED_ENV = "feature-x"
HANDLERS = {
    "api": "lambdas.payment_api.handler.handler",
    "collect": "lambdas.collect.handler.handler",
    "refund": "lambdas.refund.handler.handler",
}


def stacks_for(env: str = ENV, **context: Any) -> AppStacks:
    return build_stacks(make_app(env=env, **context), environ={})


@pytest.fixture(scope="module")
def stacks_on() -> AppStacks:
    return stacks_for(**{"payment:snapStart": "true"})


@pytest.fixture(scope="module")
def template_on(stacks_on: AppStacks) -> Template:
    return Template.from_stack(stacks_on.payment)


@pytest.fixture(scope="module")
def template_off() -> Template:
    return Template.from_stack(stacks_for().payment)


def function_id(template: Template, name: str) -> str:
    found = [
        logical_id
        for logical_id, resource in resources_of(template, "AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"] == HANDLERS[name]
    ]
    assert len(found) == 1, found
    return found[0]


def alias_of(template: Template, name: str) -> tuple[str, dict[str, Any]]:
    """The one alias of the function ``name``, as ``(logical id, resource)``."""
    function = function_id(template, name)
    found = [
        (logical_id, resource)
        for logical_id, resource in resources_of(template, "AWS::Lambda::Alias").items()
        if resource["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert len(found) == 1, found
    return found[0]


def parameter_value(template: Template, name: str) -> Any:
    values = [
        resource["Properties"]["Value"]
        for resource in resources_of(template, "AWS::SSM::Parameter").values()
        if resource["Properties"]["Name"] == f"/{SANITISED_ENV}/service/payment/function/{name}"
    ]
    assert len(values) == 1, values
    return values[0]


def post_integration_uris(template: Template) -> list[Any]:
    return [
        resource["Properties"]["Integration"]["Uri"]
        for resource in resources_of(template, "AWS::ApiGateway::Method").values()
        if resource["Properties"]["HttpMethod"] == "POST"
    ]


def uri_target(uri: Any) -> Any:
    """The function reference inside ``arn:...:lambda:path/2015-03-31/functions/<target>/invocations``."""
    _, parts = uri["Fn::Join"]
    return parts[parts.index(":lambda:path/2015-03-31/functions/") + 1]


# --- on --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_snap_start_applies_on_published_versions(template_on: Template, name: str) -> None:
    # Given snapStart=true
    function = resources_of(template_on, "AWS::Lambda::Function")[function_id(template_on, name)]
    # Then the function has SnapStart on published versions (Python 3.13 on arm64, with X-Ray, as before)
    assert function["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    assert function["Properties"]["Runtime"] == "python3.13"
    assert function["Properties"]["Architectures"] == ["arm64"]
    assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_each_function_publishes_a_version_and_alias_live_points_at_it(template_on: Template, name: str) -> None:
    # Given snapStart=true and the function's one version
    function = function_id(template_on, name)
    versions = {
        logical_id: resource
        for logical_id, resource in resources_of(template_on, "AWS::Lambda::Version").items()
        if resource["Properties"]["FunctionName"] == {"Ref": function}
    }
    assert len(versions) == 1, versions
    ((version_id, version),) = versions.items()
    # When its alias is found
    _, alias = alias_of(template_on, name)
    # Then the alias is `live` on exactly that version, and a replaced version is deleted (no snapshot left cached)
    assert alias["Properties"]["Name"] == "live"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert version["DeletionPolicy"] == "Delete"


def test_three_versions_and_three_aliases(template_on: Template) -> None:
    template_on.resource_count_is("AWS::Lambda::Version", 3)
    template_on.resource_count_is("AWS::Lambda::Alias", 3)


def test_api_gateway_invokes_the_api_functions_alias(template_on: Template) -> None:
    # Given snapStart=true and the API function's alias
    alias_id, _ = alias_of(template_on, "api")
    # Then every POST route's integration (/charge, /capture, /refund, /webhooks/stripe) invokes the alias, not the
    # unqualified function
    uris = post_integration_uris(template_on)
    assert len(uris) == 4
    assert all(uri_target(uri) == {"Ref": alias_id} for uri in uris)
    # And API Gateway's invoke permissions are on the alias
    permissions = resources_of(template_on, "AWS::Lambda::Permission").values()
    api_permissions = [p for p in permissions if p["Properties"]["Principal"] == "apigateway.amazonaws.com"]
    assert api_permissions
    assert all(p["Properties"]["FunctionName"] == {"Ref": alias_id} for p in api_permissions)


@pytest.mark.parametrize(("name", "output"), [("collect", "CollectFunctionArn"), ("refund", "RefundFunctionArn")])
def test_ssm_parameters_and_outputs_hold_the_alias_arn(template_on: Template, name: str, output: str) -> None:
    # Given snapStart=true and the function's alias (Ref of an AWS::Lambda::Alias is its ARN)
    alias_id, _ = alias_of(template_on, name)
    # Then /<env>/service/payment/function/<name>, which the booking workflow invokes, holds the alias ARN
    assert parameter_value(template_on, name) == {"Ref": alias_id}
    assert template_on.find_outputs(output)[output]["Value"] == {"Ref": alias_id}


def test_state_machine_may_invoke_whatever_arn_the_parameters_hold(stacks_on: AppStacks) -> None:
    # Given snapStart=true: the booking stack imports Collect and Refund by the ARNs in SSM (the aliases' ARNs)
    booking = Template.from_stack(stacks_on.booking)
    parameters = {
        parameter["Default"]: logical_id
        for logical_id, parameter in booking.to_json()["Parameters"].items()
        if parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    }
    roles = [
        logical_id
        for logical_id, role in resources_of(booking, "AWS::IAM::Role").items()
        if "states.amazonaws.com" in str(role["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert len(roles) == 1, roles
    (role_id,) = roles
    invoke = [s for s in statements_of_role(booking, role_id) if "lambda:InvokeFunction" in actions_of(s)]
    resources = [resource for statement in invoke for resource in resources_in(statement)]
    # Then lambda:InvokeFunction is granted on exactly those (qualified) ARNs
    for name in ("collect", "refund"):
        parameter_id = parameters[f"/{SANITISED_ENV}/service/payment/function/{name}"]
        assert {"Ref": parameter_id} in resources


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_grants_stay_on_the_functions_role(template_on: Template, template_off: Template, name: str) -> None:
    # Given the same function with and without SnapStart
    def statements(template: Template) -> list[dict[str, Any]]:
        function = resources_of(template, "AWS::Lambda::Function")[function_id(template, name)]
        return statements_of_role(template, function["Properties"]["Role"]["Fn::GetAtt"][0])

    # Then its role holds the same statements (route invoke, idempotency table, Stripe key, logs, X-Ray)
    assert statements(template_on) == statements(template_off)


def test_prod_turns_snap_start_on() -> None:
    # Given production's entry in cdk.json (which also turns WAF on)
    template = Template.from_stack(stacks_for("prod").payment)
    # Then the three request-serving functions have SnapStart and an alias; the scheduled hold sweeper and the
    # stream-fed event publisher do not
    snap_start = {
        f["Properties"]["Handler"]: f["Properties"].get("SnapStart")
        for f in resources_of(template, "AWS::Lambda::Function").values()
    }
    assert snap_start == {
        **{handler: {"ApplyOn": "PublishedVersions"} for handler in HANDLERS.values()},
        "lambdas.payment_api.sweeper.handler": None,
        "lambdas.payment_api.event_publisher.handler": None,
    }
    template.resource_count_is("AWS::Lambda::Alias", 3)


# --- off -------------------------------------------------------------------------------------------------------------


def test_off_there_are_no_versions_or_aliases(template_off: Template) -> None:
    # Given the default (snapStart=false, as in local mode)
    # Then nothing is published and no function has SnapStart
    template_off.resource_count_is("AWS::Lambda::Version", 0)
    template_off.resource_count_is("AWS::Lambda::Alias", 0)
    for function in resources_of(template_off, "AWS::Lambda::Function").values():
        assert "SnapStart" not in function["Properties"]


def test_off_callers_use_the_unqualified_functions(template_off: Template) -> None:
    # Given the default
    api_id = function_id(template_off, "api")
    # Then API Gateway invokes the function itself and the parameters hold the functions' ARNs
    assert all(uri_target(uri) == {"Fn::GetAtt": [api_id, "Arn"]} for uri in post_integration_uris(template_off))
    for name in ("collect", "refund"):
        assert parameter_value(template_off, name) == {"Fn::GetAtt": [function_id(template_off, name), "Arn"]}
