"""The nightly (cron, systemd) and CI examples run as written, against the nightly estate."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import EXAMPLES, Run, nhirecon_command
from .nightly import NIGHTS, copy_estate


def _shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "XDG_STATE_HOME": str(cwd / "state")}
    return subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_crontab_line_writes_dated_reports_and_history(tmp_path: Path) -> None:
    lines = [
        line
        for line in (EXAMPLES / "cron" / "crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1
    fields = lines[0].split(None, 5)
    assert fields[:5] == ["30", "2", "*", "*", "*"]
    home = copy_estate(tmp_path / "srv")
    (home / "env").write_text("SLACK_SCIM_TOKEN=unused\n")
    (home / "reports").mkdir()
    (home / "logs").mkdir()
    command = fields[5].replace("cd /srv/nhirecon", f"cd {shlex.quote(str(home))}")
    command = command.replace("\\%", "%")  # what cron does before handing it to sh
    result = _shell(command, tmp_path)
    assert result.returncode == 1, result.stderr  # the gate fails; the reports are written
    assert result.stdout == ""
    dated = sorted(path.name for path in (home / "reports").iterdir())
    assert len(dated) == 3 and "latest.html" in dated
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d\.(html|json)|latest\.html", name) for name in dated)
    assert (home / "history.db").exists()  # the estate's config names its history file


def test_the_systemd_service_command_runs(tmp_path: Path) -> None:
    unit = (EXAMPLES / "cron" / "nhirecon-nightly.service").read_text()
    assert (
        "SuccessExitStatus=1" in unit
        and "Persistent=true" in (EXAMPLES / "cron" / "nhirecon-nightly.timer").read_text()
    )
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[:2] == ["/bin/sh", "-c"]
    estate = copy_estate(tmp_path / "etc")
    reports = tmp_path / "reports"
    reports.mkdir()
    command = (
        argv[2]
        .replace("$$", "$")
        .replace("%%", "%")  # systemd's own escapes
        .replace("/usr/local/bin/nhirecon", nhirecon_command())
        .replace("/etc/nhirecon/nhirecon.yaml", str(estate / "nhirecon.yaml"))
        .replace("/srv/nhirecon/reports", str(reports))
    )
    result = _shell(command, tmp_path)
    assert result.returncode == 1, result.stderr
    assert len(list(reports.glob("*.json"))) == 1 and (reports / "latest.html").exists()


def _audit_command(text: str) -> list[str]:
    words = shlex.split(text)
    assert words[:2] == ["nhirecon", "audit"]
    return words[2:]


def _run_ci(run: Run, tmp_path: Path, arguments: list[str]) -> subprocess.CompletedProcess[str]:
    estate = copy_estate(tmp_path / "repo")
    made = run(
        "baseline",
        "-c",
        "nhirecon.yaml",
        "--now",
        NIGHTS[0],
        "-o",
        ".nhirecon-baseline.json",
        cwd=estate,
    )
    assert made.returncode == 0, made.stderr
    return run(*arguments, "--now", NIGHTS[0], cwd=estate)


def test_the_github_workflow_gates_and_writes_what_it_uploads(run: Run, tmp_path: Path) -> None:
    workflow: dict[str, Any] = yaml.safe_load((EXAMPLES / "ci" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["gate"]["steps"]
    audit = next(step for step in steps if step.get("name") == "Audit and gate")
    result = _run_ci(run, tmp_path, ["audit", *_audit_command(audit["run"])])
    assert result.returncode == 0, result.stderr  # everything found is in the baseline
    repo = tmp_path / "repo"
    sarif = next(step for step in steps if "upload-sarif" in step.get("uses", ""))
    assert json.loads((repo / sarif["with"]["sarif_file"]).read_text())["version"] == "2.1.0"
    kept = next(step for step in steps if "upload-artifact" in step.get("uses", ""))
    assert all((repo / name).exists() for name in kept["with"]["path"].split())
    assert workflow["permissions"]["security-events"] == "write"


def test_the_gitlab_job_gates_and_keeps_its_reports(run: Run, tmp_path: Path) -> None:
    job = yaml.safe_load((EXAMPLES / "ci" / "gitlab-ci.yml").read_text())["nhirecon-gate"]
    audit = next(line for line in job["script"] if line.startswith("nhirecon audit"))
    result = _run_ci(run, tmp_path, ["audit", *_audit_command(audit)])
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "repo"
    junit = repo / job["artifacts"]["reports"]["junit"]
    assert junit.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert all((repo / name).exists() for name in job["artifacts"]["paths"])
    # With the gate's orphans no longer in the baseline, the same job fails.
    (repo / ".nhirecon-baseline.json").write_text('{"nhirecon_baseline": 1, "entries": []}')
    failed = run("audit", *_audit_command(audit), "--now", NIGHTS[0], cwd=repo)
    assert failed.returncode == 1


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not found")
def test_the_timer_calendar_is_valid() -> None:
    timer = (EXAMPLES / "cron" / "nhirecon-nightly.timer").read_text()
    calendar = next(line for line in timer.splitlines() if line.startswith("OnCalendar="))
    checked = subprocess.run(
        ["systemd-analyze", "calendar", calendar.removeprefix("OnCalendar=")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "02:30:00" in checked.stdout
