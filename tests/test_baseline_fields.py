"""A baselined ``stale-attribute`` accepts the drift of the fields it names, not a later
drift of another field (a reviewed ``department`` must not hide a new ``groups``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run

NOW = "2026-11-28T00:00:00Z"
LATER = "2026-11-29T00:00:00Z"


def _estate(folder: Path, *, alice_title: str = "Engineer", bob_dept: str = "Eng") -> Path:
    (folder / "hr.csv").write_text(
        "employee_id,email,department,title,status\n"
        "E1,alice@example.com,Eng,Engineer,active\n"
        "E2,bob@example.com,Eng,Engineer,active\n"
        "E3,carol@example.com,Eng,Engineer,active\n",
        encoding="utf-8",
    )
    (folder / "app.csv").write_text(
        "user_id,email,department,title,enabled\n"
        f"u1,alice@example.com,Sales,{alice_title},true\n"
        f"u2,bob@example.com,{bob_dept},Engineer,true\n"
        "u3,carol@example.com,Eng,Engineer,true\n",
        encoding="utf-8",
    )
    config = folder / "nhirecon.yaml"
    config.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv,\n"
        "  map: {id: employee_id, email: email, department: department, title: title,"
        " status: status}}\n"
        "targets:\n"
        "  - {name: app, connector: csv, path: app.csv,\n"
        "     map: {id: user_id, email: email, department: department, title: title,"
        " active: enabled},\n"
        "     correlate: [{account: email, identity: email}], compare: [department, title]}\n",
        encoding="utf-8",
    )
    return config


def _audit(run: Run, config: Path, accepted: Path) -> tuple[int, dict[str, Any], str]:
    out = config.parent / "report.json"
    result = run(
        "audit",
        "-c",
        str(config),
        "--now",
        LATER,
        "--no-history",
        "--baseline",
        str(accepted),
        "--fail-on",
        "stale-attribute>0",
        "-o",
        str(out),
    )
    return result.returncode, json.loads(out.read_text()), result.stderr


def _baselined(report: dict[str, Any]) -> dict[str, bool]:
    return {item["account"]["id"]: item["baselined"] for item in report["findings"]}


def test_a_drift_in_a_field_the_entry_does_not_name_counts(run: Run, tmp_path: Path) -> None:
    config = _estate(tmp_path)
    accepted = tmp_path / "accepted.json"
    written = run("baseline", "-c", str(config), "--now", NOW, "-o", str(accepted))
    assert written.returncode == 0, written.stderr
    (entry,) = json.loads(accepted.read_text())["entries"]
    assert (entry["account"], entry["fields"]) == ("u1", ["department"])

    code, report, stderr = _audit(run, config, accepted)
    assert code == 0 and _baselined(report) == {"u1": True}

    _estate(tmp_path, alice_title="Manager", bob_dept="Ops")
    code, report, stderr = _audit(run, config, accepted)
    assert code == 1
    assert _baselined(report) == {"u1": False, "u2": False}
    assert report["gate"]["rules"][0]["count"] == 2
    (outgrown,) = report["baseline"]["outgrown"]  # in the report, not only on stderr
    assert (outgrown["account"], outgrown["fields"]) == ("u1", ["department"])
    assert outgrown["differing_now"] == ["title"]
    assert report["baseline"]["matched"] == 0 and report["baseline"]["stale"] == []
    assert (
        "entry stale-attribute app alice@example.com accepts department, but title now differs"
        " too: the finding counts"
    ) in stderr

    rewritten = run("baseline", "-c", str(config), "--now", LATER, "-o", str(accepted))
    assert rewritten.returncode == 0, rewritten.stderr
    entries = {e["account"]: e for e in json.loads(accepted.read_text())["entries"]}
    assert entries["u1"]["fields"] == ["department", "title"]
    assert entries["u1"]["accepted_at"] == LATER  # it accepts more than it did
    code, report, _ = _audit(run, config, accepted)
    assert code == 0 and set(_baselined(report).values()) == {True}


def test_an_entry_keeps_accepting_fewer_fields_and_keeps_its_date(run: Run, tmp_path: Path) -> None:
    config = _estate(tmp_path, alice_title="Manager")
    accepted = tmp_path / "accepted.json"
    assert run("baseline", "-c", str(config), "--now", NOW, "-o", str(accepted)).returncode == 0
    _estate(tmp_path)  # title fixed: only department drifts now
    code, report, _ = _audit(run, config, accepted)
    assert code == 0 and _baselined(report) == {"u1": True}
    assert run("baseline", "-c", str(config), "--now", LATER, "-o", str(accepted)).returncode == 0
    (entry,) = json.loads(accepted.read_text())["entries"]
    assert (entry["fields"], entry["accepted_at"]) == (["department"], NOW)


def test_an_entry_written_without_fields_accepts_any_drift_and_says_so(
    run: Run, tmp_path: Path
) -> None:
    """A file written before entries named their fields: its entries accept any drift (as
    they did), a warning says how many and what to do, and writing the file again names
    the fields with a new date, since it then accepts drifts nobody reviewed."""
    config = _estate(tmp_path)
    accepted = tmp_path / "accepted.json"
    assert run("baseline", "-c", str(config), "--now", NOW, "-o", str(accepted)).returncode == 0
    document = json.loads(accepted.read_text())
    del document["entries"][0]["fields"]
    accepted.write_text(json.dumps(document), encoding="utf-8")
    _estate(tmp_path, alice_title="Manager")
    code, report, stderr = _audit(run, config, accepted)
    assert code == 0 and _baselined(report) == {"u1": True}
    assert "differs too" not in stderr
    assert (
        "1 stale-attribute entry names no fields, and so accepts any drift of its account" in stderr
    )
    rewritten = run("baseline", "-c", str(config), "--now", LATER, "-o", str(accepted))
    assert rewritten.returncode == 0, rewritten.stderr
    (entry,) = json.loads(accepted.read_text())["entries"]
    assert (entry["fields"], entry["accepted_at"]) == (["department", "title"], LATER)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda e: e.update(fields="department"), "entries[0].fields: expected a list"),
        (lambda e: e.update(fields=["department", 3]), "entries[0].fields: expected a list"),
        (lambda e: e.update(fields=[""]), "entries[0].fields: expected a list"),
        (lambda e: e.update(fields=[]), "entries[0].fields: expected a list"),
        (lambda e: e.update(kind="orphan"), "entries[0].fields: expected a list"),
    ],
    ids=["text", "number", "empty-name", "no-names", "another-kind"],
)
def test_malformed_fields_are_a_usage_error_naming_the_entry(
    run: Run, tmp_path: Path, change: Any, said: str
) -> None:
    config = _estate(tmp_path)
    accepted = tmp_path / "accepted.json"
    assert run("baseline", "-c", str(config), "--now", NOW, "-o", str(accepted)).returncode == 0
    document = json.loads(accepted.read_text())
    change(document["entries"][0])
    accepted.write_text(json.dumps(document), encoding="utf-8")
    result = run("audit", "-c", str(config), "--now", LATER, "--baseline", str(accepted))
    assert result.returncode == 2
    assert f"baseline file {accepted}: {said}" in result.stderr
