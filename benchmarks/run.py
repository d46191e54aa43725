"""``python -m benchmarks.run [--quick] [--output FILE]``: measure, print the table, write results.json.

Full mode (``make bench``): 11 init runs per variant, 1,000 warm invocations per function, ``cdk synth`` timed.
Quick mode (``make bench-quick``, CI): 2 init runs, 20 warm invocations, bundles built without a synth. Both also
count the Stripe requests of each payment API operation (``provider_requests``). Both exit 0 whatever the times
and counts are: the harness reports against the targets, it does not assert them. It exits non-zero only when it
cannot measure (a handler fails, a server does not start, the API's captures did not take the normal ledger path;
a failed synth after printing the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.bundles import measure_bundles
from benchmarks.functions import FUNCTIONS, PROJECT_ROOT, FunctionSpec, lambda_environment
from benchmarks.init_time import NO_BYTECODE, measure_init, old_key
from benchmarks.invoke import payment_id
from benchmarks.lambda_site import LambdaSite, create_site
from benchmarks.ledger_records import not_captured_normally, record_authorized_holds
from benchmarks.provider_requests import OPERATIONS
from benchmarks.report import format_table, median, percentile
from benchmarks.servers import LocalServers, local_servers

DEFAULT_OUTPUT = PROJECT_ROOT / "benchmarks" / "results.json"
CONNECTION_WINDOW = 100


@dataclass(frozen=True)
class Mode:
    name: str
    init_runs: int
    invocations: int
    synth: bool
    without_bytecode: bool  # also time init as Lambda pays it, with no bytecode for bundled code


FULL = Mode("full", init_runs=11, invocations=1000, synth=True, without_bytecode=True)
QUICK = Mode("quick", init_runs=2, invocations=20, synth=False, without_bytecode=False)


def _ssm_reads(calls: dict[str, int]) -> int:
    return sum(count for target, count in calls.items() if target.startswith("AmazonSSM.GetParameter"))


def _run_in_site(
    module: str, arguments: Sequence[str], environment: dict[str, str], site: LambdaSite, what: str
) -> dict[str, Any]:
    """``python -m <module> <arguments> --output FILE`` in the function's Lambda-like process; FILE's JSON."""
    with tempfile.TemporaryDirectory(prefix="payment-bench-") as scratch:
        output = Path(scratch) / "result.json"
        completed = subprocess.run(
            [site.python, "-m", module, *arguments, "--output", str(output)],
            cwd=environment["LAMBDA_TASK_ROOT"],
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the functions' logs and EMF metrics, as Lambda would ship them
            stderr=subprocess.PIPE,
            text=True,
            timeout=1800,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"{what} failed:\n{completed.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(output.read_text())
    return result


def _function_environment(spec: FunctionSpec, site: LambdaSite, servers: LocalServers) -> dict[str, str]:
    local_url = servers.stub_url if spec.name == "payment_api" else f"{servers.stub_url}/Prod/"
    return lambda_environment(
        spec,
        python_path=site.python_path(spec.name),
        task_root=site.task_root(spec.name),
        **{spec.local_url_variable: local_url, "AWS_ENDPOINT_URL": servers.aws_url, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def invoke_function(spec: FunctionSpec, site: LambdaSite, servers: LocalServers, invocations: int) -> dict[str, Any]:
    """Run ``benchmarks.invoke`` for one function in a fresh process; derive its numbers from the raw samples.

    For the payment API, every payment it will capture is first recorded as an authorised hold (from this process,
    outside the function's process and its timing) and afterwards checked to have been captured on that record.
    """
    run_id = os.urandom(3).hex()
    payment_ids = [payment_id(run_id, index) for index in range(invocations + 1)]
    if spec.name == "payment_api":
        record_authorized_holds(servers.aws_url, payment_ids)
    aws_before = servers.aws_calls()
    stub_before = len(servers.stub_requests())
    arguments = [
        spec.name,
        "--invocations",
        str(invocations),
        "--connection-window",
        str(CONNECTION_WINDOW),
        "--run-id",
        run_id,
        "--stub-url",
        servers.stub_url,
        "--aws-url",
        servers.aws_url,
    ]
    environment = _function_environment(spec, site, servers)
    raw = _run_in_site("benchmarks.invoke", arguments, environment, site, f"invoking {spec.name}")
    if spec.name == "payment_api" and (wrong := not_captured_normally(servers.aws_url, payment_ids)):
        raise RuntimeError(
            f"{len(wrong)} of {len(payment_ids)} captures did not take the normal ledger path "
            f"(recorded hold -> captured), e.g. {wrong[:3]}: the warm numbers would time another path"
        )
    overheads = [wall - net for wall, net in zip(raw["warm_wall_ms"], raw["warm_net_ms"], strict=True)]
    first_ports = raw["stub_after_first"]
    window_ports = raw["stub_after_window"][len(first_ports) :]
    warm_ports = raw["stub_after_warm"][len(first_ports) :]
    cold_reads = _ssm_reads(raw["aws_after_first"]) - _ssm_reads(aws_before)
    warm_reads = _ssm_reads(raw["aws_after_warm"]) - _ssm_reads(raw["aws_after_first"])
    return {
        "first_invoke_ms": raw["first_wall_ms"] - raw["first_net_ms"],
        "warm_overhead_ms_p50": median(overheads),
        "warm_overhead_ms_p99": percentile(overheads, 0.99),
        # A container's reads: its first invocation's plus those of 1,000 warm ones at the measured rate.
        "ssm_reads_per_1000": round(cold_reads + warm_reads * 1000 / invocations),
        "window_connections": len(set(window_ports)),
        "details": {
            # Requests each invocation made to its peer (Stripe for the API, the API for Collect/Refund).
            "stub_requests_first": len(first_ports) - stub_before,
            "stub_requests_per_warm": len(warm_ports) / invocations,
            "import_ms": raw["import_ms"],
            "first_wall_ms": raw["first_wall_ms"],
            "first_net_ms": raw["first_net_ms"],
            "warm_wall_ms_p50": median(raw["warm_wall_ms"]),
            "warm_net_ms_p50": median(raw["warm_net_ms"]),
            "warm_invocations": invocations,
            "warm_seconds": raw["warm_seconds"],
            "stub_connections_warm": len(set(warm_ports)),
        },
    }


def count_provider_requests(site: LambdaSite, servers: LocalServers) -> dict[str, dict[str, Any]]:
    """Run ``benchmarks.provider_requests`` in a fresh API process: per operation, its Stripe requests and AWS calls."""
    spec = next(spec for spec in FUNCTIONS if spec.name == "payment_api")
    arguments = ["--stub-url", servers.stub_url, "--aws-url", servers.aws_url]
    environment = _function_environment(spec, site, servers)
    raw = _run_in_site("benchmarks.provider_requests", arguments, environment, site, "counting provider requests")
    operations: dict[str, dict[str, Any]] = raw["operations"]
    return {name: operations[name] for name in OPERATIONS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few runs, no synth: checks the harness works (CI)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {DEFAULT_OUTPUT}")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    started = time.monotonic()

    print(f"[bench] {mode.name} mode: init x{mode.init_runs}, {mode.invocations} warm invocations", flush=True)
    load_before = os.getloadavg()[0]
    invoked: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="payment-bench-site-") as scratch:
        # The bundles first: init and invocations then run them exactly as shipped.
        (Path(scratch) / "bundles").mkdir()
        bundles = measure_bundles(Path(scratch) / "bundles", with_synth=mode.synth)
        print(f"[bench] bundles built via {bundles.source} ({time.monotonic() - started:.0f} s)", flush=True)
        site = create_site(Path(scratch) / "site", bundles.assets)
        init = measure_init(site, mode.init_runs, without_bytecode=mode.without_bytecode)
        print(f"[bench] init measured ({time.monotonic() - started:.0f} s)", flush=True)
        with local_servers() as servers:
            for spec in FUNCTIONS:
                invoked[spec.name] = invoke_function(spec, site, servers, mode.invocations)
                print(f"[bench] {spec.name} invoked ({time.monotonic() - started:.0f} s)", flush=True)
            provider_calls = count_provider_requests(site, servers)
            print(f"[bench] provider requests counted ({time.monotonic() - started:.0f} s)", flush=True)

    functions: dict[str, dict[str, Any]] = {}
    details: dict[str, dict[str, Any]] = {}
    for spec in FUNCTIONS:
        measured = invoked[spec.name]
        functions[spec.name] = {
            "init_ratio": round(init.ratio(spec.name), 2),
            "old_design_init_ratio": round(init.ratio(old_key(spec)), 2),
            "first_invoke_ms": round(measured["first_invoke_ms"], 3),
            "warm_overhead_ms_p50": round(measured["warm_overhead_ms_p50"], 3),
            "warm_overhead_ms_p99": round(measured["warm_overhead_ms_p99"], 3),
            "bundle_bytes": bundles.bundle_bytes[spec.name],
            "ssm_reads_per_1000": measured["ssm_reads_per_1000"],
        }
        details[spec.name] = {
            **measured["details"],
            "unzipped_bytes": bundles.unzipped_bytes[spec.name],
            "init_ratio_no_bytecode": init.ratio_if_measured(NO_BYTECODE + spec.name),
            "old_init_ratio_no_bytecode": init.ratio_if_measured(NO_BYTECODE + old_key(spec)),
        }
    results = {
        "bare_interpreter_ms": round(init.bare_ms, 2),
        "functions": functions,
        "collect_connections_per_100": invoked["collect"]["window_connections"],
        "provider_requests_per_operation": {name: len(calls["stripe"]) for name, calls in provider_calls.items()},
        "synth_seconds": None if bundles.synth_seconds is None else round(bundles.synth_seconds, 1),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")

    header = (
        f"Payment service benchmarks ({mode.name}: init median of {mode.init_runs} fresh processes, "
        f"{mode.invocations} warm invocations; bare interpreter {init.bare_ms:.1f} ms; Python "
        f"{sys.version.split()[0]}; {os.cpu_count()} CPUs, load average {load_before:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end)"
    )
    print()
    print(format_table(results, details, header, provider_calls=provider_calls))
    print(f"\nWrote {args.output} in {time.monotonic() - started:.0f} s.")
    if bundles.synth_error is not None:
        # Not a missed target: the synth could not be measured at all, which make bench must not hide.
        print(f"\nERROR: cdk synth failed, synth_seconds is null:\n{bundles.synth_error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
