"""``PaymentDelivery``: GitHub's OIDC provider and the two roles the GitHub Actions workflows assume.

Deployed once per account and region (``make deploy-delivery REPO=owner/name``, ``delivery_app.py``). No long-lived
key exists: a workflow job asks GitHub for an OIDC token (``permissions: id-token: write``) and exchanges it with STS
for one of these roles (``aws-actions/configure-aws-credentials``, ``role-to-assume``).

* ``DeployRole`` trusts tokens of any branch of the one repository (``sub`` ``repo:OWNER/NAME:ref:refs/heads/*``):
  ``deploy.yml`` runs on a push to any branch. It may assume CDK's bootstrap roles that ``cdk deploy`` uses (deploy,
  file publishing, lookup) and get/put the environments' Stripe secret key, and read their API URL for the summary.
* ``DestroyRole`` trusts only the default branch (``repo:OWNER/NAME:ref:refs/heads/<default>``): GitHub runs
  ``delete`` workflows from the default branch, so that is the only subject ``destroy.yml`` ever presents. It may
  assume only the bootstrap roles ``cdk destroy`` uses (deploy, lookup).

Both trusts also require ``aud`` ``sts.amazonaws.com``. Pull requests (``repo:OWNER/NAME:pull_request``), tags,
jobs in a GitHub environment (``...:environment:NAME``) and other repositories or forks match neither.

Why the bootstrap roles are named, not matched with ``cdk-<qualifier>-*``: their names are fixed by the bootstrap
template (``cdk-<qualifier>-<kind>-role-<account>-<region>``), so the three (two) that are needed are listed exactly:
no image publishing (this app has no container assets), no CloudFormation execution role (only CloudFormation
assumes that one, through ``iam:PassRole`` of the deploy role).

Why no ``kms`` permission: the Stripe key is a SecureString encrypted with the AWS managed key ``alias/aws/ssm``,
whose key policy lets every principal of the account use it through SSM, so ``ssm:PutParameter`` alone encrypts;
the presence check reads the parameter without decryption. A customer managed key would need ``kms:Encrypt`` here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, App, CfnOutput, DefaultStackSynthesizer, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks
from constructs import Construct

from payment_stack.compliance import find_construct
from payment_stack.names import api_url_parameter_name, stripe_secret_key_parameter_name

STACK_NAME = "PaymentDelivery"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_URL = f"https://{GITHUB_OIDC_HOST}"
STS_AUDIENCE = "sts.amazonaws.com"
AUD_KEY = f"{GITHUB_OIDC_HOST}:aud"
SUB_KEY = f"{GITHUB_OIDC_HOST}:sub"

REPO_CONTEXT_KEY = "repo"
DEFAULT_BRANCH_CONTEXT_KEY = "defaultBranch"
EXISTING_OIDC_CONTEXT_KEY = "existingOidcProvider"
QUALIFIER_CONTEXT_KEY = "@aws-cdk/core:bootstrapQualifier"  # the key `cdk bootstrap --qualifier` users set
DEFAULT_BRANCH = "main"

# GitHub's rules: an owner is letters, digits and single hyphens; a repository name letters, digits, '.', '-', '_'.
_REPO = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
# A branch name usable in an exact trust condition: no IAM wildcard ('*', '?') and nothing git refuses in a ref.
_BRANCH = re.compile(r"^[A-Za-z0-9._/-]+$")
_QUALIFIER = re.compile(r"^[A-Za-z0-9_-]{1,10}$")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0", "")

DEPLOY_BOOTSTRAP_ROLES = ("deploy", "file-publishing", "lookup")
DESTROY_BOOTSTRAP_ROLES = ("deploy", "lookup")


class DeliveryConfigError(ValueError):
    """The delivery stack's context is missing or invalid; the message says what to pass."""


