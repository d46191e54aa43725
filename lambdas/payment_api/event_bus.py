"""Puts payment events on the environment's EventBridge bus: the only module that knows the PutEvents call."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.payment_api.payment_events import SOURCE, PaymentEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient


class EventPublishFailed(Exception):
    """The bus did not take the event (throttled, unreachable, an entry refused): publishing it again may succeed."""


class EventBus:
    """One EventBridge bus (``bus_name``) through a client made once per Lambda environment."""

    def __init__(self, *, bus_name: str, client: EventBridgeClient) -> None:
        self._bus_name = bus_name
        self._client = client

    def publish(self, event: PaymentEvent) -> None:
        """One PutEvents call with one entry; raises ``EventPublishFailed`` unless EventBridge accepted it."""
        entry = {
            "Source": SOURCE,
            "DetailType": str(event.detail_type),
            "Detail": json.dumps(event.detail, separators=(",", ":")),
            "EventBusName": self._bus_name,
            "Time": event.time,
            "Resources": [],
        }
        try:
            answer = self._client.put_events(Entries=[entry])  # type: ignore[list-item]
        except (BotoCoreError, ClientError) as error:
            raise EventPublishFailed(f"event {event.event_id} could not be published: {type(error).__name__}") from None
        if answer.get("FailedEntryCount", 0):
            code = answer["Entries"][0].get("ErrorCode", "unknown")
            raise EventPublishFailed(f"event {event.event_id} was refused by the bus: {code}")
