"""Deploys a synthesized cloud assembly (``cdk.out``) into moto through its CloudFormation API.

Why not ``cdk deploy`` into moto: it needs a bootstrap stack, change sets (which moto applies out of order) and the
CLI's asset publishing; here the same templates and asset zips go in directly, in dependency order, in seconds.
Everything deployed — resources, Lambda code, environment variables, state machine definitions — comes from the
synthesized templates and assets; nothing is written by hand.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_mode import local_aws

BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version"
BOOTSTRAP_VERSION = "30"


@dataclass(frozen=True)
class DeployedStack:
    name: str
    outputs: dict[str, str]


def stack_order(assembly: Path) -> list[str]:
    """Stack names of the assembly, dependencies first."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    stacks = {
        name: [dep for dep in artifact.get("dependencies", []) if dep in manifest["artifacts"]]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered or name not in stacks:
            return
        for dependency in stacks[name]:
            visit(dependency)
        ordered.append(name)

    for name in stacks:
        visit(name)
    return ordered


def _zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


class AssemblyDeployer:
    """Creates (or replaces) the assembly's stacks in the AWS endpoint at ``endpoint_url``."""

    def __init__(self, *, endpoint_url: str) -> None:
        self._region = local_aws.REGION
        self._s3 = local_aws.client("s3", endpoint_url)
        self._ssm = local_aws.client("ssm", endpoint_url)
        self._cloudformation = local_aws.client("cloudformation", endpoint_url)

    def bootstrap(self) -> None:
        """What ``cdk bootstrap`` provides that the templates reference: the asset bucket and the version."""
        self._ssm.put_parameter(
            Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
        )
        self._s3.create_bucket(Bucket=self._asset_bucket())  # us-east-1: no LocationConstraint

    def _asset_bucket(self) -> str:
        return f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{local_aws.ACCOUNT_ID}-{self._region}"

    def publish_assets(self, assembly: Path, stack: str) -> None:
        assets = json.loads((assembly / f"{stack}.assets.json").read_text())
        for asset in assets.get("files", {}).values():
            source = assembly / asset["source"]["path"]
            if asset["source"].get("packaging") == "zip" or source.is_dir():
                body = _zip_directory(source)
            else:
                body = source.read_bytes()
            for destination in asset["destinations"].values():
                bucket = str(destination["bucketName"]).replace("${AWS::AccountId}", local_aws.ACCOUNT_ID)
                if bucket != self._asset_bucket():
                    raise RuntimeError(
                        f"{stack} was synthesized for bucket {bucket}, not local mode's {self._asset_bucket()}"
                    )
                self._s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)

    def deploy(self, assembly: Path, stack: str, *, timeout_seconds: float = 120) -> DeployedStack:
        self.publish_assets(assembly, stack)
        template = (assembly / f"{stack}.template.json").read_text()
        existing = {
            s["StackName"]
            for s in self._cloudformation.list_stacks()["StackSummaries"]
            if s["StackStatus"] != "DELETE_COMPLETE"
        }
        if stack in existing:
            self._cloudformation.delete_stack(StackName=stack)
        self._cloudformation.create_stack(
            StackName=stack, TemplateBody=template, Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
        )
        deadline = time.monotonic() + timeout_seconds
        while True:
            description = self._cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
            status = description["StackStatus"]
            if status.endswith("_COMPLETE") and "ROLLBACK" not in status:
                break
            if "FAILED" in status or "ROLLBACK" in status or time.monotonic() > deadline:
                raise RuntimeError(f"deploying {stack} ended in {status}: {description.get('StackStatusReason')}")
            time.sleep(0.2)
        outputs = {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}
        return DeployedStack(name=stack, outputs=outputs)

    def deploy_all(self, assembly: Path) -> dict[str, DeployedStack]:
        self.bootstrap()
        return {stack: self.deploy(assembly, stack) for stack in stack_order(assembly)}


def template_resources(assembly: Path, stack: str) -> dict[str, Any]:
    resources: dict[str, Any] = json.loads((assembly / f"{stack}.template.json").read_text())["Resources"]
    return resources
