"""What the payment event bus carried, kept for the console: a tap queue of its own, drained in the background.

The developers' tap (``payment-events-<env>-tap``) is left to them and the tests: receiving deletes, so the console
reads its own queue (``payment-events-<env>-console``) and keeps the newest ``capacity`` events in memory.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any

from local_mode.bus_tap import create_bus_tap

CONSOLE_CONSUMER = "console"


class BusLog:
    """Every payment event since the console started (the newest ``capacity``), by payment id on request."""

    def __init__(self, *, events: Any, sqs: Any, bus_name: str, env_name: str, capacity: int = 2000) -> None:
        self._sqs = sqs
        self._queue_url = create_bus_tap(
            events=events, sqs=sqs, bus_name=bus_name, env_name=env_name, consumer=CONSOLE_CONSUMER
        )
        self._events: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain, name="console-bus-log", daemon=True)

    def start(self) -> BusLog:
        if self._queue_url is not None:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def events_for(self, payment_id: str) -> list[dict[str, Any]]:
        """The payment's events in the order the bus delivered them: ``id``, ``detailType``, ``time``, ``detail``."""
        with self._lock:
            found = [event for event in self._events if event.get("detail", {}).get("paymentId") == payment_id]
        return [
            {
                "id": event.get("id"),
                "detailType": event.get("detail-type"),
                "time": event.get("time"),
                "detail": event.get("detail", {}),
            }
            for event in found
        ]

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
                ).get("Messages", [])
            except Exception:  # local mode stopping under us, or moto busy: wait, then try again or end
                self._stop.wait(1)
                continue
            for message in messages:
                with self._lock:
                    self._events.append(json.loads(message["Body"]))
                self._sqs.delete_message(QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"])
