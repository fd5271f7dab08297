"""The JSON report (schema version 1), for machines."""

from __future__ import annotations

import json

from nhirecon.core.report import Report
from nhirecon.reporters import serialize
from nhirecon.reporters.base import Reporter


class JsonReporter(Reporter):
    name = "json"
    description = "The full report as JSON, schema version 1."
    extensions = (".json",)

    def render(self, report: Report) -> str:
        return json.dumps(serialize.report(report), indent=2, ensure_ascii=False) + "\n"
