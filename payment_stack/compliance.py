"""cdk-nag on every synth: the AwsSolutions, PCI DSS 3.2.1 and Serverless packs, and the accepted findings.

``enable_compliance_checks`` (called by ``build_stacks``, so by ``app.py``, the tests and local mode) registers the
three packs as CDK validation plugins (cdk-nag 3: ``Validations.of(app).add_plugins(...)``) and acknowledges the
findings in ``SUPPRESSIONS`` (the table in ``payment_stack.suppressions``), each on one resource for one rule (for
IAM5, one finding: one wildcard resource). Any other finding fails the synth: ``cdk synth`` exits non-zero and prints
the report (also written to ``cdk.out/validation-report.json``); an in-process ``app.synth()`` (tests, plain
``python app.py``) raises.

``SECURITY.md`` lists the same suppressions; a unit test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import Acknowledgment, App, CfnResource, Stack, Validations
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks
from constructs import IConstruct

from payment_stack.suppressions import BOOKING, PAYMENT, SUPPRESSIONS, Suppression

if TYPE_CHECKING:
    from payment_stack.booking.stack import BookingStack
    from payment_stack.payment.stack import PaymentStack

# The namespace CDK's validation report gives each pack's rules ("Acknowledge with 'AwsSolutions::AwsSolutions-…'").
PACK_NAMESPACES = {"AwsSolutions": "AwsSolutions", "PCI.DSS.321": "PCI.DSS.321", "Serverless": "Serverless"}

# Finding ids naming a resource that only exists at synth time use a placeholder, replaced by how cdk-nag renders
# the token in the suppression's stack: "<LogicalId>" for a Ref, "<LogicalId.Attr>" for a GetAtt.
_PLACEHOLDERS: Mapping[str, Callable[[PaymentStack, BookingStack], Any]] = {
    "COLLECT_FUNCTION_ARN": lambda _payment, booking: booking.workflow.collect_function.function_arn,
    "REFUND_FUNCTION_ARN": lambda _payment, booking: booking.workflow.refund_function.function_arn,
    "SWEEPER_FUNCTION_ARN": lambda payment, _booking: payment.hold_sweeper.function.function_arn,
}


def compliance_packs() -> tuple[AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks]:
    return AwsSolutionsChecks(), PCIDSS321Checks(), ServerlessChecks()


def enable_compliance_checks(app: App, *, payment: PaymentStack, booking: BookingStack) -> list[Suppression]:
    """Run the three packs on every synth of ``app`` and acknowledge the suppressions that apply to this configuration.

    Returns the suppressions applied. Raises ``LookupError`` if a suppression names a resource that does not exist.
    """
    Validations.of(app).add_plugins(*compliance_packs())
    config = payment.config
    stacks: dict[str, Stack] = {PAYMENT: payment, BOOKING: booking}
    applied: list[Suppression] = []
    for suppression in SUPPRESSIONS:
        if not suppression.active_for(config):
            continue
        resource = find_resource(stacks[suppression.stack], suppression.path)
        rule_id = resolve_rule_id(suppression, payment=payment, booking=booking)
        Validations.of(resource).acknowledge(Acknowledgment(id=qualified_rule_id(rule_id), reason=suppression.reason))
        applied.append(suppression)
    return applied


def find_construct(stack: Stack, path: str) -> IConstruct:
    """The construct at ``path`` below ``stack`` (ids separated by ``/``); ``LookupError`` if there is none."""
    node: IConstruct = stack
    for construct_id in path.split("/"):
        child = node.node.try_find_child(construct_id)
        if child is None:
            raise LookupError(f"no construct {path!r} in {stack.node.path} (missing {construct_id!r})")
        node = child
    return node


def find_resource(stack: Stack, path: str) -> CfnResource:
    """The CloudFormation resource at ``path`` below ``stack`` (``find_construct``)."""
    node = find_construct(stack, path)
    if not isinstance(node, CfnResource):
        raise LookupError(f"compliance: {stack.node.path}/{path} is not a CloudFormation resource")  # noqa: TRY004
    return node


def resolve_rule_id(suppression: Suppression, *, payment: PaymentStack, booking: BookingStack) -> str:
    """The rule id with placeholders replaced by the tokens' cdk-nag rendering (``<LogicalId>``)."""
    rule_id = suppression.rule_id
    stack = payment if suppression.stack == PAYMENT else booking
    for name, token_of in _PLACEHOLDERS.items():
        if name in rule_id:
            rule_id = rule_id.replace(name, _render_reference(stack.resolve(token_of(payment, booking))))
    return rule_id


def qualified_rule_id(rule_id: str) -> str:
    """``AwsSolutions-SQS3`` → ``AwsSolutions::AwsSolutions-SQS3``: the id CDK's validation report matches on."""
    for prefix, namespace in PACK_NAMESPACES.items():
        if rule_id.startswith(f"{prefix}-"):
            return f"{namespace}::{rule_id}"
    raise ValueError(f"compliance: {rule_id!r} belongs to no pack this app runs")


def _render_reference(resolved: Any) -> str:
    if isinstance(resolved, dict) and "Ref" in resolved:
        return str(resolved["Ref"])
    if isinstance(resolved, dict) and "Fn::GetAtt" in resolved:
        return ".".join(resolved["Fn::GetAtt"])
    raise ValueError(f"compliance: cannot name {resolved!r} the way cdk-nag does")
