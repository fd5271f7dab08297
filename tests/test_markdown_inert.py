"""The Markdown report renders no link, image, HTML, emphasis, mention or issue reference
from data, and one finding is one table row (SPEC §6).

Checked on the HTML of a real CommonMark + GFM renderer (markdown-it-py with its tables,
strikethrough, raw HTML and linkify on), then on that HTML's text with the patterns
GitHub's own filters look for after rendering (mentions, issue references, e-mail
autolinks), and on the Markdown source with the patterns the GFM autolink extension
looks for in it (``www.``, ``scheme://``).
"""

from __future__ import annotations

import json
import re
import string
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from nhirecon.core.model import (
    ExceptionRule,
    Finding,
    FindingKind,
    GateOutcome,
    GateResult,
    GateRule,
    Record,
    Remediation,
    Severity,
    fingerprint,
)
from nhirecon.core.report import (
    BaselineView,
    HistoryView,
    Report,
    ResolvedFinding,
    TargetStats,
)
from nhirecon.core.text import inert
from nhirecon.reporters.markdown import MarkdownReporter, _escape

from .conftest import NOW, Run

HOSTILE = (
    "[Verify](https://evil.example)",
    "![x](https://evil.example/pixel)",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<!-- hidden -->",
    "<https://evil.example>",
    "https://evil.example/login",
    "www.evil.example",
    "evil.com",
    "mallory@evil.example",
    "@team",
    "@acme/security",
    "#123",
    "acme/repo#7",
    "GH-42",
    "`code` ``x``",
    "*bold* **strong** _it_ ~~gone~~ ~one~",
    "$x^2$",
    "&lt;b&gt; &#x3C;b&#62; &amp;",
    "a|b\\|c",
    "[ref][1] [^1]",
    "one\rtwo\rthree\rfour\rfive",
    "a\nb\vc\fd\x1ce\x1df\x1eg\x85h\u2028i\u2029j",
    "# Title",
    "- item",
    "1. first",
    "> quote",
    "trailing backslash \\",
    "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
)
TABLE_TAGS = {"table", "thead", "tbody", "tr", "th", "td"}
DOCUMENT_TAGS = TABLE_TAGS | {"h1", "h2", "p", "ul", "li"}

MENTION = re.compile(r"(?:^|[^A-Za-z0-9_])@[A-Za-z0-9]")
"""GitHub's mention filter: ``@`` at a word start, then a name (html-pipeline's
``MentionPattern``; team mentions start the same way)."""
REFERENCE = re.compile(r"#\d|\bGH-\d", re.IGNORECASE)
"""GitHub's issue references: ``#123``, ``owner/repo#123``, ``GH-123``."""
EMAIL = re.compile(r"[A-Za-z0-9.+_-]@[A-Za-z0-9_-]+\.[A-Za-z0-9]")
"""The GFM autolink extension's e-mail rule, which cmark-gfm applies to the text after
parsing (its ``postprocess`` joins the text nodes first)."""
URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
SOURCE_AUTOLINK = re.compile(r"www\.|[A-Za-z]://")
"""What the GFM autolink extension matches in the Markdown source."""


def renderer() -> MarkdownIt:
    return MarkdownIt("gfm-like")  # CommonMark, GFM tables, strikethrough, HTML, linkify


