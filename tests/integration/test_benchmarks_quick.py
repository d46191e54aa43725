"""The benchmark harness in quick mode (what `make bench-quick` runs): it works and reports every number.

Nothing here asserts a time against a target: the harness reports, `make bench` is where the numbers are read.
The Stripe requests per payment API operation are behaviour, not timing: those are checked exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {"payment_api", "collect", "refund"}
FUNCTION_KEYS = {
    "init_ratio",
    "old_design_init_ratio",
    "first_invoke_ms",
    "warm_overhead_ms_p50",
    "warm_overhead_ms_p99",
    "bundle_bytes",
    "ssm_reads_per_1000",
}
MONEY_MOVING_OPERATIONS = {"charge", "capture", "refund", "release"}


def test_quick_mode_writes_every_number_and_prints_the_targets(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--output", str(output)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "Targets:" in completed.stdout
    assert "first invocation" in completed.stdout
    assert "Stripe requests per payment API operation" in completed.stdout

    results = json.loads(output.read_text())
    assert set(results) == {
        "bare_interpreter_ms",
        "functions",
        "collect_connections_per_100",
        "provider_requests_per_operation",
        "synth_seconds",
    }
    assert results["bare_interpreter_ms"] > 0
    assert results["synth_seconds"] is None  # quick mode does not time a synth
    assert set(results["functions"]) == FUNCTIONS
    for name, values in results["functions"].items():
        assert set(values) == FUNCTION_KEYS, name
        # Importing a handler (or the old import set) costs more than starting a bare interpreter
        assert values["init_ratio"] > 1, name
        assert values["old_design_init_ratio"] > 1, name
        assert values["first_invoke_ms"] > 0, name
        assert 0 < values["warm_overhead_ms_p50"] <= values["warm_overhead_ms_p99"], name
        assert isinstance(values["bundle_bytes"], int), name
        assert values["bundle_bytes"] > 100_000, name  # at least Powertools is in every bundle
        assert isinstance(values["ssm_reads_per_1000"], int), name
    functions = results["functions"]
    # Only the API reads the Stripe key, and it must have read it at least once
    assert functions["payment_api"]["ssm_reads_per_1000"] >= 1
    assert functions["collect"]["ssm_reads_per_1000"] == 0
    assert functions["refund"]["ssm_reads_per_1000"] == 0
    # Only the API carries stripe
    assert functions["payment_api"]["bundle_bytes"] > functions["collect"]["bundle_bytes"]
    assert isinstance(results["collect_connections_per_100"], int)
    assert results["collect_connections_per_100"] >= 1

    # One Stripe request per money-moving request on the normal path (the ledger decides, no pre-read); a capture
    # of a payment the ledger has no record of reads it from Stripe first (reported, not a target).
    requests = results["provider_requests_per_operation"]
    assert set(requests) == MONEY_MOVING_OPERATIONS | {"capture_backfill"}
    assert {operation: requests[operation] for operation in MONEY_MOVING_OPERATIONS} == dict.fromkeys(
        MONEY_MOVING_OPERATIONS, 1
    )
    assert isinstance(requests["capture_backfill"], int)
