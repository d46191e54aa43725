"""The payment API function's configuration, read and validated once per container from its environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

SECRET_KEY_CACHE_SECONDS = 300
# Stripe answers within a few hundred milliseconds; these bound a hung connection well inside the 12 s function
# timeout. The SDK does not retry: callers retry with the same idempotency key, so budgets stay predictable.
STRIPE_CONNECT_TIMEOUT_SECONDS = 2.0
STRIPE_READ_TIMEOUT_SECONDS = 8.0
# Kept longer than Stripe's own 24 h idempotency window and than any workflow retry schedule.
IDEMPOTENCY_RECORD_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class Settings:
    stripe_secret_key_parameter: str
    stripe_webhook_secret_parameter: str
    cors_allowed_origins: tuple[str, ...]
    max_charge_amounts: Mapping[str, int]
    idempotency_table_name: str
    ledger: LedgerSettings
    stripe_api_base: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Raises ``KeyError``/``ValueError`` naming the variable when the deployment is broken."""
        origins = tuple(origin.strip() for origin in environ["CORS_ALLOWED_ORIGINS"].split(",") if origin.strip())
        if not origins:
            raise ValueError("CORS_ALLOWED_ORIGINS is empty")
        amounts = json.loads(environ["MAX_CHARGE_AMOUNTS"])
        if not isinstance(amounts, dict) or not all(isinstance(v, int) and v > 0 for v in amounts.values()):
            raise ValueError("MAX_CHARGE_AMOUNTS must be a JSON object of currency -> positive integer")
        return cls(
            stripe_secret_key_parameter=environ["STRIPE_SECRET_KEY_PARAMETER"],
            stripe_webhook_secret_parameter=environ["STRIPE_WEBHOOK_SECRET_PARAMETER"],
            cors_allowed_origins=origins,
            max_charge_amounts={currency.lower(): value for currency, value in amounts.items()},
            idempotency_table_name=environ["IDEMPOTENCY_TABLE_NAME"],
            ledger=LedgerSettings.from_environ(environ),
            stripe_api_base=environ.get("STRIPE_API_BASE") or None,
        )


@dataclass(frozen=True, kw_only=True)
class LedgerSettings:
    """Where the payment ledger is: its table and the index of holds by age (both named by the stack)."""

    table_name: str
    holds_index_name: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> LedgerSettings:
        return cls(table_name=environ["LEDGER_TABLE_NAME"], holds_index_name=environ["LEDGER_HOLDS_INDEX_NAME"])


@dataclass(frozen=True, kw_only=True)
class SweeperSettings:
    """The abandoned-hold sweeper's configuration: holds older than ``abandoned_hold_minutes`` are released."""

    stripe_secret_key_parameter: str
    ledger: LedgerSettings
    abandoned_hold_minutes: int
    stripe_api_base: str | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> SweeperSettings:
        """Raises ``KeyError``/``ValueError`` naming the variable when the deployment is broken."""
        minutes = int(environ["ABANDONED_HOLD_MINUTES"])
        if minutes <= 0:
            raise ValueError("ABANDONED_HOLD_MINUTES must be a positive number of minutes")
        return cls(
            stripe_secret_key_parameter=environ["STRIPE_SECRET_KEY_PARAMETER"],
            ledger=LedgerSettings.from_environ(environ),
            abandoned_hold_minutes=minutes,
            stripe_api_base=environ.get("STRIPE_API_BASE") or None,
        )


@dataclass(frozen=True, kw_only=True)
class PublisherSettings:
    """The event publisher's configuration: the EventBridge bus it puts every ledger transition's event on."""

    event_bus_name: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> PublisherSettings:
        """Raises ``KeyError``/``ValueError`` naming the variable when the deployment is broken."""
        name = environ["PAYMENT_EVENT_BUS_NAME"].strip()
        if not name:
            raise ValueError("PAYMENT_EVENT_BUS_NAME is empty")
        return cls(event_bus_name=name)
