"""The payment REST API: ``POST /charge`` (public, CORS), ``/capture``, ``/refund`` and ``GET /payments/{id}``
(AWS_IAM) and ``POST /webhooks/stripe`` (public: Stripe signs the body) over one function.

The API Gateway settings (stage, gateway responses, CORS, request checks, the webhook route) are in
``payment_stack.payment.api_gateway``; AWS WAF in front of the stage in ``payment_stack.payment.waf``.
"""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from payment_stack.config import PaymentConfig
from payment_stack.log_settings import LogSettings
from payment_stack.payment.api_gateway import (
    STAGE_NAME,
    WEBHOOK_PATH,
    RequestChecks,
    add_gateway_responses,
    add_webhook_route,
    charge_cors_options,
    stage_options,
)
from payment_stack.payment.ledger import PaymentLedger
from payment_stack.payment.stripe_secrets import grant_stripe_key_read
from payment_stack.payment.waf import PaymentApiFirewall
from payment_stack.payment_function import PaymentFunction

# What Powertools idempotency does with its records: read, create (conditionally), complete, and delete on failure.
IDEMPOTENCY_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class PaymentApi(Construct):
    """The Stripe-backed payment API of one environment, configured only through ``config``.

    In: ``config`` (it reads most of it: CORS origins, stage and ``/charge`` throttling, per-currency charge
    maximums, the SSM parameter names of the Stripe key and of the webhook signing secret, the idempotency table's
    removal policy, whether to create API Gateway's account-level CloudWatch role and log execution errors, whether to
    put AWS WAF in front and its rate limit, SnapStart; not the workflow's or the sweeper's settings), ``ledger``
    (the payment ledger the function records every payment in) and ``log_settings`` (the function's log level and
    every log group's retention, removal policy and KMS key).

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
        log_settings: LogSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._log_settings = log_settings

        self.idempotency_table = self._idempotency_table()
        api_function = self._handler(ledger)
        self.function: lambda_.Function = api_function.function
        # What API Gateway invokes: the function's alias `live` with SnapStart, the function itself otherwise.
        self.invoke_target: lambda_.IFunction = api_function.invoke_target
        self._grant_function_access(ledger)

        self.access_log_group = log_settings.log_group(self, "AccessLogs")
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
            deploy_options=stage_options(config, access_log_group=self.access_log_group),
        )
        self.stage: apigw.Stage = self.rest_api.deployment_stage
        self.execution_log_group = self._execution_log_group()
        add_gateway_responses(self.rest_api)
        self._add_routes()

        self.firewall: PaymentApiFirewall | None = None
        if config.waf_enabled:
            self.firewall = PaymentApiFirewall(
                self,
                "Firewall",
                env_name=config.env_name,
                charge_rate_limit=config.waf_charge_rate_limit,
                log_settings=log_settings,
                stage=self.stage,
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

    def _idempotency_table(self) -> dynamodb.Table:
        # Powertools idempotency records; no table name, so CloudFormation names it and environments never collide.
        return dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=self._config.removal_policy,
        )

    def _handler(self, ledger: PaymentLedger) -> PaymentFunction:
        """ONE function behind every route, dispatched inside by a Powertools REST resolver: one cold start instead of
        three, one Stripe client, SSM cache and connection pool shared by all routes, and one place that maps domain
        and provider errors to HTTP statuses."""
        config = self._config
        return PaymentFunction(
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
            log_settings=self._log_settings,
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

    def _grant_function_access(self, ledger: PaymentLedger) -> None:
        """The idempotency table's items, the ledger's records, and the two Stripe SecureStrings: nothing else."""
        # Item operations on this one table only (grant_read_write_data would add scans, queries and batch calls).
        self.idempotency_table.grant(self.function, *IDEMPOTENCY_TABLE_ACTIONS)
        ledger.grant_record(self.function)
        grant_stripe_key_read(
            self, "StripeSecretKey", grantee=self.function, parameter_name=self._config.stripe_secret_key_parameter_name
        )
        grant_stripe_key_read(
            self,
            "StripeWebhookSecret",
            grantee=self.function,
            parameter_name=self._config.stripe_webhook_secret_parameter_name,
        )

    def _execution_log_group(self) -> logs.LogGroup | None:
        """API Gateway would create this group itself on the first error, unencrypted, kept forever and left behind
        by `cdk destroy`: created here, it has the configured retention, key and removal policy. ``None`` where
        execution logging is off."""
        config = self._config
        if not config.execution_logging_enabled:
            return None
        log_group = self._log_settings.log_group(
            self, "ExecutionLogs", log_group_name=f"API-Gateway-Execution-Logs_{self.rest_api.rest_api_id}/{STAGE_NAME}"
        )
        self.stage.node.add_dependency(log_group)
        return log_group

    def _add_routes(self) -> None:
        """The five routes, all proxied to the function."""
        # The console's test-invoke is not allowed to call the function: production traffic only.
        integration = apigw.LambdaIntegration(self.invoke_target, allow_test_invoke=False)
        checks = RequestChecks.add_to(self.rest_api)

        def add_post(resource: apigw.IResource, authorization_type: apigw.AuthorizationType) -> apigw.Method:
            return resource.add_method(
                "POST",
                integration,
                authorization_type=authorization_type,
                request_validator=checks.validator,
                request_models={"application/json": checks.json_object},
            )

        root = self.rest_api.root
        charge = root.add_resource("charge", default_cors_preflight_options=charge_cors_options(self._config))
        self.charge_method = add_post(charge, apigw.AuthorizationType.NONE)
        # Capture and refund move money on an existing charge: only principals granted below may call them.
        self.capture_method = add_post(root.add_resource("capture"), apigw.AuthorizationType.IAM)
        self.refund_method = add_post(root.add_resource("refund"), apigw.AuthorizationType.IAM)
        # A payment's ledger record, for the services and operators granted below. No body, so no model; the
        # validator still checks the path parameter.
        self.get_payment_method = (
            root.add_resource("payments")
            .add_resource("{id}")
            .add_method(
                "GET",
                integration,
                authorization_type=apigw.AuthorizationType.IAM,
                request_validator=checks.validator,
                request_parameters={"method.request.path.id": True},
            )
        )
        self.webhook_method = add_webhook_route(self.rest_api, integration)
