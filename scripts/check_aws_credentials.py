"""Stop `make deploy`/`destroy` early, with a clear message, when no usable AWS credentials are configured."""

import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError


def main() -> int:
    session = boto3.Session()
    try:
        identity = session.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        print(
            f"error: no usable AWS credentials ({error}).\n"
            "Configure them first (AWS_PROFILE, `aws configure sso`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) "
            "and a region (AWS_REGION), then run the target again.",
            file=sys.stderr,
        )
        return 1
    print(f"AWS account {identity['Account']} in {session.region_name or '(no region set)'} as {identity['Arn']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
