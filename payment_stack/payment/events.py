"""The payment events bus: every ledger change becomes one EventBridge event other services can subscribe to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from payment_stack.log_settings import LogSettings
from payment_stack.names import event_bus_name, event_bus_parameter_name
from payment_stack.payment.ledger import PaymentLedger
from payment_stack.payment_function import PaymentFunction
from payment_stack.queues import failure_queue

# The events' source and detail types are a contract with the runtime (lambdas/payment_api/payment_events.py, which
# this package never imports): the publisher puts exactly these, and subscribers' rules match on them.
SOURCE = "serverless-airline.payment"
DETAIL_TYPES = (
    "Payment Authorized",
    "Payment Captured",
    "Payment Refunded",
    "Hold Released",
    "Hold Expired",
    "Refund Failed",
    "Payment Disputed",
    "Dispute Closed",
    "Early Fraud Warning",
)
# The publisher finds the bus by this variable (read by the runtime: a contract too).
BUS_NAME_VARIABLE = "PAYMENT_EVENT_BUS_NAME"
# The publisher is part of the payment API's code (it reads the ledger's item layout), so it runs from the API's
# bundle, like the hold sweeper: one asset for the three functions.
FUNCTION_DIR = "payment_api"
HANDLER = "lambdas.payment_api.event_publisher.handler"
# A batch of 10 records is one PutEvents call (its maximum is 10 entries): seconds at most, even with retries.
FUNCTION_TIMEOUT = Duration.seconds(30)
# No Stripe client, only JSON and one AWS call per batch.
FUNCTION_MEMORY_MB = 256
BATCH_SIZE = 10
# One batch at a time per shard: a payment's events are published in the order its record changed.
PARALLELIZATION_FACTOR = 1
# A failing record is retried as often as Lambda allows: a batch is retried from the first record the function reports
# failed (the ones before it are done), and a batch that fails as a whole is halved until the failing record stands
# alone ...
RETRY_ATTEMPTS = 10_000
# ... but no longer than this: the stream keeps records for 24 hours, and a record it trims is lost without reaching
# the dead-letter queue (Lambda only sends a record there when the retries or this age run out). An hour before the
# trim, the record's shard and sequence numbers go to the queue while the stream still holds it.
MAX_RECORD_AGE = Duration.hours(23)


class PaymentEvents(Construct):
    """The payment event bus of one environment and the function that publishes the ledger's changes on it.

    In: ``env_name`` (names the bus and its SSM parameter, ``payment_stack.names``), ``log_settings`` (the
    publisher's Powertools log level and log group; the queue's removal policy) and ``ledger`` (whose stream the
    publisher reads).

    Creates the EventBridge bus ``payment-<env>``, the String parameter ``/<env>/service/payment/events/bus``
    holding its name (other services find the bus by it), the event publisher
    (``lambdas.payment_api.event_publisher.handler`` from the payment API's bundle, ``PAYMENT_EVENT_BUS_NAME`` in its
    environment) and the event source mapping that feeds it the ledger's stream: from the oldest record
    (``TRIM_HORIZON``), 10 records a batch, one batch per shard at a time (a payment's events stay in order), a batch
    retried from the first record the function reports failed (``ReportBatchItemFailures``) and one that fails as a
    whole halved until the failing record stands alone, up to 10000 times but for at most 23 hours; then the batch's
    description (shard, sequence numbers) goes to an SQS dead-letter queue (SSE-SQS, SSL only, kept 14 days). The
    function may put events on this bus only (``events:PutEvents``) and read the ledger's stream (never its items).

    Exposes ``bus``, ``bus_name`` (its name, a plain string: what other stacks import it by), ``bus_parameter``,
    ``function``, ``dead_letter_queue`` and ``event_source_mapping``; ``subscribe`` creates a rule for other
    services' targets.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        log_settings: LogSettings,
        ledger: PaymentLedger,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus_name = event_bus_name(env_name)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=self.bus_name,
            description=f"Payment events of the serverless airline, {env_name}: source {SOURCE}",
        )
        # The bus's Name attribute, not its Ref (CDK's event_bus_name): moto's CloudFormation (local mode) answers a
        # Ref of a bus with no name. The attribute also makes what names the bus wait for it.
        bus_name = cast(events.CfnEventBus, self.bus.node.default_child).attr_name
        self.bus_parameter = ssm.StringParameter(
            self,
            "BusParameter",
            parameter_name=event_bus_parameter_name(env_name),
            string_value=bus_name,
            description=f"Name of the payment event bus ({env_name})",
        )

        publisher = PaymentFunction(
            self,
            "Publisher",
            function_dir=FUNCTION_DIR,
            handler=HANDLER,
            description=f"Payment event publisher ({env_name}): ledger stream to the bus {self.bus_name}",
            timeout=FUNCTION_TIMEOUT,
            memory_size=FUNCTION_MEMORY_MB,
            log_settings=log_settings,
            environment={BUS_NAME_VARIABLE: bus_name},
        )
        self.function: lambda_.Function = publisher.function
        self.bus.grant_put_events_to(self.function)
        ledger.grant_stream_read(self.function)

        self.dead_letter_queue, self.event_source_mapping = self._read_ledger_stream(
            ledger, removal_policy=log_settings.removal_policy
        )

    def _read_ledger_stream(
        self, ledger: PaymentLedger, *, removal_policy: RemovalPolicy
    ) -> tuple[sqs.Queue, lambda_.EventSourceMapping]:
        """The event source mapping that feeds the publisher the ledger's stream, and its on-failure queue."""
        # A message in the dead-letter queue names ledger changes that were never published: a human republishes them.
        dead_letter_queue = failure_queue(self, "DeadLetterQueue", removal_policy=removal_policy)
        # SqsDlq lets the function's role send to the queue (Lambda sends the failed batch's description with it).
        event_source_mapping = self.function.add_event_source_mapping(
            "LedgerStream",
            event_source_arn=ledger.stream_arn,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=BATCH_SIZE,
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            parallelization_factor=PARALLELIZATION_FACTOR,
            retry_attempts=RETRY_ATTEMPTS,
            max_record_age=MAX_RECORD_AGE,
            on_failure=event_sources.SqsDlq(dead_letter_queue),
        )
        return dead_letter_queue, event_source_mapping

    def subscribe(
        self,
        scope: Construct,
        construct_id: str,
        *,
        detail_types: Sequence[str],
        targets: Sequence[events.IRuleTarget],
        booking_ids: Sequence[str] | None = None,
    ) -> events.Rule:
        """A rule ``construct_id`` in ``scope`` that sends this bus's payment events of ``detail_types`` to
        ``targets`` (only those of ``booking_ids`` when given: their ``detail.bookingId``).

        The rule names the bus by its name, so a ``scope`` in another stack of the app needs no export of this one
        (that stack must be deployed after it); in this stack the rule waits for the bus. Raises ``ValueError`` when
        ``detail_types`` is empty or names a type the publisher never puts (see ``DETAIL_TYPES``), or when
        ``booking_ids`` is given but empty.
        """
        unknown = [detail_type for detail_type in detail_types if detail_type not in DETAIL_TYPES]
        if not detail_types or unknown:
            raise ValueError(
                f"detail_types must name payment events ({', '.join(DETAIL_TYPES)}), got {list(detail_types)!r}"
            )
        if booking_ids is not None and not booking_ids:
            raise ValueError("booking_ids must name at least one booking when given (None matches every booking)")
        # By name even in this stack: moto's CloudFormation (local mode) answers a Ref of a bus with no name.
        bus = events.EventBus.from_event_bus_name(scope, f"{construct_id}Bus", self.bus_name)
        rule = events.Rule(
            scope,
            construct_id,
            event_bus=bus,
            event_pattern=events.EventPattern(
                source=[SOURCE],
                detail_type=list(dict.fromkeys(detail_types)),
                detail={"bookingId": list(booking_ids)} if booking_ids is not None else None,
            ),
            targets=list(targets),
        )
        if Stack.of(scope) is Stack.of(self):
            rule.node.add_dependency(self.bus)
        return rule
