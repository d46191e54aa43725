"""CDK assertions on the optional AWS WAF web ACL in front of stage Prod (``wafEnabled``: off by default, prod on)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from payment_stack.app_builder import build_app
from tests.support.cdk import make_app

WAF_TYPES = ("AWS::WAFv2::WebACL", "AWS::WAFv2::WebACLAssociation", "AWS::WAFv2::LoggingConfiguration")


def template_for(env: str, **context: Any) -> Template:
    return Template.from_stack(build_app(make_app(env=env, **context), environ={}))


@pytest.fixture(scope="module")
def prod() -> Template:
    return template_for("prod")


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    logical_id, resource = next(iter(found.items()))
    return logical_id, dict(resource)


@pytest.mark.parametrize("env", ["feature-x", "main"])
def test_no_waf_by_default(env: str) -> None:
    # Given a branch or main (wafEnabled false in cdk.json's defaults)
    template = template_for(env)
    # Then there is no web ACL (the synth still passes cdk-nag: APIG3 and the PCI WAF rule are accepted for this)
    for resource_type in WAF_TYPES:
        template.resource_count_is(resource_type, 0)


def test_prod_has_a_regional_web_acl_allowing_by_default(prod: Template) -> None:
    _, web_acl = only(prod, "AWS::WAFv2::WebACL")
    properties = web_acl["Properties"]
    assert properties["Scope"] == "REGIONAL"
    assert properties["DefaultAction"] == {"Allow": {}}
    assert properties["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    assert [(rule["Priority"], rule["Name"]) for rule in properties["Rules"]] == [
        (0, "ChargeRateLimitPerIp"),
        (1, "AWSManagedRulesCommonRuleSet"),
        (2, "AWSManagedRulesCommonRuleSetStripeWebhook"),
        (3, "AWSManagedRulesKnownBadInputsRuleSet"),
    ]


def test_prod_uses_the_aws_managed_rule_groups_with_their_own_actions(prod: Template) -> None:
    _, web_acl = only(prod, "AWS::WAFv2::WebACL")
    rules = {rule["Name"]: rule for rule in web_acl["Properties"]["Rules"]}
    for name in ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"):
        statement = rules[name]["Statement"]["ManagedRuleGroupStatement"]
        assert (statement["VendorName"], statement["Name"]) == ("AWS", name)
        # "None": the groups block as AWS defines (not merely count)
        assert rules[name]["OverrideAction"] == {"None": {}}
    # The common set's body-size rule (over 8 KB) answers like the function: 413 payload_too_large
    (override,) = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]["RuleActionOverrides"]
    assert override["Name"] == "SizeRestrictions_BODY"
    assert override["ActionToUse"]["Block"]["CustomResponse"] == {
        "ResponseCode": 413,
        "CustomResponseBodyKey": "payload_too_large",
    }


def test_prod_rate_limits_charge_per_ip_with_a_json_429(prod: Template) -> None:
    _, web_acl = only(prod, "AWS::WAFv2::WebACL")
    rule = next(r for r in web_acl["Properties"]["Rules"] if r["Name"] == "ChargeRateLimitPerIp")
    statement = rule["Statement"]["RateBasedStatement"]
    # From cdk.json (wafChargeRateLimit 300 per 5 minutes), per client IP, only for /charge
    assert (statement["Limit"], statement["EvaluationWindowSec"], statement["AggregateKeyType"]) == (300, 300, "IP")
    scope = statement["ScopeDownStatement"]["ByteMatchStatement"]
    assert (scope["FieldToMatch"], scope["PositionalConstraint"], scope["SearchString"]) == (
        {"UriPath": {}},
        "CONTAINS",
        "/charge",
    )
    assert rule["Action"]["Block"]["CustomResponse"] == {"ResponseCode": 429, "CustomResponseBodyKey": "throttled"}
    bodies = web_acl["Properties"]["CustomResponseBodies"]
    assert json.loads(bodies["throttled"]["Content"]) == {"message": "Too many requests", "code": "throttled"}
    assert bodies["throttled"]["ContentType"] == "APPLICATION_JSON"
    assert json.loads(bodies["payload_too_large"]["Content"])["code"] == "payload_too_large"


def test_prod_web_acl_is_associated_with_stage_prod(prod: Template) -> None:
    web_acl_id, _ = only(prod, "AWS::WAFv2::WebACL")
    stage_id, _ = only(prod, "AWS::ApiGateway::Stage")
    rest_api_id, _ = only(prod, "AWS::ApiGateway::RestApi")
    _, association = only(prod, "AWS::WAFv2::WebACLAssociation")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [web_acl_id, "Arn"]}
    parts = association["Properties"]["ResourceArn"]["Fn::Join"][1]
    # arn:<partition>:apigateway:<region>::/restapis/<api>/stages/<stage>
    assert parts[-4:] == ["::/restapis/", {"Ref": rest_api_id}, "/stages/", {"Ref": stage_id}]


def test_prod_waf_logs_to_an_encrypted_retained_group_without_credentials(prod: Template) -> None:
    web_acl_id, _ = only(prod, "AWS::WAFv2::WebACL")
    _, logging = only(prod, "AWS::WAFv2::LoggingConfiguration")
    assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": [web_acl_id, "Arn"]}
    redacted = {field["SingleHeader"]["Name"] for field in logging["Properties"]["RedactedFields"]}
    assert redacted == {"authorization", "x-amz-security-token", "cookie"}
    (destination,) = logging["Properties"]["LogDestinationConfigs"]
    # The log group's ARN without the trailing ":*" of its Arn attribute, which WAF refuses
    log_group_id = destination["Fn::Join"][1][-1]["Ref"]
    log_group = prod.to_json()["Resources"][log_group_id]
    assert log_group["Properties"]["LogGroupName"] == "aws-waf-logs-payment-prod"
    assert log_group["Properties"]["RetentionInDays"] == 365
    assert "KmsKeyId" in log_group["Properties"]
    assert log_group["DeletionPolicy"] == "Retain"


def test_a_branch_can_turn_waf_on_with_its_own_rate_limit() -> None:
    # Given a branch with WAF turned on and another limit on the command line
    template = template_for("feature/x", **{"payment:wafEnabled": "true", "payment:wafChargeRateLimit": "50"})
    # Then it gets the web ACL with that limit and a log group named after the environment
    _, web_acl = only(template, "AWS::WAFv2::WebACL")
    rule = next(r for r in web_acl["Properties"]["Rules"] if r["Name"] == "ChargeRateLimitPerIp")
    assert rule["Statement"]["RateBasedStatement"]["Limit"] == 50
    names = [g["Properties"].get("LogGroupName") for g in template.find_resources("AWS::Logs::LogGroup").values()]
    assert "aws-waf-logs-payment-feature-x" in names


def webhook_path_statement(scope: dict[str, Any]) -> dict[str, Any]:
    """The byte match of the webhook's URI path in a scope-down statement."""
    match = scope["ByteMatchStatement"]
    assert (match["FieldToMatch"], match["PositionalConstraint"], match["SearchString"]) == (
        {"UriPath": {}},
        "ENDS_WITH",
        "/webhooks/stripe",
    )
    # Case as sent: API Gateway routes case-sensitively, so no other spelling reaches the webhook route
    assert match["TextTransformations"] == [{"Priority": 0, "Type": "NONE"}]
    return dict(match)


