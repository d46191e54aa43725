"""A booking execution's Step Functions history as the console shows it: one row per state visited, in order.

Each row says when the state was entered and left, how it ended (``running``, ``succeeded``, ``failed``, or
``caught`` when a Catch moved the execution on), how many attempts its task took (more than one: it was retried)
and whether the state belongs to the saga's compensation. Compensation is read off the state machine's own
definition, not a list of names: a state is compensation when it can run after a Catch (the saga's compensation
chain, its dead-letter steps and its failure ends). A Choice that routes to the chain (``Fare Valid?``) is not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# History event types that start another attempt of the current state's task, and those that end one in failure.
_ATTEMPT_STARTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
_ATTEMPT_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
}
_EXECUTION_ENDS = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
}


@dataclass
class TimelineRow:
    state: str
    type: str
    entered_at: str
    exited_at: str | None = None
    status: str = "running"
    attempts: int = 0
    # The last failed attempt's error; kept after a successful retry, so the row can say what was retried.
    error: str | None = None
    cause: str | None = None
    compensation: bool = False
    last_attempt_failed: bool = False

    def leave(self, at: str | None) -> None:
        """The execution moved on: through the state's own exit, or (after a failure) through a Catch."""
        self.exited_at = at
        self.status = "caught" if self.last_attempt_failed else "succeeded"

    def view(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "type": self.type,
            "enteredAt": self.entered_at,
            "exitedAt": self.exited_at,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
            "cause": self.cause,
            "compensation": self.compensation,
        }


def _timestamp(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _successors(state: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(states reached on the normal path, states reached through a Catch) from one state's definition."""
    normal = [state["Next"]] if "Next" in state else []
    normal += [choice["Next"] for choice in state.get("Choices", []) if "Next" in choice]
    if "Default" in state:
        normal.append(state["Default"])
    caught = [catcher["Next"] for catcher in state.get("Catch", []) if "Next" in catcher]
    return normal, caught


def _reachable(states: Mapping[str, Any], starts: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    pending = list(starts)
    while pending:
        name = pending.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        normal, caught = _successors(states[name])
        pending += normal + caught
    return seen


def compensation_states(definition: str | Mapping[str, Any]) -> frozenset[str]:
    """The top-level states that can run after a Catch (the saga's compensation), from an ASL definition."""
    parsed = json.loads(definition) if isinstance(definition, str) else definition
    states: Mapping[str, Any] = parsed.get("States", {})
    catch_targets = [target for state in states.values() for target in _successors(state)[1]]
    return frozenset(_reachable(states, catch_targets))


def timeline(events: Iterable[Mapping[str, Any]], *, compensation: frozenset[str] = frozenset()) -> list[TimelineRow]:
    """Rows of the states an execution visited, from its history events (oldest first, as GetExecutionHistory)."""
    rows: list[TimelineRow] = []
    current: TimelineRow | None = None
    for event in events:
        kind = str(event.get("type", ""))
        at = _timestamp(event.get("timestamp"))
        if kind.endswith("StateEntered"):
            if current is not None and current.status == "running":
                current.leave(None)  # a failure caught without an exit event of its own
            name = str(event.get("stateEnteredEventDetails", {}).get("name", "?"))
            current = TimelineRow(
                state=name, type=kind.removesuffix("StateEntered"), entered_at=at, compensation=name in compensation
            )
            rows.append(current)
        elif current is None:
            continue
        elif kind in _ATTEMPT_STARTS:
            current.attempts += 1
            current.last_attempt_failed = False
        elif kind in _ATTEMPT_FAILURES:
            details = event.get(_ATTEMPT_FAILURES[kind], {})
            current.error = str(details.get("error") or kind)
            current.cause = details.get("cause")
            current.last_attempt_failed = True
        elif kind.endswith("StateExited"):
            current.leave(at)
        elif kind in _EXECUTION_ENDS and current.status == "running":
            current.status = "failed"
            current.exited_at = at
    return rows
