"""Fires the stacks' EventBridge Scheduler schedules locally: moto keeps no schedules and never fires one.

Each ``AWS::Scheduler::Schedule`` of a deployed template with a ``rate(...)`` expression and a Lambda target is run
here: its target function is invoked through moto's Lambda API (so it runs its real bundled code, as a scheduled
invocation would) every period. ``period_seconds`` replaces the template's period for every schedule: local mode
sets it from ``LOCAL_SCHEDULE_SECONDS`` so that a demo or a test need not wait minutes.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_mode.deploy import template_resources

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class LocalSchedule:
    """One schedule: its logical id, the physical name of the function it invokes, and its period."""

    name: str
    function_name: str
    period_seconds: float


def rate_seconds(expression: str) -> float:
    """The period of a ``rate(<n> <unit>)`` expression; ``ValueError`` for any other expression."""
    match = _RATE.fullmatch(expression.strip())
    if match is None:
        raise ValueError(f"local mode runs rate(...) schedules only, not {expression!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


def stack_schedules(assembly: Path, stack: str, *, physical_ids: Mapping[str, str]) -> list[LocalSchedule]:
    """The Lambda-targeted rate schedules of ``stack``; ``physical_ids`` maps its logical ids to deployed names."""
    found = []
    for logical_id, resource in template_resources(assembly, stack).items():
        if resource["Type"] != "AWS::Scheduler::Schedule":
            continue
        properties = resource["Properties"]
        target_arn = properties["Target"]["Arn"]
        if not (isinstance(target_arn, dict) and "Fn::GetAtt" in target_arn):
            raise ValueError(f"{stack}/{logical_id}: local mode needs a target function of the same stack")
        function_logical_id = target_arn["Fn::GetAtt"][0]
        found.append(
            LocalSchedule(
                name=logical_id,
                function_name=physical_ids[function_logical_id],
                period_seconds=rate_seconds(properties["ScheduleExpression"]),
            )
        )
    return found


class LocalScheduler:
    """Invokes each schedule's function every period (the first time one period after ``start``) until ``stop``."""

    def __init__(self, schedules: list[LocalSchedule], *, lambda_client: Any, period_seconds: float | None) -> None:
        self._schedules = schedules
        self._lambda = lambda_client
        self._period_override = period_seconds
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.invocations: dict[str, int] = {schedule.name: 0 for schedule in schedules}

    def start(self) -> LocalScheduler:
        for schedule in self._schedules:
            thread = threading.Thread(target=self._run, args=(schedule,), name=f"schedule-{schedule.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, schedule: LocalSchedule) -> None:
        period = self._period_override or schedule.period_seconds
        while not self._stopped.wait(period):
            event = {"source": "local-mode.scheduler", "schedule": schedule.name}
            try:
                self._lambda.invoke(FunctionName=schedule.function_name, Payload=json.dumps(event).encode())
            except (BotoCoreError, ClientError) as error:
                # As EventBridge Scheduler does, a failed invocation does not stop the schedule.
                print(f"schedule {schedule.name}: invoking {schedule.function_name} failed: {error}", file=sys.stderr)
            self.invocations[schedule.name] += 1

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=60)
