"""Local mode's bridge over moto's schedules, which moto keeps but never fires: local mode fires them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from local_mode.scheduler import LocalSchedule, LocalScheduler, rate_seconds, stack_schedules


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)],
)
def test_rate_expressions_as_cdk_writes_them(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["cron(0 * * * ? *)", "at(2026-12-02T10:00:00)", "rate(five minutes)"])
def test_other_schedule_expressions_are_refused_with_a_message(expression: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        rate_seconds(expression)


def test_a_stacks_schedules_name_their_deployed_function(tmp_path: Path) -> None:
    # Given a template with a Lambda-targeted schedule, as CDK writes it
    template = {
        "Resources": {
            "SweeperFn": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "Sweep": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "ScheduleExpression": "rate(5 minutes)",
                    "Target": {"Arn": {"Fn::GetAtt": ["SweeperFn", "Arn"]}, "RoleArn": "role"},
                },
            },
        }
    }
    (tmp_path / "Payment-x.template.json").write_text(json.dumps(template))
    # When local mode reads it with the deployed names
    schedules = stack_schedules(tmp_path, "Payment-x", physical_ids={"SweeperFn": "Payment-x-SweeperFn-1A2B"})
    # Then it knows what to invoke and how often
    assert schedules == [LocalSchedule(name="Sweep", function_name="Payment-x-SweeperFn-1A2B", period_seconds=300)]


class RecordingLambda:
    def __init__(self) -> None:
        self.invoked: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, *, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.invoked.append((FunctionName, json.loads(Payload)))
        return {}


def test_the_scheduler_invokes_each_schedules_function_every_period() -> None:
    # Given one schedule fired every 10 ms (LOCAL_SCHEDULE_SECONDS replaces the template's period)
    lambda_client = RecordingLambda()
    schedule = LocalSchedule(name="Sweep", function_name="sweeper", period_seconds=300)
    scheduler = LocalScheduler([schedule], lambda_client=lambda_client, period_seconds=0.01).start()
    # When it runs until it has fired a few times
    deadline = time.monotonic() + 5
    while scheduler.invocations["Sweep"] < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    # Then it invoked the function with a scheduled event, and stopped
    assert scheduler.invocations["Sweep"] >= 3
    assert {name for name, _ in lambda_client.invoked} == {"sweeper"}
    assert lambda_client.invoked[0][1]["schedule"] == "Sweep"
    fired = len(lambda_client.invoked)
    time.sleep(0.05)
    assert len(lambda_client.invoked) == fired


class FailingOnceLambda(RecordingLambda):
    def invoke(self, *, FunctionName: str, Payload: bytes) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if not self.invoked:
            self.invoked.append(("failed", {}))
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        return super().invoke(FunctionName=FunctionName, Payload=Payload)


def test_a_failed_invocation_does_not_stop_the_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a function whose first scheduled invocation fails (local AWS briefly unreachable)
    lambda_client = FailingOnceLambda()
    schedule = LocalSchedule(name="Sweep", function_name="sweeper", period_seconds=300)
    scheduler = LocalScheduler([schedule], lambda_client=lambda_client, period_seconds=0.01).start()
    deadline = time.monotonic() + 5
    while len(lambda_client.invoked) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.stop()
    # Then the schedule fired again, as EventBridge Scheduler would, and said what failed
    assert [name for name, _ in lambda_client.invoked[:3]] == ["failed", "sweeper", "sweeper"]
    assert "invoking sweeper failed" in capsys.readouterr().err
