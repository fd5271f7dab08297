"""Lone surrogates: a JSON export or a SCIM answer may hold ``"\\ud800"``, a value that no
UTF-8 file or terminal can carry. Through the installed command, every report format, the
history, a baseline, ``explain``, error messages and the audit log stay valid for their
format: JSON (and SARIF) keep the value exactly, as its escape; text formats show the
escape ``\\ud800``; JUnit, whose XML cannot carry it at all, shows U+FFFD as it does for
control characters. None of them crashes the run.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from nhirecon.core.ids import id_problem
from nhirecon.core.model import FindingKind, fingerprint
from nhirecon.remediation.audit_log import AuditLog, read_audit_log
from nhirecon.reporters import FORMATS

from .conftest import NOW, ROOT, Run

ESTATE = ROOT / "tests" / "data" / "bad" / "estate"
SCHEMA = ROOT.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"
USERNAME = "bad\ud800name"
SHOWN = "bad\\ud800name"
"""How text formats show it: the escape, as they show control characters."""
EXPORT = """[
  {"id": "A1", "email": "ann@example.com", "active": true},
  {"id": "A9", "username": "bad\\ud800name", "email": "x\\udfffy@example.com",
   "display_name": "\\udbff", "active": true}
]
"""
"""A2's slot holds an orphan whose username, email and display name hold lone surrogates
(written with JSON escapes: the file itself is plain ASCII)."""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "hr.csv").write_bytes((ESTATE / "hr.csv").read_bytes())
    (folder / "app.json").write_text(EXPORT, encoding="ascii")
    config = {
        "version": 1,
        "source": {
            "name": "hr",
            "connector": "csv",
            "path": "hr.csv",
            "map": {"id": "employee_id", "email": "work_email", "status": "status"},
        },
        "targets": [{"name": "app", "connector": "json", "path": "app.json"}],
        "history": "state/history.db",
    }
    (folder / "nhirecon.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def strict_utf8(data: bytes) -> str:
    return data.decode("utf-8", errors="strict")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def check_format(name: str, text: str) -> None:
    """``text`` is valid for its format and carries the value as promised."""
    if name == "json":
        report = json.loads(text)
        usernames = {f["account"]["username"] for f in report["findings"] if f["account"]}
        assert USERNAME in usernames, "JSON keeps the value exactly"
        emails = {f["account"]["email"] for f in report["findings"] if f["account"]}
        assert "x\udfffy@example.com" in emails
    elif name == "sarif":
        document = json.loads(text)
        assert USERNAME in json.dumps(document, ensure_ascii=False)
        if SCHEMA.exists():
            jsonschema = pytest.importorskip("jsonschema")
            validator = jsonschema.Draft4Validator(json.loads(SCHEMA.read_text()))
            assert not list(validator.iter_errors(document))
    elif name == "csv":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert any(SHOWN in cell for row in rows for cell in row)
    elif name == "html":
        parser = _Text()
        parser.feed(text)
        parser.close()
        assert SHOWN in "".join(parser.parts)
    elif name == "junit":
        root = ET.fromstring(text.encode("utf-8"))
        assert SHOWN in "".join(root.itertext())  # the lines listing findings, as a table
    else:  # table, markdown
        assert SHOWN in text


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_written_to_a_file(name: str, run: Run, work: Path) -> None:
    result = run("audit", "--now", NOW, "-f", name, "-o", f"out/report.{name}", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    text = strict_utf8((work / "out" / f"report.{name}").read_bytes())
    check_format(name, text)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_written_to_stdout(name: str, run: Run, work: Path) -> None:
    result = run("audit", "--now", NOW, "--no-history", "-f", name, cwd=work)
    assert result.returncode == 0, result.stderr
    check_format(name, result.stdout)


def test_all_formats_at_once_with_the_history(run: Run, work: Path) -> None:
    args = [arg for name in sorted(FORMATS) for arg in ("-f", name, "-o", f"out/r.{name}")]
    result = run("audit", "--now", NOW, *args, cwd=work)
    assert result.returncode == 0, result.stderr
    for name in FORMATS:
        check_format(name, strict_utf8((work / "out" / f"r.{name}").read_bytes()))
    with sqlite3.connect(work / "state" / "history.db") as connection:
        labels = {row[0] for row in connection.execute("SELECT label FROM findings")}
    assert SHOWN in labels, "the history stores the escape (SQLite text is UTF-8)"


def test_the_history_reports_a_resolved_finding_with_the_escape(run: Run, work: Path) -> None:
    assert run("audit", "--now", NOW, "-f", "json", "-o", "first.json", cwd=work).returncode == 0
    export = work / "app.json"
    export.write_text(EXPORT.replace("A9", "A1-gone").replace("bad\\ud800", "ok"), "ascii")
    later = "2026-11-29T00:00:00Z"
    result = run("audit", "--now", later, "-f", "json", "-o", "second.json", cwd=work)
    assert result.returncode == 0, result.stderr
    resolved = json.loads((work / "second.json").read_text(encoding="utf-8"))["resolved"]
    assert [(item["account_id"], item["label"]) for item in resolved] == [("A9", SHOWN)]
    history = run("history", "-c", "nhirecon.yaml", cwd=work)
    assert history.returncode == 0, history.stderr
    assert "2 runs" in history.stdout


def test_explain_shows_the_escape(run: Run, work: Path) -> None:
    result = run("explain", "app", "A9", "--now", NOW, cwd=work)
    assert result.returncode == 0, result.stderr
    assert f"username {SHOWN}" in result.stdout
    assert "\\udfff" in result.stdout


def test_a_baseline_keeps_the_value_and_still_matches(run: Run, work: Path) -> None:
    made = run("baseline", "-o", "baseline.json", "--now", NOW, cwd=work)
    assert made.returncode == 0, made.stderr
    data = json.loads(strict_utf8((work / "baseline.json").read_bytes()))
    assert USERNAME in json.dumps(data, ensure_ascii=False)
    gated = run(
        "audit", "--now", NOW, "--baseline", "baseline.json", "--fail-on", "any>0", cwd=work
    )
    assert gated.returncode == 0, gated.stdout + gated.stderr


def test_an_error_message_holding_a_surrogate_is_one_escaped_line(run: Run, work: Path) -> None:
    """A path with a byte that is not UTF-8 reaches Python as a surrogate (PEP 383)."""
    missing = "conf\udcffig.yaml"
    result = run("audit", "-c", missing, "--now", NOW, cwd=work)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "conf\\udcffig.yaml" in result.stderr


def test_a_config_path_no_file_can_have_is_a_config_error(run: Run, work: Path) -> None:
    """A lone surrogate written as an escape names no file (a surrogate that stands for a
    byte, PEP 383, does): the config is refused with the key and line, not a traceback."""
    config = work / "bad.yaml"
    config.write_text(
        "version: 1\nsource: {name: hr, connector: csv, path: hr.csv, map: {id: id}}\n"
        'targets: []\nhistory: "\\ud800.db"\n',
        encoding="utf-8",
    )
    for command in ("validate", "audit"):
        result = run(command, "-c", str(config), cwd=work)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1, result.stderr
        assert "bad.yaml:4: history: a file name cannot hold '\\ud800'" in result.stderr


def test_an_account_id_holding_a_surrogate(run: Run, work: Path) -> None:
    export = work / "app.json"
    export.write_text(EXPORT.replace('"A9"', '"A9\\ud800"'), encoding="ascii")
    args = [arg for name in sorted(FORMATS) for arg in ("-f", name, "-o", f"out/r.{name}")]
    result = run("audit", "--now", NOW, *args, cwd=work)
    assert result.returncode == 0, result.stderr
    for name in FORMATS:
        check_format(name, strict_utf8((work / "out" / f"r.{name}").read_bytes()))
    report: dict[str, Any] = json.loads((work / "out" / "r.json").read_text(encoding="utf-8"))
    assert "A9\ud800" in {f["account"]["id"] for f in report["findings"] if f["account"]}
    assert fingerprint(FindingKind.ORPHAN, "app", "A9\ud800") != fingerprint(
        FindingKind.ORPHAN, "app", "A9\\ud800"
    ), "a surrogate and its escape written out are different ids"


def test_the_audit_log_keeps_the_value_as_its_json_escape(tmp_path: Path) -> None:
    path = tmp_path / "actions.jsonl"
    log = AuditLog(path)
    log.write({"account": USERNAME, "outcome": "done"})
    log.close()
    line = strict_utf8(path.read_bytes())
    assert "\\ud800" in line
    assert read_audit_log(path) == [{"account": USERNAME, "outcome": "done"}]


def test_an_account_id_holding_a_surrogate_is_never_written_to() -> None:
    """No URL can carry it exactly (percent-encoding needs UTF-8): the action is manual."""
    assert id_problem("A9\ud800") is not None
    assert id_problem("A9\\ud800") is None, "the escape written out is an ordinary id"
