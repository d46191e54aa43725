"""An IAM role whose permissions live in one customer managed policy instead of an inline policy.

CDK puts every grant (``table.grant(fn, ...)``, a function's X-Ray statement, a state machine's task permissions)
into an inline ``AWS::IAM::Policy`` of the role. PCI DSS 3.2.1 (cdk-nag ``PCI.DSS.321-IAMNoInlinePolicy``, AWS
Config ``iam-no-inline-policy-check``) wants managed policies: this role sends every statement added to it, by a
grant or by a construct, to its own ``AWS::IAM::ManagedPolicy`` attached to it, so the same least-privilege
statements are kept in a managed policy. It adds no AWS managed policy either (``AwsSolutions-IAM4``).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct


class ManagedPolicyRole(iam.Role):
    """A role whose statements all go to ``managed_policy`` (created empty, filled by grants and constructs).

    Takes the same arguments as ``iam.Role``. Everything CDK or a grant adds with ``add_to_principal_policy``
    (also ``add_to_policy``) lands in ``managed_policy``; resources that must wait for the permissions (a function, a
    state machine) depend on it as they would on the inline default policy.
    """

    def __init__(self, scope: Construct, construct_id: str, *, assumed_by: iam.IPrincipal, description: str) -> None:
        super().__init__(scope, construct_id, assumed_by=assumed_by, description=description)
        self.managed_policy = iam.ManagedPolicy(self, "Policy", roles=[self], description=description)

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self.managed_policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self.managed_policy)
