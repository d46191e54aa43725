"""The payment ledger: the DynamoDB table in which the service records every payment it handles."""

from __future__ import annotations

from typing import cast

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

# The table's layout is a contract with the runtime's DynamoDB adapter (lambdas/payment_api), which this package never
# imports: one item per payment id, and a sparse index of the items that are holds (only they carry holdStatus),
# oldest first, which the abandoned-hold sweeper queries.
PARTITION_KEY = "id"
HOLDS_INDEX_NAME = "holds-by-age"
HOLDS_INDEX_PARTITION_KEY = "holdStatus"
HOLDS_INDEX_SORT_KEY = "createdAt"
# Names of the environment variables the functions find the table by (read by the runtime: a contract too).
TABLE_NAME_VARIABLE = "LEDGER_TABLE_NAME"
HOLDS_INDEX_NAME_VARIABLE = "LEDGER_HOLDS_INDEX_NAME"
# /charge, /capture and /refund create a record and move it along (conditional writes); no scans, queries or deletes.
RECORD_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
READ_ACTIONS = ("dynamodb:GetItem",)
# The sweeper pages through the holds index, re-reads each hold and records its release.
SWEEP_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem")
SWEEP_INDEX_ACTIONS = ("dynamodb:Query",)
# The payment event publisher reads the table's stream: every write appends one history entry to the record, and the
# new image is all the publisher needs to turn that entry into one bus event (a contract with the runtime too).
STREAM_VIEW_TYPE = dynamodb.StreamViewType.NEW_IMAGE
# What Lambda's event source mapping reads a stream with, on the stream's ARN ...
STREAM_READ_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
# ... and ListStreams, which supports no resource-level permissions (AWS documents Resource "*" for it).
STREAM_LIST_ACTIONS = ("dynamodb:ListStreams",)


class PaymentLedger(Construct):
    """The ledger table of one environment.

    In: ``removal_policy`` (the configuration's: kept with the stack's data where ``removalPolicy`` is ``retain``).

    Creates an on-demand table with point-in-time recovery (and deletion protection where it is retained), encrypted
    with the AWS managed key, named by
    CloudFormation (environments never collide): partition key ``id`` (S), the global secondary index
    ``holds-by-age`` (partition key ``holdStatus`` (S), sort key ``createdAt`` (S), all attributes projected) and a
    DynamoDB stream of new images (``NEW_IMAGE``), which the payment event publisher reads.

    Exposes ``table``, ``stream_arn``, ``holds_index_name``, ``environment`` (the variables a function finds the table
    by) and the grants ``grant_record`` (API), ``grant_read``, ``grant_sweep`` (the abandoned-hold sweeper) and
    ``grant_stream_read`` (the event publisher). The grants name the table's (or the index's, or the stream's) ARN
    only: ``Table.grant`` would add every index of the table (``<table>/index/*``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=removal_policy,
            # A kept money ledger must not go with one mistaken DeleteTable either.
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            stream=STREAM_VIEW_TYPE,
        )
        # Set: the table is created with a stream.
        self.stream_arn = cast(str, self.table.table_stream_arn)
        self.table.add_global_secondary_index(
            index_name=HOLDS_INDEX_NAME,
            partition_key=dynamodb.Attribute(name=HOLDS_INDEX_PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=HOLDS_INDEX_SORT_KEY, type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.holds_index_name = HOLDS_INDEX_NAME
        self._holds_index_arn = f"{self.table.table_arn}/index/{HOLDS_INDEX_NAME}"

    @property
    def environment(self) -> dict[str, str]:
        """``LEDGER_TABLE_NAME`` and ``LEDGER_HOLDS_INDEX_NAME``, for a function's environment."""
        return {TABLE_NAME_VARIABLE: self.table.table_name, HOLDS_INDEX_NAME_VARIABLE: self.holds_index_name}

    def grant_record(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read, create and update payment records (GetItem, PutItem, UpdateItem)."""
        return self._grant_on_table(grantee, RECORD_ACTIONS)

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read one payment record at a time (GetItem)."""
        return self._grant_on_table(grantee, READ_ACTIONS)

    def grant_sweep(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to query the holds index (Query on ``holds-by-age`` only, never a scan) and to read and
        update the records it finds (GetItem, UpdateItem on the table)."""
        index_grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=list(SWEEP_INDEX_ACTIONS), resource_arns=[self._holds_index_arn]
        )
        return index_grant.combine(self._grant_on_table(grantee, SWEEP_TABLE_ACTIONS))

    def grant_stream_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to read the table's stream, as Lambda's event source mapping does: DescribeStream,
        GetRecords and GetShardIterator on this stream's ARN only, and ListStreams (Resource ``*``: the action
        supports no resource-level permissions). Never the table's items."""
        read_grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=list(STREAM_READ_ACTIONS), resource_arns=[self.stream_arn]
        )
        list_grant = iam.Grant.add_to_principal(grantee=grantee, actions=list(STREAM_LIST_ACTIONS), resource_arns=["*"])
        return read_grant.combine(list_grant)

    def _grant_on_table(self, grantee: iam.IGrantable, actions: tuple[str, ...]) -> iam.Grant:
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[self.table.table_arn])
