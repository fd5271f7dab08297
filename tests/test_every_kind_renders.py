"""Every finding kind renders in every report format, with its own words."""

from __future__ import annotations

import pytest

from nhirecon.core.findings import make
from nhirecon.core.gate import evaluate
from nhirecon.core.model import FindingKind, Remediation
from nhirecon.core.report import Report, TargetStats
from nhirecon.reporters import FORMATS
from tests.factories import NOW, account, person


def _report() -> Report:
    findings = tuple(
        make(
            kind,
            "app",
            account(f"a-{kind.value}", username=f"user-{kind.value}"),
            person("E1", email="ana@corp.example"),
            f"{kind.value} message",
            {},
            (Remediation.MANUAL, "by hand"),
        )
        for kind in FindingKind
    )
    return Report(
        tool_version="0.0.0",
        generated_at=NOW,
        source_name="hr",
        source_connector="csv",
        identities=1,
        targets=(TargetStats("app", "csv", len(findings), 0, len(findings), 0, 0),),
        findings=findings,
        excepted=(),
        gate=evaluate((), findings),
    )


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_kind_renders(name: str) -> None:
    text = FORMATS[name]().render(_report())
    for kind in FindingKind:
        assert kind.value in text, (name, kind)
