"""Values from other systems cannot steer the terminal or the reader (SPEC §6).

Usernames, emails and a SCIM server's error ``detail`` come from systems an attacker may
control. Through the installed command, every text a person reads shows their control
characters and escape sequences escaped (``\\x1b``, ``\\n``): the table report (piped,
and in colour on a terminal), ``explain``, ``plan``, the ``--apply`` confirmation list on a
terminal, ``apply``'s results, log lines with ``-v``, ``nhirecon: ERROR:`` lines and error
messages. None can move the cursor, erase the list before the question, write the
clipboard (OSC 52), hide a link (OSC 8, or rich markup), or forge a line.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
import tty
from pathlib import Path
from typing import Any

import pytest
import yaml

from nhirecon.core.text import inert

from .conftest import NOW, Run, nhirecon_command
from .scim_server import (
    HR_CSV,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    answer,
    estate_config,
    seed_estate,
)

CLIPBOARD = "osc52\x1b]52;c;aGVsbG8=\x07"
"""OSC 52: a terminal that honours it puts ``hello`` on the clipboard."""
HIDDEN_LINK = "\x1b]8;;https://e.example/\x1b\\ok\x1b]8;;\x1b\\"
"""OSC 8: shows ``ok``, links to evil."""
CLEAR = "clr\x1b[2J"
ERASE = "up\x1b[6A\x1b[J"
"""Six lines up, erase to the end of the screen: the confirmation list would vanish."""
FORGED = "x\nnhirecon: INFO: all actions verified"
RETURNS = "r1\rr2\rr3"
MARKUP = "[link=https://e.example]m[/link]"
"""rich markup: a hidden OSC 8 link, were it ever read as markup."""
HOSTILE = (CLIPBOARD, HIDDEN_LINK, CLEAR, ERASE, FORGED, RETURNS, MARKUP)
SOURCE_NAME = "hr[i]x[/i]\x1b[J"
TARGET_NAME = f"app[b]{CLEAR}"
"""Names from the config, shown in the summary tables and the progress bars."""

SGR = re.compile(r"\x1b\[[0-9;]*m")
"""Select Graphic Rendition: the colours the table itself writes on a terminal."""
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""Every control character and line break but ``\\n``."""
FORGED_LINE = re.compile(r"^\s*nhirecon: INFO: all actions verified", re.MULTILINE)


def assert_inert(text: str, *, colour: bool = False) -> None:
    """No control character but ``\\n`` (on a terminal in colour: but SGR colours), and no
    line forged by a value."""
    plain = SGR.sub("", text) if colour else text
    found = sorted({repr(match) for match in CONTROL.findall(plain)})
    assert not found, f"raw control characters reach the reader: {found}\n{plain}"
    assert not FORGED_LINE.search(plain), plain


def shown(value: str) -> str:
    return inert(value)


# --- a file estate whose accounts are hostile ----------------------------------------------

