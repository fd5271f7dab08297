"""Report formats, listed explicitly: name → reporter class."""

from __future__ import annotations

from nhirecon.reporters.base import Reporter
from nhirecon.reporters.csv import CsvReporter
from nhirecon.reporters.html import HtmlReporter
from nhirecon.reporters.json import JsonReporter
from nhirecon.reporters.junit import JunitReporter
from nhirecon.reporters.markdown import MarkdownReporter
from nhirecon.reporters.ocsf import OcsfReporter
from nhirecon.reporters.sarif import SarifReporter
from nhirecon.reporters.table import TableReporter

FORMATS: dict[str, type[Reporter]] = {
    reporter.name: reporter
    for reporter in (
        TableReporter,
        JsonReporter,
        CsvReporter,
        MarkdownReporter,
        HtmlReporter,
        SarifReporter,
        JunitReporter,
        OcsfReporter,
    )
}


def for_path(path: str) -> str | None:
    """The format a file suffix implies, if any."""
    lowered = path.lower()
    for name, reporter in FORMATS.items():
        if lowered.endswith(reporter.extensions):
            return name
    return None


__all__ = ["FORMATS", "Reporter", "for_path"]
