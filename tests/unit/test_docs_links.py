"""Every relative link and image in README.md, SECURITY.md and docs/ resolves, anchors included; so does every
runbook link an alarm gives (``payment_stack/``), and every alarm has its runbook entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.docs import (
    PROJECT_ROOT,
    RUNBOOK,
    Link,
    anchors,
    documents,
    github_anchor,
    is_external,
    link_problem,
    links,
    runbook_anchors,
    runbook_link,
)
from tests.unit.test_event_monitoring_construct import EVENT_ALARM_KEYS
from tests.unit.test_monitoring_construct import BOOKING_ALARM_KEYS, PAYMENT_ALARM_KEYS

# A runbook link written anywhere in the stacks' code, e.g. in an alarm description: "docs/operations.md#api5xx".
RUNBOOK_LINK = re.compile(re.escape(RUNBOOK) + r"#([\w-]+)")


def test_github_anchor_is_githubs_rule_for_sample_headings() -> None:
    # Lower case, punctuation but - and _ dropped, spaces made hyphens, code and links shown as their text
    assert github_anchor("Fares: the price is the server's") == "fares-the-price-is-the-servers"
    assert github_anchor("SnapStart (`snapStart`)") == "snapstart-snapstart"
    assert github_anchor("Lambda packaging (no Docker)") == "lambda-packaging-no-docker"
    assert github_anchor("What `make local` does") == "what-make-local-does"
    assert github_anchor("[The ledger](api.md) and `record_id`") == "the-ledger-and-record_id"
    assert github_anchor("Api5xx") == "api5xx"
    # A repeated heading gets -1, -2; headings in code blocks are no headings
    page = "# Title\n## Retries\ntext\n## Retries\n```bash\n# not a heading\n```\n### Retries\n"
    assert anchors(page) == {"title", "retries", "retries-1", "retries-2"}


def test_links_are_found_outside_code_only(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        'See [a](a.md#x), ![img](images/i.png "title") and [`b`](https://example.com).\n'
        "`[not](a link)`\n```md\n[not](either.md)\n```\n[ref]: ref.md\n"
    )
    assert [(link.line, link.target) for link in links(page)] == [
        (1, "a.md#x"),
        (1, "images/i.png"),
        (1, "https://example.com"),
        (6, "ref.md"),
    ]


def test_a_missing_file_or_heading_is_reported() -> None:
    readme = PROJECT_ROOT / "README.md"
    assert link_problem(Link(readme, 1, "docs/no-such-page.md")) == "no such file"
    problem = link_problem(Link(readme, 1, "#no-such-heading"))
    assert problem == "no heading of README.md has the anchor #no-such-heading"
    assert link_problem(Link(readme, 1, f"{RUNBOOK}#api5xx")) is None


def test_the_docs_are_the_readme_security_and_every_page_under_docs() -> None:
    names = {str(path.relative_to(PROJECT_ROOT)) for path in documents()}
    assert {"README.md", "SECURITY.md", RUNBOOK} <= names


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(PROJECT_ROOT)))
def test_every_relative_link_and_anchor_resolves(document: Path) -> None:
    checked: list[Link] = [link for link in links(document) if not is_external(link.target)]
    problems = [f"{link}: {problem}" for link in checked if (problem := link_problem(link))]
    assert problems == []


def test_every_runbook_link_in_the_stacks_resolves() -> None:
    # Given every "docs/operations.md#..." written in the stacks' code (none yet is fine)
    written = {
        f"{path.relative_to(PROJECT_ROOT)}: #{anchor}"
        for path in sorted((PROJECT_ROOT / "payment_stack").rglob("*.py"))
        for anchor in RUNBOOK_LINK.findall(path.read_text())
    }
    # Then each names a heading of the runbook
    known = runbook_anchors()
    assert {link for link in written if link.rsplit("#", 1)[1] not in known} == set()


@pytest.mark.parametrize("key", sorted(PAYMENT_ALARM_KEYS | BOOKING_ALARM_KEYS | EVENT_ALARM_KEYS))
def test_every_alarm_has_a_runbook_entry_under_its_key(key: str) -> None:
    anchor = runbook_link(key).split("#", 1)[1]
    assert anchor in runbook_anchors(), f"{RUNBOOK} has no heading {key!r} (anchor #{anchor})"
