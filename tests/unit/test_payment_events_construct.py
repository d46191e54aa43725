"""CDK assertions on the payment events bus and its publisher in ``Payment-<env>`` (asset bundling skipped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from payment_stack.app_builder import build_app
from payment_stack.payment.events import DETAIL_TYPES, SOURCE
from payment_stack.payment.stack import PaymentStack
from tests.support.cdk import logical_id, make_app, payment_stack_for
from tests.support.iam import accept_in_test, actions_of, resources_in, statements_of_role
from tests.support.templates import function_by_handler, ledger_id, only_logical_id, resources_of

ENV = "feature-x"
PUBLISHER_HANDLER = "lambdas.payment_api.event_publisher.handler"
API_HANDLER = "lambdas.payment_api.handler.handler"
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
FOURTEEN_DAYS = 14 * 24 * 3600
STREAM_RETENTION_SECONDS = 24 * 3600


def publisher_statements(template: Template) -> list[dict[str, Any]]:
    _, publisher = function_by_handler(template, PUBLISHER_HANDLER)
    return statements_of_role(template, publisher["Properties"]["Role"]["Fn::GetAtt"][0])


def actions_by_resource(statements: list[dict[str, Any]], prefix: str) -> dict[str, set[str]]:
    """The actions of service ``prefix`` (``dynamodb:``...), by the resource they are allowed on (as JSON)."""
    allowed: dict[str, set[str]] = {}
    for statement in statements:
        actions = {a for a in actions_of(statement) if a.startswith(prefix)}
        for resource in resources_in(statement) if actions else ():
            allowed.setdefault(json.dumps(resource, sort_keys=True), set()).update(actions)
    return allowed


# --- the bus and its parameter ---------------------------------------------------------------------------------------


def test_bus_is_named_after_the_environment_and_published_in_ssm(template: Template) -> None:
    # Given the default stack
    bus_id = only_logical_id(template, "AWS::Events::EventBus")
    bus = resources_of(template, "AWS::Events::EventBus")[bus_id]["Properties"]
    # Then the bus is payment-<env>
    assert bus["Name"] == f"payment-{ENV}"
    # And other services find its name in the String parameter /<env>/service/payment/events/bus
    (parameter,) = [
        p["Properties"]
        for p in resources_of(template, "AWS::SSM::Parameter").values()
        if p["Properties"]["Name"] == f"/{ENV}/service/payment/events/bus"
    ]
    assert parameter["Type"] == "String"
    # (its Name attribute: moto's CloudFormation, local mode, answers a Ref of a bus with no name)
    assert parameter["Value"] == {"Fn::GetAtt": [bus_id, "Name"]}
    # And in the stack's output
    assert template.find_outputs("PaymentEventBusName")["PaymentEventBusName"]["Value"] == f"payment-{ENV}"


# --- the ledger stream and the event source mapping -------------------------------------------------------------------


def test_ledger_streams_new_images(template: Template) -> None:
    # Given the default stack's ledger
    table = resources_of(template, "AWS::DynamoDB::Table")[ledger_id(template)]["Properties"]
    # Then it has a stream of new images (the publisher turns a record's last history entry into one event)
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}


def test_publisher_reads_the_ledger_stream_in_order_and_retries_until_the_dead_letter_queue(
    stack: PaymentStack, template: Template
) -> None:
    # Given the one event source mapping of the stack
    (mapping,) = resources_of(template, "AWS::Lambda::EventSourceMapping").values()
    properties = mapping["Properties"]
    publisher_id, _ = function_by_handler(template, PUBLISHER_HANDLER)
    queue_id = logical_id(stack.payment_events.dead_letter_queue)
    # Then it feeds the publisher the ledger's stream from its oldest record, 10 records a batch
    assert properties["FunctionName"] == {"Ref": publisher_id}
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [ledger_id(template), "StreamArn"]}
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    assert properties["BatchSize"] == 10
    # And one batch per shard at a time (a payment's events stay in order), retried from the first failed record
    assert properties["ParallelizationFactor"] == 1
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert properties["BisectBatchOnFunctionError"] is True
    # And retried as often as Lambda allows, but sent to the dead-letter queue before the stream trims the record
    assert properties["MaximumRetryAttempts"] == 10000
    assert 0 < properties["MaximumRecordAgeInSeconds"] < STREAM_RETENTION_SECONDS
    assert properties["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}


def test_dead_letter_queue_is_encrypted_ssl_only_and_keeps_messages_14_days(
    stack: PaymentStack, template: Template
) -> None:
    # Given the publisher's dead-letter queue
    queue_id = logical_id(stack.payment_events.dead_letter_queue)
    queue = resources_of(template, "AWS::SQS::Queue")[queue_id]
    # Then it is encrypted by SQS and keeps a failed batch's description for 14 days
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == FOURTEEN_DAYS
    assert queue["DeletionPolicy"] == "Delete"
    # And its policy refuses every request without SSL
    (policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in resources_of(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )


# --- the publisher ---------------------------------------------------------------------------------------------------


def test_publisher_runs_from_the_api_bundle_with_the_bus_name(template: Template) -> None:
    # Given the default stack
    _, publisher = function_by_handler(template, PUBLISHER_HANDLER)
    _, api = function_by_handler(template, API_HANDLER)
    properties = publisher["Properties"]
    bus_id = only_logical_id(template, "AWS::Events::EventBus")
    # Then it finds the bus by PAYMENT_EVENT_BUS_NAME, and nothing else but Powertools' settings
    variables = properties["Environment"]["Variables"]
    assert set(variables) - POWERTOOLS_VARIABLES == {"PAYMENT_EVENT_BUS_NAME"}
    assert variables["PAYMENT_EVENT_BUS_NAME"] == {"Fn::GetAtt": [bus_id, "Name"]}
    # And it runs the payment API's asset with modest memory and a timeout well above one PutEvents call, traced
    assert properties["Code"] == api["Properties"]["Code"]
    assert (properties["MemorySize"], properties["Timeout"]) == (256, 30)
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert ENV in properties["Description"]


def test_publisher_may_put_events_on_this_bus_only(template: Template) -> None:
    # Given the publisher's IAM statements
    statements = publisher_statements(template)
    bus_arn = {"Fn::GetAtt": [only_logical_id(template, "AWS::Events::EventBus"), "Arn"]}
    # Then events:PutEvents is allowed on the payment bus and nothing else of EventBridge
    assert actions_by_resource(statements, "events:") == {json.dumps(bus_arn, sort_keys=True): {"events:PutEvents"}}
    # And no other role of the stack may put events
    _, publisher = function_by_handler(template, PUBLISHER_HANDLER)
    publisher_role_id = publisher["Properties"]["Role"]["Fn::GetAtt"][0]
    for role_id in resources_of(template, "AWS::IAM::Role"):
        if role_id != publisher_role_id:
            role_actions = {a for s in statements_of_role(template, role_id) for a in actions_of(s)}
            assert not any(a.startswith("events:") for a in role_actions), role_id


def test_publisher_reads_the_stream_never_the_table_and_sends_to_its_dead_letter_queue_only(
    stack: PaymentStack, template: Template
) -> None:
    # Given the publisher's IAM statements
    statements = publisher_statements(template)
    stream_arn = {"Fn::GetAtt": [ledger_id(template), "StreamArn"]}
    queue_arn = {"Fn::GetAtt": [logical_id(stack.payment_events.dead_letter_queue), "Arn"]}
    # Then it reads the ledger's stream (ListStreams supports no resource-level permissions: "*"), no item action
    assert actions_by_resource(statements, "dynamodb:") == {
        json.dumps(stream_arn, sort_keys=True): {
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
        },
        json.dumps("*"): {"dynamodb:ListStreams"},
    }
    # And Lambda may send a failed batch's description to the dead-letter queue with its role
    assert actions_by_resource(statements, "sqs:") == {
        json.dumps(queue_arn, sort_keys=True): {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    }
    # And nothing else: its log group and X-Ray
    services = {a.split(":", 1)[0] for s in statements for a in actions_of(s)}
    assert services == {"logs", "xray", "dynamodb", "events", "sqs"}


# --- subscribe -------------------------------------------------------------------------------------------------------


@dataclass
class Subscribed:
    payment: Template
    subscriber: Template
    # Logical ids of the two subscribers' queues, in their stacks.
    payment_queue_id: str
    subscriber_queue_id: str


def target_queue(stack: Stack) -> tuple[str, targets.SqsQueue]:
    """A subscriber's queue in ``stack``: its logical id and the rule target sending to it."""
    queue = sqs.Queue(stack, "SubscriberQueue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
    # A test queue without a dead-letter queue of its own; the app's rules are checked as everywhere else.
    accept_in_test(queue, "AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy")
    return logical_id(queue), targets.SqsQueue(queue)


@pytest.fixture(scope="module")
def subscribed() -> Subscribed:
    """One rule in the payment stack (all captures and refunds) and one in another stack of the same app (two
    bookings' disputes)."""
    app = make_app(env=ENV)
    payment = build_app(app, environ={})
    payment_queue_id, payment_target = target_queue(payment)
    captures_and_refunds = payment.payment_events.subscribe(
        payment,
        "CapturesAndRefunds",
        detail_types=["Payment Captured", "Payment Refunded"],
        targets=[payment_target],
    )
    subscriber = Stack(app, "Subscriber")
    subscriber_queue_id, subscriber_target = target_queue(subscriber)
    disputes = payment.payment_events.subscribe(
        subscriber,
        "Disputes",
        detail_types=["Payment Disputed", "Dispute Closed"],
        targets=[subscriber_target],
        booking_ids=["booking-1", "booking-2"],
    )
    # The test's targets have no dead-letter queue of their own (a real subscriber's target gets one, or accepts it).
    for rule in (captures_and_refunds, disputes):
        accept_in_test(rule, "Serverless-EventBusDLQ")
    return Subscribed(
        payment=Template.from_stack(payment),
        subscriber=Template.from_stack(subscriber),
        payment_queue_id=payment_queue_id,
        subscriber_queue_id=subscriber_queue_id,
    )


def test_subscribe_in_the_payment_stack_matches_the_source_and_detail_types(subscribed: Subscribed) -> None:
    # Given a rule subscribed in the payment stack itself
    (rule,) = resources_of(subscribed.payment, "AWS::Events::Rule").values()
    properties = rule["Properties"]
    # Then it is on the payment bus (by name, as in local mode's moto a Ref of a bus has none; created after it),
    # for the payment service's events of those two types (any booking)
    assert properties["EventBusName"] == f"payment-{ENV}"
    assert only_logical_id(subscribed.payment, "AWS::Events::EventBus") in rule["DependsOn"]
    assert properties["EventPattern"] == {
        "source": ["serverless-airline.payment"],
        "detail-type": ["Payment Captured", "Payment Refunded"],
    }
    assert properties["State"] == "ENABLED"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [subscribed.payment_queue_id, "Arn"]}


