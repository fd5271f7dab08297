"""audit, plan, apply and re-run through the installed command against a real SCIM server,
then read the server to prove that exactly the intended accounts changed."""

from __future__ import annotations

import json
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run, default_audit_log
from .scim_server import (
    EXPECTED_ACTIONS,
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    estate_config,
    seed_estate,
)

WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def estate(server: ScimServer, tmp_path: Path) -> dict[str, dict[str, Any]]:
    planted = seed_estate(server)
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    (tmp_path / "nhirecon.yaml").write_text(estate_config(server), encoding="utf-8")
    return planted


@pytest.fixture
def nhirecon(run: Run) -> Run:
    def runner(*args: str, **kwargs: Any) -> Any:
        return run(*args, env={TOKEN_ENV: TOKEN}, **kwargs)

    return runner


def writes(server: ScimServer, since: int = 0) -> Counter[str]:
    return Counter(seen.method for seen in server.faults.seen[since:] if seen.method in WRITES)


def assert_only_intended_changes(
    server: ScimServer, planted: dict[str, dict[str, Any]], done: dict[str, str]
) -> None:
    now = server.users()
    for name, before in planted.items():
        wanted = done.get(name)
        if wanted == "delete":
            assert name not in now, f"{name} should be deleted"
        elif wanted == "disable":
            assert now[name]["active"] is False, f"{name} should be disabled"
            changed = {key for key in before if before[key] != now[name].get(key)}
            assert changed == {"active", "meta"}, f"{name}: only active may change, not {changed}"
        else:
            assert now[name] == before, f"{name} must be untouched"


def test_audit_plan_apply_rerun(
    server: ScimServer, estate: dict[str, dict[str, Any]], nhirecon: Run, tmp_path: Path
) -> None:
    outputs: list[str] = []

    def call(*args: str) -> Any:
        result = nhirecon(*args)
        outputs.extend([result.stdout, result.stderr])
        return result

    audited = call("audit", "--now", NOW, "-f", "json", "-o", "report.json")
    assert audited.returncode == 0, audited.stderr
    validated = call("validate", "--connect")
    assert validated.returncode == 0, validated.stderr
    assert "app (scim): 11 records" in validated.stdout
    assert set(server.faults.methods()) == {"GET"}, "audit and validate send only reads"
    report = json.loads((tmp_path / "report.json").read_text())
    remediations = {
        finding["account"]["username"]: finding["remediation"]
        for finding in report["findings"]
        if finding["remediation"] in ("disable", "delete")
    }
    assert remediations == EXPECTED_ACTIONS

    before_plan = len(server.faults.seen)
    planned = call("plan", "--now", NOW, "-o", "plan.json")
    assert planned.returncode == 0, planned.stderr
    assert set(server.faults.methods()) == {"GET"}, "plan must send only reads"
    assert len(server.faults.seen) > before_plan
    assert server.users() == estate
    plan_path = tmp_path / "plan.json"
    assert stat.S_IMODE(plan_path.stat().st_mode) == 0o600
    plan = json.loads(plan_path.read_text())
    assert {a["account"]["username"]: a["action"] for a in plan["actions"]} == EXPECTED_ACTIONS
    assert plan["targets"] == [
        {"name": "app", "connector": "scim", "url": server.url, "accounts": 11}
    ]
    for action in plan["actions"]:
        assert (
            action["account"]["version"] == estate[action["account"]["username"]]["meta"]["version"]
        )
    assert "review it, then: nhirecon apply plan.json" in planned.stdout

    refused = call("apply", "plan.json", "--now", NOW)
    assert refused.returncode == 4
    assert "--yes" in refused.stderr
    assert writes(server) == Counter()

    applied = call("apply", "plan.json", "--now", NOW, "--yes")
    assert applied.returncode == 0, applied.stderr
    assert "4 done, 0 skipped, 0 failed" in applied.stdout
    assert writes(server) == Counter({"PATCH": 3, "DELETE": 1})
    assert all(
        seen.headers.get("If-Match") for seen in server.faults.seen if seen.method in WRITES
    ), "writes carry If-Match when the server supports ETags"
    assert_only_intended_changes(server, estate, EXPECTED_ACTIONS)

    log_path = default_audit_log(tmp_path / "state", tmp_path / "nhirecon.yaml")
    assert not (tmp_path / ".nhirecon").exists(), "nothing is written beside the config"
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o600
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(entries) == 4
    assert {e["account"]["username"]: e["action"] for e in entries} == EXPECTED_ACTIONS
    assert {e["outcome"] for e in entries} == {"done"}
    assert {e["http_status"] for e in entries} == {204}
    assert len({e["run_id"] for e in entries}) == 1
    assert all(e["findings"] and e["time"] and e["target"] == "app" for e in entries)

    mark = len(server.faults.seen)
    again = call("apply", "plan.json", "--now", NOW, "--yes")
    assert again.returncode == 0, again.stderr
    assert writes(server, mark) == Counter(), "a re-run writes only what is left: nothing"
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(entries) == 8
    rerun = entries[4:]
    assert {e["outcome"] for e in rerun} == {"done"}
    assert {e["detail"] for e in rerun} == {"already disabled", "already gone"}
    assert_only_intended_changes(server, estate, EXPECTED_ACTIONS)

    mark = len(server.faults.seen)
    nothing_left = call("audit", "--now", NOW, "--apply", "--yes", "-q")
    assert nothing_left.returncode == 0, nothing_left.stderr
    assert writes(server, mark) == Counter()

    for text in [*outputs, plan_path.read_text(), log_path.read_text()]:
        assert TOKEN not in text
        assert "Bearer" not in text


def test_audit_apply_yes_remediates_in_one_run(
    server: ScimServer, estate: dict[str, dict[str, Any]], nhirecon: Run, tmp_path: Path
) -> None:
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-f", "json", "-o", "r.json")
    assert result.returncode == 0, result.stderr
    assert "applied 4 actions: 4 done, 0 skipped, 0 failed" in result.stderr
    assert writes(server) == Counter({"PATCH": 3, "DELETE": 1})
    assert_only_intended_changes(server, estate, EXPECTED_ACTIONS)


def test_audit_apply_keeps_the_gate_exit_code_when_actions_succeed(
    server: ScimServer, estate: dict[str, dict[str, Any]], nhirecon: Run
) -> None:
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "--fail-on", "orphan>0", "-q")
    assert result.returncode == 1, result.stderr
    assert_only_intended_changes(server, estate, EXPECTED_ACTIONS)
