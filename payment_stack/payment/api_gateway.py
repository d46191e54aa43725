"""The API Gateway side of the payment API: the stage's settings, the gateway's own error answers, CORS, the routes'
shared request checks and the Stripe webhook route.

``PaymentApi`` (``payment_stack.payment.api``) puts these together; nothing here creates a construct of its own
except through the ``RestApi`` it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs

from payment_stack.config import PaymentConfig

STAGE_NAME = "Prod"
CHARGE_METHOD_PATH = "/charge/POST"
# Where Stripe sends its events (the endpoint `make stripe-webhook` registers: the API's URL followed by this path).
WEBHOOK_RESOURCES = ("webhooks", "stripe")
WEBHOOK_PATH = "/".join(WEBHOOK_RESOURCES)
CORS_ALLOWED_HEADERS = ("Content-Type", "Idempotency-Key", "Authorization", "X-Amz-Date", "X-Amz-Security-Token")
# API Gateway's own errors (unknown route, denied, throttled, ...) get the same JSON envelope as the function's.
# `$context.error.messageString` is already a quoted JSON string, so it goes into the template unquoted.
_GATEWAY_RESPONSES: tuple[tuple[str, apigw.ResponseType, str | None, str], ...] = (
    # API Gateway answers an unknown path or method and an unsigned call to an AWS_IAM method alike; 403 keeps a
    # misconfigured caller (no signature) from reading it as "unknown charge".
    ("MissingAuthentication", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "403", "missing_authentication_token"),
    ("Forbidden", apigw.ResponseType.ACCESS_DENIED, "403", "forbidden"),
    ("Throttled", apigw.ResponseType.THROTTLED, "429", "throttled"),
    ("RequestTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, "413", "request_too_large"),
    # The request validator refuses a JSON body that is not an object: the same 400 and code the function gives.
    ("BadRequestBody", apigw.ResponseType.BAD_REQUEST_BODY, "400", "invalid_request"),
    ("BadRequestParameters", apigw.ResponseType.BAD_REQUEST_PARAMETERS, "400", "invalid_request"),
    # The defaults keep API Gateway's status code; only the body changes.
    ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, None, "bad_request"),
    ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, None, "gateway_error"),
)


def stage_options(config: PaymentConfig, *, access_log_group: logs.ILogGroup) -> apigw.StageOptions:
    """Stage ``Prod``: X-Ray, metrics, access logs to ``access_log_group``, execution logs at ``ERROR`` where the
    account-level CloudWatch role is created, the configured stage throttling and stricter ``POST /charge`` limits.
    """
    # Execution logging (errors only, never request or response data) writes through the account-level role,
    # so it is on exactly where that role is created (not in local mode: moto has no AWS::ApiGateway::Account).
    logging_level = apigw.MethodLoggingLevel.ERROR if config.execution_logging_enabled else None
    return apigw.StageOptions(
        stage_name=STAGE_NAME,
        tracing_enabled=True,
        metrics_enabled=True,
        # No data trace: it would write request and response bodies (card tokens, emails) to the logs.
        data_trace_enabled=False,
        logging_level=logging_level,
        throttling_rate_limit=config.api_throttle_rate_limit,
        throttling_burst_limit=config.api_throttle_burst_limit,
        # The one public route gets stricter limits; a method setting replaces the stage's for that method,
        # so it repeats the stage's logging, metrics and data-trace settings.
        method_options={
            CHARGE_METHOD_PATH: apigw.MethodDeploymentOptions(
                throttling_rate_limit=config.charge_throttle_rate_limit,
                throttling_burst_limit=config.charge_throttle_burst_limit,
                logging_level=logging_level,
                metrics_enabled=True,
                data_trace_enabled=False,
            )
        },
        access_log_destination=apigw.LogGroupLogDestination(access_log_group),
        access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
            caller=True,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=True,
        ),
    )


def add_gateway_responses(api: apigw.RestApi) -> None:
    """API Gateway's own errors answered with the function's JSON envelope ``{"message", "code"}``."""
    for response_id, response_type, status_code, code in _GATEWAY_RESPONSES:
        api.add_gateway_response(
            response_id,
            type=response_type,
            status_code=status_code,
            templates={"application/json": f'{{"message":$context.error.messageString,"code":"{code}"}}'},
        )


def charge_cors_options(config: PaymentConfig) -> apigw.CorsOptions:
    """The front-end calls /charge from the browser; the preflight (OPTIONS) is unauthenticated."""
    return apigw.CorsOptions(
        allow_origins=list(config.cors_allowed_origins),
        allow_methods=["POST", "OPTIONS"],
        allow_headers=list(CORS_ALLOWED_HEADERS),
        max_age=Duration.minutes(10),
    )


@dataclass(frozen=True)
class RequestChecks:
    """What API Gateway checks before the function runs: the validator, and the JSON-object model of bodies."""

    validator: apigw.IRequestValidator
    json_object: apigw.IModel

    @classmethod
    def add_to(cls, api: apigw.RestApi) -> RequestChecks:
        """API Gateway refuses, before the function runs, a JSON body that is not a JSON object (malformed JSON, an
        array, a string...). The function checks the fields itself, with a precise error code per field."""
        json_object = api.add_model(
            "JsonObjectModel",
            content_type="application/json",
            description="Any JSON object: every route takes one; the function validates its fields",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4, title="JsonObject", type=apigw.JsonSchemaType.OBJECT
            ),
        )
        validator = api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        return cls(validator=validator, json_object=json_object)


def add_webhook_route(api: apigw.RestApi, integration: apigw.Integration) -> apigw.Method:
    """``POST /webhooks/stripe`` on ``api``, proxied by ``integration``: the endpoint Stripe sends its events to.

    Authorization ``NONE``: Stripe cannot sign with SigV4; the function verifies the ``Stripe-Signature`` header
    (HMAC of the raw body with the endpoint's secret) before it reads anything. No request validator or model: the
    function needs the raw body as Stripe sent it and answers 400 itself for one it cannot use. No CORS preflight:
    no browser calls it.
    """
    resource: apigw.IResource = api.root
    for path_part in WEBHOOK_RESOURCES:
        resource = resource.add_resource(path_part)
    return resource.add_method("POST", integration, authorization_type=apigw.AuthorizationType.NONE)