def test_prod_exempts_the_stripe_webhook_from_the_body_size_rule_only(prod: Template) -> None:
    # Given prod's web ACL (Stripe sends webhook bodies above 8 KB, which SizeRestrictions_BODY blocks)
    _, web_acl = only(prod, "AWS::WAFv2::WebACL")
    rules = {rule["Name"]: rule for rule in web_acl["Properties"]["Rules"]}
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    webhook = rules["AWSManagedRulesCommonRuleSetStripeWebhook"]["Statement"]["ManagedRuleGroupStatement"]
    # Then every path but the webhook's keeps the Common rule set exactly as before (oversize bodies: 413)
    webhook_path_statement(common["ScopeDownStatement"]["NotStatement"]["Statement"])
    (override,) = common["RuleActionOverrides"]
    assert override["Name"] == "SizeRestrictions_BODY"
    assert override["ActionToUse"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    # And the webhook path gets the same rule set with its own actions, only the body-size rule counting
    webhook_path_statement(webhook["ScopeDownStatement"])
    assert (webhook["VendorName"], webhook["Name"]) == ("AWS", "AWSManagedRulesCommonRuleSet")
    assert webhook["RuleActionOverrides"] == [{"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}}]
    assert rules["AWSManagedRulesCommonRuleSetStripeWebhook"]["OverrideAction"] == {"None": {}}
    # And known bad inputs are still checked on every path (no scope-down)
    assert (
        "ScopeDownStatement"
        not in (rules["AWSManagedRulesKnownBadInputsRuleSet"]["Statement"]["ManagedRuleGroupStatement"])
    )
    # And each rule reports its own metric
    metric_names = [rule["VisibilityConfig"]["MetricName"] for rule in rules.values()]
    assert len(set(metric_names)) == len(metric_names)
