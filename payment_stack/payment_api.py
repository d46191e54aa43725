"""The payment REST API: ``POST /charge`` (public, CORS), ``/capture`` and ``/refund`` (AWS_IAM) over one function."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from payment_stack.config import PaymentConfig
from payment_stack.payment_function import PaymentFunction

STAGE_NAME = "Prod"
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
    # The defaults keep API Gateway's status code; only the body changes.
    ("Default4xx", apigw.ResponseType.DEFAULT_4_XX, None, "bad_request"),
    ("Default5xx", apigw.ResponseType.DEFAULT_5_XX, None, "gateway_error"),
)


class PaymentApi(Construct):
    """The Stripe-backed payment API of one environment, configured only through ``config``.

    In: ``config`` (CORS origins, throttling, per-currency charge maximums, the Stripe key's SSM parameter name, log
    level/retention, removal policy, whether to create API Gateway's account-level CloudWatch role).

    Creates a regional REST API (stage ``Prod``, X-Ray, access logs, stage throttling) with ``POST /charge``
    (public, CORS preflight for the configured origins), ``POST /capture`` and ``POST /refund`` (``AWS_IAM``), one
    Lambda function behind all three, and the DynamoDB table Powertools idempotency keeps its records in. The Stripe
    SecureString is not created here (operators put it in SSM); the function may read that one parameter only.

    Exposes ``rest_api``, ``function``, ``idempotency_table``, ``url`` (base URL of stage ``Prod``, ending in
    ``/``), and ``grant_capture`` / ``grant_refund`` to let a principal call ``POST /capture`` / ``POST /refund``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PaymentConfig) -> None:
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
            description=f"Payment API ({config.env_name}): /charge, /capture and /refund against Stripe",
            # Stripe connect 2 s + read 8 s with no SDK retries, plus the SSM and DynamoDB calls: still well inside
            # API Gateway's 29 s integration timeout, so the caller gets the function's error, not a gateway 504.
            timeout=Duration.seconds(12),
            # Lambda allots CPU in proportion to memory: 512 MB keeps the cold start (stripe + Powertools imports)
            # short.
            memory_size=512,
            log_level=config.log_level,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            # Never STRIPE_API_BASE (local mode and tests only) and never a key value: only the key's parameter name.
            environment={
                "STRIPE_SECRET_KEY_PARAMETER": config.stripe_secret_key_parameter_name,
                "CORS_ALLOWED_ORIGINS": ",".join(config.cors_allowed_origins),
                "MAX_CHARGE_AMOUNTS": json.dumps(config.max_charge_amounts_by_currency, sort_keys=True),
                "IDEMPOTENCY_TABLE_NAME": self.idempotency_table.table_name,
            },
        )
        self.function: lambda_.Function = self._api_function.function
        self.idempotency_table.grant_read_write_data(self.function)

        # Operators create the SecureString; importing it by name lets IAM name exactly that one parameter's ARN.
        stripe_secret_key = ssm.StringParameter.from_secure_string_parameter_attributes(
            self, "StripeSecretKey", parameter_name=config.stripe_secret_key_parameter_name
        )
        stripe_secret_key.grant_read(self.function)

        self.access_log_group = logs.LogGroup(
            self, "AccessLogs", retention=config.log_retention, removal_policy=config.removal_policy
        )
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
                throttling_rate_limit=config.api_throttle_rate_limit,
                throttling_burst_limit=config.api_throttle_burst_limit,
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
        for response_id, response_type, status_code, code in _GATEWAY_RESPONSES:
            self.rest_api.add_gateway_response(
                response_id,
                type=response_type,
                status_code=status_code,
                templates={"application/json": f'{{"message":$context.error.messageString,"code":"{code}"}}'},
            )

        # The console's test-invoke is not allowed to call the function: production traffic only.
        integration = apigw.LambdaIntegration(self.function, allow_test_invoke=False)

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
        charge.add_method("POST", integration, authorization_type=apigw.AuthorizationType.NONE)
        # Capture and refund move money on an existing charge: only principals granted below may call them.
        self._capture_method = self.rest_api.root.add_resource("capture").add_method(
            "POST", integration, authorization_type=apigw.AuthorizationType.IAM
        )
        self._refund_method = self.rest_api.root.add_resource("refund").add_method(
            "POST", integration, authorization_type=apigw.AuthorizationType.IAM
        )

        self.url: str = self.rest_api.url

    def grant_capture(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``POST /capture`` on stage ``Prod`` (execute-api:Invoke on that method only)."""
        return self._capture_method.grant_execute(grantee)

    def grant_refund(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to call ``POST /refund`` on stage ``Prod`` (execute-api:Invoke on that method only)."""
        return self._refund_method.grant_execute(grantee)
