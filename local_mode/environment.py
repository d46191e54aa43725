"""Local mode: the synthesized stacks running on this machine — localstripe as Stripe, moto as AWS, a local API front.

``LocalEnvironment.start()`` synthesizes nothing itself: it takes a cloud assembly (see ``synthesize``), starts
localstripe and moto (each a child process bound to 127.0.0.1), deploys every stack of the assembly into moto,
seeds a Stripe test key, and serves the payment API's routes (from the template) on the API port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local_mode import local_aws
from local_mode.api_front import LocalApiFront
from local_mode.api_routes import api_routes
from local_mode.deploy import AssemblyDeployer, DeployedStack
from local_mode.scheduler import LocalScheduler, stack_schedules

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_STRIPE_KEY = "sk_test_local_mode"
# Context for a local synth: moto has no AWS::ApiGateway::Account, and retries sleep in real time there. Holds are
# swept as soon as the configuration allows (5 minutes with 1 s retries: the workflow's worst case to reach Collect),
# and the sweeper's schedule is every minute (LOCAL_SCHEDULE_SECONDS fires it more often still).
LOCAL_CONTEXT = {
    "payment:apiGatewayCloudWatchRole": "false",
    "payment:workflowRetryIntervalSeconds": "1",
    "payment:workflowRetryMaxDelaySeconds": "1",
    "payment:abandonedHoldMinutes": "5",
    "payment:holdSweepMinutes": "1",
}
API_HANDLER = "lambdas.payment_api.handler.handler"


class PortInUseError(RuntimeError):
    """A port local mode needs is taken; the message names it and the variable that moves it."""


@dataclass(frozen=True)
class LocalPorts:
    aws: int = 5000
    stripe: int = 8420
    api: int = 3000

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LocalPorts:
        return cls(
            aws=int(environ.get("AWS_PORT", cls.aws)),
            stripe=int(environ.get("STRIPE_PORT", cls.stripe)),
            api=int(environ.get("API_PORT", cls.api)),
        )


def synthesize(*, env_name: str, outdir: Path, extra_context: Mapping[str, str] | None = None) -> Path:
    """``cdk synth`` of the whole app for ``env_name`` with local-mode context (plus ``extra_context``)."""
    context: list[str] = ["--context", f"env={env_name}"]
    for key, value in {**LOCAL_CONTEXT, **(extra_context or {})}.items():
        context += ["--context", f"{key}={value}"]
    command = [
        str(PROJECT_ROOT / "node_modules" / ".bin" / "cdk"),
        "synth",
        "--quiet",
        "--output",
        str(outdir),
        *context,
    ]
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "true",
        # Local mode's region and account, whatever the shell is configured for.
        "AWS_REGION": local_aws.REGION,
        "AWS_DEFAULT_REGION": local_aws.REGION,
        "CDK_DEFAULT_REGION": local_aws.REGION,
        "CDK_DEFAULT_ACCOUNT": local_aws.ACCOUNT_ID,
    }
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"cdk synth failed:\n{completed.stdout}\n{completed.stderr}")
    return outdir


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_free(port: int, what: str, variable: str) -> None:
    with socket.socket() as probe:
        # As the servers do: connections still in TIME_WAIT must not count as "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise PortInUseError(
                f"port {port} ({what}) is already in use on 127.0.0.1: stop what holds it, or choose another with "
                f"{variable}=<port>"
            ) from None


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}; see its log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f} s")


@dataclass
class LocalEnvironment:
    """The running local mode; ``stop()`` ends every process it started."""

    assembly: Path
    env_name: str
    ports: LocalPorts = field(default_factory=LocalPorts)
    log_dir: Path = field(default_factory=lambda: PROJECT_ROOT / ".local" / "logs")
    stacks: dict[str, DeployedStack] = field(default_factory=dict)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)
    _front: LocalApiFront | None = None
    # The Stripe test key local mode puts in SSM (tests use a canary value to prove it never leaks).
    stripe_key: str = LOCAL_STRIPE_KEY
    # Fault injection (tests, demos): sees each API proxy event first; a returned response replaces the handler's.
    api_interceptor: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    # Fires every schedule this often instead of at its template's rate (None: the template's rate).
    schedule_seconds: float | None = None
    _scheduler: LocalScheduler | None = None

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.aws}"

    @property
    def stripe_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.stripe}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}/Prod/"

    def client(self, service: str) -> Any:
        return local_aws.client(service, self.aws_endpoint)

    def start(self) -> LocalEnvironment:
        _check_free(self.ports.aws, "local AWS (moto)", "AWS_PORT")
        _check_free(self.ports.stripe, "localstripe", "STRIPE_PORT")
        _check_free(self.ports.api, "payment API", "API_PORT")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._spawn("localstripe", ["-m", "local_mode.localstripe_server", "--port", str(self.ports.stripe)])
            self._spawn(
                "moto",
                [
                    "-m",
                    "local_mode.moto_server",
                    "--port",
                    str(self.ports.aws),
                    "--payment-api-url",
                    self.api_url,
                    "--stripe-api-base",
                    self.stripe_url,
                ],
            )
            _wait_for_port(self.ports.stripe, self._processes[0], "localstripe")
            _wait_for_port(self.ports.aws, self._processes[1], "moto")
            self.stacks = AssemblyDeployer(endpoint_url=self.aws_endpoint).deploy_all(self.assembly)
            self.client("ssm").put_parameter(
                Name=f"/{self.env_name}/service/payment/stripe/secretKey",
                Value=self.stripe_key,
                Type="SecureString",
                Overwrite=True,
            )
            self._start_front()
            self._start_scheduler()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, arguments: list[str]) -> None:
        log = (self.log_dir / f"{name}.log").open("wb")
        self._logs.append(log)
        self._processes.append(
            subprocess.Popen(
                [sys.executable, *arguments],
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **local_aws.CREDENTIALS, "AWS_REGION": local_aws.REGION},
            )
        )

    def _payment_stack(self) -> str:
        return f"Payment-{self.env_name}"

    def _start_front(self) -> None:
        template = json.loads((self.assembly / f"{self._payment_stack()}.template.json").read_text())
        lambda_client = self.client("lambda")
        function_name = self.api_function_name()

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            if self.api_interceptor is not None:
                injected = self.api_interceptor(event)
                if injected is not None:
                    return injected
            answer = lambda_client.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
            payload = json.loads(answer["Payload"].read())
            if answer.get("FunctionError"):
                # What API Gateway answers when the integration fails: a 502 without internals.
                return {
                    "statusCode": 502,
                    "body": json.dumps({"message": "Internal server error", "code": "gateway_error"}),
                }
            result: dict[str, Any] = payload
            return result

        self._front = LocalApiFront(
            routes=api_routes(template), handler=invoke, secret_for=local_aws.secret_for, port=self.ports.api
        ).start()

    def _start_scheduler(self) -> None:
        cloudformation = self.client("cloudformation")
        schedules = []
        for stack in self.stacks:
            resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
            # Resources moto passes over (the schedules themselves among them) have no physical id.
            physical_ids = {
                resource["LogicalResourceId"]: resource["PhysicalResourceId"]
                for resource in resources
                if resource.get("PhysicalResourceId")
            }
            schedules += stack_schedules(self.assembly, stack, physical_ids=physical_ids)
        self._scheduler = LocalScheduler(
            schedules, lambda_client=self.client("lambda"), period_seconds=self.schedule_seconds
        ).start()

    def api_function_name(self) -> str:
        """The deployed function behind the API (the one whose handler is the API's)."""
        for function in self.client("lambda").list_functions()["Functions"]:
            if function.get("Handler") == API_HANDLER:
                return str(function["FunctionName"])
        raise RuntimeError("no payment API function was deployed")

    def output(self, stack: str, key: str) -> str:
        return self.stacks[stack].outputs[key]

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.stop()
            self._scheduler = None
        if self._front is not None:
            self._front.stop()
            self._front = None
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self._processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()
