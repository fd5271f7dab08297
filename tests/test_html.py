"""The HTML report: self-contained, escaped, readable without JavaScript, right in a browser."""

from __future__ import annotations

import base64
import csv
import dataclasses
import fnmatch
import hashlib
import io
import json
import re
import shutil
import subprocess
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
import pytest

from nhirecon.core.allowlist import BroadEntry, ListName
from nhirecon.core.findings import make
from nhirecon.core.gate import evaluate
from nhirecon.core.model import KIND_INFO, ExceptionRule, Finding, FindingKind, Remediation
from nhirecon.core.report import (
    BaselineEntry,
    BaselineView,
    HistoryView,
    Report,
    ResolvedFinding,
    TargetStats,
)
from nhirecon.reporters import FORMATS, for_path, html_page
from nhirecon.reporters.html import HtmlReporter, context, title

from .conftest import ROOT, Run
from .factories import NOW, account, person
from .nightly import NIGHTS, copy_estate, night, set_crm, third_night
from .reports_golden import check_golden

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
)


class Page(HTMLParser):
    """What a test needs from a page: tiles, per-place counts, rows, chart bars, tags."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: dict[str, int] = defaultdict(int)
        self.tiles: dict[str, int] = {}
        self.place_counts: dict[str, int] = {}
        self.rows: dict[str, list[str]] = defaultdict(list)
        self.bars: list[dict[str, str]] = []
        self.body: dict[str, str] = {}
        self.text: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.scripts: list[str] = []
        self.contents: list[tuple[str, dict[str, str], str]] = []
        """Each element that starts with text: its tag, attributes and that text."""
        self._open: tuple[str, dict[str, str]] | None = None
        self._tag = ""
        self._section = ""
        self._tile = ""
        self._place = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {name: value or "" for name, value in attrs}
        self.tags[tag] += 1
        self.elements.append((tag, data))
        self._open = (tag, data)
        self._tag = tag
        if tag == "body":
            self.body = data
        if tag == "section":
            self._section = data.get("id", "")
        if data.get("id", "").startswith("tile-"):
            self._tile = data["id"].removeprefix("tile-")
        if tag == "span" and "data-count" in data:
            if self._tile:
                self.tiles[self._tile] = int(data["data-count"])
                self._tile = ""
            elif self._place:
                self.place_counts[self._place] = int(data["data-count"])
        if tag == "details":
            self._place = data.get("data-place", "")
        if tag == "tr" and "data-fingerprint" in data:
            self.rows[self._section].append(data["data-fingerprint"])
        if tag == "g" and data.get("class") == "run":
            self.bars.append(data)

    def handle_data(self, data: str) -> None:
        if self._tag == "script":
            self.scripts.append(data)
        if self._open is not None:
            self.contents.append((*self._open, data))
        self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._tag = ""
        self._open = None

    def legend(self) -> dict[str, str]:
        terms = [text for tag, _, text in self.contents if tag == "dt"]
        meanings = [text for tag, _, text in self.contents if tag == "dd"]
        assert len(terms) == len(meanings)
        return dict(zip(terms, meanings, strict=True))

    def by_id(self, wanted: str) -> dict[str, str]:
        found = [data for _, data in self.elements if data.get("id") == wanted]
        assert len(found) == 1, (wanted, found)
        return found[0]

    def titles(self) -> list[str]:
        return [data["title"] for _, data in self.elements if "title" in data]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    estate = copy_estate(tmp_path_factory.mktemp("html") / "estate")
    return third_night(estate, baseline_from_second=True)


def test_html_golden_file(report: Report) -> None:
    check_golden("nightly.html", lambda: HtmlReporter().render(report))


def test_the_page_fetches_nothing(report: Report) -> None:
    text = HtmlReporter().render(report)
    assert "default-src 'none'" in text
    for pattern in (r"\bsrc\s*=", r"\bhref\s*=", r"url\(", r"@import", r"<link\b", r"<iframe\b"):
        assert not re.search(pattern, text, re.IGNORECASE), pattern
    assert re.findall(r"https?://[^\s\"'<>]+", text) == ["http://www.w3.org/2000/svg"]


def test_it_reads_without_javascript(report: Report) -> None:
    page = Page(HtmlReporter().render(report))
    assert len(page.rows["findings"]) == len(report.findings)
    assert page.tiles["total"] == len(report.findings)
    assert "FAILED" in "".join(page.text)
    assert page.tags["details"] == 3 and page.tags["script"] == 1


def test_text_from_other_systems_is_escaped(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    crm = estate / "crm.csv"
    hostile = io.StringIO()
    csv.writer(hostile, lineterminator="\n").writerow(
        [
            "c9",
            'x@example.com"><img src=x onerror=alert(2)>',
            "<script>alert(1)</script>",
            "true",
            "2026-01-01",
            "2026-11-01",
            "admin",
            "",
        ]
    )
    crm.write_text(crm.read_text() + hostile.getvalue())
    report = night(estate, NIGHTS[0], keep_history=False)
    text = HtmlReporter().render(report)
    page = Page(text)
    assert page.tags["script"] == 1 and page.tags["img"] == 0
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>alert(1)" not in text
    assert "&lt;b&gt;mallory&lt;/b&gt;&amp;&#34;x&#39;" in text and page.tags["b"] == 0
    assert "<b>mallory</b>&\"x'" in page.text


def test_registered_with_its_suffix(run: Run, tmp_path: Path) -> None:
    assert FORMATS["html"] is HtmlReporter
    assert for_path("nightly.html") == "html"


HOSTILE = ("<script>alert(1)</script>", '" onmouseover="x', "{{ 7*7 }}", "{% raw %}")
"""Values from other systems: markup, an attribute break-out, and template syntax."""

WHEN = "30 November 2026, 02:00 UTC"


def _built(findings: Sequence[Finding], **fields: Any) -> Report:
    """A report of one target, ``app``, around the given findings."""
    defaults: dict[str, Any] = {
        "tool_version": "0.0.0",
        "generated_at": NOW,
        "source_name": "hr",
        "source_connector": "csv",
        "identities": 1,
        "targets": (TargetStats("app", "csv", len(findings), 0, len(findings), 0, 0),),
        "findings": tuple(findings),
        "excepted": (),
        "gate": evaluate((), tuple(findings)),
    }
    return Report(**{**defaults, **fields})


def _finding(kind: FindingKind, index: int, text: str, *, linked: bool = True) -> Finding:
    subject = account(f"a{index}", username=text, display_name=text)
    owner = person(f"E{index}", username=f"e{index}", display_name=text) if linked else None
    return make(kind, "app", subject, owner, text, {}, (Remediation.MANUAL, "by hand"))


def _hostile(payloads: Sequence[str]) -> Report:
    """Every field that other systems fill, in every section of the page, holds a payload."""
    counted, excepted, stale, resolved = [], [], [], []
    for index, text in enumerate(payloads):
        counted.append(_finding(FindingKind.STALE_ATTRIBUTE, index, text))
        counted.append(_finding(FindingKind.ORPHAN, 100 + index, text, linked=False))
        rule = ExceptionRule("app", f"a{200 + index}", None, text, text, date(2027, 1, 1))
        excepted.append((_finding(FindingKind.DORMANT, 200 + index, text), rule))
        stale.append(
            BaselineEntry(f"{index:032x}", FindingKind.ORPHAN, "app", "x", text, text, None)
        )
        resolved.append(
            ResolvedFinding(
                f"{index + 50:032x}", FindingKind.ORPHAN, "app", text, None, text, NOW, NOW
            )
        )
    return _built(
        counted,
        excepted=tuple(excepted),
        allowlist=tuple(BroadEntry(ListName.EXCEPTIONS, "app", t, ("a1", "a2")) for t in payloads),
        baseline=BaselineView(payloads[0], len(stale), frozenset(), tuple(stale)),
        history=HistoryView(NOW - timedelta(days=1), {}, tuple(resolved), ()),
    )


def _check_shown_as_text(page: Page, payloads: Sequence[str]) -> None:
    own_script = (files("nhirecon.reporters") / "templates" / "report.js").read_text()
    assert page.scripts == [own_script], "the page's own script is its only script"
    handlers = [(tag, name) for tag, data in page.elements for name in data if name[:2] == "on"]
    assert handlers == [], "no value broke out of its attribute"
    for index, text in enumerate(payloads):
        # Whole cells, read back exactly: two messages and two accounts, the excepted
        # account, reason and owner, the allowlist entry, the resolved account's name and
        # id, the stale entry's name and note; and the baseline's path (the first payload).
        assert page.text.count(text) == (13 if index == 0 else 12), text
        # The display names of the two accounts and of the linked identity, as tooltips.
        assert page.titles().count(text) == 3, text


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_values_are_shown_as_text_never_as_markup_or_template(payload: str) -> None:
    page = Page(HtmlReporter().render(_hostile([payload])))
    _check_shown_as_text(page, [payload])


def test_template_syntax_in_data_is_never_evaluated() -> None:
    text = HtmlReporter().render(_hostile(HOSTILE))
    assert "{{ 7*7 }}" in text and "{% raw %}" in text
    assert '<td class="msg">49</td>' not in text


def test_title_says_what_and_when_in_words(report: Report) -> None:
    text = HtmlReporter().render(report)
    expected = f"nhirecon audit of hr and 2 targets — {WHEN}"
    assert f"<title>{expected}</title>" in text and f"<h1>{expected}</h1>" in text
    one = dataclasses.replace(report, targets=report.targets[:1])
    assert title(one) == f"nhirecon audit of hr and 1 target — {WHEN}"
    assert title(dataclasses.replace(report, targets=())) == f"nhirecon audit of hr — {WHEN}"


def test_the_instant_in_words_is_utc_and_the_same_everywhere() -> None:
    plus_one = timezone(timedelta(hours=1))
    assert html_page.spoken_instant(datetime(2026, 11, 28, 1, 0, tzinfo=plus_one)) == (
        "28 November 2026, 00:00 UTC"
    )
    assert html_page.spoken_instant(datetime(2027, 1, 5, 7, 3, 9, tzinfo=UTC)) == (
        "5 January 2027, 07:03:09 UTC"
    )


def test_every_kind_shown_says_what_it_means() -> None:
    findings = [_finding(kind, index, f"user{index}") for index, kind in enumerate(FindingKind)]
    page = Page(HtmlReporter().render(_built(findings)))
    assert page.legend() == {kind.value: KIND_INFO[kind].summary for kind in FindingKind}
    for kind in (FindingKind.UNMANAGED, FindingKind.AMBIGUOUS, FindingKind.DUPLICATE_ACCOUNT):
        assert page.by_id(f"tile-kind-{kind.value}")["title"] == KIND_INFO[kind].summary
    cells = [
        (data["title"], text) for _, data, text in page.contents if data.get("class") == "kind"
    ]
    assert cells == [(KIND_INFO[kind].summary, kind.value) for kind in FindingKind]


def test_only_the_kinds_shown_are_explained() -> None:
    page = Page(HtmlReporter().render(_built([_finding(FindingKind.UNMANAGED, 1, "carol")])))
    assert page.legend() == {"unmanaged": KIND_INFO[FindingKind.UNMANAGED].summary}


def test_a_zero_is_never_shown_in_alarm_colours(report: Report) -> None:
    quiet = _built(
        [_finding(FindingKind.DORMANT, 1, "carol")],
        history=HistoryView(NOW - timedelta(days=1), {}, (), ()),
    )
    page = Page(HtmlReporter().render(quiet))

    def classes(key: str) -> set[str]:
        return set(page.by_id(f"tile-{key}")["class"].split())

    for zero in ("severity-critical", "severity-high", "new", "resolved", "excepted"):
        assert page.tiles[zero] == 0
        assert classes(zero) == {"tile", "zero"}, zero
    assert classes("severity-medium") == {"tile", "sev-medium"}
    assert classes("kind-dormant") == {"tile", "sev-medium"}
    busy = Page(HtmlReporter().render(report))
    assert set(busy.by_id("tile-severity-critical")["class"].split()) == {"tile", "sev-critical"}
    assert set(busy.by_id("tile-new")["class"].split()) == {"tile", "new"}
    css = (files("nhirecon.reporters") / "templates" / "report.css").read_text()
    assert ".tile.zero .n{color:var(--muted)" in css


def test_the_policy_allows_exactly_the_pages_script(report: Report) -> None:
    text = HtmlReporter().render(report)
    (script,) = Page(text).scripts
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    assert policy is not None
    assert f"script-src 'sha256-{digest}';" in policy.group(1)
    assert policy.group(1).startswith("default-src 'none';")


def test_the_same_report_gives_the_same_bytes(report: Report) -> None:
    first = HtmlReporter().render(report)
    HtmlReporter().render(_hostile(HOSTILE))
    html_page.environment.cache_clear()
    html_page.script_hash.cache_clear()
    assert HtmlReporter().render(report) == first


def test_templates_escape_everything_and_refuse_missing_values(report: Report) -> None:
    environment = html_page.environment()
    assert environment.autoescape is True
    assert environment.undefined is jinja2.StrictUndefined
    folder = files("nhirecon.reporters") / "templates"
    for entry in folder.iterdir():
        source = entry.read_text()
        for unsafe in ("|safe", "| safe", "autoescape false", "Markup"):
            assert unsafe not in source, (entry.name, unsafe)
    values = context(report)
    del values["source_name"]
    with pytest.raises(jinja2.UndefinedError):
        environment.get_template(html_page.PAGE).render(values)


def test_every_template_is_package_data() -> None:
    """A plain ``pip install .`` ships the templates (an editable install would not tell)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["nhirecon.reporters"]
    folder = ROOT / "nhirecon" / "reporters"
    shipped = sorted(path.relative_to(folder).as_posix() for path in folder.glob("templates/*"))
    assert {"templates/report.html.j2", "templates/report.js"} <= set(shipped)
    for name in shipped:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium); .ci/run installs it")
    return found


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_a_real_browser_renders_the_numbers_of_the_json_report(run: Run, tmp_path: Path) -> None:
    chromium = _chromium()
    estate = copy_estate(tmp_path / "estate")
    night(estate, NIGHTS[0])
    set_crm(estate, old_admin=False, eve=True)
    result = run(
        "audit",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        NIGHTS[1],
        "-f",
        "json",
        "-o",
        str(tmp_path / "r.json"),
        "-f",
        "html",
        "-o",
        str(tmp_path / "r.html"),
    )
    assert result.returncode == 1, result.stderr
    data: dict[str, Any] = json.loads((tmp_path / "r.json").read_text())
    shown = _browser(chromium, tmp_path / "profile", "--dump-dom", (tmp_path / "r.html").as_uri())
    assert shown.returncode == 0, shown.stderr[-2000:]
    page = Page(shown.stdout)

    assert page.body.get("data-enhanced") == "yes"  # the script ran under the page's CSP
    summary = data["summary"]
    assert page.tiles["total"] == summary["total"] == 8
    assert page.tiles["new"] == summary["new"] == 1
    assert page.tiles["resolved"] == summary["resolved"] == 2
    assert page.tiles["excepted"] == summary["excepted"]
    for kind, count in summary["by_kind"].items():
        assert page.tiles[f"kind-{kind}"] == count
    for level, count in summary["by_severity"].items():
        assert page.tiles[f"severity-{level}"] == count
    assert page.place_counts == {"hr": 2, **summary["by_target"]}
    assert sorted(page.rows["findings"]) == sorted(f["fingerprint"] for f in data["findings"])
    assert page.rows["new"] == [f["fingerprint"] for f in data["findings"] if f["new"]]
    assert page.rows["resolved"] == [item["fingerprint"] for item in data["resolved"]]
    assert page.rows["excepted"] == [f["fingerprint"] for f in data["excepted"]]
    bars = [
        (bar["data-at"], int(bar["data-total"]), int(bar["data-resolved"])) for bar in page.bars
    ]
    trend = [(p["at"], p["total"], p["resolved"]) for p in data["history"]["trend"]]
    assert bars == trend == [(NIGHTS[0], 9, 0), (NIGHTS[1], 8, 2)]

    shot = tmp_path / "page.png"
    taken = _browser(
        chromium,
        tmp_path / "profile2",
        "--window-size=1200,1600",
        f"--screenshot={shot}",
        (tmp_path / "r.html").as_uri(),
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 20_000


def test_a_real_browser_shows_hostile_values_as_text(tmp_path: Path) -> None:
    chromium = _chromium()
    page_file = tmp_path / "hostile.html"
    page_file.write_text(HtmlReporter().render(_hostile(HOSTILE)), encoding="utf-8")
    shown = _browser(chromium, tmp_path / "profile", "--dump-dom", page_file.as_uri())
    assert shown.returncode == 0, shown.stderr[-2000:]
    page = Page(shown.stdout)
    assert page.body.get("data-enhanced") == "yes"  # only the page's own script ran
    _check_shown_as_text(page, HOSTILE)


def test_a_long_value_without_spaces_keeps_the_page_in_its_window(tmp_path: Path) -> None:
    """A 5,000-character name would push every other column of every table out of a mail
    client's window: values wrap anywhere. Measured by the browser itself, on a copy of the
    page that may run one more script (its policy taken out) to report the width."""
    chromium = _chromium()
    long_name = "x" * 5000
    report = _built([_finding(FindingKind.ORPHAN, 1, long_name, linked=False)])
    page = HtmlReporter().render(report)
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    measure = (
        "<script>addEventListener('load',()=>{document.body.dataset.width=Math.max("
        "document.documentElement.scrollWidth,...[...document.querySelectorAll('table')]"
        ".map(t=>Math.ceil(t.getBoundingClientRect().width)))})</script></body>"
    )
    page_file = tmp_path / "long.html"
    page_file.write_text(page.replace("</body>", measure), encoding="utf-8")
    shown = _browser(
        chromium, tmp_path / "profile", "--window-size=1200,900", "--dump-dom", page_file.as_uri()
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    width = Page(shown.stdout).body.get("data-width")
    assert width is not None and int(width) <= 1200, width


def test_control_and_bidi_characters_are_shown_escaped_not_written_raw() -> None:
    from nhirecon.core.findings import make
    from nhirecon.core.gate import evaluate
    from nhirecon.core.model import FindingKind, Record, Remediation
    from nhirecon.core.report import Report, TargetStats
    from tests.factories import NOW

    name = "evil\x1b]52;c;aGk=\x07\x1b[2Jbidi\u202egnp.exe\u2028x"
    finding = make(
        FindingKind.ORPHAN,
        "app",
        Record(id="z1", location="app.json:1", username=name, display_name=name),
        None,
        f"{name}: owned by no identity",
        {},
        (Remediation.MANUAL, ""),
    )
    stats = (TargetStats("app", "json", 1, 0, 1, 0, 0),)
    report = Report("0", NOW, "hr", "csv", 1, stats, (finding,), (), evaluate((), [finding]))
    page = HtmlReporter().render(report)
    for raw in ("\x1b", "\x07", "\u202e", "\u2028"):
        assert raw not in page
    assert r"evil\x1b]52;c;aGk=\x07\x1b[2Jbidi\u202egnp.exe\u2028x" in page
