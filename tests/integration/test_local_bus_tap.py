"""Local mode's tap on the payment event bus: moto delivers what is put on the bus to the tap queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from local_mode.bus_tap import PAYMENT_EVENT_SOURCE, create_bus_tap, receive_bus_events, tap_name
from payment_stack.names import event_bus_name
from tests.support.local_moto import clients, running_moto


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with running_moto() as url:
        yield url


def test_payment_events_put_on_the_bus_arrive_in_the_tap_queue(endpoint: str) -> None:
    client = clients(endpoint)
    env_name = f"tap{uuid.uuid4().hex[:6]}"
    bus = event_bus_name(env_name)
    client("events").create_event_bus(Name=bus)
    queue_url = create_bus_tap(events=client("events"), sqs=client("sqs"), bus_name=bus, env_name=env_name)
    assert queue_url is not None
    assert queue_url.endswith(f"/{tap_name(env_name)}")
    detail = {"eventId": "ch_1:e1", "paymentId": "ch_1", "status": "disputed", "amount": 1250}
    answer = client("events").put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": PAYMENT_EVENT_SOURCE,
                "DetailType": "Payment Disputed",
                "Detail": json.dumps(detail),
            },
            # Another source on the same bus: not the service's, not tapped.
            {"EventBusName": bus, "Source": "someone.else", "DetailType": "Other", "Detail": "{}"},
        ]
    )
    assert answer["FailedEntryCount"] == 0
    [event] = receive_bus_events(sqs=client("sqs"), queue_url=queue_url, wait_seconds=5)
    assert (event["source"], event["detail-type"], event["detail"]) == (
        PAYMENT_EVENT_SOURCE,
        "Payment Disputed",
        detail,
    )
    assert event["id"] == answer["Entries"][0]["EventId"]
    # Received events are deleted: the next look finds nothing
    assert receive_bus_events(sqs=client("sqs"), queue_url=queue_url, wait_seconds=0) == []


def test_no_tap_without_a_bus(endpoint: str) -> None:
    client = clients(endpoint)
    env_name = f"nobus{uuid.uuid4().hex[:6]}"
    assert (
        create_bus_tap(events=client("events"), sqs=client("sqs"), bus_name=event_bus_name(env_name), env_name=env_name)
        is None
    )
