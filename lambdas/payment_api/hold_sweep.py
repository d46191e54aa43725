"""Releases abandoned holds: pre-authorisations nobody captured or released within their time.

A run reads candidates from the ledger's hold index (oldest first, a page at a time), releases each through the
payment service (the same provider call as ``/refund``, one idempotency key per hold), and stops when the time
left is no longer enough for one more release: it never runs into its function's timeout, and the next run
continues where this one stopped (released holds leave the index; holds that failed are tried again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aws_lambda_powertools import Logger

from lambdas.payment_api.errors import ApiError
from lambdas.payment_api.ledger import Ledger, LedgerError, PaymentRecord
from lambdas.payment_api.service import HoldOutcome

logger = Logger(child=True)
# Records read per index query: small pages keep each read cheap and let a run stop soon after its budget ends.
PAGE_SIZE = 25
# The longest one release can take (Stripe connect 2 s + read 8 s, ledger write, margins): a run starts no release
# with less time than this left.
RELEASE_RESERVE_MILLIS = 15_000


class HoldReleaser(Protocol):
    def release_abandoned(self, record: PaymentRecord, *, request_id: str | None) -> HoldOutcome: ...


@dataclass
class SweepReport:
    """What one run did: ``released`` by it, ``settled`` elsewhere meanwhile, ``failed`` (retried next run)."""

    examined: int = 0
    released: int = 0
    settled: int = 0
    failed: int = 0
    # True when the run stopped because its time ran out, with candidates possibly left for the next run.
    out_of_time: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return {
            "examined": self.examined,
            "released": self.released,
            "settled": self.settled,
            "failed": self.failed,
            "outOfTime": self.out_of_time,
        }


def sweep(
    *,
    ledger: Ledger,
    releaser: HoldReleaser,
    now: datetime,
    abandoned_after: timedelta,
    remaining_millis: Callable[[], int],
    request_id: str | None,
    page_size: int = PAGE_SIZE,
) -> SweepReport:
    """Release every hold made before ``now - abandoned_after`` that the remaining time allows."""
    report = SweepReport()
    try:
        for record in ledger.holds_created_before(now - abandoned_after, page_size=page_size):
            if remaining_millis() < RELEASE_RESERVE_MILLIS:
                report.out_of_time = True
                break
            report.examined += 1
            _release(record, releaser=releaser, report=report, request_id=request_id)
    except LedgerError:
        # The index could not be read: what was released stays released; the next run reads again.
        logger.exception("hold index unreadable: the sweep stops here")
        report.failed += 1
    return report


def _release(record: PaymentRecord, *, releaser: HoldReleaser, report: SweepReport, request_id: str | None) -> None:
    try:
        outcome = releaser.release_abandoned(record, request_id=request_id)
    except ApiError as error:
        report.failed += 1
        logger.warning(
            "abandoned hold not released: the next run retries",
            extra={"payment_id": record.payment_id, "status": int(error.status), "code": error.code},
        )
        return
    if outcome is HoldOutcome.RELEASED:
        report.released += 1
        logger.info("abandoned hold released", extra={"payment_id": record.payment_id, "status": record.status})
    else:
        report.settled += 1
        logger.info("hold settled meanwhile: left alone", extra={"payment_id": record.payment_id})
