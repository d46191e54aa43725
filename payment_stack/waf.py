"""AWS WAF in front of the payment API's stage, for production environments (``wafEnabled``)."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from payment_stack.config import PaymentConfig

# AWS managed rule groups: OWASP-style common attacks (including bodies over 8 KB, the API's own limit) and
# request patterns known to be malicious (Log4j, ...).
MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
# The Common rule set blocks bodies over 8 KB with this rule: answered like the function's own 413.
BODY_SIZE_RULE = "SizeRestrictions_BODY"
CHARGE_RATE_RULE = "ChargeRateLimitPerIp"
RATE_WINDOW_SECONDS = 300
# WAF logs carry request headers: these hold credentials (SigV4 signatures and Collect/Refund's session tokens).
REDACTED_HEADERS = ("authorization", "x-amz-security-token", "cookie")
# The same {"message", "code"} envelope as the function's and API Gateway's own errors.
_RESPONSE_BODIES = {
    "throttled": (429, {"message": "Too many requests", "code": "throttled"}),
    "payload_too_large": (413, {"message": "Request body too large", "code": "payload_too_large"}),
}
# Physical names must start with this for WAF to log to CloudWatch Logs.
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"


class PaymentApiFirewall(Construct):
    """A regional web ACL on ``stage``: AWS managed rule groups and a per-IP rate limit on ``/charge``.

    In: ``config`` (environment name, ``waf_charge_rate_limit``, log retention, removal policy), ``stage`` (the API's
    ``Prod`` stage) and ``encryption_key`` (for the WAF log group).

    Rules, in order: the requests one client IP sends to ``/charge`` (the public route) over
    ``config.waf_charge_rate_limit`` in 5 minutes are blocked with 429 ``throttled``; then
    ``AWSManagedRulesCommonRuleSet`` (a body over 8 KB gets 413 ``payload_too_large``) and
    ``AWSManagedRulesKnownBadInputsRuleSet`` (403). Everything else is allowed. The SigV4-signed ``/capture`` and
    ``/refund`` calls come from Lambda's shared addresses, so the rate rule leaves them alone. Every request is
    logged, with the credential headers redacted, to ``aws-waf-logs-payment-<env>`` (encrypted, configured
    retention).

    Exposes ``web_acl``, ``association`` and ``log_group``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PaymentConfig,
        stage: apigw.Stage,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        metric_prefix = f"payment-{config.env_name}"

        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            # WAF descriptions allow no parentheses.
            description=f"Payment API {config.env_name}: AWS managed rule groups, per-IP rate limit on /charge",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(metric_prefix),
            custom_response_bodies={
                key: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps(body)
                )
                for key, (_, body) in _RESPONSE_BODIES.items()
            },
            rules=[
                _charge_rate_rule(priority=0, limit=config.waf_charge_rate_limit, metric_prefix=metric_prefix),
                *(
                    _managed_rule_group(name, priority=priority, metric_prefix=metric_prefix)
                    for priority, name in enumerate(MANAGED_RULE_GROUPS, start=1)
                ),
            ],
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            # Required prefix; the environment in the name keeps environments apart.
            log_group_name=f"{WAF_LOG_GROUP_PREFIX}payment-{config.env_name}",
            retention=config.log_retention,
            removal_policy=config.removal_policy,
            encryption_key=encryption_key,
        )
        # WAF wants the log group's ARN without the ":*" that CloudFormation's Arn attribute ends with.
        log_group_arn = Stack.of(self).format_arn(
            service="logs",
            resource="log-group",
            resource_name=self.log_group.log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _block_with(key: str) -> wafv2.CfnWebACL.RuleActionProperty:
    status, _ = _RESPONSE_BODIES[key]
    return wafv2.CfnWebACL.RuleActionProperty(
        block=wafv2.CfnWebACL.BlockActionProperty(
            custom_response=wafv2.CfnWebACL.CustomResponseProperty(response_code=status, custom_response_body_key=key)
        )
    )


def _charge_rate_rule(*, priority: int, limit: int, metric_prefix: str) -> wafv2.CfnWebACL.RuleProperty:
    charge_path = wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="CONTAINS",
            search_string="/charge",
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")],
        )
    )
    return wafv2.CfnWebACL.RuleProperty(
        name=CHARGE_RATE_RULE,
        priority=priority,
        action=_block_with("throttled"),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP",
                limit=limit,
                evaluation_window_sec=RATE_WINDOW_SECONDS,
                scope_down_statement=charge_path,
            )
        ),
        visibility_config=_visibility(f"{metric_prefix}-{CHARGE_RATE_RULE}"),
    )


def _managed_rule_group(name: str, *, priority: int, metric_prefix: str) -> wafv2.CfnWebACL.RuleProperty:
    overrides = (
        [
            wafv2.CfnWebACL.RuleActionOverrideProperty(
                name=BODY_SIZE_RULE, action_to_use=_block_with("payload_too_large")
            )
        ]
        if name == "AWSManagedRulesCommonRuleSet"
        else None
    )
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        # The group's own actions (block) apply; "none" means: do not override them with count.
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name, rule_action_overrides=overrides
            )
        ),
        visibility_config=_visibility(f"{metric_prefix}-{name}"),
    )
