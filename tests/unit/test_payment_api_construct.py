"""CDK assertions on the PaymentApi construct as ``Payment-<env>`` composes it (asset bundling skipped)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from payment_stack.config import ConfigError
from payment_stack.roles import ManagedPolicyRole
from tests.support.cdk import logical_id, payment_stack_for
from tests.support.iam import accept_in_test, actions_of, resources_in, statements_of_role
from tests.support.templates import function_by_handler, only_logical_id, regional_arn, render, resources_of

ENV = "feature-x"
API_HANDLER = "lambdas.payment_api.handler.handler"
STRIPE_KEY_PARAMETER_ARN_SUFFIX = f":parameter/{ENV}/service/payment/stripe/secretKey"
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
STRIPE_WEBHOOK_SECRET_PARAMETER_ARN_SUFFIX = f":parameter/{ENV}/service/payment/stripe/webhookSecret"
BUSINESS_VARIABLES = {
    "STRIPE_SECRET_KEY_PARAMETER",
    "STRIPE_WEBHOOK_SECRET_PARAMETER",
    "CORS_ALLOWED_ORIGINS",
    "MAX_CHARGE_AMOUNTS",
    "IDEMPOTENCY_TABLE_NAME",
    "LEDGER_TABLE_NAME",
    "LEDGER_HOLDS_INDEX_NAME",
}


def methods_by_route(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """``(path part, HTTP method)`` → the Method's properties, following ``ResourceId`` to the Resource's PathPart."""
    resources = resources_of(template, "AWS::ApiGateway::Resource")
    routes: dict[tuple[str, str], dict[str, Any]] = {}
    for method in resources_of(template, "AWS::ApiGateway::Method").values():
        properties = method["Properties"]
        resource_ref = properties["ResourceId"].get("Ref")
        path_part = resources[resource_ref]["Properties"]["PathPart"] if resource_ref in resources else "/"
        routes[(path_part, properties["HttpMethod"])] = properties
    return routes


def api_function(template: Template) -> tuple[str, dict[str, Any]]:
    return function_by_handler(template, API_HANDLER)


def api_function_statements(template: Template) -> list[dict[str, Any]]:
    _, function = api_function(template)
    role_logical_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return statements_of_role(template, role_logical_id)


def table_ids(template: Template) -> tuple[str, str]:
    """The logical ids of the idempotency table (the one with a TTL) and of the ledger (the one with an index)."""
    tables = resources_of(template, "AWS::DynamoDB::Table")
    (idempotency,) = [i for i, t in tables.items() if "TimeToLiveSpecification" in t["Properties"]]
    (ledger,) = [i for i, t in tables.items() if "GlobalSecondaryIndexes" in t["Properties"]]
    return idempotency, ledger


def dynamodb_actions_by_resource(template: Template) -> dict[str, set[str]]:
    """The API function's DynamoDB actions, by the resource they are allowed on (as JSON)."""
    allowed: dict[str, set[str]] = {}
    for statement in api_function_statements(template):
        actions = {a for a in actions_of(statement) if a.startswith("dynamodb:")}
        for resource in resources_in(statement) if actions else ():
            allowed.setdefault(json.dumps(resource, sort_keys=True), set()).update(actions)
    return allowed


# --- routes and authorisation ---------------------------------------------------------------------------------------


def test_five_routes_are_created(template: Template) -> None:
    # Given the default feature-x stack (fixture)
    # When the API resources are listed
    path_parts = {r["Properties"]["PathPart"] for r in resources_of(template, "AWS::ApiGateway::Resource").values()}
    # Then there are exactly /charge, /capture, /refund, /payments/{id} and /webhooks/stripe
    assert path_parts == {"charge", "capture", "refund", "payments", "{id}", "webhooks", "stripe"}
    template.resource_count_is("AWS::ApiGateway::Resource", 7)


def test_charge_is_public_and_capture_refund_and_get_payment_require_iam(template: Template) -> None:
    # Given the default stack
    # When the methods are resolved to their routes
    authorization = {route: props["AuthorizationType"] for route, props in methods_by_route(template).items()}
    # Then /charge (POST and its preflight) and Stripe's webhook are open, /capture, /refund and GET /payments/{id}
    # are AWS_IAM, and nothing else exists (the webhook has no preflight: no browser calls it)
    assert authorization == {
        ("charge", "POST"): "NONE",
        ("charge", "OPTIONS"): "NONE",
        ("capture", "POST"): "AWS_IAM",
        ("refund", "POST"): "AWS_IAM",
        ("{id}", "GET"): "AWS_IAM",
        ("stripe", "POST"): "NONE",
    }


