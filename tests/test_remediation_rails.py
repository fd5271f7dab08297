"""Every safety rail of SPEC §8, each tried until it holds, through the installed command
against a real SCIM server. After each refusal the server is read to prove nothing changed."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.core.model import FindingKind, fingerprint
from nhirecon.core.values import format_datetime, parse_datetime
from nhirecon.errors import ConnectorError, SafetyError
from nhirecon.exit_codes import ExitCode
from nhirecon.remediation import apply as remediation
from nhirecon.remediation import plan as planning
from nhirecon.remediation import plan_file, rails
from nhirecon.remediation.actions import ApplyResult, Outcome

from .conftest import Run, nhirecon_command
from .conftest import default_audit_log as default_audit_log_under
from .scim_server import (
    EXPECTED_ACTIONS,
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    answer,
    delay,
    drop_after_commit,
    estate_config,
    page,
    rewrite_list,
    running,
    seed_estate,
)

WRITES = ("POST", "PUT", "PATCH", "DELETE")
INSTANT = parse_datetime(NOW)
Planted = dict[str, dict[str, Any]]


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    return tmp_path


@pytest.fixture
def estate(server: ScimServer, folder: Path) -> Planted:
    (folder / "nhirecon.yaml").write_text(estate_config(server), encoding="utf-8")
    return seed_estate(server)


@pytest.fixture
def nhirecon(run: Run) -> Run:
    def runner(*args: str, **kwargs: Any) -> Any:
        env = {TOKEN_ENV: TOKEN, **kwargs.pop("env", {})}
        return run(*args, env=env, **kwargs)

    return runner


def writes(server: ScimServer, since: int = 0) -> Counter[str]:
    return Counter(seen.method for seen in server.faults.seen[since:] if seen.method in WRITES)


def audit_log(folder: Path) -> list[dict[str, Any]]:
    """The default audit log of the config in ``folder``: in this process's state folder,
    or in ``folder/state``, where the runs of the installed command keep it."""
    from nhirecon.state.paths import default_audit_log

    config = folder / "nhirecon.yaml"
    for path in (default_audit_log(config), default_audit_log_under(folder / "state", config)):
        if path.exists():
            return [json.loads(line) for line in path.read_text().splitlines()]
    return []


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["account"]["username"]: entry for entry in entries}


def plan(nhirecon: Run, folder: Path) -> dict[str, Any]:
    result = nhirecon("plan", "--now", NOW, "-o", "plan.json", "-q")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads((folder / "plan.json").read_text())
    return data


def save_plan(folder: Path, data: dict[str, Any]) -> None:
    (folder / "plan.json").write_text(json.dumps(data))


def make_plan(folder: Path) -> dict[str, Any]:
    """A plan made in-process, as plain data (as ``nhirecon plan`` would write it)."""
    loaded = config.load(folder / "nhirecon.yaml")
    assert INSTANT is not None
    report = pipeline.audit(loaded, now=INSTANT)
    return plan_file.to_data(planning.build(loaded, report, created_at=datetime.now(UTC)))


def apply_data(folder: Path, data: dict[str, Any], **options: Any) -> ApplyResult:
    """Apply plan data in-process, as ``nhirecon apply PLAN --yes`` would."""
    loaded = config.load(folder / "nhirecon.yaml")
    made = plan_file.from_json(json.dumps(data), "plan.json")
    assert INSTANT is not None
    return remediation.apply_plan(
        loaded, made, now=INSTANT, previous_source=None, yes=True, **options
    )


def apply_audit(folder: Path) -> ApplyResult:
    """Audit and apply in-process, as ``nhirecon audit --apply --yes`` would."""
    loaded = config.load(folder / "nhirecon.yaml")
    assert INSTANT is not None
    report = pipeline.audit(loaded, now=INSTANT)
    actions = remediation.prepare(loaded, report, previous_source=None)
    return remediation.apply_actions(loaded, actions, yes=True)


def refused(folder: Path, data: dict[str, Any], **options: Any) -> str:
    with pytest.raises(SafetyError) as raised:
        apply_data(folder, data, **options)
    assert raised.value.exit_code is ExitCode.SAFETY
    return str(raised.value)


# --- integrity guard ----------------------------------------------------------------------


def test_empty_source_refuses_before_any_write(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)
    (folder / "hr.csv").write_text(HR_CSV.splitlines()[0] + "\n")
    assert "returned no identities" in refused(folder, data)
    assert writes(server) == Counter()
    assert server.users() == estate


def test_incomplete_pull_refuses_before_any_write(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)

    def lie(body: dict[str, Any]) -> None:
        body["totalResults"] += 1

    server.faults.add(rewrite_list(lie), method="GET", path=r"/Users\?", times=None)
    with pytest.raises(ConnectorError, match="totalResults says 12") as raised:
        apply_data(folder, data)
    assert raised.value.exit_code is ExitCode.CONNECTOR
    assert writes(server) == Counter()
    assert server.users() == estate


def test_source_shrinking_past_the_limit_refuses(
    server: ScimServer, estate: Planted, folder: Path, nhirecon: Run
) -> None:
    assert nhirecon("audit", "--now", NOW, "-q").returncode == 0  # recorded: 8 identities
    rows = HR_CSV.splitlines()
    (folder / "hr.csv").write_text("\n".join(rows[:6]) + "\n")  # 5 identities: 37.5% fewer
    for command in (["audit", "--apply", "--yes"], ["plan", "-o", "plan.json"]):
        result = nhirecon(*command, "--now", NOW, "-q")
        assert result.returncode == 4, command
        assert "37.5% fewer than the 8 of the last recorded run" in result.stderr
    assert not (folder / "plan.json").exists()
    assert writes(server) == Counter()
    assert server.users() == estate


def test_an_include_cut_short_refuses_though_the_source_barely_shrank(
    server: ScimServer, estate: Planted, folder: Path, nhirecon: Run
) -> None:
    """Ten contractors beside 48 people, then one: 58 identities become 49 (15.5% fewer,
    within the limit), but the contractors' export lost 90% of its rows."""
    config = estate_config(server).replace(
        "        status: employment_status, department: department, expires_at: end_date}\n",
        "        status: employment_status, department: department, expires_at: end_date}\n"
        "  include:\n"
        "    - {connector: csv, path: contractors.csv, map: {id: cid, email: mail}}\n",
    )
    (folder / "nhirecon.yaml").write_text(config, encoding="utf-8")
    people = "".join(f"X{n},x{n}@example.com,x{n},X {n},active,Ops,\n" for n in range(40))
    (folder / "hr.csv").write_text(HR_CSV + people, encoding="utf-8")
    ten = "".join(f"C{n},c{n}@example.com\n" for n in range(10))
    (folder / "contractors.csv").write_text("cid,mail\n" + ten, encoding="utf-8")
    assert nhirecon("audit", "--now", NOW, "-q").returncode in (0, 1)  # recorded: 48 + 10
    (folder / "contractors.csv").write_text("cid,mail\nC0,c0@example.com\n", encoding="utf-8")
    result = nhirecon("audit", "--apply", "--yes", "--now", NOW, "-q")
    assert result.returncode == 4, result.stderr
    assert "source input source.include[0] (contractors.csv) returned 1 identity," in (
        result.stderr
    )
    assert "--accept-source-drop" in result.stderr
    assert writes(server) == Counter()
    assert server.users() == estate


