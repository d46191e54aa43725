"""Per-environment configuration: one typed, validated value built from ``cdk.json`` context and ``-c`` overrides.

Lookup order for every setting: ``-c payment:<setting>=...`` on the command line, then the entry for this
environment under ``payment:environments`` in ``cdk.json``, then ``payment:defaults``. Constructs receive these
values; only this module looks at environment names.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import RemovalPolicy
from aws_cdk.aws_logs import RetentionDays

from payment_stack.booking.timing import worst_case_seconds_to_collect
from payment_stack.names import (
    booking_stack_name,
    event_bus_name,
    event_bus_parameter_name,
    parameter_prefix,
    payment_stack_name,
    stripe_secret_key_parameter_name,
    stripe_webhook_secret_parameter_name,
)

DEFAULTS_KEY = "payment:defaults"
ENVIRONMENTS_KEY = "payment:environments"
OVERRIDE_PREFIX = "payment:"

ISO_CURRENCY_LENGTH = 3
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# What AWS WAF accepts as a rate-based rule's limit (requests per aggregation key and evaluation window).
WAF_RATE_LIMIT_MIN = 10
WAF_RATE_LIMIT_MAX = 2_000_000_000
# The abandoned-hold sweeper runs at least once a day.
HOLD_SWEEP_MINUTES_MAX = 1440
_REMOVAL_POLICIES = {"destroy": RemovalPolicy.DESTROY, "retain": RemovalPolicy.RETAIN}
# The retention periods CloudWatch Logs accepts, by number of days.
_RETENTION_DAYS = {
    1: RetentionDays.ONE_DAY,
    3: RetentionDays.THREE_DAYS,
    5: RetentionDays.FIVE_DAYS,
    7: RetentionDays.ONE_WEEK,
    14: RetentionDays.TWO_WEEKS,
    30: RetentionDays.ONE_MONTH,
    60: RetentionDays.TWO_MONTHS,
    90: RetentionDays.THREE_MONTHS,
    120: RetentionDays.FOUR_MONTHS,
    150: RetentionDays.FIVE_MONTHS,
    180: RetentionDays.SIX_MONTHS,
    365: RetentionDays.ONE_YEAR,
    400: RetentionDays.THIRTEEN_MONTHS,
    545: RetentionDays.EIGHTEEN_MONTHS,
    731: RetentionDays.TWO_YEARS,
    1827: RetentionDays.FIVE_YEARS,
    3653: RetentionDays.TEN_YEARS,
}


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the setting and where to set it."""


@dataclass(frozen=True, kw_only=True)
class PaymentConfig:
    """Everything that differs between environments."""

    env_name: str
    cors_allowed_origins: tuple[str, ...]
    log_level: str
    removal_policy_name: str
    log_retention_days: int
    api_throttle_rate_limit: int
    api_throttle_burst_limit: int
    # POST /charge is the one public route: its own, stricter limits (never above the stage's).
    charge_throttle_rate_limit: int
    charge_throttle_burst_limit: int
    max_charge_amounts: tuple[tuple[str, int], ...]
    # Creates API Gateway's account-level CloudWatch role and turns on the stage's execution logging (ERROR level),
    # which needs that role. Local mode sets it false: moto has no AWS::ApiGateway::Account.
    api_gateway_cloud_watch_role: bool
    # An AWS WAF web ACL (managed rule groups and a per-IP rate limit on /charge) in front of stage Prod.
    waf_enabled: bool
    # Requests one client IP may send to /charge in any 5 minutes before WAF blocks it (429); only with waf_enabled.
    waf_charge_rate_limit: int
    # Lambda SnapStart on the three functions: each publishes a version with an alias ``live`` that every caller
    # (API Gateway, the booking workflow through SSM) invokes. Python SnapStart bills snapshot caching and restores.
    snap_start: bool
    # Every Retry of the booking workflow starts at this interval and never waits longer than the maximum delay.
    # Local and test environments use 1/1: moto's interpreter sleeps for real.
    workflow_retry_interval_seconds: int
    workflow_retry_max_delay_seconds: int
    # How often the abandoned-hold sweeper runs (an EventBridge Scheduler rate, 1 to 1440 minutes).
    hold_sweep_minutes: int
    # Age after which a hold nobody captured or released is abandoned and the sweeper releases it. Never shorter
    # than the longest a booking can take to reach the end of Collect's last attempt (checked below).
    abandoned_hold_minutes: int

    @property
    def max_charge_amounts_by_currency(self) -> dict[str, int]:
        """Accepted currencies (lower-case ISO 4217) and the largest charge in each, in the smallest unit."""
        return dict(self.max_charge_amounts)

    @property
    def execution_logging_enabled(self) -> bool:
        """API Gateway execution logs need the account-level CloudWatch role: both follow one setting."""
        return self.api_gateway_cloud_watch_role

    @property
    def removal_policy(self) -> RemovalPolicy:
        """DESTROY for throw-away branch environments, RETAIN for production-like ones."""
        return _REMOVAL_POLICIES[self.removal_policy_name]

    @property
    def log_retention(self) -> RetentionDays:
        return _RETENTION_DAYS[self.log_retention_days]

    @property
    def stack_name(self) -> str:
        return payment_stack_name(self.env_name)

    @property
    def booking_stack_name(self) -> str:
        return booking_stack_name(self.env_name)

    @property
    def parameter_prefix(self) -> str:
        return parameter_prefix(self.env_name)

    @property
    def stripe_secret_key_parameter_name(self) -> str:
        return stripe_secret_key_parameter_name(self.env_name)

    @property
    def stripe_webhook_secret_parameter_name(self) -> str:
        return stripe_webhook_secret_parameter_name(self.env_name)

    @property
    def event_bus_name(self) -> str:
        return event_bus_name(self.env_name)

    @property
    def event_bus_parameter_name(self) -> str:
        return event_bus_parameter_name(self.env_name)


