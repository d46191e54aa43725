"""Reading IAM out of synthesized templates, and accepting cdk-nag findings on constructs a test adds itself."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Validations
from aws_cdk.assertions import Template
from constructs import IConstruct

from payment_stack.compliance import qualified_rule_id

# Where identity-based statements live: a role's inline policies and the (managed) policies attached to it.
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def actions_of(statement: dict[str, Any]) -> list[str]:
    return [str(action) for action in as_list(statement["Action"])]


def resources_in(statement: dict[str, Any]) -> list[Any]:
    return as_list(statement["Resource"])


def statements_of_role(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement ``role_logical_id`` holds: its own ``Policies`` and the policies naming it in ``Roles``."""
    resources = template.to_json()["Resources"]
    statements: list[dict[str, Any]] = []
    for policy in resources[role_logical_id]["Properties"].get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    for resource in resources.values():
        if resource["Type"] in POLICY_TYPES and {"Ref": role_logical_id} in resource["Properties"].get("Roles", []):
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def identity_policy_statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """``(logical id, statement)`` of every identity-based statement in the template (policies and roles' inline)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in template.to_json()["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in POLICY_TYPES:
            found.extend((logical_id, s) for s in properties["PolicyDocument"]["Statement"])
        if resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                found.extend((logical_id, s) for s in policy["PolicyDocument"]["Statement"])
    return found


def accept_in_test(construct: IConstruct, *rule_ids: str) -> None:
    """Acknowledge cdk-nag findings on a construct that only a test adds (never on the app's own resources)."""
    for rule_id in rule_ids:
        Validations.of(construct).acknowledge(
            Acknowledgment(id=qualified_rule_id(rule_id), reason="added by a unit test, not part of the app")
        )
