"""`make local` as a user runs it: it reports a correct demo, prints the console's URL and serves it, and on Ctrl-C
stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests

from local_mode.environment import PROJECT_ROOT, free_port


def test_local_mode_runs_the_demo_serves_and_stops_everything_on_ctrl_c() -> None:
    ports = {name: str(free_port()) for name in ("AWS_PORT", "STRIPE_PORT", "API_PORT", "CONSOLE_PORT")}
    process = subprocess.Popen(
        [sys.executable, "-m", "local_mode.run"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **ports, "LOCAL_ENV": "e2e-run"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    output: list[str] = []
    deadline = time.monotonic() + 240
    assert process.stdout is not None
    try:
        for line in process.stdout:
            output.append(line)
            if line.strip().startswith("console ") or time.monotonic() > deadline:
                break
        text = "".join(output)
        assert "Demo: end states are right." in text, text
        assert "CONFIRMED" in text
        assert "hold released" in text
        # The console's URL is printed, and the console answers there
        console_url = f"http://127.0.0.1:{ports['CONSOLE_PORT']}/"
        assert console_url in output[-1], text
        page = requests.get(console_url, timeout=10)
        assert page.status_code == 200
        assert "text/html" in page.headers["Content-Type"]
        assert requests.get(f"{console_url}console/config", timeout=10).json()["envName"] == "e2e-run"
        # When the user presses Ctrl-C (SIGINT to the whole foreground group)
        os.killpg(process.pid, signal.SIGINT)
        remaining = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, remaining
    assert "Stopped." in remaining
    # Then nothing it started is left: its process group empties (children get the same Ctrl-C and may take a moment
    # to exit on a loaded machine)
    deadline = time.monotonic() + 10
    while True:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        if time.monotonic() > deadline:
            raise AssertionError("processes of local mode are still running 10 s after Ctrl-C")
        time.sleep(0.2)
