"""Per-environment configuration: defaults from cdk.json, per-environment entries, `-c payment:...` overrides."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk.aws_logs import RetentionDays

from payment_stack.booking.timing import worst_case_seconds_to_collect
from payment_stack.config import ConfigError, PaymentConfig, load_config
from tests.support.cdk import CDK_JSON_CONTEXT


def config_for(env_name: str, **overrides: Any) -> PaymentConfig:
    context = {**CDK_JSON_CONTEXT, **{f"payment:{key}": value for key, value in overrides.items()}}
    return load_config(env_name=env_name, context=context.get)


def test_branch_environments_are_destroyable_with_cdk_json_defaults() -> None:
    config = config_for("feature-x")
    assert config.removal_policy == RemovalPolicy.DESTROY
    assert config.log_level == "INFO"
    assert config.log_retention == RetentionDays.TWO_WEEKS
    assert config.cors_allowed_origins == ("http://localhost:8080", "http://127.0.0.1:8080")
    assert config.stack_name == "Payment-feature-x"
    assert config.stripe_secret_key_parameter_name == "/feature-x/service/payment/stripe/secretKey"


def test_production_like_environments_are_retained() -> None:
    for env_name in ("main", "prod"):
        assert config_for(env_name).removal_policy == RemovalPolicy.RETAIN


def test_command_line_overrides_arrive_as_strings_and_are_parsed() -> None:
    config = config_for(
        "feature-x",
        logLevel="debug",
        apiThrottleRateLimit="7",
        chargeThrottleRateLimit="5",
        corsAllowedOrigins="https://a.example, https://b.example:8443",
        removalPolicy="RETAIN",
        logRetentionDays="30",
    )
    assert config.log_level == "DEBUG"
    assert config.api_throttle_rate_limit == 7
    assert config.cors_allowed_origins == ("https://a.example", "https://b.example:8443")
    assert config.removal_policy == RemovalPolicy.RETAIN
    assert config.log_retention == RetentionDays.ONE_MONTH


def test_json_list_override_for_origins() -> None:
    assert config_for("x", corsAllowedOrigins='["https://a.example"]').cors_allowed_origins == ("https://a.example",)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("logLevel", "LOUD", "logLevel"),
        ("removalPolicy", "snapshot", "removalPolicy"),
        ("apiThrottleRateLimit", "-1", "positive integer"),
        ("apiThrottleBurstLimit", True, "positive integer"),
        ("logRetentionDays", 13, "logRetentionDays"),
        ("corsAllowedOrigins", "*", "not allowed"),
        ("corsAllowedOrigins", "https://a.example/", "trailing slash"),
        ("corsAllowedOrigins", "ftp://a.example", "scheme"),
        ("corsAllowedOrigins", [], "non-empty"),
        ("corsAllowedOrigins", "[not json", "not valid JSON"),
    ],
)
def test_invalid_settings_name_the_setting(setting: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_for("feature-x", **{setting: value})


def test_missing_defaults_say_to_use_the_cli() -> None:
    with pytest.raises(ConfigError, match="CDK CLI"):
        load_config(env_name="x", context=lambda _key: None)


def test_a_missing_setting_is_named() -> None:
    context = {"payment:defaults": {"logLevel": "INFO"}}
    with pytest.raises(ConfigError, match="corsAllowedOrigins"):
        load_config(env_name="x", context=context.get)


def test_config_is_immutable() -> None:
    config = config_for("x")
    with pytest.raises(AttributeError):
        config.log_level = "DEBUG"  # type: ignore[misc]


def test_max_charge_amounts_are_per_lower_case_currency() -> None:
    config = config_for("x", maxChargeAmounts='{"USD": 500, "jpy": "70000"}')
    assert config.max_charge_amounts_by_currency == {"usd": 500, "jpy": 70000}


@pytest.mark.parametrize("value", ['{"dollars": 5}', '{"usd": 0}', "{}", '{"usd": 1.5}'])
def test_invalid_max_charge_amounts_are_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="maxChargeAmounts"):
        config_for("x", maxChargeAmounts=value)


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("TRUE", True), (False, False)])
def test_cloud_watch_role_flag_parses(value: object, expected: bool) -> None:
    assert config_for("x", apiGatewayCloudWatchRole=value).api_gateway_cloud_watch_role is expected


def test_cloud_watch_role_flag_rejects_other_values() -> None:
    with pytest.raises(ConfigError, match="true or false"):
        config_for("x", apiGatewayCloudWatchRole="maybe")


def test_workflow_retry_timing_defaults_and_overrides() -> None:
    # Given cdk.json's defaults, then local-mode timing from the command line
    default = config_for("feature-x")
    local = config_for("feature-x", workflowRetryIntervalSeconds="1", workflowRetryMaxDelaySeconds="1")
    # Then every Retry of the booking workflow starts at 2 s and waits at most 60 s, or 1 s / 1 s locally
    assert (default.workflow_retry_interval_seconds, default.workflow_retry_max_delay_seconds) == (2, 60)
    assert (local.workflow_retry_interval_seconds, local.workflow_retry_max_delay_seconds) == (1, 1)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"workflowRetryIntervalSeconds": "0"}, "workflowRetryIntervalSeconds.*positive integer"),
        ({"workflowRetryMaxDelaySeconds": 1.5}, "workflowRetryMaxDelaySeconds.*positive integer"),
        ({"workflowRetryIntervalSeconds": 30, "workflowRetryMaxDelaySeconds": 10}, "must not be smaller"),
    ],
)
def test_invalid_workflow_retry_timing_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_for("feature-x", **overrides)


def test_booking_stack_is_named_after_the_environment() -> None:
    assert config_for("feature-x").booking_stack_name == "Booking-feature-x"


def test_charge_throttling_defaults_are_stricter_than_the_stage() -> None:
    # Given cdk.json's defaults and production's entry
    branch, prod = config_for("feature-x"), config_for("prod")
    # Then /charge has its own, lower limits everywhere
    assert (branch.charge_throttle_rate_limit, branch.charge_throttle_burst_limit) == (20, 40)
    assert (prod.charge_throttle_rate_limit, prod.charge_throttle_burst_limit) == (100, 200)
    for config in (branch, prod):
        assert config.charge_throttle_rate_limit <= config.api_throttle_rate_limit
        assert config.charge_throttle_burst_limit <= config.api_throttle_burst_limit


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"chargeThrottleRateLimit": "60"}, "chargeThrottleRateLimit.*must not be larger than 'apiThrottleRateLimit'"),
        ({"chargeThrottleBurstLimit": "101"}, "chargeThrottleBurstLimit.*'apiThrottleBurstLimit'"),
        ({"chargeThrottleRateLimit": "0"}, "chargeThrottleRateLimit.*positive integer"),
        ({"wafChargeRateLimit": "9"}, "wafChargeRateLimit.*between 10 and"),
        ({"wafChargeRateLimit": "lots"}, "wafChargeRateLimit.*positive integer"),
        ({"wafEnabled": "sometimes"}, "wafEnabled.*true or false"),
    ],
)
def test_invalid_abuse_limits_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_for("feature-x", **overrides)


def test_waf_is_on_for_prod_only_and_can_be_turned_on_anywhere() -> None:
    # Given the defaults, production's entry and a command-line override
    assert config_for("feature-x").waf_enabled is False
    assert config_for("main").waf_enabled is False
    assert config_for("prod").waf_enabled is True
    override = config_for("feature-x", wafEnabled="true", wafChargeRateLimit="50")
    # Then the flag and the per-IP limit (requests to /charge in 5 minutes) follow
    assert (override.waf_enabled, override.waf_charge_rate_limit) == (True, 50)
    assert config_for("prod").waf_charge_rate_limit == 300


def test_execution_logging_follows_the_cloud_watch_role_setting() -> None:
    assert config_for("feature-x").execution_logging_enabled is True
    assert config_for("local", apiGatewayCloudWatchRole="false").execution_logging_enabled is False


def test_snap_start_is_on_for_prod_only_and_can_be_set_anywhere() -> None:
    # Given the defaults, production's entry and command-line overrides (strings)
    assert config_for("feature-x").snap_start is False
    assert config_for("main").snap_start is False
    assert config_for("prod").snap_start is True
    # Then the override wins either way
    assert config_for("feature-x", snapStart="true").snap_start is True
    assert config_for("prod", snapStart="FALSE").snap_start is False


@pytest.mark.parametrize("value", ["sometimes", 1, "yes"])
def test_snap_start_must_be_true_or_false(value: object) -> None:
    with pytest.raises(ConfigError, match=r"snapStart.*true or false"):
        config_for("feature-x", snapStart=value)


def test_hold_sweep_defaults_and_overrides() -> None:
    # Given cdk.json's defaults, then command-line overrides (strings)
    default = config_for("feature-x")
    override = config_for("feature-x", holdSweepMinutes="1", abandonedHoldMinutes="1440")
    # Then the sweeper runs every 5 minutes and releases holds older than 30 minutes, or as overridden
    assert (default.hold_sweep_minutes, default.abandoned_hold_minutes) == (5, 30)
    assert (override.hold_sweep_minutes, override.abandoned_hold_minutes) == (1, 1440)
    assert config_for("feature-x", holdSweepMinutes=1440).hold_sweep_minutes == 1440


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"holdSweepMinutes": "0"}, "holdSweepMinutes.*positive integer"),
        ({"holdSweepMinutes": 2.5}, "holdSweepMinutes.*positive integer"),
        ({"holdSweepMinutes": "1441"}, "holdSweepMinutes.*between 1 and 1440"),
        ({"abandonedHoldMinutes": "0"}, "abandonedHoldMinutes.*positive integer"),
        ({"abandonedHoldMinutes": "soon"}, "abandonedHoldMinutes.*positive integer"),
    ],
)
def test_invalid_hold_sweep_settings_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_for("feature-x", **overrides)


def test_abandoned_hold_limit_may_not_be_shorter_than_a_booking_can_take_to_collect() -> None:
    # Given the default retry timing (2 s / 60 s): a booking may take up to 282 s to reach the end of Collect's last
    # attempt (two reservations 3 retries x 10 s and Collect 3 retries x 40 s, each with waits of 2 + 4 + 8 s)
    assert worst_case_seconds_to_collect(interval_seconds=2, max_delay_seconds=60) == 282
    # Then 5 minutes (282 s rounded up) is accepted and 4 is refused, naming the settings, the minimum and why
    assert config_for("feature-x", abandonedHoldMinutes="5").abandoned_hold_minutes == 5
    with pytest.raises(ConfigError) as refused:
        config_for("feature-x", abandonedHoldMinutes="4")
    message = str(refused.value)
    for part in (
        "'abandonedHoldMinutes' (4) must be at least 5",
        "'workflowRetryIntervalSeconds' 2",
        "'workflowRetryMaxDelaySeconds' 60",
        "282 s",
        "before Collect captures it",
    ):
        assert part in message


def test_abandoned_hold_minimum_grows_with_the_workflow_retry_timing() -> None:
    # Given slow retries (first wait 60 s, longest 600 s: waits of 60 + 120 + 240 s per task), 1,500 s in all
    timing = {"workflowRetryIntervalSeconds": "60", "workflowRetryMaxDelaySeconds": "600"}
    assert worst_case_seconds_to_collect(interval_seconds=60, max_delay_seconds=600) == 1500
    # Then 25 minutes is accepted and 24 refused
    assert config_for("feature-x", abandonedHoldMinutes="25", **timing).abandoned_hold_minutes == 25
    with pytest.raises(ConfigError, match=r"'abandonedHoldMinutes' \(24\) must be at least 25:"):
        config_for("feature-x", abandonedHoldMinutes="24", **timing)
