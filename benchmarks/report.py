"""The issue's targets, results.json, and the printed table."""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

FUNCTION_NAMES = ("payment_api", "collect", "refund")
# Payment API operation -> what it is (benchmarks.provider_requests); all but the back-fill move money once.
PROVIDER_OPERATIONS = {
    "charge": "/charge (pm_: PaymentIntent)",
    "capture": "/capture of a recorded hold",
    "refund": "/refund of a recorded capture",
    "release": "/refund of a recorded hold (release)",
    "capture_backfill": "/capture, no ledger record (back-fill)",
}
MONEY_MOVING = ("charge", "capture", "refund", "release")
_PAYMENT_ID = re.compile(r"\b(?:ch|pi)_[A-Za-z0-9_]+")
PROVIDER_REQUESTS_TARGET = 1
MB = 1_000_000  # decimal megabytes: the stricter reading of the "1 MB" / "5 MB"
API_STRETCH = 0.8


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 1,000 samples is the 990th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Target:
    metric: str  # key in a function's results, or a top-level key
    description: str
    check: Callable[[str, dict[str, Any]], bool | None]  # (function, its results) -> met? (None: not measured)
    functions: tuple[str, ...] = FUNCTION_NAMES


def _at_most(key: str, limits: dict[str, float]) -> Callable[[str, dict[str, Any]], bool | None]:
    def check(function: str, values: dict[str, Any]) -> bool | None:
        value = values.get(key)
        return None if value is None else bool(value <= limits[function])

    return check


def _init_check(function: str, values: dict[str, Any]) -> bool:
    return bool(values["init_ratio"] <= values["old_design_init_ratio"])


def _stretch_check(function: str, values: dict[str, Any]) -> bool:
    return bool(values["init_ratio"] <= API_STRETCH * values["old_design_init_ratio"])


TARGETS = (
    Target("init_ratio", "init ratio <= the old design's ratio (same run)", _init_check),
    Target("init_ratio", "stretch: API init ratio <= 0.8x the old design's", _stretch_check, ("payment_api",)),
    Target(
        "first_invoke_ms",
        "first invocation <= 10 ms (API), <= 5 ms (Collect, Refund)",
        _at_most("first_invoke_ms", {"payment_api": 10, "collect": 5, "refund": 5}),
    ),
    Target(
        "warm_overhead_ms_p50",
        "warm overhead median <= 1 ms",
        _at_most("warm_overhead_ms_p50", dict.fromkeys(FUNCTION_NAMES, 1)),
    ),
    Target(
        "warm_overhead_ms_p99",
        "warm overhead p99 <= 5 ms",
        _at_most("warm_overhead_ms_p99", dict.fromkeys(FUNCTION_NAMES, 5)),
    ),
    Target(
        "ssm_reads_per_1000",
        "<= 1 SSM read per container per cache TTL",
        _at_most("ssm_reads_per_1000", dict.fromkeys(FUNCTION_NAMES, 1)),
    ),
    Target(
        "bundle_bytes",
        "bundle (zip) <= 5 MB (API), <= 1 MB (Collect, Refund)",
        _at_most("bundle_bytes", {"payment_api": 5 * MB, "collect": MB, "refund": MB}),
    ),
)


def evaluate(results: dict[str, Any]) -> list[tuple[str, bool | None, str]]:
    """(target, met?, detail) for every target of the issue."""
    verdicts: list[tuple[str, bool | None, str]] = []
    for target in TARGETS:
        for function in target.functions:
            values = results["functions"][function]
            verdicts.append(
                (target.description, target.check(function, values), f"{function}: {values[target.metric]}")
            )
    connections = results["collect_connections_per_100"]
    verdicts.append(
        ("one TCP connection per warm container (Collect)", connections <= 1, f"collect: {connections} per 100")
    )
    requests = results["provider_requests_per_operation"]
    for operation in MONEY_MOVING:
        verdicts.append(
            (
                f"{PROVIDER_REQUESTS_TARGET} Stripe request per money-moving request",
                requests[operation] == PROVIDER_REQUESTS_TARGET,
                f"{operation}: {requests[operation]}",
            )
        )
    return verdicts


def _mark(met: bool | None) -> str:
    return {True: "ok", False: "MISSED", None: "n/a"}[met]


