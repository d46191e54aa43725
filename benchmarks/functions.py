"""The three functions as Lambda runs them: handler module, memory, Lambda-like environment, old design's imports."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from payment_stack.names import stripe_secret_key_parameter_name, stripe_webhook_secret_parameter_name

PROJECT_ROOT = Path(__file__).resolve().parent.parent
REGION = "eu-west-1"
ENV_NAME = "bench"
STRIPE_KEY_PARAMETER = stripe_secret_key_parameter_name(ENV_NAME)
STRIPE_TEST_KEY = "sk_test_bench_not_a_real_key"
IDEMPOTENCY_TABLE = f"payment-{ENV_NAME}-idempotency"
# The payment ledger (payment_stack/payment/ledger.py: CloudFormation names the table, the index is fixed).
LEDGER_TABLE = f"payment-{ENV_NAME}-ledger"
LEDGER_HOLDS_INDEX = "holds-by-age"
# What the stack sets (payment_stack/payment/api.py and cdk.json's defaults); never contacted during init.
API_ENVIRONMENT = {
    "STRIPE_SECRET_KEY_PARAMETER": STRIPE_KEY_PARAMETER,
    "STRIPE_WEBHOOK_SECRET_PARAMETER": stripe_webhook_secret_parameter_name(ENV_NAME),
    "CORS_ALLOWED_ORIGINS": "http://localhost:8080,http://127.0.0.1:8080",
    "MAX_CHARGE_AMOUNTS": json.dumps({"eur": 1000000, "gbp": 1000000, "jpy": 100000000, "usd": 1000000}),
    "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
    "LEDGER_TABLE_NAME": LEDGER_TABLE,
    "LEDGER_HOLDS_INDEX_NAME": LEDGER_HOLDS_INDEX,
}
DEPLOYED_API_URL = f"https://abcdef1234.execute-api.{REGION}.amazonaws.com/Prod/"
TASK_ENVIRONMENT = {"PAYMENT_API_URL": DEPLOYED_API_URL}

# The old design's import sets (issue 8), with the objects its modules created at import time.
OLD_TASK_IMPORTS = """
import aws_lambda_powertools
from aws_lambda_powertools import Logger, Metrics, Tracer
import requests
logger = Logger()
metrics = Metrics()
tracer = Tracer()
"""
OLD_API_IMPORTS = """
import stripe
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities import parameters
import boto3
ssm = boto3.client("ssm")
logger = Logger()
metrics = Metrics()
tracer = Tracer()
app = APIGatewayRestResolver()
"""


# What the old design bundled beyond the runtime: Collect/Refund had Powertools with Tracer and requests. The API's
# old set is its own requirements (stripe brings requests).
OLD_TASK_PACKAGES = (
    "aws-lambda-powertools",
    "aws-xray-sdk",
    "wrapt",
    "jmespath",
    "typing_extensions",
    "requests",
    "certifi",
    "charset-normalizer",
    "idna",
    "urllib3",
)


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the key in results.json and the folder under lambdas/
    memory_mb: int
    old_design_imports: str
    old_design_packages: tuple[str, ...] | None  # None: the function's own requirements
    business_environment: Mapping[str, str]
    # What the harness points at its local servers when it invokes the handler (never in a template).
    local_url_variable: str

    @property
    def module(self) -> str:
        return f"lambdas.{self.name}.handler"


FUNCTIONS = (
    FunctionSpec("payment_api", 512, OLD_API_IMPORTS, None, API_ENVIRONMENT, "STRIPE_API_BASE"),
    FunctionSpec(
        "collect", 256, OLD_TASK_IMPORTS, OLD_TASK_PACKAGES, {"PAYMENT_API_URL": DEPLOYED_API_URL}, "PAYMENT_API_URL"
    ),
    FunctionSpec(
        "refund", 256, OLD_TASK_IMPORTS, OLD_TASK_PACKAGES, {"PAYMENT_API_URL": DEPLOYED_API_URL}, "PAYMENT_API_URL"
    ),
)
FUNCTIONS_BY_NAME = {spec.name: spec for spec in FUNCTIONS}


def lambda_environment(spec: FunctionSpec, *, python_path: str, task_root: Path, **overrides: str) -> dict[str, str]:
    """What the Lambda Python runtime and the stack give the function, with fake credentials and nothing else.

    ``LAMBDA_TASK_ROOT`` is what makes Powertools Tracer (and the X-Ray SDK's Lambda context) switch on, as in
    Lambda. No ``_X_AMZN_TRACE_ID``: the invocation harness sets an unsampled one per invocation, as Lambda does,
    so nothing is sent. The caller's environment is not inherited (no profile, no config files, no real key).
    ``python_path`` is the function's code and dependencies (``LambdaSite.python_path``), ``task_root`` its
    ``/var/task`` (``LambdaSite.task_root``).
    """
    function_name = f"payment-{spec.name.replace('_', '-')}-{ENV_NAME}"
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": python_path,
        "LAMBDA_TASK_ROOT": str(task_root),
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIABENCHMARKFAKEKEY",
        "AWS_SECRET_ACCESS_KEY": "benchmark-fake-secret-access-key",
        "AWS_SESSION_TOKEN": "benchmark-fake-session-token",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "POWERTOOLS_SERVICE_NAME": "payment",
        "POWERTOOLS_METRICS_NAMESPACE": "ServerlessAirline",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        **spec.business_environment,
        **overrides,
    }


def python() -> str:
    """The interpreter that runs the benchmark (the project's venv), for the local servers."""
    return sys.executable
