"""The payment REST API: ``POST /charge`` (public, CORS), ``/capture``, ``/refund`` and ``GET /payments/{id}``
(AWS_IAM) and ``POST /webhooks/stripe`` (public: Stripe signs the body) over one function."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from payment_stack.config import PaymentConfig
from payment_stack.payment_function import PaymentFunction
from payment_stack.payment_ledger import PaymentLedger
from payment_stack.waf import PaymentApiFirewall

STAGE_NAME = "Prod"
CHARGE_METHOD_PATH = "/charge/POST"
# Where Stripe sends its events (the endpoint `make stripe-webhook` registers: the API's URL followed by this path).
WEBHOOK_RESOURCES = ("webhooks", "stripe")
WEBHOOK_PATH = "/".join(WEBHOOK_RESOURCES)
# What Powertools idempotency does with its records: read, create (conditionally), complete, and delete on failure.
IDEMPOTENCY_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# Powertools `parameters.get_parameter(name, decrypt=True)`: one GetParameter call, nothing else (also for the
# webhook signing secret).
STRIPE_KEY_ACTIONS = ("ssm:GetParameter",)
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


class PaymentApi(Construct):
    """The Stripe-backed payment API of one environment, configured only through ``config``.

    In: ``config`` (CORS origins, stage and ``/charge`` throttling, per-currency charge maximums, the SSM parameter
    names of the Stripe key and of the webhook signing secret, log level/retention, removal policy, whether to create
    API Gateway's account-level CloudWatch role and log execution errors, whether to put AWS WAF in front),
    ``ledger`` (the payment ledger the function records every payment in) and ``encryption_key`` (the log groups'
    KMS key).

    Creates a regional REST API (stage ``Prod``, X-Ray, access logs, execution logs at ``ERROR`` where the account
    role is created, stage throttling and stricter throttling of ``POST /charge``, a request validator that refuses
    JSON bodies that are not objects) with ``POST /charge`` (public, CORS preflight for the configured origins),
    ``POST /capture``, ``POST /refund`` and ``GET /payments/{id}`` (a payment's ledger record; all three
    ``AWS_IAM``) and ``POST /webhooks/stripe`` (public: Stripe cannot sign with SigV4, the function verifies
    Stripe's signature; no request model, no CORS: the function answers 400 for a body it cannot use), one Lambda
    function behind all five, the DynamoDB table Powertools idempotency keeps its records in, and with
    ``config.waf_enabled`` an AWS WAF web ACL on the stage (``/webhooks/stripe`` may send bodies above 8 KB). The
    Stripe SecureStrings (key and webhook secret) are not created here (operators put them in SSM); the function may
    read those two parameters only (``ssm:GetParameter``), use the idempotency table's items only, and read, create
    and update ledger records (``ledger.grant_record``); it finds the ledger through ``ledger.environment`` and the
    webhook secret through ``STRIPE_WEBHOOK_SECRET_PARAMETER``.

    With ``config.snap_start`` the function has SnapStart and an alias ``live`` of its published version, which the
    integration invokes; its grants (idempotency table, ledger, Stripe key and webhook secret) stay on the function's
    role.

    Exposes ``rest_api``, ``stage``, ``function``, ``invoke_target`` (the alias or the function),
    ``idempotency_table``, ``access_log_group``, ``execution_log_group`` and ``firewall`` (``None`` when not created),
    ``charge_method``, ``capture_method``, ``refund_method``, ``get_payment_method``, ``webhook_method``, ``url``
    (base URL of stage ``Prod``, ending in ``/``), ``webhook_url`` (``<url>webhooks/stripe``, the endpoint to
    register with Stripe), and ``grant_capture`` / ``grant_refund`` / ``grant_read_payments`` to let a principal
    call ``POST /capture`` / ``POST /refund`` / ``GET /payments/{id}``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PaymentConfig,
        ledger: PaymentLedger,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)

        # Powertools idempotency records; no table name, so CloudFormation names it and environments never collide.
        self.idempotency_table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=config.removal_policy,
        )

        # ONE function behind every route, dispatched inside by a Powertools REST resolver: one cold start instead of
        # three, one Stripe client, SSM cache and connection pool shared by all routes, and one place that maps
        # domain and provider errors to HTTP statuses.
        self._api_function = PaymentFunction(
            self,
            "Handler",
            function_dir="payment_api",
            handler="lambdas.payment_api.handler.handler",
            description=(f"Payment API ({config.env_name}): /charge, /capture, /refund, /payments and Stripe webhooks"),
            # Stripe connect 2 s + read 8 s with no SDK retries, plus the SSM and DynamoDB calls: still well inside
            # API Gateway's 29 s integration timeout, so the caller gets the function's error, not a gateway 504.
            timeout=Duration.seconds(12),
            # Lambda allots CPU in proportion to memory: 512 MB keeps the cold start (stripe + Powertools imports)
            # short.
            memory_size=512,
            log_level=config.log_level,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            encryption_key=encryption_key,
            # Never STRIPE_API_BASE (local mode and tests only) and never a key value: only the key's parameter name.
            environment={
                "STRIPE_SECRET_KEY_PARAMETER": config.stripe_secret_key_parameter_name,
                "STRIPE_WEBHOOK_SECRET_PARAMETER": config.stripe_webhook_secret_parameter_name,
                "CORS_ALLOWED_ORIGINS": ",".join(config.cors_allowed_origins),
                "MAX_CHARGE_AMOUNTS": json.dumps(config.max_charge_amounts_by_currency, sort_keys=True),
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
                **ledger.environment,
            },
            snap_start=config.snap_start,
        )
        self.function: lambda_.Function = self._api_function.function
        # What API Gateway invokes: the function's alias `live` with SnapStart, the function itself otherwise.
        self.invoke_target: lambda_.IFunction = self._api_function.invoke_target
        # Item operations on this one table only (grant_read_write_data would add scans, queries and batch calls).
        self.idempotency_table.grant(self.function, *IDEMPOTENCY_TABLE_ACTIONS)
        ledger.grant_record(self.function)
        grant_stripe_key_read(
            self, "StripeSecretKey", grantee=self.function, parameter_name=config.stripe_secret_key_parameter_name
        )
        grant_stripe_key_read(
            self,
            "StripeWebhookSecret",
            grantee=self.function,
            parameter_name=config.stripe_webhook_secret_parameter_name,
        )

        self.access_log_group = logs.LogGroup(
            self,
            "AccessLogs",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
            encryption_key=encryption_key,
        )
        # Execution logging (errors only, never request or response data) writes through the account-level role,
        # so it is on exactly where that role is created (not in local mode: moto has no AWS::ApiGateway::Account).
        logging_level = apigw.MethodLoggingLevel.ERROR if config.execution_logging_enabled else None
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"payment-{config.env_name}",
            description=f"Payment API of the serverless airline ({config.env_name})",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # API Gateway writes access logs through one account-level role (AWS::ApiGateway::Account). Local mode
            # turns this off because moto has no AWS::ApiGateway::Account. The role is retained on stack deletion
            # (CDK's default): the account setting is shared by every API in the account and region.
            cloud_watch_role=config.api_gateway_cloud_watch_role,
            deploy_options=apigw.StageOptions(
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
                access_log_destination=apigw.LogGroupLogDestination(self.access_log_group),
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
            ),
        )
        self.stage: apigw.Stage = self.rest_api.deployment_stage
        self.execution_log_group: logs.LogGroup | None = None
        if config.execution_logging_enabled:
            # API Gateway would create this group itself on the first error, unencrypted, kept forever and left behind
            # by `cdk destroy`: created here, it has the configured retention, key and removal policy.
            self.execution_log_group = logs.LogGroup(
                self,
                "ExecutionLogs",
                log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{STAGE_NAME}",
                retention=config.log_retention,
                removal_policy=config.removal_policy,
                encryption_key=encryption_key,
            )
            self.stage.node.add_dependency(self.execution_log_group)

        for response_id, response_type, status_code, code in _GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                response_id,
                type=response_type,
                status_code=status_code,
                templates={"application/json": f'{{"message":$context.error.messageString,"code":"{code}"}}'},
            )

        # The console's test-invoke is not allowed to call the function: production traffic only.
        integration = apigw.LambdaIntegration(self.invoke_target, allow_test_invoke=False)
        # API Gateway refuses, before the function runs, a JSON body that is not a JSON object (malformed JSON, an
        # array, a string...). The function checks the fields itself, with a precise error code per field.
        json_object = self.rest_api.add_model(
            "JsonObjectModel",
            content_type="application/json",
            description="Any JSON object: every route takes one; the function validates its fields",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4, title="JsonObject", type=apigw.JsonSchemaType.OBJECT
            ),
        )
        validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )

        def add_post(resource: apigw.IResource, authorization_type: apigw.AuthorizationType) -> apigw.Method:
            return resource.add_method(
                "POST",
                integration,
                authorization_type=authorization_type,
                request_validator=validator,
                request_models={"application/json": json_object},
            )

        charge = self.rest_api.root.add_resource(
            "charge",
            # The front-end calls /charge from the browser; the preflight (OPTIONS) is unauthenticated.
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(config.cors_allowed_origins),
                allow_methods=["POST", "OPTIONS"],
                allow_headers=list(CORS_ALLOWED_HEADERS),
                max_age=Duration.minutes(10),
            ),
        )
        self.charge_method = add_post(charge, apigw.AuthorizationType.NONE)
        # Capture and refund move money on an existing charge: only principals granted below may call them.
        self.capture_method = add_post(self.rest_api.root.add_resource("capture"), apigw.AuthorizationType.IAM)
        self.refund_method = add_post(self.rest_api.root.add_resource("refund"), apigw.AuthorizationType.IAM)
        # A payment's ledger record, for the services and operators granted below. No body, so no model; the
        # validator still checks the path parameter.
        self.get_payment_method = (
            self.rest_api.root.add_resource("payments")
            .add_resource("{id}")
            .add_method(
                "GET",
                integration,
                authorization_type=apigw.AuthorizationType.IAM,
                request_validator=validator,
                request_parameters={"method.request.path.id": True},
            )
        )

        self.webhook_method = add_webhook_route(self.rest_api, integration)

        self.firewall: PaymentApiFirewall | None = None
        if config.waf_enabled:
            self.firewall = PaymentApiFirewall(
                self,
                "Firewall",
                config=config,
                stage=self.stage,
                encryption_key=encryption_key,
                webhook_path=f"/{WEBHOOK_PATH}",
            )

        self.url: str = self.rest_api.url
        self.webhook_url: str = f"{self.url}{WEBHOOK_PATH}"

    def grant_capture(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``POST /capture`` on stage ``Prod`` (execute-api:Invoke on that method only)."""
        return self.capture_method.grant_execute(grantee)

    def grant_refund(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``POST /refund`` on stage ``Prod`` (execute-api:Invoke on that method only)."""
        return self.refund_method.grant_execute(grantee)

    def grant_read_payments(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``GET /payments/{id}`` on stage ``Prod`` (execute-api:Invoke on that method only,
        for any payment id: the ARN ends in ``/GET/payments/*``)."""
        return self.get_payment_method.grant_execute(grantee)


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


def grant_stripe_key_read(
    scope: Construct, construct_id: str, *, grantee: iam.IGrantable, parameter_name: str
) -> iam.Grant:
    """Allow ``grantee`` to read the Stripe SecureString ``parameter_name`` (the secret key, or the webhook signing
    secret): ``ssm:GetParameter`` on it only.

    Operators create the SecureString; importing it by name (as ``construct_id`` in ``scope``) lets IAM name exactly
    that one parameter's ARN. ``grant_read`` would add ssm:DescribeParameters and ssm:GetParameterHistory (every
    earlier secret value). The secret is encrypted with the AWS managed key aws/ssm, whose key policy lets SSM
    decrypt for the caller.
    """
    stripe_secret_key = ssm.StringParameter.from_secure_string_parameter_attributes(
        scope, construct_id, parameter_name=parameter_name
    )
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=list(STRIPE_KEY_ACTIONS), resource_arns=[stripe_secret_key.parameter_arn]
    )
