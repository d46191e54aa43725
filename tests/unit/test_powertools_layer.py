"""Every function takes Powertools from the official layer of the version its requirements.txt pins."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template

from payment_stack import powertools_layer
from payment_stack.app_builder import build_app
from payment_stack.bundling import bundled_requirements, requirement_name, source_hash
from payment_stack.payment.events import HANDLER as PUBLISHER_HANDLER
from payment_stack.payment.hold_sweeper import HANDLER as SWEEPER_HANDLER
from payment_stack.payment_function import ARCHITECTURE, RUNTIME
from payment_stack.powertools_layer import LAYER_PROVIDED_DISTRIBUTIONS, layer_parameter_name, pinned_powertools_version
from tests.support.cdk import make_app

LAYERED = {"collect": "lambdas.collect.handler.handler", "refund": "lambdas.refund.handler.handler"}
HANDLERS = (
    "lambdas.payment_api.handler.handler",
    "lambdas.collect.handler.handler",
    "lambdas.refund.handler.handler",
    SWEEPER_HANDLER,
    PUBLISHER_HANDLER,
)
LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.from_stack(build_app(make_app(env="feature/x"), environ={}))


def powertools_parameters(template: Template) -> dict[str, dict[str, Any]]:
    return {
        logical_id: parameter
        for logical_id, parameter in template.to_json()["Parameters"].items()
        if str(parameter.get("Default", "")).startswith("/aws/service/powertools/")
    }


def function_by_handler(template: Template, handler: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if resource["Properties"]["Handler"] == handler
    ]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("function_dir", sorted(LAYERED))
def test_layer_path_pins_the_version_of_requirements_txt(template: Template, function_dir: str) -> None:
    # Given the function's requirements.txt pin (also what the dev venv installs)
    pinned = pinned_powertools_version(function_dir)
    assert pinned == metadata.version("aws-lambda-powertools")
    # When the template's Powertools parameter is read
    ((_, parameter),) = powertools_parameters(template).items()
    # Then CloudFormation resolves the public parameter of exactly that version, runtime and architecture
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.13/{pinned}"
    assert parameter["Default"].rsplit("/", 1)[1] == pinned != "latest"


def test_layer_parameter_name_follows_the_published_scheme() -> None:
    assert (
        layer_parameter_name(version="3.37.0", runtime=RUNTIME, architecture=ARCHITECTURE)
        == "/aws/service/powertools/python/arm64/python3.13/3.37.0"
    )
    assert (
        layer_parameter_name(
            version="3.1.0", runtime=lambda_.Runtime.PYTHON_3_12, architecture=lambda_.Architecture.X86_64
        )
        == "/aws/service/powertools/python/x86_64/python3.12/3.1.0"
    )


@pytest.mark.parametrize("handler", HANDLERS)
def test_every_function_has_the_layer(template: Template, handler: str) -> None:
    # Given the one Powertools parameter of the stack
    ((parameter_id, _),) = powertools_parameters(template).items()
    # Then the function's only layer is the ARN that parameter holds
    assert function_by_handler(template, handler)["Layers"] == [{"Ref": parameter_id}]


def test_the_stack_has_no_python_function_without_the_layer(template: Template) -> None:
    python_functions = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if str(resource["Properties"].get("Runtime", "")).startswith("python")
    ]
    assert sorted(function["Handler"] for function in python_functions) == sorted(HANDLERS)


@pytest.mark.parametrize("function_dir", sorted(LAYERED))
def test_bundle_requirements_leave_out_only_what_the_layer_provides(function_dir: str) -> None:
    # Given the function's full pinned closure
    pinned = {requirement_name(line) for line in (LAMBDAS / function_dir / "requirements.txt").read_text().splitlines()}
    pinned.discard(None)
    # When the bundle's requirements are derived for a function with the layer
    bundled = {
        requirement_name(line)
        for line in bundled_requirements(function_dir, layer_provided=LAYER_PROVIDED_DISTRIBUTIONS).splitlines()
    }
    bundled.discard(None)
    # Then only Powertools is left out: the X-Ray SDK and the other pins stay in the bundle
    assert pinned - bundled == {"aws-lambda-powertools"}
    assert {"aws-xray-sdk", "wrapt"} <= bundled
    # And without a layer nothing is left out
    assert bundled_requirements(function_dir) == "".join(
        f"{line}\n" for line in (LAMBDAS / function_dir / "requirements.txt").read_text().splitlines()
    )


def test_the_asset_hash_changes_with_what_the_layer_provides() -> None:
    # Given the same sources bundled with and without the layer
    plain = source_hash(function_dir="collect", runtime=RUNTIME, architecture=ARCHITECTURE)
    layered = source_hash(
        function_dir="collect", runtime=RUNTIME, architecture=ARCHITECTURE, layer_provided=LAYER_PROVIDED_DISTRIBUTIONS
    )
    # Then the two assets never share a hash (a cached full bundle is never reused for the layered function)
    assert plain != layered


def test_a_requirements_file_without_an_exact_pin_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function whose requirements.txt does not pin Powertools exactly
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "requirements.txt").write_text("aws-lambda-powertools>=3\nwrapt==2.5.2\n")
    monkeypatch.setattr(powertools_layer, "LAMBDAS_ROOT", tmp_path)
    # Then no layer path can be derived from it
    with pytest.raises(ValueError, match="must pin aws-lambda-powertools=="):
        pinned_powertools_version("fn")
