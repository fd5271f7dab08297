"""``-f ocsf``: one OCSF Detection Finding per line, checked with the OCSF models that
Prowler publishes (py-ocsf-models), on the example estate and across nights of history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from nhirecon.reporters.ocsf import OcsfReporter, compliance

from .conftest import NOW, ROOT, Run
from .nightly import NIGHTS, copy_estate, night, set_crm


def _lines(text: str) -> list[dict[str, Any]]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _valid(event: dict[str, Any]) -> None:
    """The event parses as an OCSF Detection Finding, and every field the model knows
    reads back unchanged."""
    model = DetectionFinding.model_validate(event)
    dumped = model.model_dump(mode="json", exclude_none=True)
    for key, value in dumped.items():
        if key in ("metadata", "finding_info", "resources", "remediation"):
            continue  # nested models: checked below, key by key
        assert event[key] == value, key
    assert dumped["finding_info"]["uid"] == event["finding_info"]["uid"]
    assert dumped["type_uid"] == dumped["class_uid"] * 100 + dumped["activity_id"]
    assert dumped["class_uid"] == 2004 and dumped["category_uid"] == 2
    for resource, read in zip(event["resources"], dumped["resources"], strict=True):
        assert read["uid"] == resource["uid"] and read["type"] == resource["type"]


def test_the_example_report_is_one_valid_detection_finding_per_finding(run: Run) -> None:
    common = ("audit", "-c", str(ROOT / "config.sample.yaml"), "--now", NOW, "--no-history")
    done = run(*common, "-f", "ocsf")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    events = _lines(done.stdout)
    report = json.loads(run(*common, "-f", "json").stdout)
    expected = [f["fingerprint"] for f in report["findings"]] + [
        f["fingerprint"] for f in report["excepted"]
    ]
    assert [event["finding_info"]["uid"] for event in events] == expected
    severities = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}
    for event, finding in zip(events, report["findings"] + report["excepted"], strict=True):
        _valid(event)
        assert event["severity_id"] == severities[finding["severity"]]
        assert event["finding_info"]["types"] == [finding["kind"]]
        assert event["unmapped"]["controls"] == finding["controls"]
        if finding["account"] is not None:
            assert event["resources"][0] == {
                "type": "Account",
                "uid": finding["account"]["id"],
                "name": event["resources"][0]["name"],
                "group": {"name": finding["target"]},
                "data": finding["account"],
            }
        assert (event["status"] == "Suppressed") == ("exception" in finding)
        assert event["status"] in ("Unknown", "Suppressed")  # no history: neither new nor old


def test_history_gives_new_existing_and_resolved(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    first = night(estate, NIGHTS[0])
    set_crm(estate, old_admin=False, eve=True)
    second = night(estate, NIGHTS[1])
    events = _lines(OcsfReporter().render(second))
    for event in events:
        _valid(event)
    by_status: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_status.setdefault(event["status"], []).append(event)
    assert second.history is not None
    gone = [item.fingerprint for item in second.history.resolved]
    assert gone and [e["finding_info"]["uid"] for e in by_status["Resolved"]] == gone
    for resolved in by_status["Resolved"]:
        assert (resolved["activity_id"], resolved["status_id"]) == (3, 4)
        assert resolved["type_uid"] == 200403
    new = [f.fingerprint for f in second.findings if (s := second.seen(f)) and s.new]
    assert [e["finding_info"]["uid"] for e in by_status["New"]] == new
    assert all((e["activity_id"], e["status_id"]) == (1, 1) for e in by_status["New"])
    existing = by_status["Existing"]
    assert existing and all((e["activity_id"], e["status_id"]) == (2, 99) for e in existing)
    first_night = {f.fingerprint for f in first.findings}
    assert {e["finding_info"]["uid"] for e in existing} <= first_night
    assert all("first_seen_time" in e["finding_info"] for e in existing)


def test_controls_are_grouped_by_framework() -> None:
    assert compliance(("OWASP-NHI1:2025", "NIST-CSF-2.0:PR.AA-01", "CIS-8:5.3", "X-1")) == {
        "OWASP Top 10 Non-Human Identities Risks": ["NHI1:2025"],
        "NIST CSF 2.0": ["PR.AA-01"],
        "CIS Controls v8": ["5.3"],
        "other": ["X-1"],
    }
