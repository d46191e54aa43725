"""moto as local AWS for local mode, configured so the synthesized stacks really run.

What it changes in moto (pinned in requirements-dev.txt for that reason), all before anything is deployed:
- Lambda without Docker, with ``invoke`` running the function's real bundled code (``LambdaRunner``);
- Step Functions executing state machines, including those CloudFormation creates;
- ``MOTO_PORT`` set, because the Step Functions interpreter calls Lambda, DynamoDB, SNS and SQS back through it.
- SSM answering the public ``/aws/service/powertools/python/...`` parameters with a stand-in Powertools layer
  (``local_mode/powertools_layer.py``), so Collect's and Refund's layer resolves as it does on AWS.
- DynamoDB streams keeping their records for a poller instead of invoking mapped functions themselves
  (``keep_stream_records_for_pollers``; local mode's ``StreamPoller`` delivers them as Lambda does).
Local-only settings are injected into functions here and never appear in a template: ``PAYMENT_API_URL`` (where a
function has it) points at the local API front, ``STRIPE_API_BASE`` (for the function holding the Stripe key's
parameter name) at localstripe.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

import moto.stepfunctions.models
from moto.apigateway import models as apigateway_models
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.config import default_user_config
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import StreamRecord, StreamShard
from moto.dynamodbstreams.models import DynamoDBStreamsBackend
from moto.kms import models as kms_models
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.ssm import models as ssm_models
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_mode import local_aws
from local_mode.lambda_runner import LambdaRunner
from local_mode.powertools_layer import serve_powertools_layer_parameters


def local_overrides(*, payment_api_url: str | None, stripe_api_base: str | None) -> Any:
    def overrides(environment: Mapping[str, str]) -> dict[str, str]:
        injected: dict[str, str] = {"POWERTOOLS_TRACE_DISABLED": "true"}  # no X-Ray daemon locally
        if payment_api_url and "PAYMENT_API_URL" in environment:
            injected["PAYMENT_API_URL"] = payment_api_url
        if stripe_api_base and "STRIPE_SECRET_KEY_PARAMETER" in environment:
            injected["STRIPE_API_BASE"] = stripe_api_base
        return injected

    return overrides


def configure_moto(runner: LambdaRunner, port: int) -> None:
    """Patch moto in this process; must run before the server starts and before anything is deployed."""
    os.environ["MOTO_PORT"] = str(port)
    default_user_config["lambda"] = {"use_docker": False}
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    # CloudFormation creates state machines through this name; point it at the backend that executes them.
    moto.stepfunctions.models.stepfunctions_backends = stepfunctions_parser_backends  # type: ignore[assignment]

    def invoke(  # noqa: PLR0917 - moto's own signature
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        function = self.get_function(function_name, qualifier)
        payload = body.encode() if isinstance(body, str) else (body or b"{}")
        result, error_type = runner.invoke(function, payload)
        if error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(result))
        return result

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign]
    _patch_cloudformation_properties(apigateway_models.Method, _with_mock_integration_defaults)
    _patch_cloudformation_properties(ssm_models.Parameter, _with_tag_list)
    _patch_cloudformation_properties(kms_models.Key, _with_kms_tag_keys)
    serve_powertools_layer_parameters()
    keep_stream_records_for_pollers()


# AWS lets a shard iterator expire after 15 minutes; moto keeps every one it ever handed out.
KEPT_SHARD_ITERATORS = 1000


def keep_stream_records_for_pollers() -> None:
    """Make moto's DynamoDB streams behave as streams: records wait in the shard until a reader asks for them.

    moto 5.2.5's ``StreamShard.add`` invokes every function mapped to the stream itself, synchronously inside the
    write that made the record (the writer's request waits for it, the function's answer is ignored, and an item
    with a binary attribute makes the write fail), then empties the shard, so sequence numbers (the shard's length
    plus a base) repeat. Here ``add`` only appends the record; ``StreamPoller`` reads the shard through the
    DynamoDB Streams API as Lambda's pollers do. ``GetRecords`` also stops moto from keeping every shard iterator:
    a poller asks for a new one several times a second.
    """

    def add(self: StreamShard, old: Item | None, new: Item | None) -> None:
        view_type = (self.table.stream_specification or {})["StreamViewType"]
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        # Never cleared, so the next sequence number is always the shard's length plus its base.
        sequence_number = len(self.items) + self.starting_sequence_number
        self.items.append(StreamRecord(self.table, view_type, event_name, old, new, sequence_number))

    original_get_records = DynamoDBStreamsBackend.get_records

    def get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
        answer = original_get_records(self, iterator_arn, limit)
        # Oldest first (dicts keep insertion order); a reader of a dropped one gets an error, as after an expiry.
        for stale in list(self.shard_iterators)[:-KEPT_SHARD_ITERATORS]:
            del self.shard_iterators[stale]
        return answer

    StreamShard.add = add  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]


def _patch_cloudformation_properties(model: Any, transform: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Let ``model``'s CloudFormation handler see ``transform(Properties)``: for templates moto misreads."""
    original = model.create_from_cloudformation_json.__func__

    def create(
        cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        patched = {**cloudformation_json, "Properties": transform(dict(cloudformation_json["Properties"]))}
        return original(cls, resource_name, patched, account_id, region_name, **kwargs)

    model.create_from_cloudformation_json = classmethod(create)


def _with_mock_integration_defaults(properties: dict[str, Any]) -> dict[str, Any]:
    # A MOCK integration (the CORS preflight) has no IntegrationHttpMethod or Uri; moto requires both.
    integration = {"IntegrationHttpMethod": properties["HttpMethod"], "Uri": "", **properties.get("Integration", {})}
    return {**properties, "Integration": integration}


def _with_kms_tag_keys(properties: dict[str, Any]) -> dict[str, Any]:
    # AWS::KMS::Key takes Tags as [{Key, Value}]; moto's KMS model reads the API's [{TagKey, TagValue}].
    tags = properties.get("Tags")
    if isinstance(tags, list):
        properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in tags if "Key" in tag]
    return properties


def _with_tag_list(properties: dict[str, Any]) -> dict[str, Any]:
    # AWS::SSM::Parameter takes Tags as a map; moto expects the API's list of {Key, Value}.
    tags = properties.get("Tags")
    if isinstance(tags, dict):
        properties["Tags"] = [{"Key": key, "Value": value} for key, value in tags.items()]
    return properties


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--payment-api-url")
    parser.add_argument("--stripe-api-base")
    args = parser.parse_args(argv)
    endpoint = f"http://127.0.0.1:{args.port}"
    base_env = {
        **local_aws.CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": local_aws.REGION,
        "AWS_DEFAULT_REGION": local_aws.REGION,
    }
    runner = LambdaRunner(
        base_env=base_env,
        overrides=local_overrides(payment_api_url=args.payment_api_url, stripe_api_base=args.stripe_api_base),
        log=sys.stderr,
    )
    configure_moto(runner, args.port)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(f"moto listening on {endpoint}", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    runner.stop()
    server.stop()


if __name__ == "__main__":
    main()
