"""The HTML report: self-contained, escaped, readable without JavaScript, right in a browser."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from nhirecon.core.report import Report
from nhirecon.reporters import FORMATS, for_path
from nhirecon.reporters.html import HtmlReporter

from .conftest import Run
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
        self._section = ""
        self._tile = ""
        self._place = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = {name: value or "" for name, value in attrs}
        self.tags[tag] += 1
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
        self.text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    estate = copy_estate(tmp_path_factory.mktemp("html") / "estate")
    return third_night(estate, baseline_from_second=True)


def test_html_golden_file(report: Report) -> None:
    check_golden("nightly.html", HtmlReporter().render(report))


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
    assert "&lt;b&gt;mallory&lt;/b&gt;&amp;&quot;x&#x27;" in text
    assert "<b>mallory</b>&\"x'" in "".join(page.text)


def test_registered_with_its_suffix(run: Run, tmp_path: Path) -> None:
    assert FORMATS["html"] is HtmlReporter
    assert for_path("nightly.html") == "html"


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