def test_every_route_proxies_to_the_one_api_function(template: Template) -> None:
    # Given the default stack
    function_logical_id, _ = api_function(template)
    # When the integrations of every method but the preflight are inspected
    routes = {route: props for route, props in methods_by_route(template).items() if route[1] != "OPTIONS"}
    # Then all five are Lambda proxy integrations of that same function
    for route, props in routes.items():
        integration = props["Integration"]
        assert integration["Type"] == "AWS_PROXY", route
        assert {"Fn::GetAtt": [function_logical_id, "Arn"]} in integration["Uri"]["Fn::Join"][1], route
    assert set(routes) == {
        ("charge", "POST"),
        ("capture", "POST"),
        ("refund", "POST"),
        ("{id}", "GET"),
        ("stripe", "POST"),
    }


def test_api_gateway_may_invoke_the_function_from_stage_prod_only_and_not_from_test_invoke(
    template: Template,
) -> None:
    # Given the default stack
    # When the function's invoke permissions are rendered
    source_arns = sorted(
        render(permission["Properties"]["SourceArn"], template)
        for permission in resources_of(template, "AWS::Lambda::Permission").values()
    )
    # Then there is one per route, all on stage Prod (allow_test_invoke=False adds no test-invoke-stage permission)
    assert [arn.split("/", 1)[1] for arn in source_arns] == [
        "Prod/GET/payments/*",
        "Prod/POST/capture",
        "Prod/POST/charge",
        "Prod/POST/refund",
        "Prod/POST/webhooks/stripe",
    ]


# --- CORS ----------------------------------------------------------------------------------------------------------


def test_charge_preflight_allows_the_configured_origins_and_the_idempotency_header() -> None:
    # Given three configured front-end origins
    origins = ["https://a.example.com", "https://b.example.com", "https://c.example.com"]
    template = Template.from_stack(payment_stack_for(**{"payment:corsAllowedOrigins": ",".join(origins)}))
    # When the /charge OPTIONS integration response is read
    preflight = methods_by_route(template)[("charge", "OPTIONS")]
    (response,) = preflight["Integration"]["IntegrationResponses"]
    headers = response["ResponseParameters"]
    velocity = response["ResponseTemplates"]["application/json"]
    # Then CDK puts the first origin in the static header and matches the others in a velocity template
    assert headers["method.response.header.Access-Control-Allow-Origin"] == f"'{origins[0]}'"
    for origin in origins[1:]:
        assert f'"{origin}"' in velocity
    assert headers["method.response.header.Vary"] == "'Origin'"
    # And the browser may send the idempotency key, and only POST is allowed, cached for 10 minutes
    allowed_headers = headers["method.response.header.Access-Control-Allow-Headers"].strip("'").split(",")
    assert "Idempotency-Key" in allowed_headers
    assert "Content-Type" in allowed_headers
    assert headers["method.response.header.Access-Control-Allow-Methods"] == "'POST,OPTIONS'"
    assert headers["method.response.header.Access-Control-Max-Age"] == "'600'"
    assert preflight["Integration"]["Type"] == "MOCK"


def test_function_gets_the_same_cors_origins_as_the_preflight(template: Template) -> None:
    # Given the default origins from cdk.json
    # When the function's environment is read
    _, function = api_function(template)
    variables = function["Properties"]["Environment"]["Variables"]
    # Then it holds the same origins, comma-separated, for the CORS headers of the POST responses
    assert variables["CORS_ALLOWED_ORIGINS"] == "http://localhost:8080,http://127.0.0.1:8080"


# --- stage, endpoint, gateway responses ----------------------------------------------------------------------------


