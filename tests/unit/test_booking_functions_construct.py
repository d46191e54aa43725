"""CDK assertions on the Collect and Refund functions and their SSM parameters as ``Payment-<env>`` composes them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.support.cdk import payment_stack_for
from tests.support.iam import actions_of, resources_in, statements_of_role
from tests.support.templates import function_by_handler, only_logical_id, render, resources_of

ENV = "feature/x"
SANITISED_ENV = "feature-x"
HANDLERS = {
    "collect": "lambdas.collect.handler.handler",
    "refund": "lambdas.refund.handler.handler",
}
API_HANDLER = "lambdas.payment_api.handler.handler"
SWEEPER_HANDLER = "lambdas.payment_api.sweeper.handler"
PUBLISHER_HANDLER = "lambdas.payment_api.event_publisher.handler"
ROUTES = {"collect": "capture", "refund": "refund"}


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.from_stack(payment_stack_for(ENV))


def statements_of_function(template: Template, handler: str) -> list[dict[str, Any]]:
    _, function = function_by_handler(template, handler)
    return statements_of_role(template, function["Properties"]["Role"]["Fn::GetAtt"][0])


def parameter_named(template: Template, name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        resource["Properties"]
        for resource in resources_of(template, "AWS::SSM::Parameter").values()
        if resource["Properties"]["Name"] == name
    ]
    assert len(found) == 1, f"expected one parameter named {name}, found {len(found)}"
    return found[0]


# --- the functions ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_function_runs_python_on_arm_with_tracing_timeout_and_memory(template: Template, name: str) -> None:
    # Given the default feature/x stack (fixture)
    # When the function with this handler is found
    _, function = function_by_handler(template, HANDLERS[name])
    properties = function["Properties"]
    # Then it runs the newest Python on arm64 with X-Ray, 30 s (inside which its HTTP timeouts fit) and 256 MB
    assert properties["Runtime"] == "python3.13"
    assert properties["Architectures"] == ["arm64"]
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Timeout"] == 30
    assert properties["MemorySize"] == 256
    # And its description names the environment
    assert SANITISED_ENV in properties["Description"]


def test_exactly_five_functions_exist(template: Template) -> None:
    # Given the default stack
    handlers = {r["Properties"]["Handler"] for r in resources_of(template, "AWS::Lambda::Function").values()}
    # Then there are the API function, Collect, Refund, the hold sweeper and the event publisher, and nothing else
    assert handlers == {API_HANDLER, SWEEPER_HANDLER, PUBLISHER_HANDLER, *HANDLERS.values()}
    template.resource_count_is("AWS::Lambda::Function", 5)


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_function_environment_is_the_api_url_plus_powertools_settings(template: Template, name: str) -> None:
    # Given the default stack
    # When the function's environment is read
    _, function = function_by_handler(template, HANDLERS[name])
    variables = function["Properties"]["Environment"]["Variables"]
    # Then it is exactly the API URL and Powertools' settings
    assert set(variables) == {
        "PAYMENT_API_URL",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    }
    assert variables["POWERTOOLS_SERVICE_NAME"] == "payment"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "ServerlessAirline"
    assert variables["POWERTOOLS_LOG_LEVEL"] == "INFO"


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_payment_api_url_is_the_apis_prod_stage_url(template: Template, name: str) -> None:
    # Given the default stack, its one REST API and its one stage
    rest_api_id = only_logical_id(template, "AWS::ApiGateway::RestApi")
    stage_id = only_logical_id(template, "AWS::ApiGateway::Stage")
    _, function = function_by_handler(template, HANDLERS[name])
    # When PAYMENT_API_URL is read
    url = function["Properties"]["Environment"]["Variables"]["PAYMENT_API_URL"]
    # Then it is joined from this API and this stage, and renders as the Prod base URL (the stack's output too)
    _, parts = url["Fn::Join"]
    assert {"Ref": rest_api_id} in parts
    assert {"Ref": stage_id} in parts
    assert render(url, template) == (
        "https://${" + rest_api_id + "}.execute-api.${AWS::Region}.${AWS::URLSuffix}/Prod/"
    )
    assert url == template.find_outputs("PaymentApiUrl")["PaymentApiUrl"]["Value"]


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_log_level_override_flows_into_the_functions(name: str) -> None:
    # Given the log level overridden on the command line
    template = Template.from_stack(payment_stack_for(ENV, **{"payment:logLevel": "DEBUG"}))
    # When the function's environment is read
    _, function = function_by_handler(template, HANDLERS[name])
    # Then Powertools logs at that level
    assert function["Properties"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "DEBUG"


@pytest.mark.parametrize(("env", "days", "policy"), [(ENV, 14, "Delete"), ("main", 90, "Retain")])
@pytest.mark.parametrize("name", ["collect", "refund"])
def test_function_logs_go_to_its_own_log_group_with_the_configured_retention(
    name: str, env: str, days: int, policy: str
) -> None:
    # Given a branch environment or main
    template = Template.from_stack(payment_stack_for(env))
    # When the function's log group is followed
    _, function = function_by_handler(template, HANDLERS[name])
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = resources_of(template, "AWS::Logs::LogGroup")[log_group_id]
    # Then it keeps logs as configured and follows the environment's removal policy
    assert log_group["Properties"]["RetentionInDays"] == days
    assert log_group["DeletionPolicy"] == policy
    assert log_group["UpdateReplacePolicy"] == policy


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_no_stripe_setting_reaches_collect_or_refund(template: Template, name: str) -> None:
    # Given the default stack
    # When the function's environment is serialised
    _, function = function_by_handler(template, HANDLERS[name])
    text = json.dumps(function["Properties"]["Environment"])
    # Then nothing about Stripe is in it: only the payment API talks to Stripe
    assert "STRIPE" not in text.upper()


# --- SSM parameters -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_function_parameter_holds_the_functions_arn(template: Template, name: str) -> None:
    # Given the default stack and the logical id of the function with this handler
    function_id, _ = function_by_handler(template, HANDLERS[name])
    # When the parameter /<env>/service/payment/function/<name> is found
    parameter = parameter_named(template, f"/{SANITISED_ENV}/service/payment/function/{name}")
    # Then it is a String holding exactly that function's ARN, with a description
    assert parameter["Type"] == "String"
    assert parameter["Value"] == {"Fn::GetAtt": [function_id, "Arn"]}
    assert parameter["Description"]


def test_api_url_parameter_holds_the_apis_prod_url(template: Template) -> None:
    # Given the default stack
    # When the API URL parameter is found
    parameter = parameter_named(template, f"/{SANITISED_ENV}/service/payment/api/url")
    # Then it is a String holding the same URL as the PaymentApiUrl output (stage Prod)
    assert parameter["Type"] == "String"
    assert parameter["Value"] == template.find_outputs("PaymentApiUrl")["PaymentApiUrl"]["Value"]
    assert render(parameter["Value"], template).endswith("/Prod/")
    assert parameter["Description"]


@pytest.mark.parametrize("route", ["charge", "capture", "refund"])
def test_the_old_stacks_route_url_parameters_hold_each_routes_full_url(template: Template, route: str) -> None:
    # Given the default stack / When the old payment stack's parameter for a route is found (the old Amplify build
    # read /<env>/service/payment/api/charge/url into the front-end's configuration)
    parameter = parameter_named(template, f"/{SANITISED_ENV}/service/payment/api/{route}/url")
    # Then it is a String holding the API's Prod URL followed by the route
    base = template.find_outputs("PaymentApiUrl")["PaymentApiUrl"]["Value"]
    assert parameter["Type"] == "String"
    assert render(parameter["Value"], template) == render(base, template) + route
    assert parameter["Description"]


def test_only_the_published_parameters_are_created(template: Template) -> None:
    # Given the default stack
    names = {r["Properties"]["Name"] for r in resources_of(template, "AWS::SSM::Parameter").values()}
    # Then the Stripe key and webhook secret are not among them (operators create them) and every name is under the
    # environment's prefix: the functions', the API's URLs and the payment event bus's (PaymentEvents)
    assert names == {
        f"/{SANITISED_ENV}/service/payment/function/collect",
        f"/{SANITISED_ENV}/service/payment/function/refund",
        f"/{SANITISED_ENV}/service/payment/api/url",
        f"/{SANITISED_ENV}/service/payment/api/charge/url",
        f"/{SANITISED_ENV}/service/payment/api/capture/url",
        f"/{SANITISED_ENV}/service/payment/api/refund/url",
        f"/{SANITISED_ENV}/service/payment/events/bus",
    }


def test_parameter_names_differ_between_environments() -> None:
    # Given two branch environments
    first = Template.from_stack(payment_stack_for("feature/one"))
    second = Template.from_stack(payment_stack_for("feature/two"))

    # When their parameter names are collected
    def names(template: Template) -> set[str]:
        return {r["Properties"]["Name"] for r in resources_of(template, "AWS::SSM::Parameter").values()}

    # Then they carry their environment and do not collide
    assert all(name.startswith("/feature-one/service/payment/") for name in names(first))
    assert names(first).isdisjoint(names(second))


@pytest.mark.parametrize(("output", "name"), [("CollectFunctionArn", "collect"), ("RefundFunctionArn", "refund")])
def test_stack_outputs_the_function_arns(template: Template, output: str, name: str) -> None:
    # Given the default stack
    function_id, _ = function_by_handler(template, HANDLERS[name])
    # Then the output holds the function's ARN
    assert template.find_outputs(output)[output]["Value"] == {"Fn::GetAtt": [function_id, "Arn"]}


# --- IAM -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_function_may_invoke_exactly_its_own_route(template: Template, name: str) -> None:
    # Given the function's IAM statements
    statements = statements_of_function(template, HANDLERS[name])
    other_route = next(route for other, route in ROUTES.items() if other != name)
    # When the execute-api statements are picked out
    invoke = [s for s in statements if any(a.startswith("execute-api:") for a in actions_of(s))]
    # Then there is one, allowing Invoke on POST /<its route> of stage Prod only
    assert len(invoke) == 1, invoke
    (statement,) = invoke
    assert statement["Effect"] == "Allow"
    assert actions_of(statement) == ["execute-api:Invoke"]
    (resource,) = resources_in(statement)
    arn = render(resource, template)
    assert arn.endswith(f"/Prod/POST/{ROUTES[name]}")
    assert other_route not in arn
    assert "*" not in arn
    assert "charge" not in arn


@pytest.mark.parametrize("name", ["collect", "refund"])
def test_function_has_no_ssm_or_dynamodb_permission(template: Template, name: str) -> None:
    # Given the function's IAM statements
    statements = statements_of_function(template, HANDLERS[name])
    # When their actions are collected
    actions = {action for statement in statements for action in actions_of(statement)}
    # Then it reads no parameter (not even the Stripe key) and touches no table; X-Ray and its own logs aside, it only
    # calls its route
    assert not any(action.startswith(("ssm:", "dynamodb:", "kms:")) for action in actions), actions
    assert "*" not in actions
    assert actions == {
        "execute-api:Invoke",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }


@pytest.mark.parametrize("name", ["collect", "refund", "api"])
def test_function_writes_only_to_its_own_log_group(template: Template, name: str) -> None:
    # Given the function and its IAM statements
    handler = API_HANDLER if name == "api" else HANDLERS[name]
    _, function = function_by_handler(template, handler)
    log_group_id = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    logs_statements = [s for s in statements_of_function(template, handler) if actions_of(s)[0].startswith("logs:")]
    # Then it may create streams and put events in its own log group only (not AWSLambdaBasicExecutionRole's "*")
    assert [(sorted(actions_of(s)), resources_in(s)) for s in logs_statements] == [
        (["logs:CreateLogStream", "logs:PutLogEvents"], [{"Fn::GetAtt": [log_group_id, "Arn"]}])
    ]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "ManagedPolicyArns" not in resources_of(template, "AWS::IAM::Role")[role_id]["Properties"]


def test_api_function_may_not_call_the_api(template: Template) -> None:
    # Given the payment API function's IAM statements
    statements = statements_of_function(template, API_HANDLER)
    # Then none of them allows execute-api (the grants went to Collect and Refund only)
    assert not any(action.startswith("execute-api:") for statement in statements for action in actions_of(statement))