def load_config(*, env_name: str, context: Callable[[str], Any]) -> PaymentConfig:
    """Build the configuration of ``env_name`` from CDK context (``context`` is ``node.try_get_context``).

    Raises ``ConfigError`` for a missing or invalid setting.
    """
    if context(DEFAULTS_KEY) is None:
        raise ConfigError(
            f"no {DEFAULTS_KEY} in the CDK context: run the app through the CDK CLI (e.g. `make synth`) "
            "so that cdk.json is read"
        )
    defaults = _as_mapping(context(DEFAULTS_KEY), DEFAULTS_KEY)
    per_env = _as_mapping(context(ENVIRONMENTS_KEY), ENVIRONMENTS_KEY)
    env_settings = _as_mapping(per_env.get(env_name), f"{ENVIRONMENTS_KEY}.{env_name}")

    def setting(name: str) -> Any:
        override = context(f"{OVERRIDE_PREFIX}{name}")
        if override is not None:
            return override
        if name in env_settings:
            return env_settings[name]
        if name in defaults:
            return defaults[name]
        raise ConfigError(f"setting {name!r} is missing: add it to {DEFAULTS_KEY} in cdk.json")

    config = PaymentConfig(
        env_name=env_name,
        cors_allowed_origins=_as_origins(setting("corsAllowedOrigins")),
        log_level=_as_choice(setting("logLevel"), "logLevel", LOG_LEVELS),
        removal_policy_name=_as_choice(setting("removalPolicy"), "removalPolicy", tuple(_REMOVAL_POLICIES)),
        log_retention_days=_as_retention_days(setting("logRetentionDays")),
        api_throttle_rate_limit=_as_positive_int(setting("apiThrottleRateLimit"), "apiThrottleRateLimit"),
        api_throttle_burst_limit=_as_positive_int(setting("apiThrottleBurstLimit"), "apiThrottleBurstLimit"),
        charge_throttle_rate_limit=_as_positive_int(setting("chargeThrottleRateLimit"), "chargeThrottleRateLimit"),
        charge_throttle_burst_limit=_as_positive_int(setting("chargeThrottleBurstLimit"), "chargeThrottleBurstLimit"),
        max_charge_amounts=_as_max_amounts(setting("maxChargeAmounts")),
        api_gateway_cloud_watch_role=_as_bool(setting("apiGatewayCloudWatchRole"), "apiGatewayCloudWatchRole"),
        waf_enabled=_as_bool(setting("wafEnabled"), "wafEnabled"),
        waf_charge_rate_limit=_as_positive_int(setting("wafChargeRateLimit"), "wafChargeRateLimit"),
        snap_start=_as_bool(setting("snapStart"), "snapStart"),
        workflow_retry_interval_seconds=_as_positive_int(
            setting("workflowRetryIntervalSeconds"), "workflowRetryIntervalSeconds"
        ),
        workflow_retry_max_delay_seconds=_as_positive_int(
            setting("workflowRetryMaxDelaySeconds"), "workflowRetryMaxDelaySeconds"
        ),
        hold_sweep_minutes=_as_positive_int(setting("holdSweepMinutes"), "holdSweepMinutes"),
        abandoned_hold_minutes=_as_positive_int(setting("abandonedHoldMinutes"), "abandonedHoldMinutes"),
    )
    _check_retry_timing(config)
    _check_hold_sweep(config)
    _check_charge_throttling(config)
    _check_waf_rate_limit(config)
    return config


