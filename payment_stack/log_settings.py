"""How one environment logs: its functions' log level, and the retention, removal policy and key of its log groups."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


@dataclass(frozen=True, kw_only=True)
class LogSettings:
    """The log settings of one environment, built once by its stack (``PaymentStack.log_settings``) and passed as one
    value to every construct that creates functions or log groups.

    ``level`` is the functions' Powertools log level (``POWERTOOLS_LOG_LEVEL``); ``retention``, ``removal_policy`` and
    ``encryption_key`` are those of every log group ``log_group`` creates (without a key, CloudWatch Logs' own
    encryption applies). ``removal_policy`` is the environment's: constructs apply it to their queues too.
    """

    level: str
    retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    encryption_key: kms.IKey | None = None

    def log_group(self, scope: Construct, construct_id: str, *, log_group_name: str | None = None) -> logs.LogGroup:
        """A log group ``construct_id`` in ``scope`` with these settings, named ``log_group_name`` (by default
        CloudFormation names it)."""
        return logs.LogGroup(
            scope,
            construct_id,
            log_group_name=log_group_name,
            retention=self.retention,
            removal_policy=self.removal_policy,
            encryption_key=self.encryption_key,
        )
