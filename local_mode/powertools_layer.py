"""Local mode's stand-in for the official Powertools layer and the public SSM parameter that names it.

Collect and Refund take Powertools from the official layer: their templates have a CloudFormation parameter of type
``AWS::SSM::Parameter::Value<String>`` defaulting to ``/aws/service/powertools/python/<arch>/<runtime>/<version>``.
moto resolves such parameters from its SSM backend, which does not hold AWS's public ones (and, like AWS, refuses to
let anyone put a parameter under ``/aws/``). ``serve_powertools_layer_parameters`` makes moto's SSM answer every such
name the way moto already answers ``/aws/service/ami-amazon-linux-latest/...``: on first read, it publishes a
stand-in layer version in the same account and region and creates the parameter holding its ARN, so stacks deploy
and a function's layer ARN is one moto knows.

The stand-in layer holds only a README: local workers import Powertools from the development venv, pinned to the
same version by ``lambdas/<function>/requirements.txt`` (see ``local_mode/lambda_worker.py``).
"""

from __future__ import annotations

import base64
import io
import re
import zipfile
from collections import defaultdict
from typing import Any

from moto.awslambda.utils import get_backend
from moto.core.utils import utcnow
from moto.ssm import models as ssm_models

PARAMETER_PATTERN = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>arm64|x86_64)/(?P<runtime>python3\.\d+)/(?P<version>\d+\.\d+\.\d+)$"
)
STAND_IN_README = (
    "Local mode's stand-in for the Powertools for AWS Lambda (Python) layer: empty on purpose. Local workers import "
    "Powertools from the development venv, pinned by lambdas/<function>/requirements.txt.\n"
)


def stand_in_layer_name(*, arch: str, runtime: str) -> str:
    """The official layer's name, e.g. ``AWSLambdaPowertoolsPythonV3-python313-arm64``."""
    return f"AWSLambdaPowertoolsPythonV3-{runtime.replace('.', '')}-{arch}"


def stand_in_layer_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("python/POWERTOOLS_LAYER_STAND_IN.txt", STAND_IN_README)
    return buffer.getvalue()


def _publish_stand_in(parameters: ssm_models.ParameterDict, name: str, match: re.Match[str]) -> None:
    arch, runtime, version = match["arch"], match["runtime"], match["version"]
    layer = get_backend(parameters.account_id, parameters.region_name).publish_layer_version(
        {
            "LayerName": stand_in_layer_name(arch=arch, runtime=runtime),
            "Description": f"Local stand-in for Powertools for AWS Lambda (Python) {version}",
            "Content": {"ZipFile": base64.b64encode(stand_in_layer_zip())},
            "CompatibleRuntimes": [runtime],
            "CompatibleArchitectures": [arch],
        }
    )
    # Stored as moto stores the public parameters it serves itself (bypassing put_parameter's /aws refusal).
    defaultdict.__getitem__(parameters, name).append(
        ssm_models.Parameter(  # type: ignore[abstract]  # moto instantiates it the same way
            account_id=parameters.account_id,
            name=name,
            value=layer.arn,
            parameter_type="String",
            description=None,
            allowed_pattern=None,
            keyid=None,
            last_modified_date=utcnow(),
            version=1,
            data_type="text",
        )
    )


def serve_powertools_layer_parameters() -> None:
    """Patch moto (in this process) so ``/aws/service/powertools/python/...`` names resolve to a stand-in layer."""
    original = ssm_models.ParameterDict._check_loading_status  # moto's hook for its public parameters

    def check_loading_status(self: ssm_models.ParameterDict, key: Any) -> None:
        original(self, key)
        name = str(key or "")
        match = PARAMETER_PATTERN.match(name)
        if match and not defaultdict.__contains__(self, name):
            _publish_stand_in(self, name, match)

    ssm_models.ParameterDict._check_loading_status = check_loading_status  # type: ignore[method-assign]
