"""A warm Lambda "container" for local mode: loads one handler once, then runs one event per stdin line.

Started by ``lambda_runner`` as a script (not ``-m``), so the project's source tree is not on ``sys.path``: the
function's own bundle (the working directory) provides ``lambdas/...``, exactly as in Lambda; third-party packages
come from the running interpreter's site-packages (the bundle's wheels are built for Lambda's platform).
Protocol: the runner writes one JSON event per line; the worker answers one JSON line on the original stdout:
``{"result": ...}`` or ``{"errorType", "errorMessage"}``. Everything the handler prints goes to stderr.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class LocalContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, timeout_seconds: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = os.environ.get("LOCAL_FUNCTION_ARN", "")
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    code_dir, handler_path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sys.path[:] = [entry for entry in sys.path if entry != os.path.dirname(os.path.abspath(__file__))]
    sys.path.append(code_dir)
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    module_name, function_name = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    # Init is done: as in Lambda, the function's timeout counts from here, not from the process start.
    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        event = json.loads(line)
        try:
            answer: dict[str, Any] = {"result": handler(event, LocalContext(timeout))}
        except Exception as error:  # every failure is reported to the caller, as Lambda does
            traceback.print_exc()
            answer = {"errorType": type(error).__name__, "errorMessage": str(error)}
        protocol.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    main()
