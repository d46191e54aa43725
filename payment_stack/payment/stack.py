"""The ``Payment-<env>`` stack: composes the payment service's constructs for one environment."""

from __future__ import annotations

from aws_cdk import Environment
from constructs import Construct

from payment_stack.config import PaymentConfig
from payment_stack.encryption import logs_encryption_key
from payment_stack.log_settings import LogSettings
from payment_stack.payment.api import PaymentApi
from payment_stack.payment.booking_functions import BookingPaymentFunctions
from payment_stack.payment.event_monitoring import PaymentEventMonitoring
from payment_stack.payment.events import PaymentEvents
from payment_stack.payment.hold_sweeper import HoldSweeper
from payment_stack.payment.ledger import PaymentLedger
from payment_stack.payment.monitoring import PaymentMonitoring
from payment_stack.service_stack import ServiceStack, service_tags


class PaymentStack(ServiceStack):
    """Everything one environment of the payment service deploys, configured only through ``config``.

    Each construct gets the settings it reads, taken from ``config`` here. Exposes ``config``, ``encryption_key``,
    ``log_settings`` (what every construct that creates functions or log groups gets) and the constructs: ``ledger``,
    ``payment_api``, ``payment_events``, ``booking_functions``, ``hold_sweeper``, ``monitoring`` and
    ``event_monitoring``.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: PaymentConfig, env: Environment | None = None
    ) -> None:
        super().__init__(
            scope, construct_id, config=config, stack_name=config.stack_name, tags=service_tags(config), env=env
        )

        # One customer managed key per stack for every log group in it (PCI DSS: encrypted logs).
        self.encryption_key = logs_encryption_key(
            self,
            "LogsKey",
            removal_policy=config.removal_policy,
            description=f"Payment-{config.env_name}: encrypts the stack's log groups",
        )
        self.log_settings = LogSettings(
            level=config.log_level,
            retention=config.log_retention,
            removal_policy=config.removal_policy,
            encryption_key=self.encryption_key,
        )
        self.ledger = PaymentLedger(self, "PaymentLedger", removal_policy=config.removal_policy)
        self.payment_api = PaymentApi(
            self, "PaymentApi", config=config, ledger=self.ledger, log_settings=self.log_settings
        )
        self.payment_events = PaymentEvents(
            self, "PaymentEvents", env_name=config.env_name, log_settings=self.log_settings, ledger=self.ledger
        )
        self.booking_functions = BookingPaymentFunctions(
            self,
            "BookingFunctions",
            env_name=config.env_name,
            snap_start=config.snap_start,
            log_settings=self.log_settings,
            payment_api=self.payment_api,
        )
        self.hold_sweeper = HoldSweeper(
            self,
            "HoldSweeper",
            env_name=config.env_name,
            sweep_minutes=config.hold_sweep_minutes,
            abandoned_hold_minutes=config.abandoned_hold_minutes,
            log_settings=self.log_settings,
            ledger=self.ledger,
        )
        self.monitoring = PaymentMonitoring(
            self,
            "Monitoring",
            env_name=config.env_name,
            api=self.payment_api.rest_api,
            api_function=self.payment_api.function,
            collect=self.booking_functions.collect,
            refund=self.booking_functions.refund,
            hold_sweeper=self.hold_sweeper.function,
            encryption_key=self.encryption_key,
        )
        self.event_monitoring = PaymentEventMonitoring(
            self,
            "EventMonitoring",
            env_name=config.env_name,
            alarm_topic=self.monitoring.alarm_topic,
            publisher=self.payment_events.function,
            dead_letter_queue=self.payment_events.dead_letter_queue,
            dashboard=self.monitoring.dashboard,
        )
        self.add_outputs(
            {
                "PaymentLedgerTableName": (
                    self.ledger.table.table_name,
                    "Payment ledger table: one record per payment (id), index holds-by-age of the open holds",
                ),
                "PaymentApiUrl": (self.payment_api.url, "Base URL of the payment API (stage Prod)"),
                "PaymentWebhookUrl": (
                    self.payment_api.webhook_url,
                    "The endpoint to register with Stripe for its webhook events (POST, Stripe-signed)",
                ),
                "PaymentEventBusName": (
                    self.payment_events.bus_name,
                    f"EventBridge bus of the payment events (also SSM {config.event_bus_parameter_name})",
                ),
                "CollectFunctionArn": (
                    self.booking_functions.collect_target.function_arn,
                    f"ARN of the Collect function (also SSM {config.parameter_prefix}/function/collect)",
                ),
                "RefundFunctionArn": (
                    self.booking_functions.refund_target.function_arn,
                    f"ARN of the Refund function (also SSM {config.parameter_prefix}/function/refund)",
                ),
            }
        )
