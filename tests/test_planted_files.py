"""Planted files cannot hurt the user (SPEC §8 "Files"): a symbolic link, a pipe or a
device put where nhirecon writes (the audit log, the history, a report, a plan, a
baseline) is refused, naming the path, and whatever it points at keeps its content and
mode; the history's own files (the database, its journal or WAL) are 0600 whatever the
umask.

Already covered elsewhere: an audit log behind a link, in process
(tests/test_audit_log_rails.py); every file 0600 and every folder made 0700 under umask 000
(tests/test_adversarial_permissions.py).
"""

from __future__ import annotations

import os
import resource
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nhirecon.state import history_db

from .conftest import DATA, NOW, nhirecon_command
from .scim_server import HR_CSV, TOKEN, TOKEN_ENV, ScimServer, estate_config, running, seed_estate

ESTATE = DATA / "bad" / "estate"
DOTFILE = "export PATH=/usr/bin\n"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def nhirecon(
    folder: Path, *args: str, stdin: int | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed command in ``folder``, with umask 000 and at most 2 GiB of memory (a
    device read to its end fails fast instead of filling the machine)."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    env = {
        **os.environ,
        TOKEN_ENV: TOKEN,
        "HOME": str(folder / "home"),
        "XDG_STATE_HOME": str(folder / "xdg"),
        "COLUMNS": "100",
        "NO_COLOR": "1",
    }
    env.pop("NHIRECON_CONFIG", None)
    return subprocess.run(
        [nhirecon_command(), *args],
        cwd=folder,
        env=env,
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        umask=0,
        preexec_fn=limits,
    )


def dotfile(folder: Path) -> Path:
    """A stand-in for the user's ``~/.bashrc``: mode 0644, one line."""
    victim = folder / "home" / ".bashrc"
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text(DOTFILE, encoding="utf-8")
    victim.chmod(0o644)
    return victim


def untouched(victim: Path) -> bool:
    return victim.read_text(encoding="utf-8") == DOTFILE and mode(victim) == 0o644


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def file_estate(folder: Path, extra: str = "") -> Path:
    """Two CSV exports and a config recording its history under ``state/``."""
    for name in ("hr.csv", "app.csv"):
        (folder / name).write_bytes((ESTATE / name).read_bytes())
    config = folder / "nhirecon.yaml"
    config.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv,"
        " map: {id: employee_id, email: work_email, status: status}}\n"
        "targets: [{name: app, connector: csv, path: app.csv}]\n"
        "history: state/history.db\n" + extra,
        encoding="utf-8",
    )
    return config


