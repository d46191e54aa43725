"""What X-Ray traces in every function: the libraries each one calls out through, and no others.

Powertools' Tracer patches every library the X-Ray SDK supports by default, trying (and importing) sqlite3, the
database drivers and more at each cold start; naming the ones used costs less and traces the same calls.
"""

from __future__ import annotations

# botocore: every AWS API call; httplib: the HTTP under urllib3, so Collect's and Refund's signed calls to the
# payment API (botocore's URLLib3Session, not a client) show as subsegments too.
AWS_TRACED_MODULES = ("botocore", "httplib")
# The payment API also calls Stripe, through requests.
STRIPE_TRACED_MODULES = (*AWS_TRACED_MODULES, "requests")
