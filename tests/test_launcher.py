"""The launcher the tests run the command through gives what the script itself gives."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import NOW, ROOT, nhirecon_command
from tests.launcher import Launcher, starts_differently

SAMPLE = str(ROOT / "config.sample.yaml")

COMMANDS = [
    ["--version"],
    ["--help"],
    ["audit", "--help"],
    ["connectors"],
    ["validate", "-c", SAMPLE],
    ["audit", "-c", SAMPLE, "--now", NOW],
    ["audit", "-c", SAMPLE, "--now", NOW, "-f", "json"],
    ["audit", "-c", SAMPLE, "--now", NOW, "-f", "csv", "-o", "report.csv"],
    ["audit", "-c", SAMPLE, "--now", NOW, "-f", "csv"],
    ["audit", "-c", SAMPLE, "--now", NOW, "--fail-on", "orphan>0", "-q"],
    ["audit", "-c", "missing.yaml"],
    ["audit", "-c", SAMPLE, "--now", "yesterday"],
    ["history", "-c", SAMPLE],
    ["explain", "-c", SAMPLE, "--now", NOW, "crm", "alice@example.com"],
    ["no-such-command"],
]


def environment(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COLUMNS": "100",
        "NO_COLOR": "1",
        "HOME": str(home / "home"),
        "XDG_STATE_HOME": str(home / "state"),
    }


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_forked_run_is_the_scripts_run(
    argv: list[str], launcher: Launcher | None, tmp_path: Path
) -> None:
    """Exit code, stdout, stderr and the files written, the same both ways: each in its own
    folder, with its own history."""
    if launcher is None:
        launcher = Launcher(nhirecon_command(), environment(tmp_path))
    results = []
    for way in ("forked", "script"):
        folder = tmp_path / way
        folder.mkdir()
        env = environment(folder)
        if way == "forked":
            assert not starts_differently(env, launcher.environment)
            done = launcher.run(argv, folder, env, None, 60)
        else:
            done = subprocess.run(
                [nhirecon_command(), *argv],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        written = {
            path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.suffix != ".db"
        }
        stdout, stderr = (
            text.replace(str(folder), "FOLDER") for text in (done.stdout, done.stderr)
        )
        results.append((done.returncode, stdout, stderr, written))
    assert results[0] == results[1]
    assert results[0][0] in {0, 1, 2, 3, 4}, results[0]


def test_input_reaches_the_child_and_a_hung_child_is_killed(
    launcher: Launcher | None, tmp_path: Path
) -> None:
    if launcher is None:
        launcher = Launcher(nhirecon_command(), environment(tmp_path))
    env = environment(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(Path(SAMPLE).read_text().replace("examples/", f"{ROOT}/examples/"))
    done = launcher.run(["validate", "-c", "-"], tmp_path, env, config.read_text(), 60)
    fed = subprocess.run(
        [nhirecon_command(), "validate", "-c", "-"],
        cwd=tmp_path,
        env=env,
        input=config.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        fed.returncode,
        fed.stdout,
        fed.stderr,
    )
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        (tmp_path / "hung.yaml").write_text(
            "version: 1\n"
            "source: {name: hr, connector: csv, path: hr.csv, map: {id: employee_id}}\n"
            f"targets:\n  - {{name: app, connector: scim, url: 'http://127.0.0.1:"
            f"{silent.getsockname()[1]}/scim/v2'}}\n"
        )
        (tmp_path / "hr.csv").write_text("employee_id\nE1\n")
        with pytest.raises(subprocess.TimeoutExpired):
            launcher.run(["audit", "-c", "hung.yaml", "--no-history"], tmp_path, env, None, 2)
    again = launcher.run(["--version"], tmp_path, env, None, 60)
    assert again.returncode == 0 and again.stdout.startswith("nhirecon"), again


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"HOME": "/elsewhere", "SOME_TOKEN": "x"}, False),
        ({"PYTHONPATH": "/x"}, True),
        ({"LANG": "C"}, True),
        ({"LC_ALL": "C"}, True),
        ({"TZ": "Asia/Tokyo"}, True),
        ({"COLUMNS": "40"}, True),
        ({"FORCE_COLOR": "1"}, True),
        ({"TERM": "xterm-256color"}, True),
        ({"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}, True),
    ],
)
def test_what_changes_start_up_runs_the_script(change: dict[str, str], differs: bool) -> None:
    base = {"PATH": "/usr/bin", "COLUMNS": "100", "LANG": "C.UTF-8"}
    assert starts_differently({**base, **change}, base) is differs
    removed = {name: value for name, value in base.items() if name not in change}
    assert starts_differently(removed, base) is (differs and set(change) <= set(base))
