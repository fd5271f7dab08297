"""The launcher the tests run the command through gives what the script itself gives."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NOW, ROOT, as_script, nhirecon_command
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
    ["validate", "-c", "/dev/stdin"],  # the test's own stdin, as subprocess leaves it
]


def environment(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COLUMNS": "100",
        "NO_COLOR": "1",
        "HOME": str(home / "home"),
        "XDG_STATE_HOME": str(home / "state"),
    }


@pytest.fixture
def forking(launcher: Launcher | None, tmp_path: Path) -> Iterator[Launcher]:
    """The session's launcher, or, when every run starts the script
    (``NHIRECON_TEST_EXEC=1``), one of this test's own, closed after it."""
    if launcher is not None:
        yield launcher
        return
    own = Launcher(nhirecon_command(), environment(tmp_path))
    yield own
    own.close()


def script(
    argv: list[str], folder: Path, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``nhirecon ARGV`` started as the script, as the ``run`` fixture starts it."""
    return as_script(argv, folder, env, input)


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_forked_run_is_the_scripts_run(
    argv: list[str], forking: Launcher, tmp_path: Path
) -> None:
    """Exit code, stdout, stderr and the files written, the same both ways: each in its own
    folder, with its own history."""
    results = []
    for way in ("forked", "script"):
        folder = tmp_path / way
        folder.mkdir()
        env = environment(folder)
        if way == "forked":
            assert not starts_differently(env, forking.environment)
            done = forking.run(argv, folder, env, None, 60)
        else:
            done = script(argv, folder, env)
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
    forking: Launcher, tmp_path: Path
) -> None:
    env = environment(tmp_path)
    config = tmp_path / "c.yaml"
    config.write_text(Path(SAMPLE).read_text().replace("examples/", f"{ROOT}/examples/"))
    done = forking.run(["validate", "-c", "-"], tmp_path, env, config.read_text(), 60)
    fed = script(["validate", "-c", "-"], tmp_path, env, config.read_text())
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
            forking.run(["audit", "-c", "hung.yaml", "--no-history"], tmp_path, env, None, 0)
        seen: list[str] = []
        children = Path(f"/proc/{forking.process.pid}/task/{forking.process.pid}/children")
        earlier = set(children.read_text().split())  # the child killed above may linger

        def umask_of_the_child() -> None:
            for _ in range(200):
                for pid in set(children.read_text().split()) - earlier:
                    time.sleep(0.5)  # set just after the fork; then it waits on the server
                    status = Path(f"/proc/{pid}/status").read_text()
                    seen.extend(
                        line.split()[1] for line in status.splitlines() if line.startswith("Umask:")
                    )
                    return
                time.sleep(0.01)

        watcher = threading.Thread(target=umask_of_the_child)
        previous = os.umask(0o027)
        try:
            watcher.start()
            with pytest.raises(subprocess.TimeoutExpired) as hung:
                forking.run(["audit", "-c", "hung.yaml", "--no-history"], tmp_path, env, None, 3)
        finally:
            os.umask(previous)
            watcher.join()
        assert seen == ["0027"], "the child takes the test's umask at the time of the run"
        assert hung.value.cmd[0] == nhirecon_command()
    again = forking.run(["--version"], tmp_path, env, None, 60)
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


def both_ways(
    launcher: Launcher, argv: list[str], folder: Path, env: dict[str, str]
) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    forked = launcher.run(argv, folder, env, None, 60)
    started = script(argv, folder, env)
    return (
        (forked.returncode, forked.stdout, forked.stderr),
        (started.returncode, started.stdout, started.stderr),
    )


def test_the_entry_point_runs_as_deep_in_the_stack_as_the_scripts(
    forking: Launcher, tmp_path: Path
) -> None:
    """JSON nested near the recursion limit: the parser gives up at the same depth both
    ways, since the child calls the entry point from its top level as the script does."""
    env = environment(tmp_path)
    argv = ["apply", "plan.json", "--yes", "-c", SAMPLE]

    def forked_at(depth: int) -> str:
        (tmp_path / "plan.json").write_text("[" * depth + "]" * depth)
        return forking.run(argv, tmp_path, env, None, 60).stderr

    deep = forked_at(5000)
    low, high = 10, 5000  # the forked child gives up at ``high``, not at ``low``
    assert forked_at(low) != deep
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if forked_at(middle) == deep else (middle, high)
    for depth in (low, high):  # the last depth read, and the first too deep
        (tmp_path / "plan.json").write_text("[" * depth + "]" * depth)
        forked, started = both_ways(forking, argv, tmp_path, env)
        assert forked == started, depth


def test_what_subprocess_refuses_is_refused_alike(
    forking: Launcher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment(tmp_path)
    with pytest.raises(FileNotFoundError):
        forking.run(["--version"], tmp_path / "missing", env, None, 60)
    with pytest.raises(ValueError, match="null byte"):
        forking.run(["a\x00b"], tmp_path, env, None, 60)
    with pytest.raises(UnicodeEncodeError):
        forking.run(["\ud800.yaml"], tmp_path, env, None, 60)
    with pytest.raises(UnicodeEncodeError):
        forking.run(["validate", "-c", "-"], tmp_path, env, "\ud800", 60)
    (tmp_path / "inner").mkdir()
    monkeypatch.chdir(tmp_path)  # a relative folder is the test's, not the launcher's
    relative = forking.run(["init", "made.yaml"], Path("inner"), env, None, 60)
    assert relative.returncode == 0, relative.stderr
    assert (tmp_path / "inner" / "made.yaml").is_file()
    again = forking.run(["--version"], tmp_path, env, None, 60)
    assert again.returncode == 0 and again.stdout.startswith("nhirecon"), again