HR = "employee_id,work_email,login,employment_status\nE1,ann@example.com,ann,active\n"


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    folder = tmp_path / "estate"
    folder.mkdir()
    (folder / "hr.csv").write_text(HR, encoding="utf-8")
    accounts: list[dict[str, Any]] = [
        {"id": "A0", "username": "ann", "email": "ann@example.com", "active": True}
    ]
    accounts += [
        {"id": f"A{index}", "username": value, "active": True}
        for index, value in enumerate(HOSTILE, start=1)
    ]
    (folder / "app.json").write_text(json.dumps(accounts), encoding="utf-8")
    config = {
        "version": 1,
        "source": {
            "name": SOURCE_NAME,
            "connector": "csv",
            "path": "hr.csv",
            "map": {
                "id": "employee_id",
                "email": "work_email",
                "username": "login",
                "status": "employment_status",
            },
        },
        "targets": [
            {
                "name": TARGET_NAME,
                "connector": "json",
                "path": "app.json",
                "correlate": [{"account": "email", "identity": "email"}],
            }
        ],
        "history": "history.db",
    }
    (folder / "nhirecon.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What the ``run`` fixture gives the command, without NO_COLOR, and without a
    COLUMNS or LINES from the test's own environment, which would override the size of
    the pseudo-terminal the command is run on."""
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path)}
    for name in ("NO_COLOR", "NHIRECON_CONFIG", "FORCE_COLOR", "TERM", "COLUMNS", "LINES"):
        env.pop(name, None)
    return {**env, "TERM": "xterm-256color", **extra}


def on_terminal(
    args: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    terminal: tuple[str, ...],
    answer_after: str = "",
    answer_with: str = "",
    timeout: float = 120,
) -> tuple[int, str, str]:
    """Run the installed command with the streams named in ``terminal`` on a raw pty (no
    echo, no ``\\n`` to ``\\r\\n``: the bytes read are the bytes written) and the others
    on files; type ``answer_with`` once ``answer_after`` has shown on the terminal.
    Returns the exit code, what the terminal showed, and stdout when it is not on it."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    out_path = cwd / f".stdout-{time.monotonic_ns()}"
    with open(out_path, "wb") as out_file:
        process = subprocess.Popen(
            [nhirecon_command(), *args],
            cwd=cwd,
            env=env,
            stdin=slave if "stdin" in terminal else subprocess.DEVNULL,
            stdout=slave if "stdout" in terminal else out_file,
            stderr=slave if "stderr" in terminal else subprocess.DEVNULL,
            close_fds=True,
        )
    os.close(slave)
    shown_bytes = bytearray()
    answered = not answer_with
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the command is gone and the pty closed
                    break
                if not chunk:
                    break
                shown_bytes += chunk
            if not answered and answer_after.encode() in shown_bytes:
                os.write(master, answer_with.encode())
                answered = True
            if process.poll() is not None and not ready:
                break
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    stdout = out_path.read_text(encoding="utf-8")
    out_path.unlink()
    return code, shown_bytes.decode("utf-8"), stdout


# --- the table, explain, errors ------------------------------------------------------------


def test_the_table_piped_shows_every_value_escaped(run: Run, estate: Path) -> None:
    result = run("audit", "--now", NOW, "--no-history", cwd=estate)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    for value in (*HOSTILE, SOURCE_NAME, TARGET_NAME):
        assert shown(value) in result.stdout, value
    assert "[link=https://e.example]m[/link]" in result.stdout, "markup shown as written"


def test_the_table_in_colour_on_a_terminal_shows_every_value_escaped(
    estate: Path, tmp_path: Path
) -> None:
    code, screen, _ = on_terminal(
        ["audit", "--now", NOW, "--no-history"],
        cwd=estate,
        env=environment(tmp_path, COLUMNS="200"),
        terminal=("stdout",),
    )
    assert code == 0, screen
    assert SGR.search(screen), "the table is in colour on a terminal"
    assert "\x1b]" not in screen, "no OSC sequence (clipboard, hyperlink) at all"
    assert_inert(screen, colour=True)
    plain = SGR.sub("", screen)
    for value in (*HOSTILE, SOURCE_NAME, TARGET_NAME):
        assert shown(value) in plain, value


PROGRESS = re.compile(r"\x1b\[\?25[lh]|\x1b\[2K|\x1b\[1A|\r")
"""What rich's progress display itself writes: hide and show the cursor, erase the line,
one line up, carriage return."""


def test_the_progress_bars_on_a_terminal_show_the_names_escaped(
    estate: Path, tmp_path: Path
) -> None:
    code, screen, _ = on_terminal(
        ["audit", "--now", NOW, "--no-history", "-f", "json", "-o", "r.json"],
        cwd=estate,
        env=environment(tmp_path),
        terminal=("stderr",),
    )
    assert code == 0, screen
    assert "pulling " in screen, "progress bars are shown on a terminal"
    assert "\x1b]" not in screen, "no OSC sequence (hyperlink) at all"
    assert_inert(PROGRESS.sub("", screen), colour=True)
    plain = SGR.sub("", screen)
    assert f"pulling {shown(SOURCE_NAME)}" in plain and f"pulling {shown(TARGET_NAME)}" in plain


def test_explain_shows_every_value_escaped(run: Run, estate: Path) -> None:
    for number in range(1, len(HOSTILE) + 1):
        result = run("explain", TARGET_NAME, f"A{number}", "--now", NOW, cwd=estate)
        assert result.returncode == 0, result.stderr
        assert_inert(result.stdout)
        assert f"username {shown(HOSTILE[number - 1])}," in result.stdout


def test_an_error_message_quoting_an_id_is_one_inert_line(run: Run, estate: Path) -> None:
    accounts = json.loads((estate / "app.json").read_text())
    accounts[1]["id"] = accounts[2]["id"] = f"dup{CLEAR}\n{FORGED}"
    (estate / "app.json").write_text(json.dumps(accounts), encoding="utf-8")
    for verbose in ((), ("-v",)):
        result = run("audit", "--now", NOW, "--no-history", *verbose, cwd=estate)
        assert result.returncode == 3, result.stderr
        assert_inert(result.stderr)
        [error] = [line for line in result.stderr.splitlines() if "error:" in line]
        assert error.startswith("nhirecon: error: app.json") and " account id " in error
        assert shown(CLEAR) in error


def test_an_unknown_account_named_on_the_command_line_is_shown_inert(
    run: Run, estate: Path
) -> None:
    result = run("explain", TARGET_NAME, f"no{ERASE}", "--now", NOW, cwd=estate)
    assert result.returncode == 2, result.stderr
    assert_inert(result.stderr)
    assert shown(f"no{ERASE}") in result.stderr


# --- log lines and tracebacks, where they leave for a person ---------------------------------


def test_a_stale_baseline_entry_is_one_inert_warning_line(run: Run, estate: Path) -> None:
    """The baseline keeps each finding's label; a stale entry is logged, quoting it. The
    table names the baseline file, whose name may hold anything too."""
    baseline = f"base{ERASE}.json"
    made = run("baseline", "-o", baseline, "--now", NOW, cwd=estate)
    assert made.returncode == 0, made.stderr
    accounts = json.loads((estate / "app.json").read_text())
    kept = [account for account in accounts if account["username"] not in (FORGED, CLEAR)]
    (estate / "app.json").write_text(json.dumps(kept), encoding="utf-8")
    result = run("audit", "--now", NOW, "--no-history", "--baseline", baseline, cwd=estate)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stderr)
    stale = [line for line in result.stderr.splitlines() if "stale entry" in line]
    assert len(stale) == 2 and all(line.startswith("nhirecon: WARNING: ") for line in stale)
    assert any(shown(FORGED) in line for line in stale)
    assert any(shown(CLEAR) in line for line in stale)
    assert_inert(result.stdout)
    assert f"baseline {shown(baseline)}: 5 findings accepted" in result.stdout


