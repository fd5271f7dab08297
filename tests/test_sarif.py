"""SARIF 2.1.0: valid against the OASIS schema, stable fingerprints, levels, suppressions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nhirecon.core.model import KIND_INFO, FindingKind
from nhirecon.core.report import Report
from nhirecon.reporters import FORMATS, for_path
from nhirecon.reporters.sarif import FINGERPRINT_KEY, SarifReporter
from nhirecon.reporters.serialize import report as as_json

from .conftest import ROOT, Run
from .nightly import NIGHTS, copy_estate, third_night
from .reports_golden import check_golden

SCHEMA = ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    estate = copy_estate(tmp_path_factory.mktemp("sarif") / "estate")
    return third_night(estate, baseline_from_second=True)


@pytest.fixture(scope="module")
def sarif(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SarifReporter().render(report))
    return document


def test_sarif_is_valid_against_the_oasis_schema(sarif: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        pytest.skip(f"the SARIF schema is not beside this clone ({SCHEMA})")
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))
    errors = sorted(validator.iter_errors(sarif), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_rules_are_the_kinds_with_help_and_controls(sarif: dict[str, Any]) -> None:
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [kind.value for kind in FindingKind]
    leaver = rules[[kind for kind in FindingKind].index(FindingKind.LEAVER)]
    assert leaver["defaultConfiguration"]["level"] == "error"
    assert leaver["properties"]["security-severity"] == "9.5"
    assert "CIS-8:6.2" in leaver["properties"]["tags"]
    assert "CIS-8:6.2" in leaver["help"]["text"]
    assert leaver["help"]["text"].startswith(KIND_INFO[FindingKind.LEAVER].summary)


def test_results_match_the_json_report(report: Report, sarif: dict[str, Any]) -> None:
    data = as_json(report)
    results = sarif["runs"][0]["results"]
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    counted = [
        r
        for r in results
        if not any(s["justification"].startswith("exception") for s in r.get("suppressions", []))
    ]
    assert len(results) == len(data["findings"]) + len(data["excepted"])
    by_fingerprint = {r["partialFingerprints"][FINGERPRINT_KEY]: r for r in counted}
    assert set(by_fingerprint) == {f["fingerprint"] for f in data["findings"]}
    levels = {"critical": "error", "high": "error", "medium": "warning"}
    for finding in data["findings"]:
        result = by_fingerprint[finding["fingerprint"]]
        assert result["ruleId"] == finding["kind"]
        assert rules[result["ruleIndex"]]["id"] == finding["kind"]
        assert result["level"] == levels[finding["severity"]]
        assert result["baselineState"] == ("new" if finding["new"] else "unchanged")
        suppressed = "suppressions" in result
        assert suppressed == finding["baselined"]
        location = result["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == finding["target"]
        subject = finding["account"] or finding["identity"]
        assert location["logicalLocations"][0]["fullyQualifiedName"] == (
            f"{finding['target']}/{subject['id']}"
        )
    excepted = [r for r in results if r not in counted]
    assert [r["suppressions"][0]["status"] for r in excepted] == ["accepted"]
    assert "deploy automation" in excepted[0]["suppressions"][0]["justification"]


def test_fingerprints_are_stable_across_runs(tmp_path: Path) -> None:
    first = third_night(copy_estate(tmp_path / "a"))
    second = third_night(copy_estate(tmp_path / "b"))
    prints = [
        {
            r["partialFingerprints"][FINGERPRINT_KEY]
            for r in json.loads(SarifReporter().render(item))["runs"][0]["results"]
        }
        for item in (first, second)
    ]
    assert prints[0] == prints[1] and len(prints[0]) == 10


def test_sarif_golden_file(report: Report) -> None:
    check_golden("nightly.sarif", SarifReporter().render(report))


def test_registered_with_its_suffix_and_written_by_the_command(run: Run, tmp_path: Path) -> None:
    assert FORMATS["sarif"] is SarifReporter
    assert for_path("results.sarif") == "sarif"
    estate = copy_estate(tmp_path / "estate")
    result = run(
        "audit",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        NIGHTS[0],
        "-o",
        str(tmp_path / "out.sarif"),
        "--no-history",
    )
    assert result.returncode == 1, result.stderr
    document = json.loads((tmp_path / "out.sarif").read_text())
    assert document["version"] == "2.1.0"
    assert len(document["runs"][0]["results"]) == 10
    assert "baselineState" not in document["runs"][0]["results"][0]
