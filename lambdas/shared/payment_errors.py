"""The errors Collect and Refund raise. Their class names are the error names the booking workflow matches on.

Final errors (``retryable = False``) mean retrying cannot help: the workflow compensates at once. Retryable
errors mean the payment API could not give an answer now; retrying is safe because every call is idempotent.
"""

from __future__ import annotations


class PaymentError(Exception):
    """Base class; ``retryable`` tells the workflow whether a retry can succeed."""

    retryable = False


class InvalidPaymentRequest(PaymentError):
    """Final: the task input (e.g. ``chargeId``) or the request built from it is invalid. No money moved."""


class PaymentDeclined(PaymentError):
    """Final: the card issuer declined (HTTP 402)."""


class PaymentNotFound(PaymentError):
    """Final: the payment API knows no payment with this ``chargeId`` (HTTP 404)."""


class PaymentConflict(PaymentError):
    """Final: the payment's state forbids the operation, e.g. already refunded or released (HTTP 409)."""


class PaymentForbidden(PaymentError):
    """Final: the API refused this function's signed call (HTTP 401/403): a deployment or permission problem."""


class UnexpectedPaymentResponse(PaymentError):
    """Final: the API answered 2xx with a body that lacks what the task returns."""


class HoldBelowFare(PaymentError):
    """Final: the customer's hold is smaller than the flight's fare (HTTP 409 ``amount_exceeds_hold``).

    Nothing was captured. Not a ``PaymentConflict``: the money is still held and must be released.
    """


class CurrencyMismatch(PaymentError):
    """Final: the hold is in another currency than the flight's fare (HTTP 409 ``currency_mismatch``).

    Nothing was captured. Not a ``PaymentConflict``: the money is still held and must be released.
    """


class FareUnavailable(PaymentError):
    """Final: the booking state carries no valid fare to capture (``fare``: a positive whole ``amount`` in the
    currency's smallest unit and a 3-letter ``currency``). No HTTP call was made."""


class PaymentServiceUnavailable(PaymentError):
    """Retryable: the API answered 5xx or 429, timed out, could not be reached, or is still processing this key."""

    retryable = True
