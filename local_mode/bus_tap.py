"""A tap on the payment event bus: an SQS queue that receives every event the payment service publishes.

Local mode has no consumers of the bus yet; the tap lets a developer (``aws sqs receive-message``), the demo and the
tests see exactly what the service put on it. moto delivers ``PutEvents`` to SQS targets of rules on custom buses
with the EventBridge envelope (``id``, ``detail-type``, ``source``, ``time``, ``region``, ``resources``,
``detail``) as the message body.
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

PAYMENT_EVENT_SOURCE = "serverless-airline.payment"


def tap_name(env_name: str, consumer: str = "tap") -> str:
    """The queue and rule name of a tap: ``tap`` for developers and tests, ``console`` for the local console."""
    return f"payment-events-{env_name}-{consumer}"


def create_bus_tap(*, events: Any, sqs: Any, bus_name: str, env_name: str, consumer: str = "tap") -> str | None:
    """Create a tap queue and a rule on ``bus_name`` sending it every payment event; the queue URL, or None when
    no such bus is deployed (a stack without one). Each ``consumer`` has its own queue: receiving deletes."""
    try:
        events.describe_event_bus(Name=bus_name)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    name = tap_name(env_name, consumer)
    queue_url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=name,
        EventBusName=bus_name,
        EventPattern=json.dumps({"source": [PAYMENT_EVENT_SOURCE]}),
        State="ENABLED",
        Description="local mode: every payment event, for developers and tests",
    )
    events.put_targets(Rule=name, EventBusName=bus_name, Targets=[{"Id": "tap", "Arn": queue_arn}])
    return queue_url


def receive_bus_events(*, sqs: Any, queue_url: str, wait_seconds: float, at_least: int = 1) -> list[dict[str, Any]]:
    """Receive (and delete) the tap's events: as soon as ``at_least`` arrived, or whatever arrived within
    ``wait_seconds``. Each is the EventBridge envelope, parsed (``detail-type``, ``source``, ``detail``...)."""
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_seconds
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
            "Messages", []
        )
        for message in messages:
            received.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if messages:
            continue  # drain what is already there
        if len(received) >= at_least or time.monotonic() >= deadline:
            return received
        time.sleep(0.1)
