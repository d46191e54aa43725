"""AWS WAF in front of the payment API's stage, for production environments (``wafEnabled``)."""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from payment_stack.log_settings import LogSettings

# AWS managed rule groups: OWASP-style common attacks (including bodies over 8 KB, the API's own limit) and
# request patterns known to be malicious (Log4j, ...).
COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
KNOWN_BAD_INPUTS_RULE_SET = "AWSManagedRulesKnownBadInputsRuleSet"
# The Common rule set blocks bodies over 8 KB with this rule: answered like the function's own 413.
BODY_SIZE_RULE = "SizeRestrictions_BODY"
# Stripe's webhook bodies are often larger than 8 KB. The webhook path gets a second instance of the Common rule set
# in which only the body-size rule merely counts; every other path keeps the first instance, unchanged (same rules,
# same order, same 413). The price: 700 more WCUs, which takes the web ACL above the 1,500 its base price includes.
WEBHOOK_COMMON_RULE = "AWSManagedRulesCommonRuleSetStripeWebhook"
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

    In: ``env_name`` (names the web ACL, its metrics and log group), ``charge_rate_limit`` (the configuration's
    ``wafChargeRateLimit``), ``log_settings`` (the WAF log group's retention, removal policy and KMS key), ``stage``
    (the API's ``Prod`` stage) and ``webhook_path`` (the API path, e.g. ``/webhooks/stripe``, whose bodies may be
    larger than 8 KB).

    Rules, in order: the requests one client IP sends to ``/charge`` (the public route) over ``charge_rate_limit``
    in 5 minutes are blocked with 429 ``throttled``; then
    ``AWSManagedRulesCommonRuleSet`` for every path but the webhook's (a body over 8 KB gets 413
    ``payload_too_large``), the same rule set for the webhook path (a URI path ending in ``webhook_path``, which only
    the webhook route has) with its body-size rule counting instead of blocking, and
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
        env_name: str,
        charge_rate_limit: int,
        log_settings: LogSettings,
        stage: apigw.Stage,
        webhook_path: str,
    ) -> None:
        super().__init__(scope, construct_id)
        metric_prefix = f"payment-{env_name}"
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            # WAF descriptions allow no parentheses.
            description=(
                f"Payment API {env_name}: AWS managed rule groups, per-IP rate limit on /charge, "
                f"bodies over 8 KB on {webhook_path} only"
            ),
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility(metric_prefix),
            custom_response_bodies={
                key: wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON", content=json.dumps(body)
                )
                for key, (_, body) in _RESPONSE_BODIES.items()
            },
            rules=_rules(charge_rate_limit=charge_rate_limit, webhook_path=webhook_path, metric_prefix=metric_prefix),
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )

        # Required prefix; the environment in the name keeps environments apart.
        self.log_group = log_settings.log_group(
            self, "Logs", log_group_name=f"{WAF_LOG_GROUP_PREFIX}payment-{env_name}"
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


def _rules(*, charge_rate_limit: int, webhook_path: str, metric_prefix: str) -> list[wafv2.CfnWebACL.RuleProperty]:
    """The web ACL's rules, in the order the class docstring gives."""
    # Case as sent: API Gateway routes paths case-sensitively, so no other spelling reaches the webhook route.
    webhook = _uri_path_matches(webhook_path, "ENDS_WITH", transformation="NONE")
    return [
        _charge_rate_rule(priority=0, limit=charge_rate_limit, metric_prefix=metric_prefix),
        _managed_rule_group(
            COMMON_RULE_SET,
            priority=1,
            metric_prefix=metric_prefix,
            body_size_action=_block_with("payload_too_large"),
            scope_down=wafv2.CfnWebACL.StatementProperty(
                not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=webhook)
            ),
        ),
        _managed_rule_group(
            COMMON_RULE_SET,
            rule_name=WEBHOOK_COMMON_RULE,
            priority=2,
            metric_prefix=metric_prefix,
            body_size_action=wafv2.CfnWebACL.RuleActionProperty(count={}),
            scope_down=webhook,
        ),
        _managed_rule_group(KNOWN_BAD_INPUTS_RULE_SET, priority=3, metric_prefix=metric_prefix),
    ]


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


def _uri_path_matches(
    search_string: str, positional_constraint: str, *, transformation: str
) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint=positional_constraint,
            search_string=search_string,
            text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type=transformation)],
        )
    )


def _charge_rate_rule(*, priority: int, limit: int, metric_prefix: str) -> wafv2.CfnWebACL.RuleProperty:
    charge_path = _uri_path_matches("/charge", "CONTAINS", transformation="LOWERCASE")
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


def _managed_rule_group(
    name: str,
    *,
    priority: int,
    metric_prefix: str,
    rule_name: str | None = None,
    body_size_action: wafv2.CfnWebACL.RuleActionProperty | None = None,
    scope_down: wafv2.CfnWebACL.StatementProperty | None = None,
) -> wafv2.CfnWebACL.RuleProperty:
    """The AWS managed rule group ``name`` as rule ``rule_name`` (default ``name``), for the requests ``scope_down``
    matches (default all), with the Common rule set's body-size rule given ``body_size_action``."""
    overrides = (
        [wafv2.CfnWebACL.RuleActionOverrideProperty(name=BODY_SIZE_RULE, action_to_use=body_size_action)]
        if body_size_action is not None
        else None
    )
    rule_name = rule_name or name
    return wafv2.CfnWebACL.RuleProperty(
        name=rule_name,
        priority=priority,
        # The group's own actions (block) apply; "none" means: do not override them with count.
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=name, rule_action_overrides=overrides, scope_down_statement=scope_down
            )
        ),
        visibility_config=_visibility(f"{metric_prefix}-{rule_name}"),
    )
