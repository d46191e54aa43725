"""Every function's Powertools Logger, Tracer and Metrics, made the one way: ``observability(traced_modules)``.

Their settings come from the environment the stack gives every function (``POWERTOOLS_SERVICE_NAME`` ``payment``,
``POWERTOOLS_METRICS_NAMESPACE`` ``ServerlessAirline``, ``POWERTOOLS_LOG_LEVEL``: ``payment_stack.payment_function``);
what differs per function is what X-Ray traces: the libraries it calls out through, and no others.

Powertools' Tracer patches every library the X-Ray SDK supports by default, trying (and importing) sqlite3, the
database drivers and more at each cold start; naming the ones used costs less and traces the same calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_lambda_powertools import Logger, Metrics, Tracer

# botocore: every AWS API call; httplib: the HTTP under urllib3, so Collect's and Refund's signed calls to the
# payment API (botocore's URLLib3Session, not a client) show as subsegments too.
AWS_TRACED_MODULES = ("botocore", "httplib")
# The payment API also calls Stripe, through requests.
STRIPE_TRACED_MODULES = (*AWS_TRACED_MODULES, "requests")


def observability(traced_modules: Sequence[str]) -> tuple[Logger, Tracer, Metrics]:
    """A handler module's ``logger``, ``tracer`` and ``metrics``, made once at import (init)."""
    return Logger(), Tracer(patch_modules=traced_modules), Metrics()
