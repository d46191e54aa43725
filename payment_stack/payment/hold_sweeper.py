"""The abandoned-hold sweeper: a scheduled function that releases holds nobody captured or released in time."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from payment_stack.log_settings import LogSettings
from payment_stack.names import stripe_secret_key_parameter_name
from payment_stack.payment.ledger import PaymentLedger
from payment_stack.payment.stripe_secrets import grant_stripe_key_read
from payment_stack.payment_function import PaymentFunction
from payment_stack.queues import failure_queue
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


class HoldSweeper(Construct):
    """The abandoned-hold sweeper of one environment and the schedule that runs it.

    In: ``env_name`` (finds the Stripe key's SSM parameter, ``payment_stack.names``; describes the resources),
    ``sweep_minutes`` and ``abandoned_hold_minutes`` (the configuration's ``holdSweepMinutes`` and
    ``abandonedHoldMinutes``), ``log_settings`` (the function's Powertools log level and log group; the queue's
    removal policy) and ``ledger`` (where the holds are found and their release recorded).

    Creates a function (``lambdas.payment_api.sweeper.handler``, from the payment API's bundle) with the ledger's
    ``environment``, ``STRIPE_SECRET_KEY_PARAMETER`` and ``ABANDONED_HOLD_MINUTES``; it may query the ledger's holds
    index and read and update its records (``ledger.grant_sweep``) and read the Stripe key (``ssm:GetParameter`` on
    that parameter only). An EventBridge Scheduler schedule invokes it every ``sweep_minutes`` minutes, with no
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
        env_name: str,
        sweep_minutes: int,
        abandoned_hold_minutes: int,
        log_settings: LogSettings,
        ledger: PaymentLedger,
    ) -> None:
        super().__init__(scope, construct_id)
        stripe_key_parameter = stripe_secret_key_parameter_name(env_name)
        sweeper = PaymentFunction(
            self,
            "Handler",
            function_dir=FUNCTION_DIR,
            handler=HANDLER,
            description=(
                f"Payment hold sweeper ({env_name}): releases holds older than "
                f"{abandoned_hold_minutes} minutes that were never captured"
            ),
            timeout=FUNCTION_TIMEOUT,
            memory_size=FUNCTION_MEMORY_MB,
            log_settings=log_settings,
            environment={
                **ledger.environment,
                "STRIPE_SECRET_KEY_PARAMETER": stripe_key_parameter,
                "ABANDONED_HOLD_MINUTES": str(abandoned_hold_minutes),
            },
        )
        self.function: lambda_.Function = sweeper.function
        self.failed_runs = failure_queue(self, "FailedRuns", removal_policy=log_settings.removal_policy)
        # EventBridge Scheduler invokes Lambda asynchronously, and Lambda retries a failed asynchronous run twice by
        # default: no retry here either (the next run sweeps the same holds; a retry could overlap it). What Lambda
        # gives up on goes to the on-failure destination (SqsDestination lets the function's role send to it).
        self.function.configure_async_invoke(retry_attempts=0, on_failure=destinations.SqsDestination(self.failed_runs))
        ledger.grant_sweep(self.function)
        grant_stripe_key_read(self, "StripeSecretKey", grantee=self.function, parameter_name=stripe_key_parameter)

        self.schedule_role, self.schedule = self._schedule(
            env_name=env_name, sweep_minutes=sweep_minutes, abandoned_hold_minutes=abandoned_hold_minutes
        )

    def _schedule(
        self, *, env_name: str, sweep_minutes: int, abandoned_hold_minutes: int
    ) -> tuple[ManagedPolicyRole, scheduler.Schedule]:
        """The EventBridge Scheduler schedule that runs the sweeper, and the role it invokes the function with."""
        # CDK's default target role keeps its statements in an inline policy (PCI DSS wants managed policies); this
        # one may be assumed by EventBridge Scheduler only for schedules of this account's default group.
        stack = Stack.of(self)
        schedule_role = ManagedPolicyRole(
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
            description=f"EventBridge Scheduler invokes the payment hold sweeper ({env_name})",
        )
        schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=(
                f"Payment ({env_name}): every {sweep_minutes} minutes, release holds older than "
                f"{abandoned_hold_minutes} minutes"
            ),
            schedule=scheduler.ScheduleExpression.rate(Duration.minutes(sweep_minutes)),
            # Nor does Scheduler retry an invocation it could not deliver: the next run comes soon enough.
            target=scheduler_targets.LambdaInvoke(self.function, role=schedule_role, retry_attempts=0),
            time_window=scheduler.TimeWindow.off(),
        )
        return schedule_role, schedule