def method_settings(template: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """Stage Prod's method settings by ``(resource path, HTTP method)``."""
    (stage,) = resources_of(template, "AWS::ApiGateway::Stage").values()
    return {(m["ResourcePath"], m["HttpMethod"]): m for m in stage["Properties"]["MethodSettings"]}


def test_stage_prod_traces_logs_access_and_throttles_from_config(template: Template) -> None:
    # Given the default stack (throttling 50 rps / burst 100, /charge 20 / 40 in cdk.json)
    # Then stage Prod has X-Ray, JSON access logs with the request id, metrics, no data trace and the throttling
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "Prod",
            "TracingEnabled": True,
            "AccessLogSetting": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp(r'"requestId":"\$context\.requestId"'),
            },
        },
    )
    template.resource_count_is("AWS::ApiGateway::Stage", 1)
    common = {"MetricsEnabled": True, "DataTraceEnabled": False, "LoggingLevel": "ERROR"}
    assert method_settings(template) == {
        ("/*", "*"): {
            "HttpMethod": "*",
            "ResourcePath": "/*",
            "ThrottlingRateLimit": 50,
            "ThrottlingBurstLimit": 100,
            **common,
        },
        # The public route is throttled more strictly, and keeps the stage's logging and metrics
        ("/~1charge", "POST"): {
            "HttpMethod": "POST",
            "ResourcePath": "/~1charge",
            "ThrottlingRateLimit": 20,
            "ThrottlingBurstLimit": 40,
            **common,
        },
    }


def test_execution_logs_go_to_a_log_group_the_stack_owns(template: Template) -> None:
    # Given the default stack (execution logging at ERROR)
    (stage_id, stage) = next(iter(resources_of(template, "AWS::ApiGateway::Stage").items()))
    rest_api_id = only_logical_id(template, "AWS::ApiGateway::RestApi")
    # When the log group API Gateway writes execution logs to is looked up by its name
    groups = {
        logical_id: group
        for logical_id, group in resources_of(template, "AWS::Logs::LogGroup").items()
        if "Fn::Join" in json.dumps(group["Properties"].get("LogGroupName", ""))
    }
    (group_id, group) = next(iter(groups.items()))
    # Then the stack creates it before the stage (retention, encryption and deletion as configured)
    assert (
        render(group["Properties"]["LogGroupName"], template) == f"API-Gateway-Execution-Logs_${{{rest_api_id}}}/Prod"
    )
    assert group["Properties"]["RetentionInDays"] == 14
    assert "KmsKeyId" in group["Properties"]
    assert group["DeletionPolicy"] == "Delete"
    assert group_id in stage["DependsOn"], stage_id


def test_without_the_cloud_watch_role_there_is_no_execution_logging() -> None:
    # Given local mode's setting (no account-level role: moto has no AWS::ApiGateway::Account)
    template = Template.from_stack(payment_stack_for(**{"payment:apiGatewayCloudWatchRole": "false"}))
    # Then no method logs executions, and no execution log group is created (the synth still passes cdk-nag:
    # APIG6 and PCI execution logging are accepted for this setting only)
    assert all("LoggingLevel" not in setting for setting in method_settings(template).values())
    assert not any(
        "API-Gateway-Execution-Logs" in json.dumps(group)
        for group in resources_of(template, "AWS::Logs::LogGroup").values()
    )


def test_post_methods_validate_that_the_body_is_a_json_object(template: Template) -> None:
    # Given the default stack
    (validator_id, validator) = next(iter(resources_of(template, "AWS::ApiGateway::RequestValidator").items()))
    (model_id, model) = next(iter(resources_of(template, "AWS::ApiGateway::Model").items()))
    # Then one validator checks bodies and parameters, against a model that accepts any JSON object
    assert validator["Properties"]["ValidateRequestBody"] is True
    assert validator["Properties"]["ValidateRequestParameters"] is True
    assert model["Properties"]["ContentType"] == "application/json"
    assert model["Properties"]["Schema"] == {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "JsonObject",
        "type": "object",
    }
    # And every POST but Stripe's webhook uses them; the preflight does not
    routes = methods_by_route(template)
    for (path, method), props in routes.items():
        if method == "POST" and path != "stripe":
            assert props["RequestValidatorId"] == {"Ref": validator_id}, path
            assert props["RequestModels"] == {"application/json": {"Ref": model_id}}, path
        elif method == "OPTIONS":
            assert "RequestValidatorId" not in props, path
    # And GET /payments/{id} has no body to model: the validator checks its required path parameter
    get_payment = routes[("{id}", "GET")]
    assert get_payment["RequestValidatorId"] == {"Ref": validator_id}
    assert "RequestModels" not in get_payment
    assert get_payment["RequestParameters"] == {"method.request.path.id": True}
    # And the webhook is neither validated nor modelled: the function verifies Stripe's signature of the raw body
    # first and answers 400 itself for a body it cannot use
    webhook = routes[("stripe", "POST")]
    assert "RequestValidatorId" not in webhook
    assert "RequestModels" not in webhook


