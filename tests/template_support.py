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
