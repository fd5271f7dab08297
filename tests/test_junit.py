"""JUnit XML: a suite per place, a case per kind, failures exactly where the gate counts."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nhirecon.core.model import FindingKind
from nhirecon.core.report import Report
from nhirecon.reporters import FORMATS, for_path
from nhirecon.reporters.junit import JunitReporter

from .conftest import Run
from .nightly import NIGHTS, copy_estate, night, third_night
from .reports_golden import check_golden


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    estate = copy_estate(tmp_path_factory.mktemp("junit") / "estate")
    return third_night(estate, baseline_from_second=True)


def parse(report: Report) -> ET.Element:
    return ET.fromstring(JunitReporter().render(report).encode())


def test_one_suite_per_place_and_one_case_per_kind(report: Report) -> None:
    root = parse(report)
    suites = root.findall("testsuite")
    assert [suite.get("name") for suite in suites] == [
        "nhirecon.hr",
        "nhirecon.crm",
        "nhirecon.wiki",
    ]
    assert [case.get("name") for case in suites[0].findall("testcase")] == [
        "expired",
        "ownerless",
        "human-use",
        "shared-credential",
    ]
    crm_cases = [case.get("name") for case in suites[1].findall("testcase")]
    assert crm_cases == [kind.value for kind in FindingKind if kind is not FindingKind.OWNERLESS]
    assert root.get("tests") == str(4 + 2 * (len(FindingKind) - 1))
    properties = {p.get("name"): p.get("value") for p in suites[1].iter("property")}
    assert properties["accounts"] == "6" and properties["unmatched"] == "3"


def test_failures_are_what_the_gate_counts(report: Report) -> None:
    # The baseline accepts mallory's jit-orphan: only old-admin's orphan fails the gate.
    assert [(o.rule.text, o.count, o.passed) for o in report.gate.outcomes] == [
        ("orphan,jit-orphan>0", 1, False)
    ]
    root = parse(report)
    failed = [
        (suite.get("name"), case.get("name"))
        for suite in root.iter("testsuite")
        for case in suite.findall("testcase")
        if case.find("failure") is not None
    ]
    assert failed == [("nhirecon.crm", "orphan")]
    assert root.get("failures") == "1"
    crm = root.find("testsuite[@name='nhirecon.crm']")
    assert crm is not None and crm.get("failures") == "1"
    orphan = crm.find("testcase[@name='orphan']/failure")
    assert orphan is not None
    assert "orphan,jit-orphan>0" in (orphan.get("message") or "")
    assert "old-admin" in (orphan.text or "") and "[new]" in (orphan.text or "")
    jit = crm.find("testcase[@name='jit-orphan']")
    assert jit is not None and jit.find("failure") is None
    out = jit.find("system-out")
    assert out is not None and "baselined" in (out.text or "")
    assert "<b>mallory</b>&\"x'" in (out.text or "")  # escaped in the file, intact when parsed


def test_a_passing_gate_has_no_failures(report: Report) -> None:
    passing = dataclasses.replace(report, gate=dataclasses.replace(report.gate, outcomes=()))
    root = parse(passing)
    assert root.get("failures") == "0"
    assert not list(root.iter("failure"))


def test_control_characters_from_exports_still_give_well_formed_xml(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    crm = estate / "crm.csv"
    crm.write_text(crm.read_text().replace("old-admin,true", "old\x07admin\x1b,true"))
    text = JunitReporter().render(night(estate, NIGHTS[0], keep_history=False))
    root = ET.fromstring(text.encode())
    assert "old\\x07admin\\x1b" in "".join(root.itertext())  # shown, as on a terminal


def test_a_line_break_in_a_value_forges_no_line(report: Report) -> None:
    """A failure lists its findings one a line: a value's own line break is shown escaped,
    so that it cannot add a line that reads as another finding."""
    forged = "x\nhigh orphan: FORGED (fingerprint 0)\u2028\r"
    findings = tuple(
        dataclasses.replace(item, message=forged + item.message) for item in report.findings
    )
    root = parse(dataclasses.replace(report, findings=findings))
    failures = list(root.iter("failure"))
    assert failures
    for element in (*failures, *root.iter("system-out")):
        lines = (element.text or "").split("\n")
        assert all(line.startswith(("critical ", "high ", "medium ", "low ")) for line in lines)
        assert all("x\\nhigh orphan: FORGED (fingerprint 0)\\u2028\\r" in line for line in lines)
    assert sum(len((f.text or "").split("\n")) for f in failures) == sum(
        int(f.get("message", "").split()[0]) for f in failures
    )


def test_junit_golden_file(report: Report) -> None:
    check_golden("nightly.junit.xml", lambda: JunitReporter().render(report))


def test_registered_with_its_suffix_and_written_by_the_command(run: Run, tmp_path: Path) -> None:
    assert FORMATS["junit"] is JunitReporter
    assert for_path("results.xml") == "junit"
    estate = copy_estate(tmp_path / "estate")
    out = tmp_path / "results.xml"
    result = run(
        "audit",
        "-c",
        str(estate / "nhirecon.yaml"),
        "--now",
        NIGHTS[0],
        "-f",
        "junit",
        "-o",
        str(out),
        "--fail-on",
        "severity:critical>0",
    )
    assert result.returncode == 1, result.stderr
    root = ET.parse(out).getroot()
    failed = [
        case.get("name") for case in root.iter("testcase") if case.find("failure") is not None
    ]
    assert failed == ["leaver"]


SERVICES = """employee_id,email,status,kind,owner,cred,pw,console
E1,a@example.com,active,employee,,,,
S1,s1@example.com,active,service,E1,KEY1,true,2026-11-27T00:00:00Z
S2,s2@example.com,active,service,E1,KEY1,,
S3,s3@example.com,active,service,,,,
"""
SERVICES_CONFIG = """version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {id: employee_id, email: email, status: status, kind: kind, owner: owner,
        credential_id: cred, password_enabled: pw, last_interactive_login_at: console}
  kind_values: {human: [employee], service_account: [service]}
