"""CDK assertions on the alarms of the Stripe webhook route and the payment event publisher (``Payment-<env>``).

Alarms are found by their names (``payment-<env>-<key>``), never by hashed logical ids.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template

from payment_stack.alarms import MonitoringThresholds
from payment_stack.payment.event_monitoring import PaymentEventMonitoring
from payment_stack.payment.stack import PaymentStack
from tests.support.cdk import logical_id
from tests.support.templates import resources_of

ENV = "feature-x"
PUBLISHER_HANDLER = "lambdas.payment_api.event_publisher.handler"
EVENT_ALARM_KEYS = {
    "DisputeOpened",
    "RefundFailed",
    "HoldExpiredForBooking",
    "WebhookSignatureRejected",
    "EventPublisherErrors",
    "EventPublisherIteratorAge",
    "EventDeadLetterQueueDepth",
}
SERVICE = [{"Name": "service", "Value": "payment"}]


def alarm_named(template: Template, key: str) -> dict[str, Any]:
    found = [
        alarm["Properties"]
        for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["AlarmName"] == f"payment-{ENV}-{key}"
    ]
    assert len(found) == 1, f"expected one alarm payment-{ENV}-{key}, found {len(found)}"
    return dict(found[0])


def publisher_id(template: Template) -> str:
    (found,) = [
        logical_id
        for logical_id, function in resources_of(template, "AWS::Lambda::Function").items()
        if function["Properties"]["Handler"] == PUBLISHER_HANDLER
    ]
    return found


def assert_fires_above(alarm: dict[str, Any], threshold: float) -> None:
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Threshold"] == threshold
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 1)
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("key", ["DisputeOpened", "RefundFailed", "HoldExpiredForBooking"])
def test_money_a_human_must_look_at_alarms_on_the_first_one(template: Template, key: str) -> None:
    # Given the publisher's metric of the same name (a dispute, a failed refund, a booking's hold that expired)
    alarm = alarm_named(template, key)
    # Then its 5-minute sum alarms from the first one (above 0)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == ("ServerlessAirline", key, SERVICE)
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)
    assert_fires_above(alarm, 0)


def test_webhook_signature_rejections_alarm_above_ten_in_five_minutes(template: Template) -> None:
    # Given the API's WebhookSignatureRejected metric
    alarm = alarm_named(template, "WebhookSignatureRejected")
    # Then more than 10 in 5 minutes (the default threshold) alarm
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        "ServerlessAirline",
        "WebhookSignatureRejected",
        SERVICE,
    )
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)
    assert_fires_above(alarm, 10)


def test_publisher_errors_and_iterator_age_alarm(template: Template) -> None:
    # Given the event publisher function
    function = [{"Name": "FunctionName", "Value": {"Ref": publisher_id(template)}}]
    errors = alarm_named(template, "EventPublisherErrors")
    iterator_age = alarm_named(template, "EventPublisherIteratorAge")
    # Then its first error in 5 minutes alarms
    assert (errors["Namespace"], errors["MetricName"], errors["Dimensions"]) == ("AWS/Lambda", "Errors", function)
    assert (errors["Statistic"], errors["Period"]) == ("Sum", 300)
    assert_fires_above(errors, 0)
    # And so does its oldest unpublished record being more than 5 minutes old
    assert (iterator_age["Namespace"], iterator_age["MetricName"], iterator_age["Dimensions"]) == (
        "AWS/Lambda",
        "IteratorAge",
        function,
    )
    assert (iterator_age["Statistic"], iterator_age["Period"]) == ("Maximum", 300)
    assert_fires_above(iterator_age, 300_000)


def test_dead_letter_queue_alarms_on_the_first_message(stack: PaymentStack, template: Template) -> None:
    # Given the publisher's dead-letter queue
    alarm = alarm_named(template, "EventDeadLetterQueueDepth")
    queue_id = logical_id(stack.payment_events.dead_letter_queue)
    queue = [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    # Then its visible messages are looked at every minute, and the first one alarms
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Dimensions"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        queue,
    )
    assert (alarm["Statistic"], alarm["Period"]) == ("Maximum", 60)
    assert_fires_above(alarm, 0)


def test_event_alarms_notify_the_payment_topic_and_point_to_the_runbook(template: Template) -> None:
    # Given the environment's payment alarm topic (whose policy lets payment-<env>-* alarms publish)
    (topic_id,) = [
        logical_id
        for logical_id, topic in resources_of(template, "AWS::SNS::Topic").items()
        if topic["Properties"].get("TopicName") == f"payment-alarms-{ENV}"
    ]
    for key in EVENT_ALARM_KEYS:
        alarm = alarm_named(template, key)
        # Then every event alarm notifies it when it fires and when it recovers, with a runbook pointer
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], key
        assert alarm["OKActions"] == [{"Ref": topic_id}], key
        assert alarm["AlarmDescription"].endswith(f"Runbook: docs/operations.md#{key.lower()}"), key


def test_payment_dashboard_shows_the_event_alarms_and_metrics(template: Template) -> None:
    # Given the payment dashboard's body, as text
    (dashboard,) = [
        d["Properties"]["DashboardBody"]
        for d in resources_of(template, "AWS::CloudWatch::Dashboard").values()
        if d["Properties"]["DashboardName"] == f"payment-{ENV}"
    ]
    body = "".join(part if isinstance(part, str) else json.dumps(part) for part in dashboard["Fn::Join"][1])
    # Then it lists the new alarms by name (never by a reference: moto creates no alarm) ...
    for key in EVENT_ALARM_KEYS:
        assert f":alarm:payment-{ENV}-{key}" in body, key
    # ... and graphs the webhook and event metrics
    for metric in (
        "WebhookEventApplied",
        "WebhookEventIgnored",
        "WebhookRejected",
        "WebhookSignatureRejected",
        "PaymentEventPublished",
        "DisputeOpened",
        "RefundFailed",
        "HoldExpiredForBooking",
        "IteratorAge",
    ):
        assert f'"{metric}"' in body, metric


def test_webhook_signature_threshold_follows_the_thresholds() -> None:
    # Given the construct alone, with another threshold for signature rejections
    stack = Stack(App(), "EventMonitoringTest")
    function = lambda_.Function.from_function_arn(
        stack, "Publisher", "arn:aws:lambda:eu-west-1:123456789012:function:publisher"
    )
    monitoring = PaymentEventMonitoring(
        stack,
        "EventMonitoring",
        env_name=ENV,
        alarm_topic=sns.Topic.from_topic_arn(stack, "Topic", "arn:aws:sns:eu-west-1:123456789012:payment-alarms"),
        publisher=function,
        dead_letter_queue=sqs.Queue.from_queue_arn(stack, "Queue", "arn:aws:sqs:eu-west-1:123456789012:dlq"),
        dashboard=cloudwatch.Dashboard(stack, "Dashboard"),
        thresholds=MonitoringThresholds(webhook_signature_rejections=3),
    )
    # Then the alarm uses it, and the construct exposes its alarms under their keys
    assert set(monitoring.alarms) == EVENT_ALARM_KEYS
    template = Template.from_stack(stack)
    (alarm,) = [
        a["Properties"]
        for a in resources_of(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "WebhookSignatureRejected"
    ]
    assert alarm["Threshold"] == 3
    template.resource_count_is("AWS::CloudWatch::Alarm", len(EVENT_ALARM_KEYS))


def test_webhook_signature_threshold_must_be_a_number() -> None:
    with pytest.raises(ValueError, match="webhook_signature_rejections"):
        MonitoringThresholds(webhook_signature_rejections=-1)