def test_charge_throttling_must_be_stricter_than_the_stage() -> None:
    # Given /charge limits above the stage's
    # Then the synth stops with a message naming both settings
    with pytest.raises(ConfigError, match=r"chargeThrottleRateLimit.*apiThrottleRateLimit"):
        payment_stack_for(**{"payment:chargeThrottleRateLimit": "60"})


def test_access_logs_go_to_their_own_log_group(template: Template) -> None:
    # Given the default stack
    stage = next(iter(resources_of(template, "AWS::ApiGateway::Stage").values()))
    # When the access log destination is rendered
    destination = render(stage["Properties"]["AccessLogSetting"]["DestinationArn"], template)
    # Then it names a log group of this stack (a Ref), retained as configured (14 days for a branch)
    log_group_id = destination.rsplit(":log-group:", 1)[1].strip("${}")
    log_group = resources_of(template, "AWS::Logs::LogGroup")[log_group_id]
    assert log_group["Properties"]["RetentionInDays"] == 14
    assert log_group["DeletionPolicy"] == "Delete"


def test_throttling_override_flows_to_the_stage() -> None:
    # Given throttling overridden on the command line
    stack = payment_stack_for(
        **{
            "payment:apiThrottleRateLimit": "7",
            "payment:apiThrottleBurstLimit": "9",
            "payment:chargeThrottleRateLimit": "3",
            "payment:chargeThrottleBurstLimit": "4",
        }
    )
    # When the template is synthesized
    settings = method_settings(Template.from_stack(stack))
    # Then the stage and /charge use the overridden limits
    assert (settings[("/*", "*")]["ThrottlingRateLimit"], settings[("/*", "*")]["ThrottlingBurstLimit"]) == (7, 9)
    charge = settings[("/~1charge", "POST")]
    assert (charge["ThrottlingRateLimit"], charge["ThrottlingBurstLimit"]) == (3, 4)


def test_api_is_regional_and_named_after_the_environment(template: Template) -> None:
    # Given the default stack
    # Then the REST API is regional and its name carries the environment
    template.has_resource_properties(
        "AWS::ApiGateway::RestApi",
        {"EndpointConfiguration": {"Types": ["REGIONAL"]}, "Name": f"payment-{ENV}"},
    )
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)


@pytest.mark.parametrize(
    ("response_type", "status_code", "code"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", "403", "missing_authentication_token"),
        ("ACCESS_DENIED", "403", "forbidden"),
        ("THROTTLED", "429", "throttled"),
        ("REQUEST_TOO_LARGE", "413", "request_too_large"),
        ("BAD_REQUEST_BODY", "400", "invalid_request"),
        ("BAD_REQUEST_PARAMETERS", "400", "invalid_request"),
        ("DEFAULT_4XX", None, "bad_request"),
        ("DEFAULT_5XX", None, "gateway_error"),
    ],
)
def test_gateway_errors_are_json_like_the_functions(
    template: Template, response_type: str, status_code: str | None, code: str
) -> None:
    # Given the default stack
    # Then API Gateway's own error answers use the {"message", "code"} envelope (and a fixed status where set)
    template.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse",
        {
            "ResponseType": response_type,
            "StatusCode": status_code if status_code is not None else Match.absent(),
            "ResponseTemplates": {
                "application/json": f'{{"message":$context.error.messageString,"code":"{code}"}}',
            },
        },
    )


def test_gateway_error_template_renders_json_for_a_sample_message(template: Template) -> None:
    # Given the missing-authentication gateway response template
    (response,) = template.find_resources(
        "AWS::ApiGateway::GatewayResponse", {"Properties": {"ResponseType": "MISSING_AUTHENTICATION_TOKEN"}}
    ).values()
    body_template = response["Properties"]["ResponseTemplates"]["application/json"]
    # When API Gateway substitutes messageString (a quoted, escaped JSON string)
    body = body_template.replace("$context.error.messageString", json.dumps('Missing "Authentication" Token'))
    # Then the body is valid JSON with message and code
    assert json.loads(body) == {"message": 'Missing "Authentication" Token', "code": "missing_authentication_token"}