@dataclass(frozen=True, kw_only=True)
class DeliverySettings:
    """What the delivery stack is for: one GitHub repository ``owner/name`` and its default branch."""

    repository: str
    default_branch: str = DEFAULT_BRANCH
    existing_oidc_provider: bool = False
    bootstrap_qualifier: str = DefaultStackSynthesizer.DEFAULT_QUALIFIER

    def __post_init__(self) -> None:
        if not _REPO.match(self.repository) or self.repository.split("/")[1] in {".", ".."}:
            raise DeliveryConfigError(
                f"repository {self.repository!r} is not a GitHub owner/name: pass -c {REPO_CONTEXT_KEY}=owner/name "
                "(make deploy-delivery REPO=owner/name), spelled exactly as GitHub shows it"
            )
        if not _BRANCH.match(self.default_branch) or self.default_branch.startswith(("/", "-")):
            raise DeliveryConfigError(
                f"default branch {self.default_branch!r} is not a plain branch name (-c {DEFAULT_BRANCH_CONTEXT_KEY})"
            )
        if not _QUALIFIER.match(self.bootstrap_qualifier):
            raise DeliveryConfigError(f"bootstrap qualifier {self.bootstrap_qualifier!r} is not a CDK qualifier")

    def branch_subject(self, branch: str) -> str:
        """The OIDC ``sub`` GitHub signs for a workflow run on ``branch`` of the repository (``*``, in an IAM
        ``StringLike``: any branch)."""
        return f"repo:{self.repository}:ref:refs/heads/{branch}"

    @classmethod
    def from_context(cls, context: Callable[[str], Any]) -> DeliverySettings:
        """Read ``-c repo=owner/name`` (required), ``-c defaultBranch=`` and ``-c existingOidcProvider=true``."""
        repository = context(REPO_CONTEXT_KEY)
        if not isinstance(repository, str) or not repository.strip():
            raise DeliveryConfigError(
                f"no repository: pass -c {REPO_CONTEXT_KEY}=owner/name (make deploy-delivery REPO=owner/name)"
            )
        default_branch = context(DEFAULT_BRANCH_CONTEXT_KEY) or DEFAULT_BRANCH
        qualifier = context(QUALIFIER_CONTEXT_KEY) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
        if not isinstance(default_branch, str) or not isinstance(qualifier, str):
            raise DeliveryConfigError("defaultBranch and the bootstrap qualifier must be strings")
        return cls(
            repository=repository.strip(),
            default_branch=default_branch.strip(),
            existing_oidc_provider=_as_bool(context(EXISTING_OIDC_CONTEXT_KEY)),
            bootstrap_qualifier=qualifier,
        )


