"""Building the CDK app in tests the way the CDK CLI does: with cdk.json's context, optionally without bundling."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON_CONTEXT: dict[str, Any] = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]


def make_app(*, bundling: bool = False, outdir: str | None = None, **context: Any) -> App:
    """An App with cdk.json's context plus ``context``; bundling is skipped unless asked for (it needs PyPI)."""
    merged = {**CDK_JSON_CONTEXT, **context}
    if not bundling:
        merged["aws:cdk:bundling-stacks"] = []
    return App(context=merged, outdir=outdir)
