"""Time spent waiting on the network, measured at the socket level (stdlib only, so it can load before anything).

``install()`` wraps the blocking socket primitives every HTTP client here ends in (``getaddrinfo``, ``connect``,
``send``/``sendall``, ``recv``/``recv_into``: urllib3 under requests, Stripe's client and botocore). Their summed
time is the round trip to the local stub servers, including the servers' own work, since the client blocks in
``recv_into`` until the answer arrives. Handler time minus that is what the function itself costs.
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from typing import Any

_SOCKET_METHODS = ("connect", "connect_ex", "send", "sendall", "recv", "recv_into")


class NetClock:
    def __init__(self) -> None:
        self.total_ns = 0
        self.calls = 0
        self._installed = False

    def _timed(self, function: Callable[..., Any]) -> Callable[..., Any]:
        clock = self

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                clock.total_ns += time.perf_counter_ns() - started
                clock.calls += 1

        return timed

    def install(self) -> NetClock:
        """Patch ``socket`` for the whole process (idempotent)."""
        if not self._installed:
            for name in _SOCKET_METHODS:
                setattr(socket.socket, name, self._timed(getattr(socket.socket, name)))
            socket.getaddrinfo = self._timed(socket.getaddrinfo)
            self._installed = True
        return self


CLOCK = NetClock()
