"""The abandoned-hold sweeper: a scheduled function that releases holds nobody captured or released in time."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from payment_stack.config import PaymentConfig
from payment_stack.payment_api import grant_stripe_key_read
from payment_stack.payment_function import PaymentFunction
from payment_stack.payment_ledger import PaymentLedger
from payment_stack.roles import ManagedPolicyRole

# The sweeper is part of the payment API's code (it releases holds through the same Stripe adapter and ledger), so it
# runs from the API's bundle: one asset for both functions.
FUNCTION_DIR = "payment_api"
HANDLER = "lambdas.payment_api.sweeper.handler"
# Shorter than the shortest sweep period (1 minute), so two runs never overlap; a run that does not get through every
# abandoned hold leaves the rest to the next run.
FUNCTION_TIMEOUT = Duration.seconds(55)
# The same memory (so CPU) as the API function, which runs the same Stripe client.
FUNCTION_MEMORY_MB = 512
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
# Schedules without a group of their own belong to the account's group "default".
DEFAULT_SCHEDULE_GROUP = "default"
# How long the record of a failed or dropped run is kept (SQS's maximum): long enough to read after a weekend.
FAILED_RUN_RETENTION = Duration.days(14)


class HoldSweeper(Construct):
    """The abandoned-hold sweeper of one environment and the schedule that runs it.

    In: ``config`` (environment name, ``hold_sweep_minutes``, ``abandoned_hold_minutes``, the Stripe key's SSM
    parameter name, log level/retention, removal policy), ``ledger`` (where the holds are found and their release
    recorded) and ``encryption_key`` (the KMS key of the function's log group).

    Creates a function (``lambdas.payment_api.sweeper.handler``, from the payment API's bundle) with the ledger's
    ``environment``, ``STRIPE_SECRET_KEY_PARAMETER`` and ``ABANDONED_HOLD_MINUTES``; it may query the ledger's holds
    index and read and update its records (``ledger.grant_sweep``) and read the Stripe key (``ssm:GetParameter`` on
    that parameter only). An EventBridge Scheduler schedule invokes it every ``hold_sweep_minutes`` minutes, with no
    flexible time window and no retry of a failed run, neither by Scheduler nor by Lambda's asynchronous invocation
    (the next run picks up what it left), through a role that may invoke this function only. A run that fails, or
    that Lambda drops without running it (event too old after throttling), is recorded by Lambda's asynchronous
    on-failure destination in the SQS queue ``failed_runs`` (SSE-SQS, SSL only, kept 14 days): the error, its type
    and stack trace, and why Lambda gave up. Nothing in it is replayed (the scheduler's event carries nothing); the
    function's role may send to that queue only. No SnapStart: a scheduled run's cold start delays nobody.

    Exposes ``function`` (``lambda_.Function``), ``failed_runs`` (``sqs.Queue``), ``schedule`` and
    ``schedule_role``.
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
        sweeper = PaymentFunction(
            self,
            "Handler",
            function_dir=FUNCTION_DIR,
            handler=HANDLER,
            description=(
                f"Payment hold sweeper ({config.env_name}): releases holds older than "
                f"{config.abandoned_hold_minutes} minutes that were never captured"
            ),
            timeout=FUNCTION_TIMEOUT,
            memory_size=FUNCTION_MEMORY_MB,
            log_level=config.log_level,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            encryption_key=encryption_key,
            environment={
                **ledger.environment,
                "STRIPE_SECRET_KEY_PARAMETER": config.stripe_secret_key_parameter_name,
                "ABANDONED_HOLD_MINUTES": str(config.abandoned_hold_minutes),
            },
        )
        self.function: lambda_.Function = sweeper.function
        self.failed_runs = sqs.Queue(
            self,
            "FailedRuns",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=FAILED_RUN_RETENTION,
            removal_policy=config.removal_policy,
        )
        # EventBridge Scheduler invokes Lambda asynchronously, and Lambda retries a failed asynchronous run twice by
        # default: no retry here either (the next run sweeps the same holds; a retry could overlap it). What Lambda
        # gives up on goes to the on-failure destination (SqsDestination lets the function's role send to it).
        self.function.configure_async_invoke(retry_attempts=0, on_failure=destinations.SqsDestination(self.failed_runs))
        ledger.grant_sweep(self.function)
        grant_stripe_key_read(
            self, "StripeSecretKey", grantee=self.function, parameter_name=config.stripe_secret_key_parameter_name
        )

        # CDK's default target role keeps its statements in an inline policy (PCI DSS wants managed policies); this
        # one may be assumed by EventBridge Scheduler only for schedules of this account's default group.
        stack = Stack.of(self)
        self.schedule_role = ManagedPolicyRole(
            self,
            "ScheduleRole",
            assumed_by=iam.ServicePrincipal(
                SCHEDULER_PRINCIPAL,
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": stack.format_arn(
                            service="scheduler", resource="schedule-group", resource_name=DEFAULT_SCHEDULE_GROUP
                        ),
                    }
                },
            ),
            description=f"EventBridge Scheduler invokes the payment hold sweeper ({config.env_name})",
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=(
                f"Payment ({config.env_name}): every {config.hold_sweep_minutes} minutes, release holds older than "
                f"{config.abandoned_hold_minutes} minutes"
            ),
            schedule=scheduler.ScheduleExpression.rate(Duration.minutes(config.hold_sweep_minutes)),
            # Nor does Scheduler retry an invocation it could not deliver: the next run comes soon enough.
            target=scheduler_targets.LambdaInvoke(self.function, role=self.schedule_role, retry_attempts=0),
            time_window=scheduler.TimeWindow.off(),
        )