targets:
  - {name: app, connector: csv, path: app.csv, map: {id: id, email: email},
     correlate: [{account: email, identity: email}]}
"""


def test_every_finding_about_the_source_has_its_case(run: Run, tmp_path: Path) -> None:
    """The source's own findings of every kind (a service account used like a person, a
    key shared by two, one without an owner) are in its suite, failing where the gate
    counts them, so that the failures and the exit code agree."""
    (tmp_path / "hr.csv").write_text(SERVICES, encoding="utf-8")
    (tmp_path / "app.csv").write_text("id,email\nu1,a@example.com\n", encoding="utf-8")
    (tmp_path / "nhirecon.yaml").write_text(SERVICES_CONFIG, encoding="utf-8")
    result = run(
        "audit",
        "-c",
        "nhirecon.yaml",
        "--now",
        "2026-11-28T00:00:00Z",
        "--no-history",
        "--fail-on",
        "human-use,shared-credential>0",
        "-f",
        "junit",
        "-o",
        "results.xml",
        "-f",
        "json",
        "-o",
        "report.json",
    )
    assert result.returncode == 1, result.stderr
    findings = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["findings"]
    assert sorted(f["kind"] for f in findings) == [
        "human-use",
        "ownerless",
        "shared-credential",
        "shared-credential",
    ]
    [suite] = [
        s for s in ET.parse(tmp_path / "results.xml").getroot() if s.get("name") == "nhirecon.hr"
    ]
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failed = sorted(name for name, case in cases.items() if case.find("failure") is not None)
    assert failed == ["human-use", "shared-credential"]
    assert suite.get("failures") == "2"
    listed = [
        line
        for case in cases.values()
        for part in (case.find("failure"), case.find("system-out"))
        if part is not None and part.text
        for line in part.text.splitlines()
    ]
    assert sorted(line.split("(fingerprint ")[1][:32] for line in listed) == sorted(
        f["fingerprint"] for f in findings
    )
