"""docs/api.md's webhook event table and payment event list name exactly what the code handles and publishes."""

from __future__ import annotations

import re
from pathlib import Path

from lambdas.payment_api.payment_events import SOURCE, DetailType
from lambdas.payment_api.webhook_events import WEBHOOK_EVENT_TYPES

# The tables moved from the README to docs/api.md with the rest of the API reference.
API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def _section(title: str) -> str:
    text = API_DOC.read_text()
    return text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_the_event_table_names_every_handled_stripe_event_type_and_no_other() -> None:
    section = _section("Stripe webhooks: what Stripe does on its own")
    table = section.split("| Stripe event |", 1)[1].split("\n\n", 1)[0]
    first_cells = [line.strip("|").split("|")[0] for line in table.splitlines()[2:]]
    named = {name for cell in first_cells for name in re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)`", cell)}
    assert named == set(WEBHOOK_EVENT_TYPES)


def test_the_payment_events_section_lists_every_detail_type_and_the_source() -> None:
    section = _section("Payment events for other services")
    assert f"`{SOURCE}`" in section
    for detail_type in DetailType:
        assert f"`{detail_type}`" in section, detail_type
