"""Local mode's stream poller against moto's DynamoDB Streams: Lambda's batches, retries and on-failure destination.

moto is served in this process with local mode's stream patch (records wait for a reader, nothing is invoked inside
the write); the mapped function is a fake invoker, so each test sees exactly what Lambda would have sent it.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.awslambda.models import LambdaFunction
from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams.models import DynamoDBStreamsBackend

from local_mode.moto_server import keep_stream_records_for_pollers
from local_mode.stream_poller import (
    StreamMapping,
    StreamPoller,
    destination_sender,
    first_failed_index,
    mapping_from_configuration,
    stack_stream_mappings,
)
from tests.support.local_moto import clients, running_moto, wait_until

Answer = tuple[Any, str | None]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with running_moto() as url:
        yield url


@pytest.fixture
def native_invocations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every invocation moto makes itself (none should happen: local mode's patch is applied, undone afterwards)."""
    calls: list[Any] = []

    def invoke(_self: LambdaFunction, body: Any, *_args: Any) -> bytes:
        calls.append(body)
        return b"{}"

    monkeypatch.setattr(LambdaFunction, "invoke", invoke)
    monkeypatch.setattr(StreamShard, "add", StreamShard.add)
    monkeypatch.setattr(DynamoDBStreamsBackend, "get_records", DynamoDBStreamsBackend.get_records)
    keep_stream_records_for_pollers()
    return calls


class FakeFunction:
    """The mapped function: records each event it gets and answers with ``answer(call_number, records)``."""

    def __init__(self, answer: Callable[[int, list[dict[str, Any]]], Answer] = lambda _n, _r: (None, None)) -> None:
        self._answer = answer
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, function: str, payload: bytes) -> Answer:
        event = json.loads(payload)
        with self._lock:
            self.events.append(event)
            number = len(self.events)
        return self._answer(number, event["Records"])

    def sequence_numbers(self, call: int) -> list[str]:
        return [record["dynamodb"]["SequenceNumber"] for record in self.events[call]["Records"]]

    def keys(self, call: int) -> list[str]:
        return [record["dynamodb"]["Keys"]["pk"]["S"] for record in self.events[call]["Records"]]


def _function_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def mapped_table(endpoint: str, **mapping: Any) -> tuple[str, StreamMapping]:
    """A NEW_IMAGE table, a function and a Lambda mapping between them; (table name, the mapping as the poller
    reads it back from Lambda)."""
    client = clients(endpoint)
    name = f"ledger-{uuid.uuid4().hex[:8]}"
    table = client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    role = client("iam").create_role(RoleName=f"role-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_client = client("lambda")
    lambda_client.create_function(
        FunctionName=f"publisher-{name}",
        Runtime="python3.13",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": _function_zip()},
    )
    created = lambda_client.create_event_source_mapping(
        FunctionName=f"publisher-{name}",
        EventSourceArn=table["TableDescription"]["LatestStreamArn"],
        StartingPosition="TRIM_HORIZON",
        **mapping,
    )
    found = mapping_from_configuration("Publisher", lambda_client.get_event_source_mapping(UUID=created["UUID"]))
    assert found is not None
    return name, found


def put(endpoint: str, table: str, *keys: str, **attributes: dict[str, Any]) -> None:
    for key in keys:
        clients(endpoint)("dynamodb").put_item(TableName=table, Item={"pk": {"S": key}, **attributes})


@pytest.fixture
def poll(endpoint: str) -> Iterator[Callable[..., StreamPoller]]:
    started: list[StreamPoller] = []

    def start(mapping: StreamMapping, function: FakeFunction) -> StreamPoller:
        poller = StreamPoller(
            [mapping],
            streams_client=clients(endpoint)("dynamodbstreams"),
            invoke=function,
            send_to_destination=destination_sender(clients(endpoint)),
            poll_seconds=0.05,
            retry_delay_seconds=0.05,
        ).start()
        started.append(poller)
        return poller

    yield start
    for poller in started:
        poller.stop()


def test_records_reach_the_function_in_lambdas_batches_and_moto_invokes_nothing_itself(
    endpoint: str, native_invocations: list[Any], poll: Callable[..., StreamPoller]
) -> None:
    table, mapping = mapped_table(endpoint, BatchSize=2)
    # Given three writes (one with a binary attribute, which moto's own delivery cannot even serialise)
    put(endpoint, table, "a", blob={"B": b"\x00\x01"})
    put(endpoint, table, "b", "a")
    function = FakeFunction()
    # When the poller runs
    poller = poll(mapping, function)
    wait_until(lambda: len(function.events) == 2, what="two batches")
    # Then Lambda's batches arrive, in stream order, BatchSize at most, shaped as Lambda sends them
    assert [function.keys(0), function.keys(1)] == [["a", "b"], ["a"]]
    first = function.events[0]["Records"][0]
    assert set(first) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert (first["eventSource"], first["eventVersion"], first["awsRegion"]) == ("aws:dynamodb", "1.0", "us-east-1")
    assert first["eventSourceARN"] == mapping.stream_arn
    assert set(first["dynamodb"]) == {
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
        "ApproximateCreationDateTime",
    }
    assert first["dynamodb"]["NewImage"]["blob"] == {"B": base64.b64encode(b"\x00\x01").decode()}
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], int)
    assert [r["eventName"] for e in function.events for r in e["Records"]] == ["INSERT", "INSERT", "MODIFY"]
    numbers = [int(n) for call in (0, 1) for n in function.sequence_numbers(call)]
    assert numbers == sorted(set(numbers))
    assert len(numbers) == 3
    assert (poller.invocations["Publisher"], poller.retries["Publisher"]) == (2, 0)
    # And moto itself invoked nothing, inside the writes or later
    assert native_invocations == []