class Rendered(HTMLParser):
    """The HTML's tags, its text nodes, and its tables as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.comments: list[str] = []
        self.texts: list[str] = []
        self.tables: list[list[list[str]]] = []
        self.blocks: list[str] = []
        """The text of every ``p``, ``li`` and heading."""
        self._cell: list[str] | None = None
        self._block: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("p", "li", "h1", "h2"):
            self._block = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("p", "li", "h1", "h2") and self._block is not None:
            self.blocks.append("".join(self._block))
            self._block = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        for part in (self._cell, self._block):
            if part is not None:
                part.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def render(markdown: str) -> Rendered:
    parsed = Rendered()
    parsed.feed(renderer().render(markdown))
    parsed.close()
    return parsed


def read(text: str) -> str:
    """What a person reads: the zero-width spaces that break mentions are invisible."""
    return text.replace("\u200b", "")


def assert_no_live_markup(markdown: str, rendered: Rendered, allowed: set[str]) -> None:
    assert set(rendered.tags) <= allowed, sorted(set(rendered.tags) - allowed)
    assert not rendered.comments
    for text in rendered.texts:
        for pattern in (MENTION, REFERENCE, EMAIL, URL):
            assert not pattern.search(text), f"{pattern.pattern} in {text!r}"
    assert not SOURCE_AUTOLINK.search(markdown)


# --- a report with hostile values in every place the Markdown shows one ----------------------

AT = datetime(2026, 11, 28, tzinfo=UTC)
UNTIL = date(2027, 1, 1)
SOURCE = "hr [x](https://evil.example) @team"
TARGET = "app <b>x</b> #1"
BASELINE = "base ![p](https://evil.example/p).json"
RULE = "orphan>0 [Verify](https://evil.example)"


def finding(number: int, label: str) -> Finding:
    account = Record(id=f"id-{label}", location=f"app.json[{number}]", username=label)
    identity = Record(id=f"E{number}", location="hr.csv", username=f"owner {label}")
    return Finding(
        kind=FindingKind.LEAVER,
        severity=Severity.CRITICAL,
        target=TARGET,
        account=account,
        identity=identity,
        message=f"{label}: belongs to owner {label}, whose status in {SOURCE} is {label!r}",
        detail={},
        remediation=Remediation.MANUAL,
        remediation_reason="",
        fingerprint=fingerprint(FindingKind.LEAVER, TARGET, account.id),
    )


def hostile_report() -> Report:
    findings = tuple(finding(number, label) for number, label in enumerate(HOSTILE))
    rule = GateRule(RULE, frozenset({FindingKind.ORPHAN}), None, False, 0)
    resolved = tuple(
        ResolvedFinding(f"fp{n}", FindingKind.ORPHAN, TARGET, f"gone-{label}", None, label, AT, AT)
        for n, label in enumerate(HOSTILE)
    )
    excepted = tuple(
        (
            finding(n, label),
            ExceptionRule(
                TARGET, label, None, f"reason {label}", f"owner {label}", date(2027, 1, 1)
            ),
        )
        for n, label in enumerate(HOSTILE)
    )
    return Report(
        tool_version="0.1.0",
        generated_at=AT,
        source_name=SOURCE,
        source_connector="csv",
        identities=3,
        targets=(TargetStats(TARGET, "json <i>x</i>", len(HOSTILE), 1, 2, 0, 0),),
        findings=findings,
        excepted=excepted,
        gate=GateResult((GateOutcome(rule, len(HOSTILE), False),)),
        history=HistoryView(previous_run=AT, seen={}, resolved=resolved, trend=()),
        baseline=BaselineView(BASELINE, 0, frozenset(), ()),
    )


@pytest.fixture(scope="module")
def markdown() -> str:
    return MarkdownReporter().render(hostile_report())


def test_no_value_renders_as_markup(markdown: str) -> None:
    rendered = render(markdown)
    html = renderer().render(markdown)
    for tag in ("<a", "<img", "<script", "<em", "<strong", "<code", "<s>", "<del", "<b>", "<i>"):
        assert tag not in html, tag
    assert rendered.tags.count("h1") == 1 and rendered.tags.count("h2") == 6
    assert_no_live_markup(markdown, rendered, DOCUMENT_TAGS)


def test_each_finding_is_one_row_that_reads_as_the_value(markdown: str) -> None:
    report = hostile_report()
    targets, kinds, findings, resolved, excepted = render(markdown).tables
    assert [read(cell) for cell in targets[2]][:2] == [inert(TARGET), "json <i>x</i>"]
    assert read(kinds[0][1]) == inert(TARGET)
    assert len(findings) == 1 + len(report.findings)
    for row, item in zip(findings[1:], report.findings, strict=True):
        assert item.account is not None and item.identity is not None
        assert [read(cell) for cell in row] == [
            "critical",
            "leaver",
            inert(TARGET),
            inert(item.account.label).strip(" "),
            inert(item.identity.label).strip(" "),
            inert(item.message),
            "",
            "manual",
        ]
    assert len(resolved) == 1 + len(HOSTILE)
    for row, label in zip(resolved[1:], HOSTILE, strict=True):
        assert [read(cell) for cell in row] == [
            "orphan",
            inert(TARGET),
            inert(label).strip(" "),
            inert(f"gone-{label}").strip(" "),
        ]
    assert len(excepted) == 1 + len(HOSTILE)
    for row, label in zip(excepted[1:], HOSTILE, strict=True):
        assert [read(cell) for cell in row][2:5] == [
            inert(f"id-{label}").strip(" "),
            inert(f"reason {label}").strip(" "),
            inert(f"owner {label}").strip(" "),
        ]


def test_the_headline_changes_and_gate_read_as_the_values(markdown: str) -> None:
    blocks = [read(block) for block in render(markdown).blocks]
    assert any(f"source {SOURCE} (3 identities)" in block for block in blocks)
    assert any(block.startswith(f"baseline {BASELINE}: 0 findings") for block in blocks)
    assert f"FAIL {RULE} (count {len(HOSTILE)})" in blocks


ALPHABET = st.one_of(
    st.sampled_from([*string.punctuation, *" a1wGHgh", "\n", "\r", "\x1b", "\u2028", "\u200b"]),
    st.characters(exclude_categories=["Cs"]),
)


@settings(max_examples=400, deadline=None)
@given(st.text(ALPHABET, max_size=40))
def test_any_value_is_one_cell_that_reads_as_the_value(value: str) -> None:
    markdown = f"| h |\n|---|\n| {_escape(value)} |\n"
    rendered = render(markdown)
    [[header, [cell]]] = rendered.tables  # one table: its header, then one row of one cell
    assert header == ["h"]
    assert read(cell) == inert(value).strip(" ")
    assert_no_live_markup(markdown, rendered, TABLE_TAGS)


# --- through the installed command -----------------------------------------------------------


def test_the_markdown_report_of_a_hostile_export(run: Run, tmp_path: Path) -> None:
    (tmp_path / "hr.csv").write_text(
        "id,email,display_name\nE1,ann@example.com,Ann\n", encoding="utf-8"
    )
    accounts = [{"id": "A0", "email": "ann@example.com", "display_name": HOSTILE[0]}]
    accounts += [
        {"id": f"A{n}", "username": value, "email": f"u{n}@evil.example", "display_name": value}
        for n, value in enumerate(HOSTILE, start=1)
    ]
    (tmp_path / "app.json").write_text(json.dumps(accounts), encoding="utf-8")
    config = {
        "version": 1,
        "source": {"name": "hr", "connector": "csv", "path": "hr.csv", "map": {"id": "id"}},
        "targets": [
            {
                "name": "app",
                "connector": "json",
                "path": "app.json",
                "correlate": [{"account": "email", "identity": "email"}],
                "compare": ["display_name"],
            }
        ],
        "history": "history.db",
    }
    (tmp_path / "nhirecon.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    args = ("audit", "--now", NOW, "-f", "json", "-o", "r.json", "-f", "markdown", "-o", "r.md")
    result = run(*args)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
    rendered = render(markdown)
    assert_no_live_markup(markdown, rendered, DOCUMENT_TAGS)
    findings = rendered.tables[2]
    assert len(findings) == 1 + len(report["findings"]) == 1 + len(HOSTILE) + 1
    shown = {read(row[3]) for row in findings[1:]}
    assert {inert(value).strip(" ") for value in HOSTILE} <= shown
    [stale] = [row for row in findings[1:] if row[1] == "stale-attribute"]
    [message] = [f["message"] for f in report["findings"] if f["kind"] == "stale-attribute"]
    assert "'[Verify](https://evil.example)'" in message
    assert read(stale[5]) == inert(message)
