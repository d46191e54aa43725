"""Reading the Markdown docs as GitHub renders them: headings and their anchors, links, the runbook.

``RUNBOOK`` is the runbook's path from the project root and ``runbook_link(key)`` the link an alarm's description
gives for alarm ``key`` (the runbook has one heading per alarm key); ``tests/unit/test_docs_links.py`` checks that
every link in the docs, and every runbook link written in ``payment_stack/``, resolves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCS = PROJECT_ROOT / "docs"
RUNBOOK = "docs/operations.md"

_FENCE = re.compile(r"^\s*(```|~~~)")
_ATX_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
# [text](target "title") and ![alt](target): the text may hold one level of brackets and line breaks.
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def documents() -> list[Path]:
    """The Markdown the project keeps: README.md, SECURITY.md and every page under docs/."""
    return [PROJECT_ROOT / "README.md", PROJECT_ROOT / "SECURITY.md", *sorted(DOCS.rglob("*.md"))]


def prose(markdown: str) -> str:
    """``markdown`` without its fenced code blocks (each line blanked, so line numbers stay)."""
    lines = []
    fence: str | None = None
    for line in markdown.splitlines():
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            lines.append("")
        elif fence is not None:
            if line.strip().startswith(fence):
                fence = None
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


def headings(markdown: str) -> list[str]:
    """The text of every ATX heading (``#`` to ``######``) outside code blocks, in order."""
    return [match.group(1) for line in prose(markdown).splitlines() if (match := _ATX_HEADING.match(line))]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: the rendered text in lower case, every character but letters, digits,
    ``_``, ``-`` and spaces dropped, each space made a hyphen (github-slugger; duplicates: see ``anchors``)."""
    text = re.sub(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML shows no tag
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor of a page: one per heading, a repeated one suffixed ``-1``, ``-2``, ... as GitHub does."""
    seen: dict[str, int] = {}
    result: set[str] = set()
    for heading in headings(markdown):
        slug = github_anchor(heading)
        if slug in seen:
            seen[slug] += 1
            slug = f"{slug}-{seen[slug]}"
        else:
            seen[slug] = 0
        result.add(slug)
    return result


@dataclass(frozen=True)
class Link:
    """A link or image target written in ``document`` on ``line``."""

    document: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.document.relative_to(PROJECT_ROOT)}:{self.line}: {self.target}"


def links(document: Path) -> Iterator[Link]:
    """Every inline link, image and link reference definition outside code (fenced blocks and code spans)."""
    text = prose(document.read_text())
    text = _CODE_SPAN.sub(lambda match: re.sub(r"[^\n]", " ", match.group(0)), text)
    for pattern in (_INLINE_LINK, _REFERENCE_DEFINITION):
        for match in pattern.finditer(text):
            yield Link(document, text.count("\n", 0, match.start()) + 1, match.group(1))


def is_external(target: str) -> bool:
    """A link with a scheme (``https:``, ``mailto:``...): not checked."""
    return bool(_SCHEME.match(target))


def link_problem(link: Link) -> str | None:
    """Why ``link`` does not resolve (a missing file, or an anchor no heading of its page has), or None."""
    path_part, _, anchor = link.target.partition("#")
    target = (link.document.parent / path_part).resolve() if path_part else link.document
    if not target.is_relative_to(PROJECT_ROOT):
        # Outside this repository (the system's shared contracts, ../shared/DESIGN.md): not ours to check.
        return None
    if not target.exists():
        return "no such file"
    if anchor:
        if target.suffix != ".md":
            return "an anchor into a file that is not Markdown"
        if anchor not in anchors(target.read_text()):
            return f"no heading of {target.relative_to(PROJECT_ROOT)} has the anchor #{anchor}"
    return None


def runbook_anchors() -> set[str]:
    """The anchors of the runbook's headings: one per alarm key, ``github_anchor(key)``."""
    return anchors((PROJECT_ROOT / RUNBOOK).read_text())


def runbook_link(alarm_key: str) -> str:
    """The runbook entry of alarm ``alarm_key``, from the project root: ``docs/operations.md#api5xx`` for ``Api5xx``."""
    return f"{RUNBOOK}#{github_anchor(alarm_key)}"