def test_the_log_formatter_makes_every_message_one_inert_line() -> None:
    from nhirecon.cli.logging_setup import InertFormatter

    record = logging.LogRecord("nhirecon.x", logging.INFO, __file__, 1, "%s: %s", None, None)
    record.args = ("app", f"{FORGED}\r{CLIPBOARD}\u2028\x85\x1c")
    text = InertFormatter().format(record)
    assert text == f"nhirecon: INFO: app: {shown(FORGED)}\\r{shown(CLIPBOARD)}\\u2028\\x85\\x1c"
    assert "\n" not in text


def test_a_traceback_keeps_its_lines_and_each_exception_text_stays_on_one() -> None:
    from nhirecon.cli.logging_setup import InertFormatter, traceback_text

    try:
        try:
            # A frame of code whose file name holds anything (a plugin's, say).
            exec(compile(f"raise KeyError({ERASE!r} + '\\n' + {FORGED!r})", CLEAR, "exec"))
        except KeyError as cause:
            raise ValueError(f"bad {CLIPBOARD}\n{FORGED}") from cause
    except ValueError as raised:
        exc = raised
    text = traceback_text(exc)
    assert_inert(text)
    lines = text.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert "The above exception was the direct cause of the following exception:" in lines
    assert lines[-1] == shown(f"ValueError: bad {CLIPBOARD}\n{FORGED}")
    assert any(line.startswith("KeyError: ") and shown(ERASE) in line for line in lines)
    assert f'  File "{shown(CLEAR)}", line 1, in <module>' in lines

    logger = logging.getLogger("nhirecon.test")
    record = logger.makeRecord("nhirecon.test", logging.ERROR, __file__, 1, "x", (), None)
    record.exc_info = (type(exc), exc, exc.__traceback__)
    assert InertFormatter().format(record) == f"nhirecon: ERROR: x\n{text}"


def test_an_internal_error_with_verbose_shows_its_traceback_inert(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from nhirecon.cli.common import report_internal_error

    caplog.set_level(logging.DEBUG, logger="nhirecon")
    try:
        raise RuntimeError(f"boom {CLIPBOARD}\n{FORGED}")
    except RuntimeError as exc:
        report_internal_error(exc)
    said = capsys.readouterr().err
    assert_inert(said)
    lines = said.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-2] == shown(f"RuntimeError: boom {CLIPBOARD}\n{FORGED}")
    assert lines[-1].startswith("nhirecon: internal error: RuntimeError: boom ")


# --- a real SCIM service: plan, the confirmation, apply, server errors ---------------------

EMOJI = "ok:thumbs_up:"
"""rich would show an emoji for the code, were it not told not to."""
SCIM_HOSTILE = (CLIPBOARD, HIDDEN_LINK, ERASE, FORGED, EMOJI)
ERROR_DETAIL = f"denied {CLIPBOARD} {ERASE}\n{FORGED}"
DETAIL_SHOWN = shown(f"denied {CLIPBOARD} {ERASE}")
"""How a message shows it (nhirecon folds the whitespace of a server's detail)."""
SCIM_ERROR = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
    "status": "400",
    "detail": ERROR_DETAIL,
}