def test_a_reported_item_failure_is_retried_from_that_record_on(
    endpoint: str, native_invocations: list[Any], poll: Callable[..., StreamPoller]
) -> None:
    table, mapping = mapped_table(endpoint, BatchSize=3, FunctionResponseTypes=["ReportBatchItemFailures"])
    put(endpoint, table, "a", "b", "c")

    def fail_b_once(number: int, records: list[dict[str, Any]]) -> Answer:
        if number == 1:
            return {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}, None
        return {"batchItemFailures": []}, None

    function = FakeFunction(fail_b_once)
    poller = poll(mapping, function)
    wait_until(lambda: len(function.events) == 2, what="the retry")
    # The retry starts at the failed record, the records after it included; the one before it is done
    assert function.keys(0) == ["a", "b", "c"]
    assert function.keys(1) == ["b", "c"]
    assert function.sequence_numbers(1) == function.sequence_numbers(0)[1:]
    put(endpoint, table, "d")
    wait_until(lambda: len(function.events) == 3, what="the next record")
    assert function.keys(2) == ["d"]
    assert (poller.invocations["Publisher"], poller.retries["Publisher"]) == (3, 1)


def test_a_function_error_retries_the_whole_batch(
    endpoint: str, native_invocations: list[Any], poll: Callable[..., StreamPoller]
) -> None:
    table, mapping = mapped_table(endpoint, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
    put(endpoint, table, "a", "b")
    function = FakeFunction(
        lambda number, _records: ({"errorType": "Boom"}, "Unhandled") if number == 1 else (None, None)
    )
    poller = poll(mapping, function)
    wait_until(lambda: len(function.events) == 2, what="the retry")
    assert function.keys(0) == function.keys(1) == ["a", "b"]
    assert function.sequence_numbers(0) == function.sequence_numbers(1)
    assert poller.retries["Publisher"] == 1


def test_exhausted_retries_send_the_batch_to_the_on_failure_queue_and_the_stream_moves_on(
    endpoint: str, native_invocations: list[Any], poll: Callable[..., StreamPoller]
) -> None:
    sqs = clients(endpoint)("sqs")
    dlq_url = sqs.create_queue(QueueName=f"dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    table, mapping = mapped_table(
        endpoint, BatchSize=10, MaximumRetryAttempts=1, DestinationConfig={"OnFailure": {"Destination": dlq_arn}}
    )
    assert (mapping.maximum_retry_attempts, mapping.on_failure_destination) == (1, dlq_arn)
    put(endpoint, table, "poison")

    def fail_on_poison(_number: int, records: list[dict[str, Any]]) -> Answer:
        poisoned = any(record["dynamodb"]["Keys"]["pk"]["S"] == "poison" for record in records)
        return ({"errorType": "Boom"}, "Unhandled") if poisoned else (None, None)

    function = FakeFunction(fail_on_poison)
    poller = poll(mapping, function)
    wait_until(lambda: poller.discarded_batches["Publisher"] == 1, what="the discard")
    # One try and one retry, then the batch's description goes to the queue
    assert poller.invocations["Publisher"] == 2
    message = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)["Messages"][0]
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    info = record["DDBStreamBatchInfo"]
    assert (info["streamArn"], info["batchSize"]) == (mapping.stream_arn, 1)
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == function.sequence_numbers(0)[0]
    # And later records are delivered
    put(endpoint, table, "next")
    wait_until(lambda: function.keys(len(function.events) - 1) == ["next"], what="the next record")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (None, None),
        ({}, None),
        ({"batchItemFailures": None}, None),
        ({"batchItemFailures": []}, None),
        ({"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}, 1),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, 0),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, 0),
        ({"batchItemFailures": [{"id": "2"}]}, 0),
        ({"batchItemFailures": [{"itemIdentifier": "9"}]}, 0),
        ({"batchItemFailures": "2"}, 0),
        ("ok", 0),
    ],
)
def test_item_failure_answers_are_read_as_lambda_reads_them(answer: Any, expected: int | None) -> None:
    batch = [{"dynamodb": {"SequenceNumber": number}} for number in ("1", "2", "3")]
    assert first_failed_index(answer, batch) == expected


