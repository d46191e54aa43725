"""CDK assertions on the payment ledger table as ``Payment-<env>`` composes it (asset bundling skipped)."""

from __future__ import annotations

import operator
from typing import Any

import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from lambdas.payment_api.dynamodb_ledger import table_definition
from payment_stack.payment.ledger import HOLDS_INDEX_NAME
from payment_stack.payment.stack import PaymentStack
from payment_stack.roles import ManagedPolicyRole
from tests.support.cdk import logical_id, payment_stack_for
from tests.support.iam import statements_of_role
from tests.support.templates import resources_of


def ledger_table(template: Template) -> tuple[str, dict[str, Any]]:
    """The one table with a global secondary index (the idempotency table has none)."""
    (found,) = [
        (logical_id, table)
        for logical_id, table in resources_of(template, "AWS::DynamoDB::Table").items()
        if "GlobalSecondaryIndexes" in table["Properties"]
    ]
    return found


def test_ledger_is_the_layout_the_runtime_adapter_reads_and_writes(template: Template) -> None:
    # Given the default stack, and the layout the DynamoDB adapter (the only runtime code that knows it) declares
    _, table = ledger_table(template)
    properties = table["Properties"]
    expected = table_definition("unused", HOLDS_INDEX_NAME)
    # Then records are keyed by id, and the index holds-by-age orders holds by holdStatus, then createdAt, with
    # every attribute (the sweeper needs the whole record): exactly what the adapter expects
    assert properties["KeySchema"] == expected["KeySchema"]
    key = operator.itemgetter("AttributeName")
    assert sorted(properties["AttributeDefinitions"], key=key) == sorted(expected["AttributeDefinitions"], key=key)
    assert properties["GlobalSecondaryIndexes"] == expected["GlobalSecondaryIndexes"]
    assert properties["BillingMode"] == expected["BillingMode"]
    assert HOLDS_INDEX_NAME == "holds-by-age"


def test_ledger_is_on_demand_encrypted_restorable_and_named_by_cloudformation(template: Template) -> None:
    # Given the default stack
    _, table = ledger_table(template)
    properties = table["Properties"]
    # Then it bills per request, can be restored to any second of the last 35 days, is encrypted with the AWS
    # managed key (like the idempotency table) and has no physical name (environments never collide)
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert "TableName" not in properties
    # And it records payments, nothing expires
    assert "TimeToLiveSpecification" not in properties


@pytest.mark.parametrize(("env", "policy"), [("feature-x", "Delete"), ("main", "Retain"), ("prod", "Retain")])
def test_ledger_follows_the_environments_removal_policy(env: str, policy: str) -> None:
    # Given a branch environment, main or prod
    _, table = ledger_table(Template.from_stack(payment_stack_for(env)))
    # Then the ledger is deleted with a branch stack and kept where removalPolicy is retain
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == (policy, policy)
    # And a kept ledger is protected against deletion too
    assert table["Properties"].get("DeletionProtectionEnabled", False) is (policy == "Retain")


def test_stack_outputs_the_ledger_table_name(template: Template) -> None:
    # Given the default stack
    table_id, _ = ledger_table(template)
    # Then operators and local mode find the table through the PaymentLedgerTableName output
    template.has_output(
        "PaymentLedgerTableName", {"Value": {"Ref": table_id}, "Description": Match.string_like_regexp("ledger")}
    )


def test_environment_names_the_table_and_the_index(stack: PaymentStack) -> None:
    # Given the stack's ledger
    ledger = stack.ledger
    # Then the variables the functions find it by are the runtime's names: the table's name and the index's
    resolved = stack.resolve(ledger.environment)
    table_id = logical_id(ledger.table)
    assert resolved == {"LEDGER_TABLE_NAME": {"Ref": table_id}, "LEDGER_HOLDS_INDEX_NAME": "holds-by-age"}
    assert ledger.holds_index_name == "holds-by-age"


def test_grant_read_allows_get_item_on_the_table_only() -> None:
    # Given a role in the stack (a managed policy, as the app's roles)
    stack = payment_stack_for()
    role = ManagedPolicyRole(stack, "Reader", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description="x")
    # When it is granted reading
    assert stack.ledger.grant_read(role).success
    template = Template.from_stack(stack)
    # Then it may GetItem on the ledger table, not on its index and nothing else
    table_id, _ = ledger_table(template)
    role_id = logical_id(role)
    assert statements_of_role(template, role_id) == [
        {"Action": "dynamodb:GetItem", "Effect": "Allow", "Resource": {"Fn::GetAtt": [table_id, "Arn"]}}
    ]
