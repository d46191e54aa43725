"""The customer managed KMS key each stack encrypts its CloudWatch log groups (and the booking topic) with."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# Deleting a key is always delayed; a branch environment's key goes soonest (KMS's minimum), a retained one is kept.
_PENDING_WINDOW_BRANCH = Duration.days(7)
_PENDING_WINDOW_RETAINED = Duration.days(30)
# What CloudWatch Logs needs to encrypt and decrypt a log group's data with the key: the actions of AWS's documented
# key policy (kms:Encrypt*, Decrypt*, ReEncrypt*, GenerateDataKey*, Describe*) written out, without the key-pair ones.
_LOGS_KEY_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)


def logs_encryption_key(
    scope: Construct, construct_id: str, *, removal_policy: RemovalPolicy, description: str
) -> kms.Key:
    """A symmetric key with yearly rotation that CloudWatch Logs may use for this account's log groups in the region.

    The key policy keeps CDK's default (the account administers the key through IAM; nothing else) and lets the
    regional CloudWatch Logs service use it only for log groups of this account and region (encryption context
    ``aws:logs:arn``). Other users (the booking workflow publishing to its encrypted topic) are granted through IAM.
    ``removal_policy`` (the configuration's) also decides how long a deleted key waits: 7 days for a branch
    environment's (``DESTROY``), 30 for a retained one.
    """
    stack = Stack.of(scope)
    key = kms.Key(
        scope,
        construct_id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
        pending_window=_PENDING_WINDOW_BRANCH if removal_policy == RemovalPolicy.DESTROY else _PENDING_WINDOW_RETAINED,
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=list(_LOGS_KEY_ACTIONS),
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )
    return key
