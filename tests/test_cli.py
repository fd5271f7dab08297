"""End to end: the installed ``nhirecon`` command, its output files and its exit codes."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES, NOW, ROOT, Run, nhirecon_command

Write = Callable[[str, str], Path]
SAMPLE = str(ROOT / "config.sample.yaml")


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """A copy of the example estate and sample config that a test may damage."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    config = tmp_path / "nhirecon.yaml"
    shutil.copy(ROOT / "config.sample.yaml", config)
    return config


# audit --------------------------------------------------------------------------------


def test_audit_prints_the_table_and_exits_0_without_gate_rules(run: Run) -> None:
    result = run("audit", "-c", SAMPLE, "--now", NOW)
    assert result.returncode == 0
    assert "54 findings, 1 excepted" in result.stdout
    assert "gate: no rules" in result.stdout
    assert result.stderr == ""


def test_config_gate_rules_fail_the_run(run: Run, estate: Path) -> None:
    estate.write_text(estate.read_text() + "gate:\n  - orphan,jit-orphan>0\n")
    result = run("audit", "-c", str(estate), "--now", NOW)
    assert result.returncode == 1
    assert "54 findings, 1 excepted" in result.stdout
    assert "gate FAILED: orphan,jit-orphan>0 counted 17" in result.stdout
    assert result.stderr == ""


