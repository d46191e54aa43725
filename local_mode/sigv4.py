"""Checks AWS Signature Version 4 on requests to the local API, as API Gateway does for ``AWS_IAM`` methods.

botocore has a signer but no verifier: this recomputes the signature with botocore's own SigV4 steps from the
headers the client says it signed, and compares in constant time.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


def verify_sigv4(  # noqa: PLR0911 - one early return per reason a signature is refused
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    service: str = "execute-api",
) -> str | None:
    """``None`` when the request is validly signed for ``service``; otherwise why not (for a 403 message)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    match = _AUTHORIZATION.fullmatch(lowered.get("authorization", "").strip())
    if match is None:
        return "missing or malformed SigV4 Authorization header"
    if match["service"] != service:
        return f"signed for service {match['service']}, not {service}"
    secret = secret_for(match["key"])
    if secret is None:
        return "unknown access key"
    amz_date = lowered.get("x-amz-date", "")
    if not amz_date.startswith(match["date"]):
        return "X-Amz-Date does not match the credential scope"
    signed_names = match["signed"].split(";")
    if "host" not in signed_names or any(name not in lowered for name in signed_names):
        return "a signed header is missing"
    request = AWSRequest(method=method, url=url, data=body, headers={name: lowered[name] for name in signed_names})
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(match["key"], secret, lowered.get("x-amz-security-token")), service, match["region"])
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        return "signature does not match"
    return None