# --- thresholds ---------------------------------------------------------------------------


def test_max_actions_is_all_or_nothing_and_can_be_raised_for_a_run(
    server: ScimServer, estate: Planted, folder: Path, nhirecon: Run
) -> None:
    config = estate_config(server, policy="max_action_percent: 50\n  max_actions: 3")
    (folder / "nhirecon.yaml").write_text(config)
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-q")
    assert result.returncode == 4
    assert "4 actions exceed max_actions 3" in result.stderr
    assert writes(server) == Counter()
    assert server.users() == estate
    assert audit_log(folder) == []

    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-q", "--max-actions", "4")
    assert result.returncode == 0, result.stderr
    assert writes(server) == Counter({"PATCH": 3, "DELETE": 1})


def test_max_action_percent_per_target(server: ScimServer, estate: Planted, folder: Path) -> None:
    data = make_plan(folder)
    (folder / "nhirecon.yaml").write_text(estate_config(server, policy="max_action_percent: 10"))
    data["config"]["digest"] = config.load(folder / "nhirecon.yaml").digest
    message = refused(folder, data)
    assert "4 actions are 36.4% of its 11 accounts, over max_action_percent 10" in message
    assert writes(server) == Counter()
    assert server.users() == estate


# --- confirmation -------------------------------------------------------------------------