def test_stack_outputs_the_api_url_of_stage_prod(template: Template) -> None:
    # Given the default stack
    # When the PaymentApiUrl output is rendered
    output = template.find_outputs("PaymentApiUrl")["PaymentApiUrl"]
    url = render(output["Value"], template)
    # Then it is the Prod stage's base URL
    assert url.startswith("https://")
    assert url.endswith(".execute-api.${AWS::Region}.${AWS::URLSuffix}/Prod/")


# --- the function ----------------------------------------------------------------------------------------------------


def test_api_function_environment_holds_only_names_and_settings(template: Template) -> None:
    # Given the default stack
    # When the API function's environment is read
    _, function = api_function(template)
    properties = function["Properties"]
    variables = properties["Environment"]["Variables"]
    # Then it has exactly the business settings plus Powertools' own, and no secret
    assert set(variables) == BUSINESS_VARIABLES | POWERTOOLS_VARIABLES
    assert variables["STRIPE_SECRET_KEY_PARAMETER"] == f"/{ENV}/service/payment/stripe/secretKey"
    assert json.loads(variables["MAX_CHARGE_AMOUNTS"]) == {
        "eur": 1000000,
        "gbp": 1000000,
        "jpy": 100000000,
        "usd": 1000000,
    }
    idempotency_id, ledger_id = table_ids(template)
    assert variables["IDEMPOTENCY_TABLE_NAME"] == {"Ref": idempotency_id}
    assert variables["LEDGER_TABLE_NAME"] == {"Ref": ledger_id}
    assert variables["LEDGER_HOLDS_INDEX_NAME"] == "holds-by-age"
    assert properties["Timeout"] == 12
    assert properties["MemorySize"] == 512
    assert properties["TracingConfig"] == {"Mode": "Active"}


def test_stripe_api_base_and_key_values_never_reach_the_template(template: Template) -> None:
    # Given the synthesized template as text
    text = json.dumps(template.to_json())
    # Then the local-only override is absent and nothing looks like a Stripe key
    assert "STRIPE_API_BASE" not in text
    assert "sk_test_" not in text
    assert "sk_live_" not in text
    # The stack never creates the Stripe key's or webhook secret's parameter (operators do); it only publishes its own
    # (the functions' ARNs, the API URL, the event bus).
    names = [r["Properties"]["Name"] for r in template.find_resources("AWS::SSM::Parameter").values()]
    assert not any("stripe" in str(name).lower() for name in names)


def parameter_arn(suffix: str) -> dict[str, Any]:
    """The ARN of one SSM parameter of this account and region, as the grants build it from its name."""
    return regional_arn("ssm", suffix)


def test_function_reads_only_the_stripe_key_and_webhook_secret_parameters(template: Template) -> None:
    # Given the API function's IAM statements
    statements = api_function_statements(template)
    ssm_statements = [s for s in statements if any(a.startswith("ssm:") for a in actions_of(s))]
    # Then SSM reads are allowed on exactly two parameter ARNs, each built from the environment's parameter name:
    # the Stripe key and the webhook signing secret
    assert ssm_statements, "the function must be able to read the Stripe key"
    assert sorted(json.dumps(resource) for s in ssm_statements for resource in resources_in(s)) == sorted(
        json.dumps(parameter_arn(suffix))
        for suffix in (STRIPE_KEY_PARAMETER_ARN_SUFFIX, STRIPE_WEBHOOK_SECRET_PARAMETER_ARN_SUFFIX)
    )
    # Only GetParameter (what Powertools calls): no DescribeParameters, no GetParameterHistory (earlier key values)
    assert {a for s in ssm_statements for a in actions_of(s)} == {"ssm:GetParameter"}
    # And no statement anywhere in the stack grants an SSM action on "*"
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(a.startswith("ssm:") or a == "*" for a in actions_of(statement)):
                assert "*" not in resources_in(statement)


def test_function_finds_the_webhook_secret_by_its_parameter_name(template: Template) -> None:
    # Given the API function's environment
    _, function = api_function(template)
    variables = function["Properties"]["Environment"]["Variables"]
    # Then it names the webhook secret's SecureString (never its value), the parameter it may read
    assert variables["STRIPE_WEBHOOK_SECRET_PARAMETER"] == f"/{ENV}/service/payment/stripe/webhookSecret"
    assert "whsec_" not in json.dumps(template.to_json())