def one_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("nhirecon: error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


# --- the audit log -------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running() as started:
        seed_estate(started)
        yield started


def writes(server: ScimServer) -> int:
    return sum(1 for seen in server.faults.seen if seen.method in WRITES)


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-dotfile", "dangling"])
def test_an_audit_log_link_stops_the_command_before_any_write(
    server: ScimServer, tmp_path: Path, dangling: bool
) -> None:
    victim = dotfile(tmp_path)
    target = tmp_path / "home" / ".profile" if dangling else victim
    (tmp_path / "actions.jsonl").symlink_to(target)
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    config = estate_config(server, extra=f"audit_log: {tmp_path / 'actions.jsonl'}")
    (tmp_path / "nhirecon.yaml").write_text(config, encoding="utf-8")
    result = nhirecon(tmp_path, "audit", "--now", NOW, "--apply", "--yes", "-q")
    one_error(result, 4, f"{tmp_path / 'actions.jsonl'}: cannot open the audit log", "symbolic")
    assert writes(server) == 0
    assert untouched(victim)
    assert not (tmp_path / "home" / ".profile").exists(), "nothing made where the link points"
    assert (tmp_path / "actions.jsonl").is_symlink()


def test_a_fifo_at_the_audit_log_path_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "actions.jsonl"
    os.mkfifo(fifo)
    opening = (
        "import sys; from pathlib import Path; from nhirecon.errors import SafetyError;"
        " from nhirecon.remediation.audit_log import AuditLog\n"
        "try:\n    AuditLog(Path(sys.argv[1]))\n"
        "except SafetyError as exc:\n    print(exc)"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", opening, str(fifo)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("opening the audit log waited on the pipe") from None
    assert f"{fifo}: " in result.stdout and "nothing is written without it" in result.stdout


# --- the history ---------------------------------------------------------------------------


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-dotfile", "dangling"])
def test_a_history_link_is_refused_and_nothing_is_made_where_it_points(
    tmp_path: Path, dangling: bool
) -> None:
    file_estate(tmp_path)
    victim = dotfile(tmp_path)
    target = tmp_path / "home" / "history.db" if dangling else victim
    link = tmp_path / "state" / "history.db"
    link.parent.mkdir()
    link.symlink_to(target)
    for command in (["audit", "--now", NOW], ["audit", "--now", NOW, "--apply"], ["history"]):
        result = nhirecon(tmp_path, *command)
        one_error(result, 2, f"history file {link}: is a symbolic link", "--no-history")
    assert untouched(victim)
    assert not (tmp_path / "home" / "history.db").exists(), "the link's target was created"
    assert link.is_symlink()
    assert nhirecon(tmp_path, "audit", "--now", NOW, "--no-history", "-q").returncode == 0


@pytest.mark.parametrize("command", [["audit", "--now", NOW], ["history"]])
def test_a_fifo_at_the_history_path_is_refused_without_hanging(
    tmp_path: Path, command: list[str]
) -> None:
    file_estate(tmp_path)
    fifo = tmp_path / "state" / "history.db"
    fifo.parent.mkdir()
    os.mkfifo(fifo)  # nobody writes to it: SQLite reading its header would wait forever
    result = nhirecon(tmp_path, *command, timeout=30)
    one_error(result, 2, f"history file {fifo}: is a named pipe (FIFO), not a regular file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.fixture
def umask_000() -> Iterator[None]:
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def side_files(path: Path) -> dict[str, int]:
    """The history file and its SQLite side files, with their modes."""
    return {
        found.name: mode(found)
        for found in path.parent.iterdir()
        if found.name.startswith(path.name)
    }


@pytest.mark.usefixtures("umask_000")
@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_the_history_and_its_journal_are_private_whatever_the_umask(
    tmp_path: Path, journal: str
) -> None:
    path = tmp_path / "history.db"
    with history_db.writing(path):
        pass
    if journal == "wal":  # a mode SQLite keeps in the file, should anyone set it
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA journal_mode = WAL")
    path.chmod(0o644)  # an older nhirecon, or a copy, left it readable
    with history_db.writing(path) as db:
        db.execute("INSERT INTO runs (at, source, tool_version) VALUES (1, 'hr', 'test')")
        during = side_files(path)
    names = {"delete": {"history.db-journal"}, "wal": {"history.db-wal", "history.db-shm"}}
    assert names[journal] <= set(during), "the write went through SQLite's side files"
    assert set(during.values()) == {0o600}, during
    assert mode(path) == 0o600


@pytest.mark.usefixtures("umask_000")
def test_an_empty_history_file_left_readable_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    path.touch(mode=0o644)  # no SQLite header yet: known to be a history once it has one
    with history_db.writing(path):
        pass
    assert mode(path) == 0o600


def test_a_link_put_in_place_after_the_check_is_never_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = dotfile(tmp_path)
    path = tmp_path / "history.db"
    path.symlink_to(victim)
    real = history_db._there
    calls: list[Path] = []

    def regular_at_first(checked: Path) -> bool:  # the check saw a regular file
        calls.append(checked)
        return True if len(calls) == 1 else real(checked)

    monkeypatch.setattr(history_db, "_there", regular_at_first)
    refused = pytest.raises(history_db.HistoryError, match="is a symbolic link")
    with refused, history_db.writing(path):
        pass
    assert len(calls) == 2, "refused when the open met the link"
    assert untouched(victim)


def test_a_link_swapped_in_before_sqlite_opens_the_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = dotfile(tmp_path)
    path = tmp_path / "history.db"
    real = history_db._connect

    def swapped(opened: Path, *, readonly: bool) -> sqlite3.Connection:
        opened.unlink()
        opened.symlink_to(victim)
        return real(opened, readonly=readonly)

    monkeypatch.setattr(history_db, "_connect", swapped)
    refused = pytest.raises(history_db.HistoryError, match="replaced while it was being opened")
    with refused, history_db.writing(path):
        pass
    assert untouched(victim)


def test_a_foreign_database_is_not_made_private(tmp_path: Path) -> None:
    """Only a file known to be nhirecon's history is changed, its mode included."""
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE mine (x)")
    connection.close()
    path.chmod(0o644)
    refused = pytest.raises(history_db.HistoryError, match="not an nhirecon history file")
    with refused, history_db.writing(path):
        pass
    assert mode(path) == 0o644


# --- reports, plans and baselines ----------------------------------------------------------


def scim_estate(folder: Path, server: ScimServer) -> None:
    (folder / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    (folder / "nhirecon.yaml").write_text(estate_config(server), encoding="utf-8")


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-dotfile", "dangling"])
def test_a_link_where_a_file_is_to_be_written_is_refused(
    server: ScimServer, tmp_path: Path, dangling: bool
) -> None:
    scim_estate(tmp_path, server)
    victim = dotfile(tmp_path)
    target = tmp_path / "home" / ".profile" if dangling else victim
    commands = {
        "report.json": ["audit", "--now", NOW, "-f", "json", "-o", "report.json"],
        "plan.json": ["plan", "--now", NOW, "-o", "plan.json"],
        "baseline.json": ["baseline", "--now", NOW, "-o", "baseline.json"],
        "nhirecon.new.yaml": ["init", "nhirecon.new.yaml", "--force"],
    }
    for name, command in commands.items():
        (tmp_path / name).symlink_to(target)
        result = nhirecon(tmp_path, *command)
        assert result.returncode == 2, f"{command}: {result.stderr}"
        assert name in result.stderr and "Traceback" not in result.stderr
        assert (tmp_path / name).is_symlink(), f"{command} replaced the link"
        assert untouched(victim), f"{command} wrote through the link"
        assert not (tmp_path / "home" / ".profile").exists(), f"{command} followed the link"
        if name != "baseline.json":  # (the baseline's link is read first, as the old one)
            assert f"{name}: is a symbolic link; nhirecon never writes through one" in (
                result.stderr
            )
    assert not list(tmp_path.glob(".*.tmp")), "no staged file left behind"


def test_one_link_among_several_reports_writes_none_of_them(
    server: ScimServer, tmp_path: Path
) -> None:
    scim_estate(tmp_path, server)
    victim = dotfile(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "r.csv").symlink_to(victim)
    reports = ["-f", "json", "-o", "out/r.json", "-f", "csv", "-o", "out/r.csv"]
    result = nhirecon(tmp_path, "audit", "--now", NOW, *reports)
    one_error(result, 2, "out/r.csv: is a symbolic link")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["r.csv"]
    assert untouched(victim)
    history = nhirecon(tmp_path, "history", "-f", "json")
    assert '"runs": []' in history.stdout, "a run whose reports were refused is not recorded"


def test_a_pipe_where_a_report_is_to_go_is_not_replaced(server: ScimServer, tmp_path: Path) -> None:
    """Run as root, ``-o /dev/null`` used to put a regular file in place of the device."""
    scim_estate(tmp_path, server)
    fifo = tmp_path / "report.json"
    os.mkfifo(fifo)
    result = nhirecon(tmp_path, "audit", "--now", NOW, "-f", "json", "-o", "report.json")
    one_error(result, 2, "report.json: is a named pipe (FIFO), not a regular file")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_report_in_place_of_a_regular_file_is_replaced_and_private(
    server: ScimServer, tmp_path: Path
) -> None:
    """The common case still works: an old report (even a readable one) is replaced."""
    scim_estate(tmp_path, server)
    old = tmp_path / "report.json"
    old.write_text("{}")
    old.chmod(0o644)
    result = nhirecon(tmp_path, "audit", "--now", NOW, "-f", "json", "-o", "report.json")
    assert result.returncode == 0, result.stderr
    assert old.read_text().startswith("{\n") and mode(old) == 0o600


def test_a_link_where_sqlite_keeps_the_journal_is_named_and_its_target_untouched(
    tmp_path: Path,
) -> None:
    from nhirecon.state import history_db

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    folder = tmp_path / "hist"
    folder.mkdir()
    (folder / "history.db-journal").symlink_to(victim)
    journal = r"history\.db-journal: is a symbolic link"
    with (
        pytest.raises(history_db.HistoryError, match=journal),
        history_db.writing(folder / "history.db"),
    ):
        pass
    assert victim.read_text() == "keep me\n"
    assert not (folder / "history.db").exists() or (folder / "history.db").stat().st_size == 0
