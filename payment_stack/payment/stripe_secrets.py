"""Reading the Stripe SecureStrings (the secret key, the webhook signing secret) that operators put in SSM."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

# Powertools `parameters.get_parameter(name, decrypt=True)`: one GetParameter call, nothing else (also for the
# webhook signing secret).
STRIPE_KEY_ACTIONS = ("ssm:GetParameter",)


def grant_stripe_key_read(
    scope: Construct, construct_id: str, *, grantee: iam.IGrantable, parameter_name: str
) -> iam.Grant:
    """Allow ``grantee`` to read the Stripe SecureString ``parameter_name`` (the secret key, or the webhook signing
    secret): ``ssm:GetParameter`` on it only.

    Operators create the SecureString; importing it by name (as ``construct_id`` in ``scope``) lets IAM name exactly
    that one parameter's ARN. ``grant_read`` would add ssm:DescribeParameters and ssm:GetParameterHistory (every
    earlier secret value). The secret is encrypted with the AWS managed key aws/ssm, whose key policy lets SSM
    decrypt for the caller.
    """
    stripe_secret_key = ssm.StringParameter.from_secure_string_parameter_attributes(
        scope, construct_id, parameter_name=parameter_name
    )
    return iam.Grant.add_to_principal(
        grantee=grantee, actions=list(STRIPE_KEY_ACTIONS), resource_arns=[stripe_secret_key.parameter_arn]
    )