def _provider_lines(requests: dict[str, int], provider_calls: dict[str, dict[str, Any]] | None) -> list[str]:
    lines = [f"Stripe requests per payment API operation (target: {PROVIDER_REQUESTS_TARGET} per money-moving request)"]
    for operation, description in PROVIDER_OPERATIONS.items():
        count = requests[operation]
        mark = _mark(count == PROVIDER_REQUESTS_TARGET) if operation in MONEY_MOVING else "info"
        line = f"  {operation:17} {description:39} {count:>2} [{mark:>6}]"
        calls = None if provider_calls is None else provider_calls.get(operation)
        if calls is not None:
            aws = ", ".join(f"{name} {n}" for name, n in sorted(calls["aws"].items()))
            stripe = " + ".join(_PAYMENT_ID.sub("{id}", request) for request in calls["stripe"])
            line += f"  {stripe}; AWS: {aws or 'none'}"
        lines.append(line)
    return lines


def format_table(
    results: dict[str, Any],
    details: dict[str, dict[str, Any]],
    header: str,
    *,
    provider_calls: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The table; ``provider_calls`` (per operation, its Stripe requests and AWS calls) adds what each one made."""
    functions = results["functions"]
    marks: dict[tuple[str, str], bool | None] = {}
    for target in TARGETS[:1] + TARGETS[2:]:
        for function in target.functions:
            marks[(target.metric, function)] = target.check(function, functions[function])
    rows: list[tuple[str, str, Callable[[Any], str]]] = [
        ("init_ratio", "init as shipped (x bare)", lambda v: f"{v:.1f}x"),
        ("old_design_init_ratio", "  old design (same run)", lambda v: f"{v:.1f}x"),
        ("first_invoke_ms", "first invocation (ms)", lambda v: f"{v:.2f}"),
        ("warm_overhead_ms_p50", "warm overhead p50 (ms)", lambda v: f"{v:.3f}"),
        ("warm_overhead_ms_p99", "warm overhead p99 (ms)", lambda v: f"{v:.3f}"),
        ("ssm_reads_per_1000", "SSM reads (cold + 1000 warm)", str),
        ("bundle_bytes", "bundle (zip bytes)", lambda v: f"{v:,}"),
    ]
    width = 22
    lines = [header, f"{'':32}" + "".join(f"{name:>{width}}" for name in FUNCTION_NAMES)]
    for key, label, fmt in rows:
        cells = []
        for function in FUNCTION_NAMES:
            text = fmt(functions[function][key])
            if (key, function) in marks:
                text += f" [{_mark(marks[(key, function)])}]"
            cells.append(f"{text:>{width}}")
        lines.append(f"{label:32}" + "".join(cells))
    lines.append(f"{'  (informational)':32}")
    info_rows: list[tuple[str, str, Callable[[Any], str]]] = [
        ("init_ratio_no_bytecode", "init, sources only (x)", lambda v: f"{v:.1f}x"),
        ("old_init_ratio_no_bytecode", "  old design, without .pyc (x)", lambda v: f"{v:.1f}x"),
        ("import_ms", "in-process import (ms)", lambda v: f"{v:.1f}"),
        ("first_wall_ms", "first invocation wall (ms)", lambda v: f"{v:.2f}"),
        ("first_net_ms", "  of which stubbed network (ms)", lambda v: f"{v:.2f}"),
        ("warm_wall_ms_p50", "warm wall p50 (ms)", lambda v: f"{v:.3f}"),
        ("warm_net_ms_p50", "  of which stubbed network (ms)", lambda v: f"{v:.3f}"),
        ("warm_invocations", "warm invocations", str),
        ("warm_seconds", "warm run (s, SSM cache TTL 300)", lambda v: f"{v:.1f}"),
        ("stub_connections_warm", "HTTP connections, warm window", str),
        ("stub_requests_first", "peer requests, first invocation", str),
        ("stub_requests_per_warm", "peer requests per warm invocation", lambda v: f"{v:.2f}"),
        ("unzipped_bytes", "bundle unzipped (bytes)", lambda v: f"{v:,}"),
    ]
    for key, label, fmt in info_rows:
        cells = [details[function][key] for function in FUNCTION_NAMES]
        lines.append(f"{label:32}" + "".join(f"{'-' if cell is None else fmt(cell):>{width}}" for cell in cells))
    lines.append(
        f"Collect: TCP connections used by 100 warm invocations: {results['collect_connections_per_100']} "
        f"[{_mark(results['collect_connections_per_100'] <= 1)}] (target: 1 per warm container)"
    )
    lines.extend(_provider_lines(results["provider_requests_per_operation"], provider_calls))
    synth = results["synth_seconds"]
    lines.append(f"cdk synth (make synth, fresh output dir): {'skipped' if synth is None else f'{synth:.1f} s'}")
    lines.append("")
    lines.append("Targets:")
    for description, met, detail in evaluate(results):
        lines.append(f"  [{_mark(met):>6}] {description:58} {detail}")
    return "\n".join(lines)
