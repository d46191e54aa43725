"""Delivers DynamoDB stream records to the functions mapped to them, as Lambda's event source mappings do.

moto invokes a mapped function itself, inside the write that made the record, and ignores its answer; local mode
switches that off (``moto_server.keep_stream_records_for_pollers``) and runs this poller in its own process instead.
For each ``AWS::Lambda::EventSourceMapping`` of a deployed stack whose source is a DynamoDB stream, it reads the
stream through the DynamoDB Streams API every ``poll_seconds``, invokes the function with the event Lambda sends
(``{"Records": [...]}``, at most ``BatchSize`` records, in stream order) and honours the answer as Lambda does:
- a function error (or a failed invoke) retries the whole batch, after ``retry_delay_seconds`` doubled per attempt
  up to ``max_retry_delay_seconds`` (a batch that keeps failing does not flood the log);
- with ``ReportBatchItemFailures``, ``{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}`` retries from
  the lowest failed record on, the records after it included; an empty, unknown or malformed identifier (or an
  answer that is not an object) fails the whole batch; no failures (``[]``, ``null``, no answer) is a success;
- ``MaximumRetryAttempts`` (absent or -1: retry until the record expires, here until ``stop``) ends the retries of
  a batch that keeps failing from its first record; the batch's description then goes to the mapping's
  ``OnFailure`` destination (an SQS queue or SNS topic) and the poller moves past it.
Attempts are counted per batch start: a partial failure past the first record is progress and starts a new count.
Not modelled: parallelization, bisecting a failed batch, batching windows, filters, record age, tumbling windows.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from local_mode.deploy import template_resources

# (function ARN or name, event payload) -> (the function's answer, parsed JSON; its error type or None)
Invoke = Callable[[str, bytes], tuple[Any, str | None]]
# (destination ARN, Lambda's record of a discarded batch) -> None; raises when the destination refuses it
SendToDestination = Callable[[str, dict[str, Any]], None]


# After a failed read: the pause before the next one.
READ_FAILURE_PAUSE_SECONDS = 1.0


@dataclass(frozen=True)
class StreamMapping:
    """One DynamoDB stream event source mapping, with the deployed names it refers to."""

    name: str
    function_arn: str
    stream_arn: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    maximum_retry_attempts: int | None = None  # None: retry until the record expires
    report_batch_item_failures: bool = False
    on_failure_destination: str | None = None


def mapping_from_configuration(name: str, configuration: Mapping[str, Any]) -> StreamMapping | None:
    """A ``StreamMapping`` from Lambda's ``GetEventSourceMapping`` answer; None unless it is an enabled stream one."""
    source = str(configuration.get("EventSourceArn", ""))
    if ":dynamodb:" not in source or "/stream/" not in source or configuration.get("State") == "Disabled":
        return None
    retries = configuration.get("MaximumRetryAttempts")
    return StreamMapping(
        name=name,
        function_arn=str(configuration["FunctionArn"]),
        stream_arn=source,
        batch_size=int(configuration.get("BatchSize") or 100),
        starting_position=str(configuration.get("StartingPosition") or "TRIM_HORIZON"),
        maximum_retry_attempts=None if retries is None or int(retries) < 0 else int(retries),
        report_batch_item_failures="ReportBatchItemFailures" in (configuration.get("FunctionResponseTypes") or []),
        on_failure_destination=(configuration.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination"),
    )


def stack_stream_mappings(
    assembly: Path, stack: str, *, physical_ids: Mapping[str, str], lambda_client: Any
) -> list[StreamMapping]:
    """The DynamoDB stream mappings of ``stack``, read back from the deployed mappings (``physical_ids`` maps the
    template's logical ids to deployed ids: a mapping's is its UUID), so every reference arrives resolved."""
    found = []
    for logical_id, resource in template_resources(assembly, stack).items():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        if logical_id not in physical_ids:
            raise RuntimeError(f"{stack}/{logical_id}: the event source mapping was not deployed")
        configuration = lambda_client.get_event_source_mapping(UUID=physical_ids[logical_id])
        mapping = mapping_from_configuration(logical_id, configuration)
        if mapping is not None:
            found.append(mapping)
    return found


def lambda_invoker(lambda_client: Any) -> Invoke:
    """``Invoke`` through a Lambda API client (moto's runs the function's real code)."""

    def invoke(function: str, payload: bytes) -> tuple[Any, str | None]:
        answer = lambda_client.invoke(FunctionName=function, Payload=payload)
        body = answer["Payload"].read()
        return (json.loads(body) if body else None), answer.get("FunctionError")

    return invoke


def destination_sender(client: Callable[[str], Any]) -> SendToDestination:
    """``SendToDestination`` for SQS queue and SNS topic ARNs, with clients from ``client(service)``."""

    def send(destination: str, record: dict[str, Any]) -> None:
        parts = destination.split(":")
        body = json.dumps(record)
        if parts[2] == "sqs":
            sqs = client("sqs")
            queue_url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        elif parts[2] == "sns":
            client("sns").publish(TopicArn=destination, Message=body)
        else:
            raise ValueError(f"local mode sends discarded batches to SQS or SNS only, not to {destination}")

    return send


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A ``GetRecords`` record (as boto3 parses it) as Lambda puts it in the event: JSON, epoch-second times,
    binary attributes in base64, plus the stream's ARN and region."""
    dynamodb = {key: _as_json(value) for key, value in record["dynamodb"].items()}
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record["eventVersion"],
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def _as_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, Mapping):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_as_json(item) for item in value]
    return value


