"""Runs localstripe (a stateful fake Stripe) on 127.0.0.1 only, with its store kept in memory.

``localstripe --port N`` binds every interface and pickles its store to a fixed path in /tmp; this launcher binds
loopback and keeps nothing on disk, so parallel runs never share state.
"""

from __future__ import annotations

import argparse
import logging

from aiohttp import web
from localstripe import resources, server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    args = parser.parse_args(argv)
    resources.Store.dump_to_disk = lambda _self: None
    logging.basicConfig(level=logging.WARNING)
    web.run_app(server.app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
