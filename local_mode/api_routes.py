"""The payment API's routes as the synthesized template declares them (paths, methods, authorisation types)."""

from __future__ import annotations

from typing import Any

from local_mode.api_front import Route


def _resource_path(resources: dict[str, Any], reference: Any) -> str:
    if not isinstance(reference, dict) or "Ref" not in reference:
        return ""  # the API's root resource (Fn::GetAtt RootResourceId)
    resource = resources[reference["Ref"]]["Properties"]
    return f"{_resource_path(resources, resource['ParentId'])}/{resource['PathPart']}"


def api_routes(template: dict[str, Any]) -> list[Route]:
    """Every ``AWS::ApiGateway::Method`` of the template as a ``Route`` (MOCK integrations are CORS preflights)."""
    resources = template["Resources"]
    routes = []
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        properties = resource["Properties"]
        integration = properties.get("Integration", {})
        routes.append(
            Route(
                method=properties["HttpMethod"],
                path=_resource_path(resources, properties["ResourceId"]) or "/",
                authorization=properties.get("AuthorizationType", "NONE"),
                mock=integration.get("Type") == "MOCK",
                mock_response=integration.get("IntegrationResponses", [{}])[0],
            )
        )
    return routes