def test_no_terminal_and_no_yes_refuses(
    server: ScimServer, estate: Planted, nhirecon: Run, folder: Path
) -> None:
    result = nhirecon(
        "audit", "--now", NOW, "--apply", "-f", "json", "-o", "r.json", input="y\n", cwd=folder
    )
    assert result.returncode == 4
    assert "no terminal" in result.stderr
    assert writes(server) == Counter()
    assert not (folder / "r.json").exists(), "refused before anything is written"
    assert not (folder / "history.db").exists()


def _on_terminal(folder: Path, answer_text: bytes, *args: str) -> tuple[int, str]:
    """Run the command on a pseudo-terminal, answer its question, return (code, screen)."""
    import pty

    master, slave = pty.openpty()
    env = {
        **os.environ,
        TOKEN_ENV: TOKEN,
        "HOME": str(folder / "home"),
        "XDG_STATE_HOME": str(folder / "state"),
        "COLUMNS": "120",
        "NO_COLOR": "1",
    }
    process = subprocess.Popen(
        [nhirecon_command(), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=folder,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    screen = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(master, answer_text)
                answered = True
            if process.poll() is not None and not ready:
                break
        code = process.wait(timeout=30)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return code, screen.decode(errors="replace")


@pytest.mark.parametrize("answer", [b"n\n", b"\n", b"\x04"], ids=["no", "enter", "ctrl-d"])
def test_terminal_shows_the_actions_and_a_no_writes_nothing(
    server: ScimServer, estate: Planted, folder: Path, answer: bytes
) -> None:
    code, screen = _on_terminal(folder, answer, "audit", "--now", NOW, "--apply", "-q")
    assert code == 4, screen
    for name, action in EXPECTED_ACTIONS.items():
        assert any(name in line and action in line for line in screen.splitlines()), name
    assert "Write these 4 changes to the targets?" in screen
    assert "not confirmed" in screen
    assert writes(server) == Counter()


def test_terminal_yes_applies(server: ScimServer, estate: Planted, folder: Path) -> None:
    code, screen = _on_terminal(folder, b"y\n", "audit", "--now", NOW, "--apply", "-q")
    assert code == 0, screen
    assert writes(server) == Counter({"PATCH": 3, "DELETE": 1})


# --- live re-check ------------------------------------------------------------------------


def test_live_recheck_gone_disabled_and_changed(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)
    server.delete_user(estate["mallory"]["id"])
    server.change_user(estate["erin"]["id"], active=False)
    server.change_user(estate["bob"]["id"], displayName="Robert Baker")
    mark = len(server.faults.seen)
    result = apply_data(folder, data)
    assert result.exit_code is ExitCode.OK
    assert writes(server, mark) == Counter({"DELETE": 1}), "only olivia is left to write"
    entries = by_name(audit_log(folder))
    assert entries["mallory"]["outcome"] == "done"
    assert entries["mallory"]["detail"] == "already gone"
    assert entries["erin"]["outcome"] == "done"
    assert entries["erin"]["detail"] == "already disabled"
    assert entries["bob"]["outcome"] == "skipped"
    assert "changed since the plan" in entries["bob"]["detail"]
    assert entries["olivia"]["outcome"] == "done"
    assert server.users()["bob"]["active"] is True
    assert "olivia" not in server.users()
    assert result.count(Outcome.SKIPPED) == 1


def test_a_change_between_recheck_and_write_is_caught_by_if_match(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    bob = estate["bob"]["id"]

    def meddle(environ: dict[str, Any], start_response: Any, app: Any) -> list[bytes]:
        server.change_user(bob, displayName="Changed meanwhile")
        return list(app(environ, start_response))

    server.faults.add(meddle, method="PATCH", path=bob)
    result = apply_audit(folder)
    assert result.exit_code is ExitCode.OK
    entries = by_name(audit_log(folder))
    assert entries["bob"]["outcome"] == "skipped"
    assert entries["bob"]["http_status"] == 412
    assert server.users()["bob"]["active"] is True
    assert {entries[name]["outcome"] for name in ("erin", "mallory", "olivia")} == {"done"}


# --- plans --------------------------------------------------------------------------------


def test_plan_for_another_config_is_refused(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)
    path = folder / "nhirecon.yaml"
    path.write_text(path.read_text() + "# reviewed\n")
    assert "made with another config" in refused(folder, data)
    assert writes(server) == Counter()


def test_plan_for_another_url_is_refused(server: ScimServer, estate: Planted, folder: Path) -> None:
    data = make_plan(folder)
    data["targets"][0]["url"] = "https://scim.elsewhere.example/v2"
    assert "the plan was made for https://scim.elsewhere.example/v2" in refused(folder, data)
    assert writes(server) == Counter()


def test_stale_and_future_plans_are_refused(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)
    made = datetime.now(UTC)
    data["created_at"] = format_datetime(made - timedelta(hours=25))
    assert "older than --max-age 24 h" in refused(folder, data)
    data["created_at"] = format_datetime(made + timedelta(hours=2))
    assert "in the future" in refused(folder, data)
    assert writes(server) == Counter()

    data["created_at"] = format_datetime(made - timedelta(hours=25))
    result = apply_data(folder, data, max_age=rails.parse_duration("2d"))
    assert result.exit_code is ExitCode.OK
    assert writes(server) == Counter({"PATCH": 3, "DELETE": 1})


def test_stale_plan_through_the_command(
    server: ScimServer, estate: Planted, folder: Path, nhirecon: Run
) -> None:
    data = make_plan(folder)
    data["created_at"] = format_datetime(datetime.now(UTC) - timedelta(minutes=90))
    save_plan(folder, data)
    result = nhirecon("apply", "plan.json", "--now", NOW, "--yes", "--max-age", "1h")
    assert result.returncode == 4
    assert "older than --max-age 1 h" in result.stderr
    assert writes(server) == Counter()


def _forged(account: dict[str, Any], kind: str, action: str, fp: str | None = None) -> Any:
    return {
        "target": "app",
        "account": {
            "id": account["id"],
            "username": account["userName"],
            "email": account["emails"][0]["value"],
            "version": account["meta"]["version"],
        },
        "action": action,
        "findings": [
            {
                "kind": kind,
                "fingerprint": fp or fingerprint(FindingKind(kind), "app", account["id"]),
            }
        ],
    }


@pytest.mark.parametrize(
    ("who", "kind", "action", "message"),
    [
        ("grace", "dormant", "disable", "the config does not disable on dormant"),
        ("breakglass", "orphan", "delete", "the account is protected"),
        ("sam", "ambiguous", "disable", "ambiguous findings never get an action"),
        ("alice", "orphan", "delete", "fingerprint of its orphan finding is wrong"),
    ],
)
def test_hand_edited_plan_with_an_action_the_config_would_not_take_is_refused(
    server: ScimServer,
    estate: Planted,
    folder: Path,
    who: str,
    kind: str,
    action: str,
    message: str,
) -> None:
    data = make_plan(folder)
    forged_fp = "0" * 32 if who == "alice" else None
    data["actions"].append(_forged(estate[who], kind, action, forged_fp))
    text = refused(folder, data)
    assert "actions the config would not take" in text
    assert message in text
    assert writes(server) == Counter()
    assert server.users() == estate


def test_hand_edited_plan_through_the_command(
    server: ScimServer, estate: Planted, folder: Path, nhirecon: Run
) -> None:
    data = plan(nhirecon, folder)
    for item in data["actions"]:
        if item["account"]["username"] == "bob":
            item["action"] = "delete"
    save_plan(folder, data)
    result = nhirecon("apply", "plan.json", "--now", NOW, "--yes")
    assert result.returncode == 4
    assert "the config would disable instead" in result.stderr
    assert writes(server) == Counter()


def test_forged_action_that_fits_the_config_is_still_never_written(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)
    data["actions"].append(_forged(estate["alice"], "orphan", "delete"))
    result = apply_data(folder, data)
    assert result.exit_code is ExitCode.OK
    entries = by_name(audit_log(folder))
    assert entries["alice"]["outcome"] == "skipped"
    assert "no longer holds" in entries["alice"]["detail"]
    assert server.users()["alice"] == estate["alice"]
    assert writes(server) == Counter({"PATCH": 3, "DELETE": 1})


# --- failures, retries and kills during apply ---------------------------------------------


def test_failed_actions_exit_5_and_the_others_go_through(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    bob = estate["bob"]["id"]
    server.faults.add(
        answer(500, body={"detail": "backend exploded"}), method="PATCH", path=bob, times=None
    )
    result = apply_audit(folder)
    assert result.exit_code is ExitCode.ACTIONS_FAILED
    entries = by_name(audit_log(folder))
    assert entries["bob"]["outcome"] == "failed"
    assert entries["bob"]["http_status"] == 500
    assert "backend exploded" in entries["bob"]["detail"]
    assert {entries[name]["outcome"] for name in ("erin", "mallory", "olivia")} == {"done"}
    assert server.users()["bob"]["active"] is True
    assert result.count(Outcome.FAILED) == 1


def test_failed_actions_win_over_a_failed_gate(
    server: ScimServer, estate: Planted, nhirecon: Run
) -> None:
    server.faults.add(answer(403), method="DELETE", times=None)
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-q", "--fail-on", "any>0")
    assert result.returncode == 5
    assert "failed: delete app/olivia" in result.stderr
    assert "HTTP 403" in result.stderr


NOT_FOUND_PAGE = "<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(page(404, NOT_FOUND_PAGE), id="an HTML page"),
        pytest.param(page(404, ""), id="an empty body"),
        pytest.param(answer(404, body={"message": "no Route matched"}), id="a gateway's JSON"),
    ],
)
def test_a_404_from_in_front_of_the_service_is_not_the_account_being_gone(
    server: ScimServer, estate: Planted, folder: Path, fault: Any
) -> None:
    """Something in front of the service answers for it (Apache refuses an encoded slash
    with its own page, a gateway with no route sends an empty 404 or its own JSON): not
    SCIM's error, so the account is listed by id, and there it still is. Neither the
    re-check before a write nor the read after one makes the action done."""
    data = make_plan(folder)
    bob, olivia = estate["bob"]["id"], estate["olivia"]["id"]
    server.faults.add(fault, method="GET", path=rf"/Users/{bob}\?", times=None)
    server.faults.add(fault, path=rf"/Users/{olivia}\?", times=None)
    mark = len(server.faults.seen)
    result = apply_data(folder, data)
    assert result.exit_code is ExitCode.ACTIONS_FAILED
    entries = by_name(audit_log(folder))
    for name in ("bob", "olivia"):
        assert entries[name]["outcome"] == "failed", entries[name]
        assert (
            "HTTP 404 without a SCIM error, and the listing holds it" in (entries[name]["detail"])
        )
    assert entries["erin"]["outcome"] == "done", "the other accounts are acted on"
    assert writes(server, mark)["PATCH"] == 2, "bob is never written to"
    users = server.users()
    assert users["bob"]["active"] is True and "olivia" in users


def test_a_service_that_says_404_its_own_way_is_believed_once_the_listing_agrees(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    """A vendor whose 404 is not in SCIM's words (its own JSON): the account is gone when
    a listing by its id holds nothing."""
    data = make_plan(folder)
    mallory = estate["mallory"]["id"]
    server.delete_user(mallory)
    vendor = answer(404, body={"Errors": {"description": "no such user", "code": 404}})
    server.faults.add(vendor, method="GET", path=rf"/Users/{mallory}\?", times=None)
    result = apply_data(folder, data)
    assert result.exit_code is ExitCode.OK
    entries = by_name(audit_log(folder))
    assert entries["mallory"]["outcome"] == "done"
    assert entries["mallory"]["detail"] == "already gone"
    listed = [seen.query for seen in server.faults.seen if "filter" in seen.query]
    assert any(mallory in query for query in listed), "confirmed by a listing by id"


def test_connection_dropped_after_commit_is_retried_and_recognised_as_done(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    server.faults.add(drop_after_commit(), method="PATCH", path=estate["bob"]["id"])
    server.faults.add(drop_after_commit(), method="DELETE", path=estate["olivia"]["id"])
    result = apply_audit(folder)
    assert result.exit_code is ExitCode.OK
    entries = by_name(audit_log(folder))
    assert entries["bob"]["outcome"] == "done"
    assert entries["bob"]["http_status"] == 412
    assert "an earlier attempt went through" in entries["bob"]["detail"]
    assert entries["olivia"]["outcome"] == "done"
    assert entries["olivia"]["detail"] == "already gone"
    users = server.users()
    assert users["bob"]["active"] is False and "olivia" not in users


def test_429_on_writes_is_honoured(server: ScimServer, estate: Planted, folder: Path) -> None:
    server.faults.add(answer(429, {"Retry-After": "1"}), method="PATCH", times=2)
    result = apply_audit(folder)
    assert result.exit_code is ExitCode.OK
    assert {entry["outcome"] for entry in audit_log(folder)} == {"done"}
    assert Counter(seen.status for seen in server.faults.seen if seen.method == "PATCH") == {
        429: 2,
        204: 3,
    }


def test_a_killed_run_loses_nothing_and_a_rerun_does_only_what_is_left(
    server: ScimServer, estate: Planted, folder: Path, run: Run
) -> None:
    config = estate_config(server, target_options="max_workers: 1")
    (folder / "nhirecon.yaml").write_text(config)
    server.faults.add(delay(0.4), method="PATCH", times=None)
    server.faults.add(delay(0.4), method="DELETE", times=None)
    env = {**os.environ, TOKEN_ENV: TOKEN, "XDG_STATE_HOME": str(folder / "state")}
    process = subprocess.Popen(
        [nhirecon_command(), "audit", "--now", NOW, "--apply", "--yes", "-q"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(audit_log(folder)) < 1:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    first = audit_log(folder)
    assert 1 <= len(first) < 4, "killed part-way"
    time.sleep(0.6)  # let the server finish a write that was in flight
    result = run("audit", "--now", NOW, "--apply", "--yes", "-q", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    per_account = Counter(
        seen.path.rsplit("/", 1)[1] for seen in server.faults.seen if seen.method in WRITES
    )
    assert set(per_account.values()) == {1}, "no account was written twice"
    assert len(per_account) == 4
    users = server.users()
    assert all(users[name]["active"] is False for name in ("bob", "erin", "mallory"))
    assert "olivia" not in users


# --- writing without PATCH, without ETags -------------------------------------------------


def test_without_patch_a_disable_puts_the_whole_resource_back(folder: Path) -> None:
    with running(patch=False) as server:
        (folder / "nhirecon.yaml").write_text(estate_config(server))
        planted = seed_estate(server)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.OK
        assert writes(server) == Counter({"PUT": 3, "DELETE": 1})
        now = server.users()
        for name in ("bob", "erin", "mallory"):
            before = {k: v for k, v in planted[name].items() if k not in ("meta", "active")}
            after = {k: v for k, v in now[name].items() if k not in ("meta", "active")}
            assert after == before
            assert now[name]["active"] is False


def test_without_etags_no_if_match_is_sent(folder: Path) -> None:
    with running(etag=False) as server:
        (folder / "nhirecon.yaml").write_text(estate_config(server))
        seed_estate(server)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.OK
        sent = [seen for seen in server.faults.seen if seen.method in WRITES]
        assert len(sent) == 4
        assert not any("If-Match" in seen.headers for seen in sent)


# --- secrets ------------------------------------------------------------------------------


def test_wrong_token_exits_3_naming_url_and_status_and_never_the_token(
    server: ScimServer, estate: Planted, folder: Path, nhirecon: Run
) -> None:
    wrong = "wrong-token-abcdef123456"
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-v", env={TOKEN_ENV: wrong})
    assert result.returncode == 3
    assert f"GET {server.url}/Users" in result.stderr
    assert "HTTP 401" in result.stderr
    for text in (result.stdout, result.stderr):
        assert wrong not in text and TOKEN not in text
    assert writes(server) == Counter()


def test_a_plan_without_actions_reads_and_writes_nothing(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)
    data["actions"] = []
    mark = len(server.faults.seen)
    result = apply_data(folder, data)
    assert result.results == ()
    assert result.summary() == "nothing to apply"
    assert len(server.faults.seen) == mark


# --- a plan's reasons and versions against the fresh audit ---------------------------------

BOB = "E2,bob@example.com,bob,Bob Baker,terminated,Engineering,"


def test_an_action_a_fresh_audit_calls_for_another_reason_is_held(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    """The reviewer approved "disable bob: he left". Bob is back (active in HR), and only
    his end date past makes him ``expired``: a reason no one approved."""
    data = make_plan(folder)
    hr = folder / "hr.csv"
    hr.write_text(
        hr.read_text().replace(BOB, "E2,bob@example.com,bob,Bob Baker,active,Eng,2026-02-01")
    )
    mark = len(server.faults.seen)
    result = apply_data(folder, data)
    assert result.exit_code is ExitCode.OK
    entries = by_name(audit_log(folder))
    assert entries["bob"]["outcome"] == "skipped"
    assert entries["bob"]["detail"] == (
        "the finding the plan names (leaver) no longer holds in a fresh audit, which finds"
        " expired instead; not written"
    )
    assert server.users()["bob"]["active"] is True
    assert writes(server, mark) == Counter({"PATCH": 2, "DELETE": 1})


def test_the_audit_log_names_the_plans_reason_that_still_holds(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    data = make_plan(folder)
    [planned] = [a for a in data["actions"] if a["account"]["username"] == "bob"]
    hr = folder / "hr.csv"
    hr.write_text(hr.read_text().replace(BOB, BOB + "2026-02-01"))  # a leaver, expired too
    assert apply_data(folder, data).exit_code is ExitCode.OK
    entry = by_name(audit_log(folder))["bob"]
    assert entry["outcome"] == "done"
    assert [f["kind"] for f in planned["findings"]] == ["leaver"]
    assert entry["findings"] == planned["findings"]


def test_the_audit_log_leaves_out_a_planned_reason_that_no_longer_holds(
    server: ScimServer, estate: Planted, folder: Path
) -> None:
    """Planned for two reasons, of which one still holds: the write goes ahead for it,
    and the log names it alone."""
    data = make_plan(folder)
    [planned] = [a for a in data["actions"] if a["account"]["username"] == "bob"]
    expired = fingerprint(FindingKind.EXPIRED, "app", estate["bob"]["id"])
    planned["findings"].append({"kind": "expired", "fingerprint": expired})
    assert apply_data(folder, data).exit_code is ExitCode.OK
    entry = by_name(audit_log(folder))["bob"]
    assert entry["outcome"] == "done"
    assert [f["kind"] for f in entry["findings"]] == ["leaver"]


@pytest.mark.parametrize("blank", [None, ""])
def test_a_plan_whose_version_was_blanked_is_not_written(
    server: ScimServer, estate: Planted, folder: Path, blank: str | None
) -> None:
    """Without its version, a plan could not tell that bob changed since it was made: the
    fields the re-check compares would be the fresh audit's, read after the change."""
    data = make_plan(folder)
    for action in data["actions"]:
        if action["account"]["username"] == "bob":
            action["account"]["version"] = blank
    server.change_user(estate["bob"]["id"], displayName="Bobby")
    result = apply_data(folder, data)
    assert result.exit_code is ExitCode.OK
    entry = by_name(audit_log(folder))["bob"]
    assert entry["outcome"] == "skipped"
    assert entry["detail"].startswith("the plan holds no version of the account, which reads W/"), (
        entry["detail"]
    )
    assert server.users()["bob"]["active"] is True
