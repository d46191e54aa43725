"""Every name another component relies on, defined once: stack names, SSM parameter paths, the event bus.

Other systems find the payment service by these names (the Booking service reads the function ARNs, the old
front-end's build read the charge URL, operators put the secrets), and so do local mode, the scripts and the
benchmarks. This module imports nothing but the standard library, so local mode can use it without loading the CDK.
"""

from __future__ import annotations

# The API routes whose full URLs the old payment stack exported for its consumers (the old Amplify build read
# ``/<env>/service/payment/api/charge/url`` into the front-end's configuration).
API_ROUTES = ("charge", "capture", "refund")
BOOKING_FUNCTIONS = ("collect", "refund")


def payment_stack_name(env_name: str) -> str:
    return f"Payment-{env_name}"


def booking_stack_name(env_name: str) -> str:
    return f"Booking-{env_name}"


def parameter_prefix(env_name: str) -> str:
    """Root of an environment's SSM parameters, e.g. ``/main/service/payment``."""
    return f"/{env_name}/service/payment"


def function_parameter_name(env_name: str, function: str) -> str:
    """The String parameter holding a booking function's ARN: ``function`` is ``collect`` or ``refund``."""
    if function not in BOOKING_FUNCTIONS:
        raise ValueError(f"no booking function {function!r}: one of {', '.join(BOOKING_FUNCTIONS)}")
    return f"{parameter_prefix(env_name)}/function/{function}"


def api_url_parameter_name(env_name: str) -> str:
    """The String parameter holding the payment API's base URL (stage ``Prod``, ending in ``/``)."""
    return f"{parameter_prefix(env_name)}/api/url"


def api_route_url_parameter_name(env_name: str, route: str) -> str:
    """The String parameter holding one route's full URL, as the old stack exported it: ``route`` is ``charge``,
    ``capture`` or ``refund``, e.g. ``/main/service/payment/api/charge/url``."""
    if route not in API_ROUTES:
        raise ValueError(f"no API route {route!r}: one of {', '.join(API_ROUTES)}")
    return f"{parameter_prefix(env_name)}/api/{route}/url"


def stripe_secret_key_parameter_name(env_name: str) -> str:
    """The SecureString operators put the Stripe secret key in; the service only reads it."""
    return f"{parameter_prefix(env_name)}/stripe/secretKey"


def stripe_webhook_secret_parameter_name(env_name: str) -> str:
    """The SecureString operators put the Stripe webhook endpoint's signing secret in (``whsec_...``; during a
    rotation, both secrets separated by a comma); the service only reads it."""
    return f"{parameter_prefix(env_name)}/stripe/webhookSecret"


def event_bus_name(env_name: str) -> str:
    """The EventBridge bus the payment service publishes its payment events on, e.g. ``payment-main``."""
    return f"payment-{env_name}"


def event_bus_parameter_name(env_name: str) -> str:
    """The String parameter holding the payment event bus's name, for other services to find it."""
    return f"{parameter_prefix(env_name)}/events/bus"
