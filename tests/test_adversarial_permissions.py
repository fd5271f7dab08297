"""Files with personal data (reports in every format, plans, baselines, the history database,
the audit log) are readable by their owner only, and so are the folders the tool makes for
them, even when the process runs with a umask that hides nothing (000)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import default_audit_log, nhirecon_command
from .scim_server import (
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    estate_config,
    running,
    seed_estate,
)

FORMATS = ("table", "json", "csv", "markdown", "html", "junit", "sarif")


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running() as started:
        seed_estate(started)
        yield started


def run_open(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, in ``folder``, with umask 000."""
    env = {
        **os.environ,
        TOKEN_ENV: TOKEN,
        "HOME": str(folder / "home"),
        "XDG_STATE_HOME": str(folder / "xdg" / "state"),
    }
    return subprocess.run(
        [nhirecon_command(), *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        umask=0,
    )


def modes(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): stat.S_IMODE(path.lstat().st_mode) for path in root.rglob("*")
    }


def test_everything_written_is_private_even_with_umask_000(
    server: ScimServer, tmp_path: Path
) -> None:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    text = estate_config(server)
    (tmp_path / "nhirecon.yaml").write_text(
        text.replace(
            "history: history.db",
            "history: state/deep/history.db\naudit_log: logs/deep/actions.jsonl",
        ),
        encoding="utf-8",
    )
    defaults = tmp_path / "defaults"  # no history: and no audit_log: keys
    defaults.mkdir()
    (defaults / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    (defaults / "nhirecon.yaml").write_text(
        text.replace("history: history.db\n", ""), encoding="utf-8"
    )
    before = set(modes(tmp_path))

    reports = [arg for name in FORMATS for arg in ("-f", name, "-o", f"out/reports/{name}")]
    commands = [
        ["audit", "--now", NOW, *reports],
        ["baseline", "--now", NOW, "-o", "baselines/new/baseline.json"],
        ["plan", "--now", NOW, "-o", "plans/new/plan.json"],
        ["apply", "plans/new/plan.json", "--now", NOW, "--yes"],
        ["audit", "-c", "defaults/nhirecon.yaml", "--now", NOW, "--apply", "--yes", "-q"],
        ["audit", "-c", "defaults/nhirecon.yaml", "--now", NOW, "-f", "json", "-o", "r.json"],
    ]
    for command in commands:
        if "defaults/nhirecon.yaml" in command:  # something left for it to write
            server.change_user(server.users()["bob"]["id"], active=True)
        result = run_open(tmp_path, *command)
        assert result.returncode == 0, f"{command}: {result.stderr}"

    made = {name: mode for name, mode in modes(tmp_path).items() if name not in before}
    expected = {
        *(f"out/reports/{name}" for name in FORMATS),
        "baselines/new/baseline.json",
        "plans/new/plan.json",
        "state/deep/history.db",
        "logs/deep/actions.jsonl",
        str(
            default_audit_log(tmp_path / "xdg" / "state", defaults / "nhirecon.yaml").relative_to(
                tmp_path
            )
        ),
        "xdg/state/nhirecon/history.db",
        "r.json",
    }
    files = {name for name in made if (tmp_path / name).is_file()}
    assert files == expected, "every file is accounted for: no temporary or journal file left"
    wrong = {
        name: oct(mode)
        for name, mode in made.items()
        if mode != (0o700 if (tmp_path / name).is_dir() else 0o600)
    }
    assert wrong == {}, "files 0600, folders the tool made 0700"


def test_an_existing_audit_log_is_made_private(server: ScimServer, tmp_path: Path) -> None:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    (tmp_path / "nhirecon.yaml").write_text(estate_config(server), encoding="utf-8")
    log = default_audit_log(tmp_path / "xdg" / "state", tmp_path / "nhirecon.yaml")
    log.parent.mkdir(parents=True)
    log.write_text("")
    log.chmod(0o644)
    result = run_open(tmp_path, "audit", "--now", NOW, "--apply", "--yes", "-q")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert len(log.read_text().splitlines()) == 4
