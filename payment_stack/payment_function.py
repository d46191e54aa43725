"""One Python Lambda function of the payment service, built the same way for every function."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from payment_stack.bundling import function_code

POWERTOOLS_SERVICE_NAME = "payment"
METRICS_NAMESPACE = "ServerlessAirline"
# The newest Python runtime aws-cdk-lib offers; tests run the same code on the local Python 3.11.
RUNTIME = lambda_.Runtime.PYTHON_3_14
# Graviton: cheaper per millisecond and no slower for this I/O-bound code; every dependency ships aarch64 wheels.
ARCHITECTURE = lambda_.Architecture.ARM_64


class PaymentFunction(Construct):
    """A function from ``lambdas/<function_dir>`` with active tracing, Powertools settings and its own log group.

    Exposes ``function`` (the ``lambda_.Function``) and ``log_group``. ``environment`` adds business settings to
    the Powertools ones (service ``payment``, namespace ``ServerlessAirline``, ``log_level``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_dir: str,
        handler: str,
        description: str,
        timeout: Duration,
        memory_size: int,
        log_level: str,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=function_code(function_dir=function_dir, runtime=RUNTIME, architecture=ARCHITECTURE),
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": log_level,
                **(environment or {}),
            },
        )
