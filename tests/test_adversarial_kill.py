"""``kill -9`` of ``nhirecon apply`` at random moments, then re-runs until it is done: every
intended account ends disabled (or deleted) by exactly one write the service carried out,
no other account changes, and the audit log holds whole lines that tell the story.

The service waits before each write, so that a kill can land while a write is in flight
(the service commits it after the client died), between writes, or during the pull.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.core.values import parse_datetime
from nhirecon.remediation import plan as planning
from nhirecon.remediation import plan_file

from .adversarial import committed_writes
from .conftest import default_audit_log, nhirecon_command
from .scim_server import NOW, TOKEN, TOKEN_ENV, ScimServer, delay, running

LEAVERS = [f"E{number:02}" for number in range(1, 13)]
STAYING = [f"E{number:02}" for number in range(13, 25)]
ORPHANS = [f"orphan{number}" for number in range(1, 5)]
JIT = ["jit1", "jit2"]
WRITE_DELAY = 0.15
WORKERS = 3
KILLS_PER_SEED = 2


def hr_csv() -> str:
    rows = ["employee_id,work_email,employment_status"]
    rows += [f"{who},{who.lower()}@example.com,terminated" for who in LEAVERS]
    rows += [f"{who},{who.lower()}@example.com,active" for who in STAYING]
    return "\n".join(rows) + "\n"


def seed(server: ScimServer) -> dict[str, dict[str, Any]]:
    users = [server.add_user(who.lower(), external_id=who) for who in LEAVERS + STAYING]
    users += [server.add_user(name, external_id=f"X-{name}") for name in ORPHANS]
    users += [server.add_user(name, email=f"{name}@example.com") for name in JIT]
    users.append(server.add_user("breakglass", external_id="X-breakglass"))
    users.append(server.add_user("retired", external_id="E01", active=False))
    return {user["userName"]: user for user in users}


INTENDED = {
    **{who.lower(): "disable" for who in LEAVERS},
    **{name: "delete" for name in ORPHANS},
    **{name: "disable" for name in JIT},
}


def write_config(folder: Path, server: ScimServer) -> None:
    (folder / "hr.csv").write_text(hr_csv(), encoding="utf-8")
    (folder / "nhirecon.yaml").write_text(
        f"""\
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {{id: employee_id, email: work_email, status: employment_status}}
targets:
  - name: app
    connector: scim
    url: {server.url}
    auth: {{type: bearer, token_env: {TOKEN_ENV}}}
    backoff: 0.01
    max_workers: {WORKERS}
    correlate:
      - {{account: external_id, identity: id}}
      - {{account: email, identity: email}}
    remediate: {{leaver: disable, orphan: delete, jit-orphan: disable}}
protected:
  - {{target: app, account: breakglass}}
policy:
  max_actions: 100
  max_action_percent: 100
""",
        encoding="utf-8",
    )


def make_plan(folder: Path) -> None:
    loaded = config.load(folder / "nhirecon.yaml")
    instant = parse_datetime(NOW)
    assert instant is not None
    made = planning.build(loaded, pipeline.audit(loaded, now=instant), created_at=datetime.now(UTC))
    assert {action.username: action.action.value for action in made.actions} == INTENDED
    (folder / "plan.json").write_text(plan_file.to_json(made), encoding="utf-8")


def start_apply(folder: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        TOKEN_ENV: TOKEN,
        "HOME": str(folder / "home"),
        "XDG_STATE_HOME": str(folder / "state"),
    }
    return subprocess.Popen(
        [nhirecon_command(), "apply", "plan.json", "--now", NOW, "--yes", "-q"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition: Any, process: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not condition() and process.poll() is None:
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.005)


def audit_lines(folder: Path) -> list[dict[str, Any]]:
    """Every line of the audit log, each of which must be a whole JSON object."""
    path = default_audit_log(folder / "state", folder / "nhirecon.yaml")
    if not path.exists():
        return []
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the last line is whole"
    entries = [json.loads(line) for line in data.decode().splitlines()]
    keys = {"time", "run_id", "target", "account", "action", "findings", "outcome"}
    assert all(keys <= set(entry) and "http_status" in entry for entry in entries)
    return entries


@pytest.fixture(params=[(1, True), (2, True), (3, True), (4, True), (5, False)])
def case(request: pytest.FixtureRequest) -> Iterator[tuple[int, ScimServer]]:
    number, patch = request.param
    with running(patch=patch) as server:
        yield number, server


def test_kill_9_at_random_moments_then_rerun_until_done(
    case: tuple[int, ScimServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)  # for the plan made in this process
    number, server = case
    rng = random.Random(number)
    planted = seed(server)
    ids = {name: user["id"] for name, user in planted.items()}
    write_config(tmp_path, server)
    make_plan(tmp_path)
    for method in ("PATCH", "PUT", "DELETE"):
        server.faults.add(delay(WRITE_DELAY), method=method, times=None)

    kills = []
    for _ in range(KILLS_PER_SEED):
        # a random moment: after a random number of committed writes, plus a random part
        # of a write's time, so the kill may land before, between or during writes
        already = sum(committed_writes(server).values())
        wanted = min(already + rng.randint(0, 6), len(INTENDED) - 2 * WORKERS - 1)
        mark = len(server.faults.seen)
        process = start_apply(tmp_path)
        wait_for(lambda mark=mark: len(server.faults.seen) > mark, process)
        wait_for(lambda wanted=wanted: sum(committed_writes(server).values()) >= wanted, process)
        time.sleep(rng.uniform(0, 1.5 * WRITE_DELAY))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, "killed before it could finish"
        kills.append(sum(committed_writes(server).values()))
        audit_lines(tmp_path)  # whole lines after every kill

    for _ in range(3):
        process = start_apply(tmp_path)
        _, stderr = process.communicate(timeout=120)
        if process.returncode == 0:
            break
    assert process.returncode == 0, stderr.decode()

    users = server.users()
    for name, before in planted.items():
        if INTENDED.get(name) == "delete":
            assert name not in users, name
        elif INTENDED.get(name) == "disable":
            assert users[name]["active"] is False, name
            assert {key for key in before if before[key] != users[name].get(key)} == {
                "active",
                "meta",
            }
        else:
            assert users[name] == before, f"{name} must be untouched"

    committed = committed_writes(server)
    assert committed == {ids[name]: 1 for name in INTENDED}, "each once, nobody else"

    entries = audit_lines(tmp_path)
    assert {entry["account"]["username"] for entry in entries} == set(INTENDED)
    assert not [entry for entry in entries if entry["outcome"] != "done"]
    for name, action in INTENDED.items():
        mine = [entry for entry in entries if entry["account"]["username"] == name]
        assert {entry["action"] for entry in mine} == {action}
        written = [entry for entry in mine if entry["http_status"] in (200, 204)]
        recognised = [entry for entry in mine if entry["detail"].startswith("already")]
        assert len(written) <= 1, f"{name}: logged as written more than once"
        assert written or recognised, f"{name}: its write is nowhere in the log"
        if written:  # the log never claims a write the service did not make
            assert committed[ids[name]] == 1
    last_run = entries[-1]["run_id"]
    assert [entry["run_id"] for entry in entries[-len(INTENDED) :]] == [last_run] * len(INTENDED)
    assert kills[0] < len(INTENDED), "the first kill landed before the work was done"
