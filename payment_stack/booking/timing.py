"""The booking workflow's timeouts and retry budgets, and what they add up to.

Shared by the workflow (``payment_stack.booking.tasks`` and ``saga``) and the configuration's checks (``config``):
the abandoned-hold sweeper must never release a hold that a live booking may still capture, so its age limit is
checked against the longest time an execution can take to reach the end of Collect's last attempt.
"""

from __future__ import annotations

from aws_cdk import Duration

# Collect and Refund stop after 30 s with a typed error; 40 s leaves room for Lambda's own overhead.
LAMBDA_TASK_TIMEOUT_SECONDS = 40
SERVICE_TASK_TIMEOUT_SECONDS = 10
LAMBDA_TASK_TIMEOUT = Duration.seconds(LAMBDA_TASK_TIMEOUT_SECONDS)
SERVICE_TASK_TIMEOUT = Duration.seconds(SERVICE_TASK_TIMEOUT_SECONDS)
BACKOFF_RATE = 2
# Retries after the first attempt.
COLLECT_MAX_ATTEMPTS = 3
# Money owed back: retried harder (with the default 2 s / 60 s: about two minutes before the dead-letter queue).
REFUND_MAX_ATTEMPTS = 6
FORWARD_SERVICE_MAX_ATTEMPTS = 3
COMPENSATION_SERVICE_MAX_ATTEMPTS = 6


def longest_retry_waits(*, retries: int, interval_seconds: int, max_delay_seconds: int) -> int:
    """The most a task's ``retries`` can wait in all: each wait is at most ``interval * rate**n``, capped (full
    jitter only ever shortens a wait)."""
    return sum(min(interval_seconds * BACKOFF_RATE**attempt, max_delay_seconds) for attempt in range(retries))


def _task_worst_case(*, timeout_seconds: int, retries: int, interval_seconds: int, max_delay_seconds: int) -> int:
    waits = longest_retry_waits(retries=retries, interval_seconds=interval_seconds, max_delay_seconds=max_delay_seconds)
    return (retries + 1) * timeout_seconds + waits


def worst_case_seconds_to_collect(*, interval_seconds: int, max_delay_seconds: int) -> int:
    """Longest time from an execution's start to the end of Collect's last attempt (the latest a capture can land).

    Reserve Flight and Reserve Booking each time out on every attempt and wait their longest between attempts,
    then so does Collect. The passes and choices in between take no measurable time.
    """
    timing = {"interval_seconds": interval_seconds, "max_delay_seconds": max_delay_seconds}
    reserve = _task_worst_case(
        timeout_seconds=SERVICE_TASK_TIMEOUT_SECONDS, retries=FORWARD_SERVICE_MAX_ATTEMPTS, **timing
    )
    collect = _task_worst_case(timeout_seconds=LAMBDA_TASK_TIMEOUT_SECONDS, retries=COLLECT_MAX_ATTEMPTS, **timing)
    return 2 * reserve + collect
