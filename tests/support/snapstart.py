"""Runs the SnapStart runtime hooks registered with ``snapshot_restore_py`` the way Lambda does after a restore."""

from __future__ import annotations

from typing import Any

import snapshot_restore_py


def run_after_restore_hooks() -> None:
    """Every registered after-restore hook, in registration order, with its arguments."""
    # The library stores (function, args, kwargs) triples, though its annotation says plain callables.
    registered: list[Any] = snapshot_restore_py.get_after_restore()
    for hook, args, kwargs in registered:
        hook(*args, **kwargs)
