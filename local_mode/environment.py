"""Local mode: the synthesized stacks running on this machine — localstripe as Stripe, moto as AWS, a local API front.

``LocalEnvironment.start()`` synthesizes nothing itself: it takes a cloud assembly (see ``synthesize``), starts
localstripe and moto (each a child process bound to 127.0.0.1), deploys every stack of the assembly into moto,
seeds a Stripe test key and a webhook signing secret (at the parameter names the functions read), serves the
payment API's routes (from the template) on the API port, and runs what moto does not: the stacks' schedules
(``LocalScheduler``), their DynamoDB stream mappings (``StreamPoller``), localstripe's webhook endpoint pointed at the
API, and a tap queue on the payment event bus.
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

import requests

from local_mode import local_aws
from local_mode.api_front import LocalApiFront
from local_mode.api_routes import api_routes
from local_mode.bus_tap import create_bus_tap, receive_bus_events
from local_mode.deploy import AssemblyDeployer, DeployedStack
from local_mode.scheduler import LocalScheduler, stack_schedules
from local_mode.stream_poller import StreamPoller, destination_sender, lambda_invoker, stack_stream_mappings
from local_mode.stripe_events import EVENT_TYPES
from payment_stack.names import API_ROUTES, api_route_url_parameter_name, api_url_parameter_name, payment_stack_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCAL_STRIPE_KEY = "sk_test_local_mode"
# The secret localstripe signs its webhooks with and ``make local-event`` signs hand-made events with.
LOCAL_WEBHOOK_SECRET = "whsec_local_mode"  # noqa: S105 - a fixed local value, like the test key above
# localstripe's id for the one webhook endpoint local mode registers.
LOCAL_WEBHOOK_ID = "local"
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
# The deployed functions' environments name the parameters they read and the bus they publish to; local mode puts
# its secrets and taps the bus at exactly the names the deployed code reads.
STRIPE_KEY_PARAMETER_VARIABLE = "STRIPE_SECRET_KEY_PARAMETER"
WEBHOOK_SECRET_PARAMETER_VARIABLE = "STRIPE_WEBHOOK_SECRET_PARAMETER"  # noqa: S105 - a variable name
EVENT_BUS_VARIABLE = "PAYMENT_EVENT_BUS_NAME"


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


def register_webhook(stripe_url: str, *, url: str, secret: str, events: tuple[str, ...] = EVENT_TYPES) -> None:
    """Point localstripe's webhook ``LOCAL_WEBHOOK_ID`` at ``url``, signed with ``secret``, for ``events`` only (as
    ``make stripe-webhook`` registers the endpoint at Stripe). localstripe keeps it in memory: register again after a
    restart. ``requests.HTTPError`` when localstripe refuses it."""
    response = requests.post(
        f"{stripe_url}/_config/webhooks/{LOCAL_WEBHOOK_ID}",
        data={"url": url, "secret": secret, "events[]": list(events)},
        timeout=10,
    )
    response.raise_for_status()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_port_free(port: int, what: str, variable: str) -> None:
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
    # The webhook signing secret local mode puts in SSM and gives localstripe.
    webhook_secret: str = LOCAL_WEBHOOK_SECRET
    # Fault injection (tests, demos): sees each API proxy event first; a returned response replaces the handler's.
    api_interceptor: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    # Fires every schedule this often instead of at its template's rate (None: the template's rate).
    schedule_seconds: float | None = None
    _scheduler: LocalScheduler | None = None
    _stream_poller: StreamPoller | None = None
    # The tap on the payment event bus (None until started, or when no deployed function publishes to a bus).
    bus_tap_queue_url: str | None = None

    @property
    def aws_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.aws}"

    @property
    def stripe_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.stripe}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}/Prod/"

    @property
    def webhook_url(self) -> str:
        """Where localstripe (and ``make local-event``) deliver Stripe events: the API's public webhook route."""
        return f"{self.api_url}webhooks/stripe"

    @property
    def stream_poller(self) -> StreamPoller:
        """The running stream poller (its ``invocations``, ``retries``, ``discarded_batches`` per mapping)."""
        if self._stream_poller is None:
            raise RuntimeError("local mode is not running")
        return self._stream_poller

    def client(self, service: str) -> Any:
        return local_aws.client(service, self.aws_endpoint)

    def start(self) -> LocalEnvironment:
        check_port_free(self.ports.aws, "local AWS (moto)", "AWS_PORT")
        check_port_free(self.ports.stripe, "localstripe", "STRIPE_PORT")
        check_port_free(self.ports.api, "payment API", "API_PORT")
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
            self._put_secrets()
            self._put_api_urls()
            self._start_bus_tap()  # before anything can publish: the tap sees every event
            self._start_front()
            self._start_stream_poller()
            register_webhook(self.stripe_url, url=self.webhook_url, secret=self.webhook_secret)
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

    def function_settings(self, variable: str) -> list[str]:
        """The distinct values of ``variable`` in the deployed functions' environments, sorted."""
        values = set()
        for page in self.client("lambda").get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                value = function.get("Environment", {}).get("Variables", {}).get(variable)
                if value:
                    values.add(str(value))
        return sorted(values)

    def _put_secrets(self) -> None:
        ssm = self.client("ssm")
        for variable, value in (
            (STRIPE_KEY_PARAMETER_VARIABLE, self.stripe_key),
            (WEBHOOK_SECRET_PARAMETER_VARIABLE, self.webhook_secret),
        ):
            for name in self.function_settings(variable):
                ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    def _put_api_urls(self) -> None:
        """The API's URL parameters hold the local front's real URLs (moto's deploy makes one up for a REST API)."""
        ssm = self.client("ssm")
        urls = {api_url_parameter_name(self.env_name): self.api_url}
        urls |= {api_route_url_parameter_name(self.env_name, route): f"{self.api_url}{route}" for route in API_ROUTES}
        for name, url in urls.items():
            ssm.put_parameter(Name=name, Value=url, Type="String", Overwrite=True)

    def _start_bus_tap(self) -> None:
        for bus_name in self.function_settings(EVENT_BUS_VARIABLE):
            queue_url = create_bus_tap(
                events=self.client("events"), sqs=self.client("sqs"), bus_name=bus_name, env_name=self.env_name
            )
            # One queue (its name is the environment's) taps every bus the functions publish to.
            self.bus_tap_queue_url = self.bus_tap_queue_url or queue_url

    def _payment_stack(self) -> str:
        return payment_stack_name(self.env_name)

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

    def _physical_ids(self, stack: str) -> dict[str, str]:
        resources = self.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
        # Resources moto passes over (the schedules among them) have no physical id.
        return {
            resource["LogicalResourceId"]: resource["PhysicalResourceId"]
            for resource in resources
            if resource.get("PhysicalResourceId")
        }

    def _start_scheduler(self) -> None:
        schedules = []
        for stack in self.stacks:
            schedules += stack_schedules(self.assembly, stack, physical_ids=self._physical_ids(stack))
        self._scheduler = LocalScheduler(
            schedules, lambda_client=self.client("lambda"), period_seconds=self.schedule_seconds
        ).start()

    def _start_stream_poller(self) -> None:
        lambda_client = self.client("lambda")
        mappings = []
        for stack in self.stacks:
            mappings += stack_stream_mappings(
                self.assembly, stack, physical_ids=self._physical_ids(stack), lambda_client=lambda_client
            )
        self._stream_poller = StreamPoller(
            mappings,
            streams_client=self.client("dynamodbstreams"),
            invoke=lambda_invoker(lambda_client),
            send_to_destination=destination_sender(self.client),
        ).start()

    def bus_events(self, wait_seconds: float = 5.0, *, at_least: int = 1) -> list[dict[str, Any]]:
        """Receive and delete what the service put on its event bus since the last call (EventBridge envelopes:
        ``detail-type``, ``source``, ``detail``...), waiting up to ``wait_seconds`` for ``at_least`` of them."""
        if self.bus_tap_queue_url is None:
            raise RuntimeError("local mode is not running, or no stack deploys the payment event bus")
        return receive_bus_events(
            sqs=self.client("sqs"), queue_url=self.bus_tap_queue_url, wait_seconds=wait_seconds, at_least=at_least
        )

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
        if self._stream_poller is not None:
            self._stream_poller.stop()
            self._stream_poller = None
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
