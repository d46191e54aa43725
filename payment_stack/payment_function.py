"""One Python Lambda function of the payment service, built the same way for every function."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Annotations, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from payment_stack.bundling import function_code
from payment_stack.log_settings import LogSettings
from payment_stack.powertools_layer import LAYER_PROVIDED_DISTRIBUTIONS, powertools_layer
from payment_stack.roles import ManagedPolicyRole

POWERTOOLS_SERVICE_NAME = "payment"
METRICS_NAMESPACE = "ServerlessAirline"
# The one Python of the project: every function, the Powertools layer lookup, the bundles' bytecode, and (through the
# Makefile's PYTHON_VERSION) the venv that runs the tests, local mode and the benchmarks. 3.13 is the newest version
# Powertools publishes a layer for and this machine's pyenv holds, so what is tested is what Lambda runs.
RUNTIME = lambda_.Runtime.PYTHON_3_13
# Graviton: cheaper per millisecond and no slower for this I/O-bound code; every dependency ships aarch64 wheels.
ARCHITECTURE = lambda_.Architecture.ARM_64
# With SnapStart, callers invoke this alias of the newest published version (SnapStart never applies to $LATEST).
LIVE_ALIAS_NAME = "live"
# CDK's reminder that SnapStart needs published versions: acknowledged where the version and alias are created.
_SNAP_START_PUBLISH_WARNING = "@aws-cdk/aws-lambda:snapStartRequirePublish"


class PaymentFunction(Construct):
    """A function from ``lambdas/<function_dir>`` with active tracing, Powertools settings and its own log group.

    ``log_settings`` gives the Powertools log level and the log group's retention, removal policy and key (the app
    always passes its stack's key: cdk-nag's PCI DSS pack refuses an unencrypted log group). The function's role
    holds only what it uses: writing to its own log group and X-Ray (Lambda's active tracing); grants add the rest.
    No AWS managed policy (CDK's default ``AWSLambdaBasicExecutionRole`` allows writing to every log group) and no
    inline policy: every statement goes to the role's customer managed policy (``ManagedPolicyRole``).

    Exposes ``function`` (the ``lambda_.Function``), ``role`` and ``log_group``. ``environment`` adds business
    settings to the Powertools ones (service ``payment``, namespace ``ServerlessAirline``, log level).

    Powertools comes from the official Powertools layer of the version the function's requirements.txt pins
    (``payment_stack.powertools_layer``) and is left out of the bundle, which keeps each zip within its size target
    now that bundles ship bytecode.

    ``snap_start``: Lambda SnapStart on published versions. The function's ``current_version`` is published and the
    alias ``live`` points at it; ``alias`` is that alias (``None`` without SnapStart) and ``invoke_target`` is what
    callers must invoke: the alias with SnapStart, the function itself without. Grants to the function's role (what
    the code may call) are unchanged; only invoking goes through ``invoke_target``.
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
        log_settings: LogSettings,
        environment: Mapping[str, str] | None = None,
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_settings.log_group(self, "Logs")
        self.role = ManagedPolicyRole(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of: {description}",
        )
        # Lambda creates the log streams itself; the function's logs go to this one log group only.
        self.log_group.grant(self.role, "logs:CreateLogStream", "logs:PutLogEvents")
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=handler,
            code=function_code(
                function_dir=function_dir,
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
                layer_provided=LAYER_PROVIDED_DISTRIBUTIONS,
            ),
            layers=[powertools_layer(self, function_dir=function_dir, runtime=RUNTIME, architecture=ARCHITECTURE)],
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            # A replaced version is deleted: every published SnapStart version is billed for its cached snapshot.
            current_version_options=(
                lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY) if snap_start else None
            ),
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            environment={
                "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": log_settings.level,
                **(environment or {}),
            },
        )
        self.alias: lambda_.Alias | None = None
        self.invoke_target: lambda_.IFunction = self.function
        if snap_start:
            # current_version publishes a new version whenever the code or configuration changes; the alias follows.
            self.alias = lambda_.Alias(
                self, "LiveAlias", alias_name=LIVE_ALIAS_NAME, version=self.function.current_version
            )
            self.invoke_target = self.alias
            Annotations.of(self.function).acknowledge_warning(
                _SNAP_START_PUBLISH_WARNING, f"a version is published and alias {LIVE_ALIAS_NAME!r} points at it"
            )