def _as_bool(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise DeliveryConfigError(f"{EXISTING_OIDC_CONTEXT_KEY} must be true or false, got {value!r}")


def parameter_pattern(name_of: Callable[[str], str]) -> str:
    """A parameter's resource name for every environment, from ``names.py``: ``*/service/payment/api/url``."""
    return name_of("*").removeprefix("/")


class DeliveryStack(Stack):
    """The OIDC provider (created, or the account's existing one) and the deploy and destroy roles."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: DeliverySettings, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, description="GitHub Actions delivery roles of the payment service", **kwargs
        )
        self.settings = settings
        if settings.existing_oidc_provider:
            provider_arn = self.format_arn(
                service="iam", region="", resource="oidc-provider", resource_name=GITHUB_OIDC_HOST
            )
            self.oidc_provider = iam.OidcProviderNative.from_oidc_provider_arn(self, "GitHubOidc", provider_arn)
        else:
            # The native AWS::IAM::OIDCProvider (no custom resource, so no Lambda function). IAM trusts GitHub's
            # certificate through its own CA library, so no thumbprint is pinned.
            self.oidc_provider = iam.OidcProviderNative(
                self, "GitHubOidc", url=GITHUB_OIDC_URL, client_ids=[STS_AUDIENCE]
            )
        provider_arn = self.oidc_provider.oidc_provider_arn

        def github_role(construct_id: str, *, description: str, conditions: Mapping[str, Any]) -> iam.Role:
            """A role that GitHub Actions runs of the repository assume with their OIDC token for STS."""
            return iam.Role(
                self,
                construct_id,
                description=description,
                assumed_by=iam.WebIdentityPrincipal(provider_arn, conditions),
            )

        self.deploy_role = github_role(
            "DeployRole",
            description=f"GitHub Actions deploy.yml of {settings.repository}: any branch deploys its environment",
            conditions={"StringEquals": {AUD_KEY: STS_AUDIENCE}, "StringLike": {SUB_KEY: settings.branch_subject("*")}},
        )
        self.destroy_role = github_role(
            "DestroyRole",
            description=f"GitHub Actions destroy.yml of {settings.repository}: runs on the default branch only",
            conditions={
                "StringEquals": {AUD_KEY: STS_AUDIENCE, SUB_KEY: settings.branch_subject(settings.default_branch)}
            },
        )
        # Managed policies, not inline ones (PCI.DSS.321-IAMNoInlinePolicy), as the service's own roles.
        self.deploy_policy = iam.ManagedPolicy(
            self,
            "DeployPolicy",
            description="cdk deploy through the CDK bootstrap roles; the Stripe key and API URL parameters",
            roles=[self.deploy_role],
            statements=[
                self._assume_bootstrap_roles(DEPLOY_BOOTSTRAP_ROLES),
                iam.PolicyStatement(
                    sid="StripeSecretKey",
                    actions=["ssm:GetParameter", "ssm:PutParameter"],
                    resources=[self._parameter_arn(stripe_secret_key_parameter_name)],
                ),
                iam.PolicyStatement(
                    sid="ApiUrl",
                    actions=["ssm:GetParameter"],
                    resources=[self._parameter_arn(api_url_parameter_name)],
                ),
            ],
        )
        self.destroy_policy = iam.ManagedPolicy(
            self,
            "DestroyPolicy",
            description="cdk destroy through the CDK bootstrap roles",
            roles=[self.destroy_role],
            statements=[self._assume_bootstrap_roles(DESTROY_BOOTSTRAP_ROLES)],
        )
        CfnOutput(
            self,
            "DeployRoleArn",
            value=self.deploy_role.role_arn,
            description="Repository variable AWS_DEPLOY_ROLE_ARN",
        )
        CfnOutput(
            self,
            "DestroyRoleArn",
            value=self.destroy_role.role_arn,
            description="Repository variable AWS_DESTROY_ROLE_ARN",
        )
        CfnOutput(self, "OidcProviderArn", value=provider_arn, description="GitHub's OIDC provider in this account")

    def bootstrap_role_arn(self, kind: str) -> str:
        """The ARN of CDK's bootstrap role ``kind`` (``deploy``, ``file-publishing``, ``lookup``) here."""
        name = f"cdk-{self.settings.bootstrap_qualifier}-{kind}-role-{self.account}-{self.region}"
        return self.format_arn(service="iam", region="", resource="role", resource_name=name)

    def _assume_bootstrap_roles(self, kinds: tuple[str, ...]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid="AssumeCdkBootstrapRoles",
            actions=["sts:AssumeRole"],
            resources=[self.bootstrap_role_arn(kind) for kind in kinds],
        )

    def _parameter_arn(self, name_of: Callable[[str], str]) -> str:
        return self.format_arn(service="ssm", resource="parameter", resource_name=parameter_pattern(name_of))


# --- cdk-nag: the same packs as the service (payment_stack.compliance.compliance_packs; a test keeps them equal) ------

_SSM_WILDCARD_REASON = (
    "The '*' stands for the environment name, one per git branch, created and deleted with the branches: the "
    "statement names one parameter of every environment and nothing else ({name}). Listing environments is "
    "impossible (they come and go with branches) and the role is only trusted by this repository's workflows."
)


@dataclass(frozen=True, kw_only=True)
class DeliverySuppression:
    """One accepted cdk-nag finding: ``rule`` (narrowed to ``applies_to``) on the resource at ``path``."""

    path: str
    rule: str
    applies_to: str
    reason: str

    @property
    def rule_id(self) -> str:
        return f"{self.rule}[{self.applies_to}]"


def _ssm_finding(name_of: Callable[[str], str]) -> str:
    """How cdk-nag renders the wildcard parameter ARN of an env-agnostic stack (pseudo parameters in ``<>``)."""
    return f"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/{parameter_pattern(name_of)}"


DELIVERY_SUPPRESSIONS: tuple[DeliverySuppression, ...] = (
    DeliverySuppression(
        path="DeployPolicy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to=_ssm_finding(stripe_secret_key_parameter_name),
        reason=_SSM_WILDCARD_REASON.format(name="the Stripe secret key SecureString, get and put"),
    ),
    DeliverySuppression(
        path="DeployPolicy/Resource",
        rule="AwsSolutions-IAM5",
        applies_to=_ssm_finding(api_url_parameter_name),
        reason=_SSM_WILDCARD_REASON.format(name="the API URL String, read for the job summary"),
    ),
)

PACK_NAMESPACES = ("AwsSolutions", "PCI.DSS.321", "Serverless")


def delivery_packs() -> tuple[AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks]:
    """The cdk-nag packs every synth of the delivery app runs: the service's three."""
    return AwsSolutionsChecks(), PCIDSS321Checks(), ServerlessChecks()


def _qualified(rule_id: str) -> str:
    """``AwsSolutions-IAM5[...]`` → ``AwsSolutions::AwsSolutions-IAM5[...]``, the id CDK's validation report uses."""
    for namespace in PACK_NAMESPACES:
        if rule_id.startswith(f"{namespace}-"):
            return f"{namespace}::{rule_id}"
    raise ValueError(f"delivery: {rule_id!r} belongs to no pack this app runs")


def enable_delivery_checks(app: App, stack: DeliveryStack) -> None:
    """Run the packs on every synth of ``app`` and acknowledge ``DELIVERY_SUPPRESSIONS`` (one rule, one resource).

    Any other finding fails the synth. Raises ``LookupError`` if a suppression names no resource of ``stack``.
    """
    Validations.of(app).add_plugins(*delivery_packs())
    for suppression in DELIVERY_SUPPRESSIONS:
        Validations.of(find_construct(stack, suppression.path)).acknowledge(
            Acknowledgment(id=_qualified(suppression.rule_id), reason=suppression.reason)
        )


def build_delivery(app: App) -> DeliveryStack:
    """Add ``PaymentDelivery`` to ``app`` from its context, with the cdk-nag packs checking every synth.

    Raises ``DeliveryConfigError`` with a clear message when ``-c repo=owner/name`` is missing or invalid.
    """
    settings = DeliverySettings.from_context(app.node.try_get_context)
    stack = DeliveryStack(app, STACK_NAME, settings=settings)
    enable_delivery_checks(app, stack)
    return stack
