"""Helpers shared by the payment API's unit tests."""

from __future__ import annotations

import json
from typing import Any


def metrics_emitted(stdout: str) -> dict[tuple[str, str], list[float]]:
    """``{(namespace, metric name): values}`` from the EMF blobs Powertools Metrics printed to stdout."""
    found: dict[tuple[str, str], list[float]] = {}
    for blob in json_lines(stdout):
        if "_aws" not in blob:
            continue
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found.setdefault((directive["Namespace"], metric["Name"]), []).extend(blob[metric["Name"]])
    return found


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects among ``text``'s lines (log records, EMF blobs)."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            found.append(parsed)
    return found