def test_stack_outputs_the_webhook_url_to_register_with_stripe(template: Template) -> None:
    # Given the default stack
    # When the PaymentWebhookUrl output is rendered
    output = template.find_outputs("PaymentWebhookUrl")["PaymentWebhookUrl"]
    url = render(output["Value"], template)
    # Then it is the webhook route of stage Prod, under the API's base URL
    assert url.startswith("https://")
    assert url.endswith(".execute-api.${AWS::Region}.${AWS::URLSuffix}/Prod/webhooks/stripe")


def test_function_uses_dynamodb_items_of_the_idempotency_table_and_the_ledger_only(template: Template) -> None:
    # Given the API function's DynamoDB actions by resource
    idempotency_id, ledger_id = table_ids(template)
    allowed = dynamodb_actions_by_resource(template)
    # Then it may do what Powertools idempotency does with items in its table (no scans, queries or batches), and
    # read, create and update ledger records (never delete them, never query the holds index)
    assert allowed == {
        json.dumps({"Fn::GetAtt": [idempotency_id, "Arn"]}): {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
        json.dumps({"Fn::GetAtt": [ledger_id, "Arn"]}): {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"},
    }


# --- grants -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "method_path"),
    [("capture", "POST/capture"), ("refund", "POST/refund"), ("read_payments", "GET/payments/*")],
)
def test_grant_allows_invoking_one_route_on_stage_prod_only(route: str, method_path: str) -> None:
    # Given a role in the stack (with a managed policy, as the app's roles: cdk-nag refuses inline policies)
    stack = payment_stack_for()
    role = ManagedPolicyRole(stack, "Caller", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description="x")
    # When it is granted one route
    grants = {
        "capture": stack.payment_api.grant_capture,
        "refund": stack.payment_api.grant_refund,
        "read_payments": stack.payment_api.grant_read_payments,
    }
    assert grants[route](role).success
    if method_path.endswith("*"):
        # Any id of the path parameter: cdk-nag's IAM5 flags the wildcard, which a real grantee must accept too.
        api_id, stage_id = (
            logical_id(construct) for construct in (stack.payment_api.rest_api, stack.payment_api.stage)
        )
        accept_in_test(
            role,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<{api_id}>"
            f"/<{stage_id}>/{method_path}]",
        )
    template = Template.from_stack(stack)
    # Then it may execute-api:Invoke that one method of stage Prod (GET /payments/{id}: for any id), nothing else
    role_id = logical_id(role)
    (statement,) = statements_of_role(template, role_id)
    assert actions_of(statement) == ["execute-api:Invoke"]
    (resource,) = resources_in(statement)
    rest_api_id = only_logical_id(template, "AWS::ApiGateway::RestApi")
    assert render(resource, template).endswith(f":${{{rest_api_id}}}/Prod/{method_path}")


# --- the idempotency table and the CloudWatch role ----------------------------------------------------------------


def test_idempotency_table_is_on_demand_with_ttl_and_point_in_time_recovery(template: Template) -> None:
    # Given the default stack
    # Then the table Powertools uses is keyed by id, expires records, bills per request and can be restored
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TableName": Match.absent(),
        },
    )


@pytest.mark.parametrize(("env", "policy"), [("feature-x", "Delete"), ("main", "Retain")])
def test_idempotency_table_follows_the_environments_removal_policy(env: str, policy: str) -> None:
    # Given a branch environment or main
    template = Template.from_stack(payment_stack_for(env))
    # Then the table is deleted with a branch stack and kept for main
    template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": policy, "UpdateReplacePolicy": policy})


def test_cloudwatch_role_is_created_by_default(template: Template) -> None:
    # Given the default configuration (apiGatewayCloudWatchRole true)
    # Then the account-level API Gateway role for access logs is set
    template.resource_count_is("AWS::ApiGateway::Account", 1)


def test_cloudwatch_role_can_be_turned_off_for_local_mode() -> None:
    # Given apiGatewayCloudWatchRole false (local mode: moto has no AWS::ApiGateway::Account)
    template = Template.from_stack(payment_stack_for(**{"payment:apiGatewayCloudWatchRole": "false"}))
    # Then no account-level resource or its role is created, and the API is still there
    template.resource_count_is("AWS::ApiGateway::Account", 0)
    template.resource_count_is("AWS::ApiGateway::RestApi", 1)
    roles = resources_of(template, "AWS::IAM::Role")
    assert not any("apigateway.amazonaws.com" in json.dumps(role) for role in roles.values())