def _as_mapping(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        value = _parse_json(value, where)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be an object, got {value!r}")
    return value


def _parse_json(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{where} is not valid JSON: {error}") from None


def _as_positive_int(value: object, name: str) -> int:
    # `-c` overrides arrive as strings; cdk.json values as numbers.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"setting {name!r} must be a positive integer, got {value!r}")
    return value


def _check_retry_timing(config: PaymentConfig) -> None:
    interval, max_delay = config.workflow_retry_interval_seconds, config.workflow_retry_max_delay_seconds
    if max_delay < interval:
        raise ConfigError(
            f"setting 'workflowRetryMaxDelaySeconds' ({max_delay}) must not be smaller than "
            f"'workflowRetryIntervalSeconds' ({interval})"
        )


def _check_hold_sweep(config: PaymentConfig) -> None:
    if config.hold_sweep_minutes > HOLD_SWEEP_MINUTES_MAX:
        raise ConfigError(
            f"setting 'holdSweepMinutes' must be between 1 and {HOLD_SWEEP_MINUTES_MAX} (minutes between two runs "
            f"of the abandoned-hold sweeper), got {config.hold_sweep_minutes}"
        )
    worst_case_seconds = worst_case_seconds_to_collect(
        interval_seconds=config.workflow_retry_interval_seconds,
        max_delay_seconds=config.workflow_retry_max_delay_seconds,
    )
    minimum_minutes = math.ceil(worst_case_seconds / 60)
    if config.abandoned_hold_minutes * 60 < worst_case_seconds:
        raise ConfigError(
            f"setting 'abandonedHoldMinutes' ({config.abandoned_hold_minutes}) must be at least {minimum_minutes}: "
            f"with 'workflowRetryIntervalSeconds' {config.workflow_retry_interval_seconds} and "
            f"'workflowRetryMaxDelaySeconds' {config.workflow_retry_max_delay_seconds} a booking may take up to "
            f"{worst_case_seconds} s to reach the end of Collect's last attempt, so a shorter limit would let the "
            "sweeper release a live booking's hold before Collect captures it"
        )


def _check_charge_throttling(config: PaymentConfig) -> None:
    pairs = (
        (
            "chargeThrottleRateLimit",
            config.charge_throttle_rate_limit,
            "apiThrottleRateLimit",
            config.api_throttle_rate_limit,
        ),
        (
            "chargeThrottleBurstLimit",
            config.charge_throttle_burst_limit,
            "apiThrottleBurstLimit",
            config.api_throttle_burst_limit,
        ),
    )
    for name, value, stage_name, stage_value in pairs:
        if value > stage_value:
            raise ConfigError(
                f"setting {name!r} ({value}) must not be larger than {stage_name!r} ({stage_value}): "
                "the public /charge route is throttled more strictly than the stage"
            )


def _check_waf_rate_limit(config: PaymentConfig) -> None:
    if not WAF_RATE_LIMIT_MIN <= config.waf_charge_rate_limit <= WAF_RATE_LIMIT_MAX:
        raise ConfigError(
            f"setting 'wafChargeRateLimit' must be between {WAF_RATE_LIMIT_MIN} and {WAF_RATE_LIMIT_MAX} "
            f"(requests per IP in 5 minutes, AWS WAF's range), got {config.waf_charge_rate_limit}"
        )


def _as_bool(value: object, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"setting {name!r} must be true or false, got {value!r}")


def _as_max_amounts(value: object) -> tuple[tuple[str, int], ...]:
    amounts = _as_mapping(value, "maxChargeAmounts")
    if not amounts:
        raise ConfigError("setting 'maxChargeAmounts' must name at least one currency")
    result = []
    for currency, maximum in sorted(amounts.items()):
        if not (
            isinstance(currency, str)
            and len(currency) == ISO_CURRENCY_LENGTH
            and currency.isascii()
            and currency.isalpha()
        ):
            raise ConfigError(f"setting 'maxChargeAmounts' has {currency!r}: currencies are 3-letter ISO 4217 codes")
        result.append((currency.lower(), _as_positive_int(maximum, f"maxChargeAmounts.{currency}")))
    return tuple(result)


def _as_retention_days(value: object) -> int:
    days = _as_positive_int(value, "logRetentionDays")
    if days not in _RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in _RETENTION_DAYS)
        raise ConfigError(f"setting 'logRetentionDays' must be one of {allowed}, got {days}")
    return days


def _as_choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    normalised = value.strip() if isinstance(value, str) else value
    for choice in choices:
        if isinstance(normalised, str) and normalised.lower() == choice.lower():
            return choice
    raise ConfigError(f"setting {name!r} must be one of {', '.join(choices)}, got {value!r}")


def _as_origins(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        stripped = value.strip()
        value = _parse_json(stripped, "corsAllowedOrigins") if stripped.startswith("[") else stripped.split(",")
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"setting 'corsAllowedOrigins' must be a non-empty list of origins, got {value!r}")
    origins = tuple(str(origin).strip() for origin in value)
    for origin in origins:
        if origin == "*" or not origin.startswith(("https://", "http://")) or origin.endswith("/"):
            raise ConfigError(
                f"setting 'corsAllowedOrigins' holds {origin!r}: each origin must be scheme://host[:port] "
                "without a trailing slash, and '*' is not allowed for a payment API"
            )
    return origins
