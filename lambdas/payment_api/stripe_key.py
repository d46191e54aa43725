"""Reads the Stripe secret key from its SecureString, cached per container for a bounded time (Powertools)."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters

from lambdas.payment_api.errors import ProviderNotConfigured

logger = Logger(child=True)


def ssm_key_reader(parameter_name: str, *, max_age_seconds: int, provider: parameters.SSMProvider) -> Callable[[], str]:
    """A function returning the key; ``ProviderNotConfigured`` (and an error log) when it is missing or unreadable.

    ``provider`` (built once per container, with its SSM client) caches the value for ``max_age_seconds``.
    """

    def read_key() -> str:
        try:
            key = provider.get(parameter_name, decrypt=True, max_age=max_age_seconds)
        except parameters.exceptions.GetParameterError as error:
            # An operator's task, not a bug: one clear line without a stack trace.
            logger.error(  # noqa: TRY400
                "Stripe secret key is not readable: put it in place with `make stripe-key`",
                extra={"parameter_name": parameter_name, "error_type": type(error.__cause__ or error).__name__},
            )
            raise ProviderNotConfigured("the payment provider is not configured") from None
        if not isinstance(key, str) or not key.strip():
            logger.error("Stripe secret key parameter is empty", extra={"parameter_name": parameter_name})
            raise ProviderNotConfigured("the payment provider is not configured")
        logger.debug("Stripe key available", extra={"parameter_name": parameter_name, "cache_seconds": max_age_seconds})
        return key.strip()

    return read_key