def test_the_mappings_of_a_deployed_stack_are_found_with_their_deployed_names(
    endpoint: str, native_invocations: list[Any], tmp_path: Path
) -> None:
    # Given a stack like the payment stack: a ledger table's stream mapped to a function, with a DLQ
    template = {
        "Resources": {
            "Ledger": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                },
            },
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Statement": []}}},
            "Publisher": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Runtime": "python3.13",
                    "Handler": "index.handler",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"},
                },
            },
            "PublisherDlq": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "PublisherStream": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Publisher"},
                    "EventSourceArn": {"Fn::GetAtt": ["Ledger", "StreamArn"]},
                    "StartingPosition": "LATEST",
                    "BatchSize": 25,
                    "MaximumRetryAttempts": 5,
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["PublisherDlq", "Arn"]}}},
                },
            },
        }
    }
    stack = f"Payment-{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{stack}.template.json").write_text(json.dumps(template))
    client = clients(endpoint)
    client("cloudformation").create_stack(StackName=stack, TemplateBody=json.dumps(template))
    resources = client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    physical_ids = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources if r.get("PhysicalResourceId")}
    # When local mode looks for stream mappings
    [mapping] = stack_stream_mappings(tmp_path, stack, physical_ids=physical_ids, lambda_client=client("lambda"))
    # Then it has the deployed function, the table's stream, the queue, and the template's settings
    stream_arn = client("dynamodb").describe_table(TableName=physical_ids["Ledger"])["Table"]["LatestStreamArn"]
    dlq_url = physical_ids["PublisherDlq"]
    dlq_arn = client("sqs").get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]
    assert mapping == StreamMapping(
        name="PublisherStream",
        function_arn=client("lambda").get_function(FunctionName=physical_ids["Publisher"])["Configuration"][
            "FunctionArn"
        ],
        stream_arn=stream_arn,
        batch_size=25,
        starting_position="LATEST",
        maximum_retry_attempts=5,
        report_batch_item_failures=True,
        on_failure_destination=dlq_arn["QueueArn"],
    )
