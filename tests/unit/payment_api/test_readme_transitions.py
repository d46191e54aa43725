"""The table of ledger transitions in docs/api.md is the code's ``ALLOWED_TRANSITIONS``, row for row."""

from __future__ import annotations

import re
from pathlib import Path

from lambdas.payment_api.ledger import ALLOWED_TRANSITIONS, PaymentStatus

# The tables moved from the README to docs/api.md with the rest of the API reference.
API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def readme_transitions() -> dict[PaymentStatus, frozenset[PaymentStatus]]:
    text = API_DOC.read_text()
    table = text.split("**Statuses and transitions**", 1)[1].split("\n\n", 2)[1]
    rows: dict[PaymentStatus, frozenset[PaymentStatus]] = {}
    for line in table.splitlines()[2:]:
        source_cell, targets_cell = line.strip("|").split("|")[:2]
        if "(none)" in source_cell:
            continue
        targets = frozenset(PaymentStatus(name) for name in re.findall(r"`([a-z_]+)`", targets_cell))
        for name in re.findall(r"`([a-z_]+)`", source_cell):
            rows[PaymentStatus(name)] = targets
    return rows


def test_the_readme_lists_exactly_the_allowed_transitions() -> None:
    assert readme_transitions() == dict(ALLOWED_TRANSITIONS)


def test_every_status_has_a_row() -> None:
    assert set(readme_transitions()) == set(PaymentStatus)
