"""The official Powertools for AWS Lambda (Python) layer, pinned to the version a function's requirements.txt pins.

Powertools publishes each layer version's ARN in a public SSM parameter,
``/aws/service/powertools/python/<arch>/<runtime>/<version>``. The version comes from the function's own
``lambdas/<function>/requirements.txt`` (also what the dev venv installs and what the closure test checks), so one
pin decides both the layer and local runs; ``latest`` is never used. CloudFormation resolves the parameter at deploy
time (an ``AWS::SSM::Parameter::Value<String>`` template parameter), so the synth needs no AWS access.

A function given the layer does not bundle the distributions in ``LAYER_PROVIDED_DISTRIBUTIONS`` (see
``payment_stack.bundling``); its other requirements (the X-Ray SDK, wrapt, jmespath, typing_extensions) stay in the
bundle, which comes first on ``sys.path`` (``/var/task`` before the layer's ``/opt/python``).
"""

from __future__ import annotations

import re
from typing import cast

from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from payment_stack.bundling import LAMBDAS_ROOT, canonical_name

POWERTOOLS_DISTRIBUTION = "aws-lambda-powertools"
# What the layer provides instead of the bundle (canonical distribution names).
LAYER_PROVIDED_DISTRIBUTIONS = frozenset({POWERTOOLS_DISTRIBUTION})
PARAMETER_PREFIX = "/aws/service/powertools/python"

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*(?:#.*)?$")


def pinned_powertools_version(function_dir: str) -> str:
    """The exact ``aws-lambda-powertools==<version>`` pin of ``lambdas/<function_dir>/requirements.txt``.

    Raises ``ValueError`` when the file does not pin it exactly (the layer path needs one version).
    """
    requirements = LAMBDAS_ROOT / function_dir / "requirements.txt"
    for line in requirements.read_text().splitlines():
        match = _PIN.match(line)
        if match and canonical_name(match.group(1)) == POWERTOOLS_DISTRIBUTION:
            return match.group(2)
    raise ValueError(f"{requirements} must pin {POWERTOOLS_DISTRIBUTION}==<version> to use the Powertools layer")


def layer_parameter_name(*, version: str, runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> str:
    """The public parameter holding the layer ARN, e.g. ``/aws/service/powertools/python/arm64/python3.13/3.37.0``."""
    return f"{PARAMETER_PREFIX}/{architecture.name}/{runtime.name}/{version}"


def powertools_layer(
    scope: Construct, *, function_dir: str, runtime: lambda_.Runtime, architecture: lambda_.Architecture
) -> lambda_.ILayerVersion:
    """The official layer for ``function_dir``'s pinned version, imported once per stack and shared by its functions."""
    version = pinned_powertools_version(function_dir)
    parameter_name = layer_parameter_name(version=version, runtime=runtime, architecture=architecture)
    stack = Stack.of(scope)
    construct_id = f"PowertoolsLayer-{architecture.name}-{runtime.name}-{version}"
    existing = stack.node.try_find_child(construct_id)
    if existing is not None:
        return cast(lambda_.ILayerVersion, existing)
    arn = ssm.StringParameter.value_for_string_parameter(stack, parameter_name)
    return lambda_.LayerVersion.from_layer_version_arn(stack, construct_id, arn)
