"""Runs a deployed (moto) Lambda function's real code: its zip unpacked once, warm worker processes reused.

moto's Docker-free Lambda backend only echoes its input; local mode replaces its ``invoke`` with
``LambdaRunner.invoke``, so Step Functions tasks and API calls run the function's bundled handler with the
function's environment plus the few local-only settings local mode injects.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

WORKER = Path(__file__).resolve().parent / "lambda_worker.py"
# Lambda's init phase may take up to 10 s; a loaded local machine gets more before a worker counts as broken.
INIT_TIMEOUT_SECONDS = 60.0
EnvOverrides = Callable[[Mapping[str, str]], Mapping[str, str]]


class _Worker:
    def __init__(self, command: list[str], env: dict[str, str], cwd: str, log: IO[str] | None) -> None:
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log or subprocess.DEVNULL,
            text=True,
        )
        if self.process.stdin is None or self.process.stdout is None:
            raise RuntimeError("worker pipes were not created")
        self._stdin: IO[str] = self.process.stdin
        self._stdout: IO[str] = self.process.stdout
        self._ready = False

    def _wait_until_ready(self) -> dict[str, Any] | None:
        """The worker's init (imports, module-level clients) has its own budget, like Lambda's init phase."""
        answer = self._read_line(INIT_TIMEOUT_SECONDS)
        if answer is None or not answer.strip():
            self.process.kill()
            return {"errorType": "Runtime.InitError", "errorMessage": "the function failed to initialise"}
        self._ready = True
        return None

    def _read_line(self, timeout: float) -> str | None:
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self._stdout.readline()))
        reader.start()
        reader.join(timeout)
        return None if reader.is_alive() else (answer[0] if answer else "")

    def call(self, event: bytes, timeout: float) -> dict[str, Any]:
        if not self._ready:
            failure = self._wait_until_ready()
            if failure is not None:
                return failure
        self._stdin.write(event.decode() + "\n")
        self._stdin.flush()
        line = self._read_line(timeout)
        if line is None:
            self.process.kill()
            return {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {timeout:.2f} seconds"}
        if not line:
            self.process.kill()
            return {"errorType": "Runtime.ExitError", "errorMessage": "worker exited"}
        result: dict[str, Any] = json.loads(line)
        return result

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)


class LambdaRunner:
    """Invokes functions by their moto model: unpacked code cached by hash, one idle worker pool per version."""

    def __init__(self, *, base_env: Mapping[str, str], overrides: EnvOverrides, log: IO[str] | None = None) -> None:
        self._base_env = dict(base_env)
        self._overrides = overrides
        self._log = log
        self._root = Path(tempfile.mkdtemp(prefix="local-lambda-"))
        self._idle: dict[str, list[_Worker]] = {}
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def invoke(self, function: Any, payload: bytes) -> tuple[bytes, str | None]:
        """Run ``function`` (a moto ``LambdaFunction``) on ``payload``: (response payload, error type or None)."""
        code_hash = hashlib.sha256(function.code_bytes).hexdigest()
        environment = dict(function.environment_vars or {})
        env = {**os.environ, **self._base_env, **environment, **self._overrides(environment)}
        env.update(
            {
                "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "LOCAL_FUNCTION_ARN": function.function_arn,
                "_HANDLER": function.handler,
            }
        )
        key = hashlib.sha256(f"{function.function_arn}|{code_hash}|{sorted(env.items())}".encode()).hexdigest()
        worker = self._take(key, code_hash, function, env)
        answer = worker.call(payload or b"{}", float(function.timeout))
        with self._lock:
            if worker.alive:
                self._idle.setdefault(key, []).append(worker)
        if "result" in answer:
            return json.dumps(answer["result"]).encode(), None
        return json.dumps(answer).encode(), str(answer.get("errorType", "Unhandled"))

    def _take(self, key: str, code_hash: str, function: Any, env: dict[str, str]) -> _Worker:
        with self._lock:
            pool = self._idle.get(key, [])
            while pool:
                worker = pool.pop()
                if worker.alive:
                    return worker
            code_dir = self._unpack(code_hash, function.code_bytes)
            command = [sys.executable, str(WORKER), str(code_dir), function.handler, str(function.timeout)]
            worker = _Worker(command, env, str(code_dir), self._log)
            self._all.append(worker)
            return worker

    def _unpack(self, code_hash: str, code: bytes) -> Path:
        target = self._root / code_hash
        if not target.exists():
            staging = self._root / f"{code_hash}.partial"
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                archive.extractall(staging)
            staging.rename(target)
        return target

    def stop(self) -> None:
        with self._lock:
            for worker in self._all:
                if worker.alive:
                    worker.stop()
            self._all.clear()
            self._idle.clear()
