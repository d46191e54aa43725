"""The console's booking timeline, from execution histories recorded off local mode (tests/data): one row per state
visited, its outcome (succeeded, caught by a Catch, failed), its attempts (a retry shows as more than one) and whether
it belongs to the saga's compensation, read off the workflow's own definition."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from local_mode.console.timeline import compensation_states, timeline
from tests.support.booking import FORWARD_PATH

RECORDED = json.loads((Path(__file__).resolve().parents[1] / "data" / "booking_execution_histories.json").read_text())
COMPENSATION = compensation_states(RECORDED["definition"])


def rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row.view() for row in timeline(events, compensation=COMPENSATION)]


def test_compensation_is_every_state_a_catch_can_lead_to_and_nothing_of_the_happy_path() -> None:
    # Given the deployed workflow's definition / Then the compensation chain is exactly what runs after a Catch
    assert {"Refund Payment", "Cancel Booking", "Release Flight Seat", "Notify Booking Failed", "Booking Failed"} <= (
        COMPENSATION
    )
    happy_path = {"Validate Input", "Reserve Flight", "Fare Valid?", "Reserve Booking", "Collect Payment"}
    assert not happy_path & COMPENSATION
    assert not {"Confirm Booking", "Notify Booking Confirmed", "Booking Confirmed", "Fare Unavailable"} & COMPENSATION


def test_a_confirmed_booking_is_every_happy_path_state_succeeded_in_order() -> None:
    # Given a confirmed booking's history / When it becomes a timeline
    found = rows(RECORDED["confirmed"])
    # Then each state visited is one row, in order, all succeeded, none compensation
    assert tuple(row["state"] for row in found) == FORWARD_PATH
    assert {row["status"] for row in found} == {"succeeded"}
    assert not any(row["compensation"] for row in found)
    collect = next(row for row in found if row["state"] == "Collect Payment")
    assert collect["type"] == "Task"
    assert collect["attempts"] == 1
    assert collect["enteredAt"] <= collect["exitedAt"]


def test_a_sold_out_flight_is_caught_then_compensated_then_failed() -> None:
    # Given a booking on a sold-out flight / When it becomes a timeline
    found = {row["state"]: row for row in rows(RECORDED["sold_out"])}
    # Then the seat reservation's failure was caught, with its error ...
    assert found["Reserve Flight"]["status"] == "caught"
    assert found["Reserve Flight"]["error"] == "DynamoDB.ConditionalCheckFailedException"
    # ... the refund (the hold's release) ran as compensation, and the execution ended in the Fail state
    assert found["Refund Payment"]["status"] == "succeeded"
    assert found["Refund Payment"]["compensation"] is True
    assert found["Booking Failed"]["status"] == "failed"
    assert found["Booking Failed"]["compensation"] is True
    assert "Collect Payment" not in found


def test_a_retried_task_counts_its_attempts_and_ends_succeeded() -> None:
    # Given the confirmed history with Collect failing once before its retry succeeded
    events = copy.deepcopy(RECORDED["confirmed"])
    entered = next(
        i
        for i, event in enumerate(events)
        if event.get("stateEnteredEventDetails", {}).get("name") == "Collect Payment"
    )
    at = events[entered]["timestamp"]
    events[entered + 1 : entered + 1] = [
        {"type": "LambdaFunctionScheduled", "timestamp": at},
        {
            "type": "LambdaFunctionFailed",
            "timestamp": at,
            "lambdaFunctionFailedEventDetails": {"error": "PaymentApiUnavailable", "cause": "502"},
        },
    ]
    # When it becomes a timeline
    collect = next(row for row in rows(events) if row["state"] == "Collect Payment")
    # Then Collect took two attempts and succeeded; the retried error is kept for the reader
    assert collect["attempts"] == 2
    assert collect["status"] == "succeeded"
    assert collect["error"] == "PaymentApiUnavailable"


def test_a_running_execution_ends_on_its_running_state_and_a_failure_without_catch_fails_it() -> None:
    # Given the first events of a booking, up to Collect's first attempt
    events = RECORDED["confirmed"]
    cut = next(
        i for i, e in enumerate(events) if e.get("stateEnteredEventDetails", {}).get("name") == "Collect Payment"
    )
    running = rows(events[: cut + 2])
    # Then the last row is Collect, still running
    assert (running[-1]["state"], running[-1]["status"], running[-1]["exitedAt"]) == (
        "Collect Payment",
        "running",
        None,
    )
    # And when its task fails and the execution fails without a Catch, the row says failed
    at = events[cut]["timestamp"]
    failed = rows(
        [
            *events[: cut + 2],
            {"type": "TaskFailed", "timestamp": at, "taskFailedEventDetails": {"error": "States.Timeout"}},
            {"type": "ExecutionFailed", "timestamp": at, "executionFailedEventDetails": {"error": "States.Timeout"}},
        ]
    )
    assert (failed[-1]["status"], failed[-1]["error"]) == ("failed", "States.Timeout")


def test_events_before_the_first_state_and_unknown_types_are_ignored() -> None:
    # Given only an execution start and an event type the console does not know
    events = [{"type": "ExecutionStarted", "timestamp": "t0"}, {"type": "MapRunStarted", "timestamp": "t1"}]
    # Then there is no row
    assert rows(events) == []
