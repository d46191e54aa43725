"""Environment names: where they come from and how they are made safe for stack names, SSM paths and resources."""

from __future__ import annotations

import re

import pytest

from payment_stack.environment import (
    MAX_ENV_NAME_LENGTH,
    EnvironmentNameError,
    resolve_env_name,
    sanitise_env_name,
)

VALID = re.compile(r"^[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*$")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("main", "main"),
        ("feature/ABC-12_x", "feature-ABC-12-x"),
        ("Release/2.0", "Release-2-0"),
        ("123-fix", "env-123-fix"),
        ("--weird//name__", "weird-name"),
        ("café/über", "cafe-uber"),
        ("fix/日本語-bug", "fix-bug"),
        ("  spaced name  ", "spaced-name"),
    ],
)
def test_sanitise_gives_a_safe_name(raw: str, expected: str) -> None:
    # Given a branch name / When it is sanitised / Then only letters, digits and single dashes remain
    assert sanitise_env_name(raw) == expected
    assert VALID.match(sanitise_env_name(raw))


def test_long_names_are_bounded_and_stay_distinct() -> None:
    # Given two 300-character branches that differ only in their last character
    first, second = "feature/" + "a" * 291 + "1", "feature/" + "a" * 291 + "2"
    # When sanitised
    one, two = sanitise_env_name(first), sanitise_env_name(second)
    # Then both fit the bound, are valid, and differ
    assert len(one) <= MAX_ENV_NAME_LENGTH
    assert len(two) <= MAX_ENV_NAME_LENGTH
    assert VALID.match(one)
    assert one != two
    assert one.startswith("feature-aaaa")


def test_sanitise_is_stable() -> None:
    assert sanitise_env_name("feature/" + "x" * 300) == sanitise_env_name("feature/" + "x" * 300)


@pytest.mark.parametrize("raw", ["", "///", "日本語", "___"])
def test_a_name_with_nothing_usable_is_an_error(raw: str) -> None:
    with pytest.raises(EnvironmentNameError, match="-c env=NAME"):
        sanitise_env_name(raw)


def test_context_wins_over_aws_branch_and_git() -> None:
    name = resolve_env_name(context_value="feature/ctx", environ={"AWS_BRANCH": "amplify"}, git_branch=lambda: "git")
    assert name == "feature-ctx"


def test_aws_branch_wins_over_git() -> None:
    assert resolve_env_name(context_value=None, environ={"AWS_BRANCH": "amplify/x"}, git_branch=lambda: "g") == (
        "amplify-x"
    )


def test_git_branch_is_the_fallback() -> None:
    assert resolve_env_name(context_value=None, environ={}, git_branch=lambda: "feature/ABC-12_x") == (
        "feature-ABC-12-x"
    )


def test_blank_context_and_aws_branch_fall_through_to_git() -> None:
    assert resolve_env_name(context_value="  ", environ={"AWS_BRANCH": ""}, git_branch=lambda: "dev") == "dev"


def test_detached_head_without_context_says_how_to_pass_env() -> None:
    with pytest.raises(EnvironmentNameError, match=r"detached HEAD.*-c env=NAME"):
        resolve_env_name(context_value=None, environ={}, git_branch=lambda: None)


def test_non_string_context_is_an_error() -> None:
    with pytest.raises(EnvironmentNameError, match="must be a string"):
        resolve_env_name(context_value=42, environ={}, git_branch=lambda: "main")
