"""The docs' Python examples are real code: each excerpt is the lines of its file in docs/examples/ (which ruff and
mypy check), and each example builds what the docs say it builds."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template

from docs.examples.booking_workflow_in_another_stack import BookingServiceStack
from docs.examples.subscribe_to_payment_events import subscribe_to_disputes
from payment_stack.config import PaymentConfig, load_config
from payment_stack.payment.stack import PaymentStack
from tests.support.cdk import CDK_JSON_CONTEXT, make_app
from tests.support.docs import PROJECT_ROOT, documents, prose
from tests.support.templates import resources_of

ENV = "feature-docs"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
# The link an excerpt's introduction gives to its file, relative to the page.
EXAMPLE_LINK = re.compile(r"\]\(((?:\.\./)*(?:docs/)?examples/[\w/]+\.py)\)")
# A comment line "# ..." in an excerpt stands for lines of the file it leaves out.
ELISION = re.compile(r"^# \.\.\.")


def python_excerpts() -> list[tuple[Path, str, Path | None]]:
    """Every ```python block of the docs: (page, code, the example file its introduction links to, if any)."""
    found = []
    for page in documents():
        text = page.read_text()
        for match in PYTHON_BLOCK.finditer(text):
            introduction = text[: match.start()].rsplit("\n\n", 2)[-2]
            linked = EXAMPLE_LINK.findall(introduction)
            example = (page.parent / linked[-1]).resolve() if linked else None
            found.append((page, match.group(1), example))
    return found


def chunks(excerpt: str) -> list[str]:
    """The excerpt's parts between elisions ("# ..." lines), each dedented, without blank edge lines."""
    parts: list[list[str]] = [[]]
    for line in excerpt.splitlines():
        if ELISION.match(line):
            parts.append([])
        else:
            parts[-1].append(line)
    return [textwrap.dedent("\n".join(part)).strip("\n") for part in parts if "".join(part).strip()]


def shown_in_order(excerpt: str, source: str) -> bool:
    """Whether every chunk of ``excerpt`` is a run of whole lines of ``source`` (dedented), in order."""
    lines = source.splitlines()
    start = 0
    for chunk in chunks(excerpt):
        size = len(chunk.splitlines())
        for at in range(start, len(lines) - size + 1):
            if textwrap.dedent("\n".join(lines[at : at + size])) == chunk:
                start = at + size
                break
        else:
            return False
    return True


EXCERPTS = python_excerpts()


def test_the_docs_show_python_examples() -> None:
    assert len(EXCERPTS) >= 2
    # ... and no Python outside code: the examples are the docs' only Python blocks, fences included
    for page in documents():
        assert prose(page.read_text()).count("```python") == 0


@pytest.mark.parametrize(
    ("page", "excerpt", "example"),
    EXCERPTS,
    ids=[f"{page.relative_to(PROJECT_ROOT)}-{index}" for index, (page, _, _) in enumerate(EXCERPTS)],
)
def test_every_python_excerpt_is_its_example_files_lines(page: Path, excerpt: str, example: Path | None) -> None:
    # Given the example file the excerpt's introduction links to, under docs/examples/
    assert example is not None, f"{page.name}: the paragraph before a ```python block links to its docs/examples/ file"
    assert example.is_relative_to(PROJECT_ROOT / "docs" / "examples"), example
    # Then the excerpt is that file's lines (dedented; "# ..." stands for left-out lines)
    assert shown_in_order(excerpt, example.read_text()), f"{page.name} shows code that is not in {example.name}"


def test_an_excerpt_that_differs_from_its_file_is_caught() -> None:
    source = "import x\n\n\ndef f() -> None:\n    y = x.call(\n        1,\n    )\n"
    assert shown_in_order("import x\n\n# ... left out\ny = x.call(\n    1,\n)\n", source)
    assert not shown_in_order("y = x.call(\n    2,\n)\n", source)
    assert not shown_in_order("y = x.call(\n    1,\n)\n# ...\nimport x\n", source)


def feature_config() -> PaymentConfig:
    return load_config(env_name=ENV, context=CDK_JSON_CONTEXT.get)


def _definition(template: Template) -> dict[str, Any]:
    (machine,) = resources_of(template, "AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "token" for part in parts)  # tokens sit inside strings
    definition: dict[str, Any] = json.loads(text)
    return definition


def test_the_booking_workflow_example_builds_the_saga_with_the_services_own_step_and_resources() -> None:
    stack = BookingServiceStack(make_app(), "BookingService", env_name=ENV)
    template = Template.from_stack(stack)
    # The custom confirmation step takes the built-in one's place
    states = _definition(template)["States"]
    assert "Tell The Customer" in states
    assert "Notify Booking Confirmed" not in states
    # The stack's own tables, topic and queue are used: the workflow creates none of its own
    assert len(resources_of(template, "AWS::DynamoDB::Table")) == 2
    assert len(resources_of(template, "AWS::SNS::Topic")) == 1
    assert len(resources_of(template, "AWS::SQS::Queue")) == 1
    # Collect and Refund are found through the payment stack's SSM parameters
    parameter_types = {parameter["Type"] for parameter in template.to_json().get("Parameters", {}).values()}
    assert "AWS::SSM::Parameter::Value<String>" in parameter_types


def test_the_subscribe_example_routes_disputes_to_the_booking_services_queue() -> None:
    app = make_app()
    payment = PaymentStack(app, "Payment", config=feature_config())
    booking = Stack(app, "BookingService")
    subscribe_to_disputes(payment, booking)
    (rule,) = resources_of(Template.from_stack(booking), "AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Payment Disputed", "Dispute Closed"]
    assert len(rule["Properties"]["Targets"]) == 1
