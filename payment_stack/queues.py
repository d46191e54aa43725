"""The SQS queues where what failed waits for a human: dead letters and failed runs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# SQS's maximum: long enough to read after a weekend.
FAILURE_RETENTION = Duration.days(14)


def failure_queue(scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> sqs.Queue:
    """A queue ``construct_id`` in ``scope`` for failures a human reads: SSE-SQS, SSL only, messages kept 14 days."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=FAILURE_RETENTION,
        removal_policy=removal_policy,
    )