def test_paired_formats_and_outputs(run: Run, tmp_path: Path) -> None:
    result = run(
        "audit",
        "-c",
        SAMPLE,
        "--now",
        NOW,
        "-f",
        "json",
        "-o",
        "r.json",
        "-f",
        "csv",
        "-o",
        "out/r.csv",
        "-f",
        "markdown",
    )
    assert result.returncode == 0
    assert result.stdout.startswith("# nhirecon audit")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["total"] == 54
    rows = (tmp_path / "out" / "r.csv").read_text().splitlines()
    assert len(rows) == 55
    for path in (tmp_path / "r.json", tmp_path / "out" / "r.csv"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_output_format_follows_the_suffix_when_no_format_is_given(run: Run, tmp_path: Path) -> None:
    result = run("audit", "-c", SAMPLE, "--now", NOW, "-o", "r.md", "-o", "r.json")
    assert result.returncode == 0 and result.stdout == ""
    assert (tmp_path / "r.md").read_text().startswith("# nhirecon audit")
    assert json.loads((tmp_path / "r.json").read_text())["schema_version"] == 1
    # a .txt file takes any text format, a .json file SARIF
    notes = run("audit", "-c", SAMPLE, "--now", NOW, "-f", "markdown", "-o", "notes.txt")
    assert notes.returncode == 0, notes.stderr
    assert (tmp_path / "notes.txt").read_text().startswith("# nhirecon audit")
    sarif = run("audit", "-c", SAMPLE, "--now", NOW, "-f", "sarif", "-o", "r.sarif.json")
    assert sarif.returncode == 0, sarif.stderr
    assert json.loads((tmp_path / "r.sarif.json").read_text())["version"] == "2.1.0"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "pdf"], "'pdf' is not one of 'table', 'json'"),
        (["-o", "r.pdf"], "its suffix names no format"),
        # -f csv pairs with keep.json, which would then hold CSV
        (["-f", "csv", "-o", "r.csv"], "-o keep.json: its suffix names the json format, but"),
        (["-f", "json", "-f", "csv", "-f", "markdown"], "only one format can go to stdout"),
        (["--fail-on", "orphans>0"], "unknown finding kind 'orphans'"),
        (["--fail-on", "orphan=0"], "is not SELECTOR OP N"),
        (["--now", "tomorrow"], "--now: 'tomorrow' is not an ISO-8601"),
        (["--target", "nope"], "no target named 'nope'"),
    ],
)
def test_usage_errors_exit_2_and_write_nothing(
    run: Run, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run("audit", "-c", SAMPLE, "--now", NOW, "-o", "keep.json", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "keep.json").exists()


@pytest.mark.parametrize(
    ("rules", "code"),
    [
        (["any>1000"], 0),
        (["any>=54"], 1),
        (["any>54"], 0),
        (["severity:critical>=5"], 1),
        (["severity:critical>5"], 0),
        (["ownerless,ambiguous>7"], 1),
        (["ownerless,ambiguous>8"], 0),
        (["leaver>4", "any>100"], 1),
    ],
)
def test_fail_on_replaces_the_config_gate(run: Run, rules: list[str], code: int) -> None:
    args = [arg for rule in rules for arg in ("--fail-on", rule)]
    result = run("audit", "-c", SAMPLE, "--now", NOW, "-f", "json", *args)
    assert result.returncode == code, result.stderr
    gate = json.loads(result.stdout)["gate"]
    assert [rule["rule"] for rule in gate["rules"]] == rules
    assert gate["passed"] is (code == 0)


def test_target_option_limits_the_run(run: Run) -> None:
    result = run("audit", "-c", SAMPLE, "--now", NOW, "-f", "json", "--target", "crm")
    report = json.loads(result.stdout)
    assert [target["name"] for target in report["targets"]] == ["crm"]
    assert set(report["summary"]["by_target"]) == {"crm", "hr"}


def test_quiet_prints_only_the_gate_verdict(run: Run) -> None:
    result = run("audit", "-c", SAMPLE, "--now", NOW, "-q", "--fail-on", "orphan,jit-orphan>0")
    assert result.returncode == 1
    assert result.stdout == "gate failed: orphan,jit-orphan>0 (count 17)\n"
    passed = run("audit", "-c", SAMPLE, "--now", NOW, "-q")
    assert passed.returncode == 0 and passed.stdout == "gate passed (54 findings)\n"


def test_config_from_environment(run: Run) -> None:
    result = run("audit", "--now", NOW, "-f", "json", env={"NHIRECON_CONFIG": SAMPLE})
    assert result.returncode == 0
    assert json.loads(result.stdout)["source"]["identities"] == 340


# failures of the inputs: exit 2 for the config, 3 for connectors, 4 for safety ----------


def test_missing_config_exits_2(run: Run) -> None:
    result = run("audit")
    assert result.returncode == 2
    assert "nhirecon.yaml: config file not found" in result.stderr


def test_unknown_config_key_exits_2_naming_key_and_line(run: Run, estate: Path) -> None:
    text = estate.read_text().replace("policy:\n", "policy:\n  dormant_dayz: 3\n", 1)
    estate.write_text(text)
    line = text.splitlines().index("  dormant_dayz: 3") + 1
    result = run("audit", "-c", str(estate))
    assert result.returncode == 2
    assert f"nhirecon.yaml:{line}: policy.dormant_dayz: unknown key" in result.stderr


def test_bad_yaml_exits_2(run: Run, estate: Path) -> None:
    estate.write_text("version: 1\nsource: {name: hr\n")
    result = run("validate", "-c", str(estate))
    assert result.returncode == 2
    assert "invalid YAML" in result.stderr


def test_missing_export_exits_3(run: Run, estate: Path) -> None:
    (estate.parent / "examples" / "crm_users.csv").unlink()
    result = run("audit", "-c", str(estate), "-o", "r.json")
    assert result.returncode == 3
    assert "crm_users.csv: file not found" in result.stderr
    assert not (estate.parent / "r.json").exists()


def test_bad_date_exits_3_naming_file_row_and_column(run: Run, estate: Path) -> None:
    crm = estate.parent / "examples" / "crm_users.csv"
    lines = crm.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\r\n").split(",")
    cells = lines[5].rstrip("\r\n").split(",")
    cells[header.index("created")] = "31/12/2025"
    lines[5] = ",".join(cells) + "\n"
    crm.write_text("".join(lines))
    result = run("audit", "-c", str(estate), "-o", "r.json")
    assert result.returncode == 3
    assert "crm_users.csv:6: created_at (column 'created'): '31/12/2025'" in result.stderr
    assert not (estate.parent / "r.json").exists()


def test_duplicate_identity_id_exits_3_naming_both_rows(run: Run, estate: Path) -> None:
    hr = estate.parent / "examples" / "hr.csv"
    lines = hr.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    hr.write_text("".join([*lines, lines[1]]), encoding="utf-8")
    result = run("audit", "-c", str(estate))
    assert result.returncode == 3
    assert f"hr.csv:{len(lines) + 1}: identity id" in result.stderr
    assert "already read at" in result.stderr and "hr.csv:2" in result.stderr


def test_source_truncated_to_its_header_is_refused_with_exit_4(run: Run, estate: Path) -> None:
    hr = estate.parent / "examples" / "hr.csv"
    hr.write_text(hr.read_text(encoding="utf-8-sig").splitlines()[0] + "\n")
    inventory = estate.parent / "examples" / "nhi_inventory.yaml"
    inventory.write_text("identities: []\n")
    result = run("audit", "-c", str(estate), "-o", "r.json")
    assert result.returncode == 4
    assert "returned no identities" in result.stderr
    assert not (estate.parent / "r.json").exists()


def test_unwritable_output_exits_2_and_leaves_no_other_file(run: Run, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = run("audit", "-c", SAMPLE, "--now", NOW, "-o", "good.json", "-o", "blocker/r.csv")
    assert result.returncode == 2
    assert "blocker/r.csv: cannot write" in result.stderr
    assert not (tmp_path / "good.json").exists()
    left = sorted(path.name for path in tmp_path.iterdir() if path.name not in ("home", "state"))
    assert left == ["blocker"]  # home/ and state/ are the run fixture's own folders


# explain, validate, connectors, init --------------------------------------------------


def test_explain_shows_the_correlation_trail(run: Run) -> None:
    result = run("explain", "wiki", "mchen", "-c", SAMPLE, "--now", NOW)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "account wk-00047 in wiki" in out
    assert "1. account.email = identity.email (casefold)" in out
    assert "no identity" in out
    assert "2. account.username = identity.username (casefold)" in out
    assert "-> ambiguous" in out
    assert "medium ambiguous" in out


def test_explain_a_linked_account_and_its_findings(run: Run) -> None:
    result = run("explain", "crm", "Oliver.Bennett@example.com", "-c", SAMPLE, "--now", NOW)
    assert result.returncode == 0, result.stderr
    assert "normalised 'oliver.bennett@example.com': 1 identity" in result.stdout
    assert "result: linked to" in result.stdout


def test_explain_shows_an_exception(run: Run) -> None:
    result = run("explain", "crm", "deploy-bot", "-c", SAMPLE, "--now", NOW)
    assert result.returncode == 0
    assert "excepted orphan" in result.stdout


def test_explain_unknown_account_or_target_exits_2(run: Run) -> None:
    assert run("explain", "crm", "nobody", "-c", SAMPLE).returncode == 2
    missing = run("explain", "nope", "x", "-c", SAMPLE)
    assert missing.returncode == 2 and "no target named 'nope'" in missing.stderr


def test_validate_and_connect(run: Run, estate: Path) -> None:
    plain = run("validate", "-c", str(estate))
    assert plain.returncode == 0 and "valid (2 source inputs, 4 targets)" in plain.stdout
    connected = run("validate", "-c", str(estate), "--connect")
    assert connected.returncode == 0
    assert "targets[1] crm (csv): 148 records" in connected.stdout
    (estate.parent / "examples" / "wiki_users.jsonl").write_text('{"uid": \n')
    broken = run("validate", "-c", str(estate), "--connect")
    assert broken.returncode == 3 and "wiki_users.jsonl:2: invalid JSON" in broken.stderr
    assert run("validate", "-c", str(estate)).returncode == 0, "without --connect, no reads"


def test_connectors_lists_builtins_with_options(run: Run) -> None:
    result = run("connectors")
    assert result.returncode == 0
    for name in (
        "csv (built-in",
        "json (built-in",
        "yaml (built-in",
        "    path: required",
        "    encoding: default 'auto'",
    ):
        assert name in result.stdout


def test_init_writes_a_starter_that_validates_and_refuses_to_overwrite(
    run: Run, tmp_path: Path
) -> None:
    created = run("init")
    assert created.returncode == 0
    config = tmp_path / "nhirecon.yaml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    starter = run("validate")  # the starter names exports that are not there yet
    assert starter.returncode == 3, starter.stderr
    assert "source.path: hr.csv: file not found" in starter.stderr
    config.write_text("# mine\n")
    again = run("init")
    assert again.returncode == 2 and "exists" in again.stderr
    assert config.read_text() == "# mine\n"
    assert run("init", "--force").returncode == 0
    assert config.read_text() != "# mine\n"


def test_version_and_help(run: Run) -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("nhirecon ")
    for command in ("audit", "explain", "validate", "connectors", "init"):
        shown = run(command, "-h")
        assert shown.returncode == 0 and "Example: nhirecon" in shown.stdout


INTERRUPT_STEP_SECONDS = 60.0
"""The longest the interrupt test waits for any one thing: the start, the request, the exit."""


def _start_interruptible(args: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """Start a child that Ctrl-C can stop, whatever this process inherited.

    An ignored SIGINT stays ignored across ``exec``, and Python then never installs its
    KeyboardInterrupt handler: a suite started where SIGINT is ignored (in the background
    of a shell without job control, under ``nohup``, by some CI runners) would start an
    nhirecon that SIGINT cannot stop. A caught signal is reset to the default at ``exec``,
    so catching it here for the moment of the start is enough (signals are only set from
    the main thread, where pytest runs tests)."""
    ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(args, **options)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _wait_for_request(
    server: socket.socket, process: subprocess.Popen[bytes], deadline: float
) -> tuple[socket.socket, bytes]:
    """The connection of the child's first request, once that request has fully arrived:
    the child has nothing left to do but wait for the answer. Fails at once if the child
    exits instead, and at ``deadline`` at the latest."""
    server.settimeout(0.2)
    while True:
        if process.poll() is not None:
            pytest.fail(f"nhirecon exited with {process.returncode} before it sent a request")
        if time.monotonic() > deadline:
            pytest.fail("nhirecon sent no request in time")
        try:
            connection, _ = server.accept()
            break
        except TimeoutError:
            continue
    head = b""
    try:
        while b"\r\n\r\n" not in head:
            connection.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = connection.recv(65536)
            if not chunk:
                pytest.fail(f"the connection closed after {head!r}")
            head += chunk
    except BaseException:
        connection.close()
        raise
    return connection, head


def test_interrupt_exits_130_and_writes_nothing(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, write: Write
) -> None:
    """Ctrl-C while a pull waits on a service that never answers: exit 130, no report, no
    traceback. (An input file cannot stand in: a FIFO is refused, SPEC §8.)

    The signal is sent once the service has received the whole request, so the pull is
    waiting for the answer; every wait is bounded, and a child that outlives the test is
    killed. Its output goes to files, so no pipe can fill while nobody reads it."""
    write("hr.csv", "id,email\nE1,a@example.com\n")
    streams = tmp_path_factory.mktemp("streams")  # beside tmp_path, which must stay empty
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        config = write(
            "c.yaml",
            f"""
            version: 1
            source: {{name: hr, connector: csv, path: hr.csv, map: {{id: id}}}}
            targets:
              - {{name: app, connector: scim, url: "http://127.0.0.1:{port}/v2"}}
        """,
        )
        command = [nhirecon_command(), "audit", "-c", str(config), "-o", "r.json", "--no-history"]
        with (streams / "stdout").open("wb") as out, (streams / "stderr").open("wb") as err:
            process = _start_interruptible(
                command, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=out, stderr=err
            )
        try:
            deadline = time.monotonic() + INTERRUPT_STEP_SECONDS
            connection, head = _wait_for_request(server, process, deadline)
            with connection:
                assert head.startswith(b"GET /v2/"), head
                assert process.poll() is None, "nhirecon stopped waiting for the answer"
                process.send_signal(signal.SIGINT)
                process.wait(timeout=INTERRUPT_STEP_SECONDS)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=INTERRUPT_STEP_SECONDS)
    stderr = (streams / "stderr").read_text()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert (streams / "stdout").read_text() == ""
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.yaml", "hr.csv"]


def test_progress_goes_to_a_terminal_stderr_and_never_into_the_report(tmp_path: Path) -> None:
    import os
    import pty
    import re
    import subprocess
    import threading

    from .conftest import nhirecon_command

    terminal, stderr_end = pty.openpty()
    process = subprocess.Popen(
        [nhirecon_command(), "audit", "-c", SAMPLE, "--now", NOW, "-f", "json", "--no-history"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr_end,
    )
    os.close(stderr_end)
    chunks: list[bytes] = []

    def drain() -> None:  # read while it runs, so a full terminal buffer never blocks it
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the other end is closed: all read
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = process.communicate(timeout=120)
    reader.join(timeout=30)
    shown = b"".join(chunks)
    os.close(terminal)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode())
    assert process.returncode == 0
    assert re.search(r"pulling crm +148 records", text)
    assert json.loads(stdout)["summary"]["total"] == 54
