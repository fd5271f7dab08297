"""SARIF 2.1.0: valid against the OASIS schema, stable fingerprints, levels, suppressions."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from nhirecon.core.model import KIND_INFO, FindingKind
from nhirecon.core.report import Report
from nhirecon.reporters import FORMATS, for_path
from nhirecon.reporters.sarif import FINGERPRINT_KEY, SarifReporter, artifact_uri
from nhirecon.reporters.serialize import report as as_json

from .conftest import DATA, Run
from .nightly import NIGHTS, copy_estate, third_night
from .reports_golden import check_golden

SCHEMA = DATA / "sarif" / "sarif-schema-2.1.0.json"
"""The OASIS schema, vendored with its source and checksum in ``tests/data/sarif/README.md``."""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("sarif")
    estate = copy_estate(folder / "estate")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # as in CI, at the root of the repository holding the estate
        return third_night(estate, baseline_from_second=True)


@pytest.fixture(scope="module")
def sarif(report: Report) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SarifReporter().render(report))
    return document


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def test_the_vendored_schema_is_the_recorded_upstream_file() -> None:
    recorded = re.search(r"sha256: `([0-9a-f]{64})`", (SCHEMA.parent / "README.md").read_text())
    assert recorded is not None
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == recorded[1]
    assert json.loads(SCHEMA.read_text(encoding="utf-8"))["id"].endswith(
        "/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    )


def test_sarif_is_valid_against_the_oasis_schema(
    sarif: dict[str, Any], validator: jsonschema.Draft4Validator
) -> None:
    errors = sorted(validator.iter_errors(sarif), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_the_schema_check_can_fail(
    sarif: dict[str, Any], validator: jsonschema.Draft4Validator
) -> None:
    """The validation above is not vacuous: a document the schema forbids is caught."""
    broken = json.loads(json.dumps(sarif))
    broken["version"] = "2.0.0"
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert len(list(validator.iter_errors(broken))) >= 2


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


def test_github_tracks_each_finding_at_the_file_and_line_it_was_read(
    report: Report, sarif: dict[str, Any]
) -> None:
    results = sarif["runs"][0]["results"]
    findings = [*report.findings, *(finding for finding, _ in report.excepted)]
    assert len(results) == len(findings)
    places = set()
    for finding, result in zip(findings, results, strict=True):
        hashes = result["partialFingerprints"]
        assert hashes["primaryLocationLineHash"] == f"{finding.fingerprint}:1"
        physical = result["locations"][0]["physicalLocation"]
        uri, line = physical["artifactLocation"]["uri"], physical["region"]["startLine"]
        subject = finding.account or finding.identity
        assert subject is not None
        assert f"{uri}:{line}" == subject.location  # a relative path, as GitHub wants
        assert uri.startswith("estate/") and ":" not in uri
        places.add((result["ruleId"], uri, line))
        message = result["message"]["text"]
        assert message == f"{finding.target}: {finding.message}"
        assert not message.startswith(f"{finding.target}: {subject.label}: {subject.label}")
    assert len(places) == len(results), "two results share a rule, file and line"
    hashes = [r["partialFingerprints"]["primaryLocationLineHash"] for r in results]
    assert len(set(hashes)) == len(hashes)


def test_a_record_read_from_a_url_points_at_its_target_in_the_config() -> None:
    from nhirecon.core.report import Place

    place = Place("ci/nhirecon.yaml:14", ("exports/app.json",))
    assert place.file_of("exports/app.json:7") == ("exports/app.json", 7)
    assert place.file_of("exports/app.json.value[3]") == ("exports/app.json", 1)
    assert place.file_of("https://scim.example/Users/1") is None
    assert place.file_of("exports/app.json2:3") is None
    assert artifact_uri("/srv/exports/a b.csv") == "file:///srv/exports/a%20b.csv"
    assert artifact_uri("exports/a b.csv") == "exports/a%20b.csv"


def test_sarif_golden_file(report: Report) -> None:
    check_golden("nightly.sarif", lambda: SarifReporter().render(report))


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