def test_subscribe_from_another_stack_imports_the_bus_by_name_without_an_export(subscribed: Subscribed) -> None:
    # Given a rule subscribed in another stack of the app, for two bookings
    (rule,) = resources_of(subscribed.subscriber, "AWS::Events::Rule").values()
    properties = rule["Properties"]
    # Then it names the bus by its literal name, so the payment stack exports nothing and the other imports nothing
    assert properties["EventBusName"] == f"payment-{ENV}"
    assert "Fn::ImportValue" not in json.dumps(subscribed.subscriber.to_json())
    assert not any("Export" in output for output in subscribed.payment.to_json().get("Outputs", {}).values())
    # And it matches those detail types of those bookings only
    assert properties["EventPattern"] == {
        "source": ["serverless-airline.payment"],
        "detail-type": ["Payment Disputed", "Dispute Closed"],
        "detail": {"bookingId": ["booking-1", "booking-2"]},
    }
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [subscribed.subscriber_queue_id, "Arn"]}


@pytest.mark.parametrize(
    ("detail_types", "booking_ids", "message"),
    [
        (["Payment Exploded"], None, "detail_types"),
        (["Payment Captured", "payment captured"], None, "detail_types"),
        ([], None, "detail_types"),
        (["Hold Expired"], [], "booking_ids"),
    ],
)
def test_subscribe_refuses_unknown_detail_types_and_empty_lists(
    detail_types: list[str], booking_ids: list[str] | None, message: str
) -> None:
    # Given the payment events of a stack
    stack = payment_stack_for()
    # Then a rule for a type the publisher never puts (or for nothing) is refused before anything is created
    with pytest.raises(ValueError, match=message):
        stack.payment_events.subscribe(stack, "Bad", detail_types=detail_types, targets=[], booking_ids=booking_ids)
    assert stack.node.try_find_child("Bad") is None


def test_the_source_and_detail_types_are_the_ones_the_runtime_publishes() -> None:
    # Given the runtime's event names (lambdas/payment_api/payment_events.py, which payment_stack never imports; its
    # list is also the one docs/api.md must name, tests/unit/payment_api/test_readme_events.py)
    from lambdas.payment_api import payment_events  # noqa: PLC0415 - the test is what joins the two sides

    # Then subscribers' rules match exactly what the publisher puts on the bus
    assert SOURCE == payment_events.SOURCE == "serverless-airline.payment"
    assert tuple(str(detail_type) for detail_type in payment_events.DetailType) == DETAIL_TYPES
