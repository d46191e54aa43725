"""Reading synthesized CloudFormation templates in CDK assertion tests."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template


def resources_of(template: Template, resource_type: str) -> dict[str, Any]:
    """Logical id -> resource, for every resource of ``resource_type``."""
    return dict(template.find_resources(resource_type))


def only_logical_id(template: Template, resource_type: str) -> str:
    """The logical id of the one resource of ``resource_type`` (fails unless there is exactly one)."""
    found = resources_of(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found))


def function_by_handler(template: Template, handler: str) -> tuple[str, dict[str, Any]]:
    """The one function with ``handler``, as ``(logical id, resource)``: found by property, never by hashed id."""
    functions = {
        logical_id: resource
        for logical_id, resource in resources_of(template, "AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"] == handler
    }
    assert len(functions) == 1, f"expected one function with handler {handler}, found {sorted(functions)}"
    return next(iter(functions.items()))


def ledger_id(template: Template) -> str:
    """The logical id of the payment ledger: the one table with a global secondary index (holds-by-age)."""
    (found,) = [
        logical_id
        for logical_id, table in resources_of(template, "AWS::DynamoDB::Table").items()
        if "GlobalSecondaryIndexes" in table["Properties"]
    ]
    return found


def render(value: Any, template: Template) -> str:
    """A string or ``Fn::Join`` as text: a Ref to a Stage becomes its StageName, any other Ref ``${LogicalId}``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part, template) for part in parts)
    if "Ref" in value:
        stages = resources_of(template, "AWS::ApiGateway::Stage")
        if value["Ref"] in stages:
            return str(stages[value["Ref"]]["Properties"]["StageName"])
        return "${" + str(value["Ref"]) + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"cannot render {value!r}")


def regional_arn(service: str, *resource: Any) -> dict[str, Any]:
    """An ARN of this account and region as CDK renders one it builds from a name: ``Fn::Join`` of ``arn:``, the
    partition, ``service``, the region, the account and the ``resource`` parts."""
    account_and_region = [{"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":{service}:", *account_and_region, *resource]]}