@pytest.fixture
def scim(server: ScimServer, tmp_path: Path) -> Path:
    seed_estate(server)
    for index, value in enumerate(SCIM_HOSTILE):
        server.add_user(value, email=f"hostile{index}@example.com")
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    config = estate_config(server, policy="max_action_percent: 100")
    (tmp_path / "nhirecon.yaml").write_text(config, encoding="utf-8")
    return tmp_path


@pytest.fixture
def nhirecon(run: Run) -> Run:
    def runner(*args: str, **kwargs: Any) -> Any:
        return run(*args, env={TOKEN_ENV: TOKEN}, **kwargs)

    return runner


def test_the_plan_shows_every_account_escaped(scim: Path, nhirecon: Run) -> None:
    result = nhirecon("plan", "--now", NOW, "-o", "plan.json")
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    for value in SCIM_HOSTILE:
        assert shown(value) in result.stdout, value


def test_the_confirmation_list_on_a_terminal_shows_every_account_escaped(
    scim: Path, server: ScimServer, tmp_path: Path
) -> None:
    code, screen, _ = on_terminal(
        ["audit", "--now", NOW, "--apply", "-q", "-f", "json", "-o", "r.json"],
        cwd=scim,
        env=environment(tmp_path, **{TOKEN_ENV: TOKEN}),
        terminal=("stdin", "stderr"),
        answer_after="changes to the targets?",
        answer_with="n\n",
    )
    assert code == 4, screen
    assert "Write these 9 changes to the targets?" in screen
    assert "not confirmed; nothing was written" in screen
    assert_inert(screen)
    listing = screen.split("Write these", 1)[0]
    for value in SCIM_HOSTILE:
        assert shown(value) in listing, value
    assert len(listing.splitlines()) == 1 + 9, "a header, then one line per action"
    assert {seen.method for seen in server.faults.seen} == {"GET"}, "nothing was written"


def test_apply_results_and_log_lines_quote_a_server_error_inert(
    scim: Path, server: ScimServer, nhirecon: Run
) -> None:
    planned = nhirecon("plan", "--now", NOW, "-o", "plan.json")
    assert planned.returncode == 0, planned.stderr
    for method in ("PATCH", "DELETE"):
        server.faults.add(answer(400, body=SCIM_ERROR), method=method, times=None)
    for quiet in ((), ("-q",)):
        result = nhirecon("apply", "plan.json", "--now", NOW, "--yes", "-v", *quiet)
        assert result.returncode == 5, result.stderr
        assert_inert(result.stdout)
        assert_inert(result.stderr)
        said = result.stderr if quiet else result.stdout
        failed = [line for line in said.splitlines() if "failed: " in line]
        assert len(failed) == 9 and all(DETAIL_SHOWN in line for line in failed)
        for value in SCIM_HOSTILE:
            assert any(shown(value) in line for line in failed), value
        if quiet:
            assert all(line.startswith("nhirecon: ERROR: failed: ") for line in failed)


def test_a_listing_error_detail_is_one_inert_error_line(
    scim: Path, server: ScimServer, nhirecon: Run
) -> None:
    server.faults.add(answer(400, body=SCIM_ERROR), method="GET", path=r"^/v2/Users", times=None)
    result = nhirecon("audit", "--now", NOW, "--no-history", "-f", "json", "-o", "r.json")
    assert result.returncode == 3, result.stderr
    assert_inert(result.stderr)
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("nhirecon: error: ")
    assert DETAIL_SHOWN in result.stderr


def test_a_server_error_detail_in_a_verbose_log_line_is_inert(
    scim: Path, server: ScimServer, nhirecon: Run
) -> None:
    """``/ServiceProviderConfig`` refused: the listing pages by index, and ``-v`` logs
    why, quoting the server's detail."""
    refused = {**SCIM_ERROR, "status": "403"}
    server.faults.add(answer(403, body=refused), path=r"ServiceProviderConfig")
    result = nhirecon("audit", "-v", "--now", NOW, "--no-history", "-f", "json", "-o", "r.json")
    assert result.returncode == 0, result.stderr
    assert_inert(result.stderr)
    [line] = [line for line in result.stderr.splitlines() if "paging by index" in line]
    assert line.startswith("nhirecon: DEBUG: ") and DETAIL_SHOWN in line


def test_the_terminal_helper_sees_raw_bytes(tmp_path: Path) -> None:
    """The pty is raw: an escape sequence written reaches the test as written, so the
    tests above would see one that nhirecon let through."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdout.write('a\\x1b[2J\\nb')"],
        stdout=slave,
    )
    os.close(slave)
    process.wait(timeout=30)
    data = b""
    while True:
        try:
            chunk = os.read(master, 1024)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    os.close(master)
    assert data == b"a\x1b[2J\nb"
