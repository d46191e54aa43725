"""moto served in this process on a free 127.0.0.1 port, for tests of local mode's bridges (stream poller, bus tap)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_mode import local_aws
from local_mode.environment import free_port


@contextmanager
def running_moto() -> Iterator[str]:
    """A moto server for the block; yields its endpoint URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def clients(endpoint: str) -> Callable[[str], Any]:
    """``client(service)`` for the endpoint, with local mode's credentials and region."""
    return lambda service: local_aws.client(service, endpoint)


def wait_until(condition: Callable[[], bool], *, timeout: float = 5.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.02)
