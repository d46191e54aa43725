"""``make local`` / ``make local-demo``: the whole service on this machine, a demo, then (``make local``) serving.

Ports: AWS_PORT (moto, 5000), STRIPE_PORT (localstripe, 8420), API_PORT (payment API, 3000), CONSOLE_PORT (the local
console: flights, checkout, bookings and payments, 8080). LOCAL_ENV names the environment (default ``local``).
LOCAL_SCHEDULE_SECONDS fires the stacks' schedules (the abandoned-hold sweeper) that often instead of at their
template's rate.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time

from local_mode.console.wiring import Console, start_console
from local_mode.demo import report, run_demo
from local_mode.environment import (
    PROJECT_ROOT,
    LocalEnvironment,
    LocalPorts,
    PortInUseError,
    check_port_free,
    synthesize,
)
from payment_stack.names import booking_stack_name, function_parameter_name


def _usage(env: LocalEnvironment, env_name: str, console_url: str) -> str:
    credentials = "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1"
    aws = f"{credentials} \\\n    .venv/bin/aws --endpoint-url {env.aws_endpoint}"
    events = (
        f"  # payment events (a tap queue on the event bus):\n"
        f"  {aws} sqs receive-message --max-number-of-messages 10 --queue-url {env.bus_tap_queue_url}\n"
        if env.bus_tap_queue_url
        else ""
    )
    return f"""
Local mode is running (Ctrl-C stops everything). Open the console:

  console       {console_url}   (flights, checkout with Stripe.js, bookings live, each payment's story)

  payment API   {env.api_url}   (POST charge; capture, refund and GET payments/<id> need SigV4)
  local AWS     {env.aws_endpoint}  (moto; any credentials, region us-east-1)
  localstripe   {env.stripe_url}   (its webhooks go to {env.webhook_url})

Try:
  curl -s -X POST {env.api_url}charge -H 'Content-Type: application/json' \\
    -d '{{"amount": 12500, "currency": "eur", "stripeToken": "pm_card_visa", "email": "you@example.com"}}'
  {aws} ssm get-parameter --name {function_parameter_name(env_name, "collect")}
  # a signed Stripe event localstripe never sends (a dispute, an expiry, a failed refund...):
  make local-event TYPE=charge.dispute.created PAYMENT=<ch_... or pi_...>
{events}(more in docs/local-mode.md)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo-only", action="store_true", help="exit after the demo: 0 if its end states are right")
    args = parser.parse_args(argv)
    env_name = os.environ.get("LOCAL_ENV", "local")
    ports = LocalPorts.from_environ(os.environ)
    console_port = int(os.environ.get("CONSOLE_PORT", "8080"))
    booking_stack = booking_stack_name(env_name)

    try:
        check_port_free(console_port, "console", "CONSOLE_PORT")
    except PortInUseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    started = time.monotonic()
    print(f"Synthesizing the app for environment '{env_name}' with local settings…", flush=True)
    assembly = synthesize(env_name=env_name, outdir=PROJECT_ROOT / ".local" / "cdk.out")
    print(f"Starting localstripe, moto and the API front, deploying the stacks ({time.monotonic() - started:.0f} s)…")
    schedule_seconds = os.environ.get("LOCAL_SCHEDULE_SECONDS")
    env = LocalEnvironment(
        assembly=assembly,
        env_name=env_name,
        ports=ports,
        schedule_seconds=float(schedule_seconds) if schedule_seconds else None,
    )
    console: Console | None = None
    try:
        env.start()
        console = start_console(env, port=console_port)
        print(f"Deployed {', '.join(env.stacks)} ({time.monotonic() - started:.0f} s). Running the demo…", flush=True)
        bookings = run_demo(env, booking_stack)
        print(report(bookings))
        demo_ok = all(booking.ok for booking in bookings)
        print("Demo: end states are right." if demo_ok else "Demo: an end state is WRONG (see the report).")
        if args.demo_only:
            return 0 if demo_ok else 1
        stop = threading.Event()
        # Explicit handlers: SIGINT may arrive ignored (e.g. started in the background by a shell). Installed before
        # the usage says "Ctrl-C stops everything", so a Ctrl-C right after it is a clean stop too.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        print(_usage(env, env_name, console.url), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    except PortInUseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        print("Stopping local mode…", flush=True)
        if console is not None:
            console.stop()
        env.stop()
        print(f"Stopped. Logs are in {env.log_dir}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