def first_failed_index(answer: Any, batch: list[dict[str, Any]]) -> int | None:
    """Where a ``ReportBatchItemFailures`` answer asks to resume: the index of the lowest failed record, 0 for a
    whole-batch failure, None when every record succeeded."""
    if answer is None:
        return None
    if not isinstance(answer, dict):
        return 0
    failures = answer.get("batchItemFailures")
    if failures is None or failures == []:
        return None
    if not isinstance(failures, list):
        return 0
    positions = {record["dynamodb"]["SequenceNumber"]: index for index, record in enumerate(batch)}
    failed = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in positions:
            return 0
        failed.append(positions[identifier])
    return min(failed)


@dataclass
class _ShardReader:
    """One shard of one mapping: its iterator, the records read but not yet delivered, and the current attempt."""

    mapping: StreamMapping
    shard_id: str
    iterator: str | None = None
    last_read: str | None = None  # sequence number of the last record read into ``pending``
    pending: list[dict[str, Any]] = field(default_factory=list)
    batch_start: str | None = None
    attempts: int = 0


class StreamPoller:
    """Polls each mapping's stream on its own thread from ``start`` until ``stop``; counters are per mapping name."""

    def __init__(
        self,
        mappings: list[StreamMapping],
        *,
        streams_client: Any,
        invoke: Invoke,
        send_to_destination: SendToDestination | None = None,
        poll_seconds: float = 0.2,
        retry_delay_seconds: float = 0.5,
        max_retry_delay_seconds: float = 5.0,
        log: IO[str] | None = None,
    ) -> None:
        self._mappings = mappings
        self._streams = streams_client
        self._invoke = invoke
        self._send = send_to_destination
        self._poll_seconds = poll_seconds
        self._retry_delay = retry_delay_seconds
        self._max_retry_delay = max_retry_delay_seconds
        self._log = log or sys.stderr
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.invocations: dict[str, int] = {mapping.name: 0 for mapping in mappings}
        self.retries: dict[str, int] = {mapping.name: 0 for mapping in mappings}
        self.discarded_batches: dict[str, int] = {mapping.name: 0 for mapping in mappings}

    @property
    def mappings(self) -> list[StreamMapping]:
        return list(self._mappings)

    def start(self) -> StreamPoller:
        for mapping in self._mappings:
            thread = threading.Thread(target=self._run, args=(mapping,), name=f"stream-{mapping.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _say(self, mapping: StreamMapping, message: str) -> None:
        print(f"stream {mapping.name}: {message}", file=self._log, flush=True)

    def _run(self, mapping: StreamMapping) -> None:
        readers: list[_ShardReader] = []
        while not readers and not self._stopped.is_set():
            try:
                shards = self._streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]["Shards"]
                readers = [_ShardReader(mapping, shard["ShardId"]) for shard in shards]
            except (BotoCoreError, ClientError) as error:
                self._say(mapping, f"describing {mapping.stream_arn} failed: {error}")
            if not readers:
                self._stopped.wait(self._poll_seconds)
        while not self._stopped.is_set():
            delays = [self._step(reader) for reader in readers]
            if min(delays) > 0:
                self._stopped.wait(min(delays))

    def _step(self, reader: _ShardReader) -> float:
        """Read, then deliver one batch: the seconds to wait before this shard's next step (0: go on at once)."""
        self._read(reader)
        if not reader.pending:
            return self._poll_seconds
        mapping = reader.mapping
        batch = reader.pending[: mapping.batch_size]
        start = batch[0]["dynamodb"]["SequenceNumber"]
        if start != reader.batch_start:
            reader.batch_start, reader.attempts = start, 0
        reader.attempts += 1
        failed_from, error = self._deliver(mapping, batch)
        if failed_from is None:
            del reader.pending[: len(batch)]
            return 0
        del reader.pending[:failed_from]
        exhausted = mapping.maximum_retry_attempts is not None and reader.attempts > mapping.maximum_retry_attempts
        if failed_from == 0 and exhausted:
            self._discard(reader, batch, error)
            del reader.pending[: len(batch)]
            return 0
        self.retries[mapping.name] += 1
        return min(self._retry_delay * 2.0 ** (reader.attempts - 1), self._max_retry_delay)

    def _read(self, reader: _ShardReader) -> None:
        mapping = reader.mapping
        if len(reader.pending) >= mapping.batch_size:
            return
        try:
            if reader.iterator is None:
                reader.iterator = self._iterator(reader)
            answer = self._streams.get_records(
                ShardIterator=reader.iterator, Limit=mapping.batch_size - len(reader.pending)
            )
        except (BotoCoreError, ClientError) as error:
            # An expired or unknown iterator included: a new one resumes after the last record read.
            reader.iterator = None
            # Wait a little before the next read, and say nothing when local mode is stopping meanwhile (Ctrl-C
            # reaches moto before the poller is told to stop).
            if not self._stopped.wait(READ_FAILURE_PAUSE_SECONDS):
                self._say(mapping, f"reading shard {reader.shard_id} failed: {error}")
            return
        records = [lambda_record(record, mapping.stream_arn) for record in answer["Records"]]
        if records:
            reader.last_read = records[-1]["dynamodb"]["SequenceNumber"]
        reader.pending += records
        reader.iterator = answer.get("NextShardIterator")

    def _iterator(self, reader: _ShardReader) -> str:
        position: dict[str, str] = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": reader.last_read}
            if reader.last_read is not None
            else {"ShardIteratorType": reader.mapping.starting_position}
        )
        answer = self._streams.get_shard_iterator(
            StreamArn=reader.mapping.stream_arn, ShardId=reader.shard_id, **position
        )
        return str(answer["ShardIterator"])

    def _deliver(self, mapping: StreamMapping, batch: list[dict[str, Any]]) -> tuple[int | None, str | None]:
        """Invoke the function on ``batch``: (index to resume from or None for a success, the error or None)."""
        self.invocations[mapping.name] += 1
        try:
            answer, function_error = self._invoke(mapping.function_arn, json.dumps({"Records": batch}).encode())
        except (BotoCoreError, ClientError) as error:
            self._say(mapping, f"invoking {mapping.function_arn} failed: {error}")
            return 0, "Invoke.Failed"
        if function_error is not None:
            self._say(mapping, f"{mapping.function_arn} failed ({function_error}): {answer}; retrying the batch")
            return 0, function_error
        if not mapping.report_batch_item_failures:
            return None, None
        failed_from = first_failed_index(answer, batch)
        if failed_from is not None:
            sequence_number = batch[failed_from]["dynamodb"]["SequenceNumber"]
            self._say(mapping, f"{len(batch) - failed_from} record(s) failed, retrying from {sequence_number}")
        return failed_from, None

    def _discard(self, reader: _ShardReader, batch: list[dict[str, Any]], error: str | None) -> None:
        mapping = reader.mapping
        self.discarded_batches[mapping.name] += 1
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        record = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": mapping.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": reader.attempts,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": error or ""},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": reader.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(first.get("ApproximateCreationDateTime")),
                "approximateArrivalOfLastRecord": _iso(last.get("ApproximateCreationDateTime")),
                "batchSize": len(batch),
                "streamArn": mapping.stream_arn,
            },
        }
        where = mapping.on_failure_destination
        summary = f"records {first['SequenceNumber']}..{last['SequenceNumber']} failed {reader.attempts} time(s)"
        if where is None or self._send is None:
            self._say(mapping, f"{summary}: discarded (no on-failure destination)")
            return
        try:
            self._send(where, record)
        except (BotoCoreError, ClientError, ValueError) as failure:
            self._say(mapping, f"{summary}: discarded, and sending it to {where} failed: {failure}")
            return
        self._say(mapping, f"{summary}: sent to the on-failure destination {where}")


def _iso(epoch_seconds: Any) -> str | None:
    if not isinstance(epoch_seconds, int | float):
        return None
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat().replace("+00:00", "Z")
