"""Shared test helpers: the repository's paths and a runner for the installed command."""

from __future__ import annotations

import compileall
import functools
import hashlib
import os
import py_compile
import subprocess
import sys
import sysconfig
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.launcher import Launcher, starts_differently

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "golden"
pytest_plugins = ("tests.scim_server",)
"""The SCIM server's fixtures (``server``, ``scim_token``), for the modules that use them."""

NOW = "2026-11-28T00:00:00Z"
"""The instant the example estate is evaluated at in tests."""


def pytest_configure(config: pytest.Config) -> None:
    """Compile the package to bytecode once, before the first test: most tests run the
    installed command as a new process, and with ``PYTHONDONTWRITEBYTECODE`` set (or a
    fresh clone) each of those processes would compile every module it imports again.
    The files are checked against their source's hash on every import, so an edited
    module is never run from stale bytecode. Under pytest-xdist the controller does it
    before it starts the workers."""
    if hasattr(config, "workerinput"):
        return
    compileall.compile_dir(
        ROOT / "nhirecon",
        quiet=2,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """Two workers per core for ``--numprocesses=logical`` (``pyproject.toml``): most
    tests spend their time waiting on a subprocess of the installed command or on a
    server, so one worker per core leaves the cores idle half the time (on 2 cores the
    suite took 426-459 s with 2 workers, 375-409 s with 4). ``PYTEST_XDIST_AUTO_NUM_WORKERS``
    still decides when it is set, as pytest-xdist documents."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    return 2 * len(os.sched_getaffinity(0))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reaches a proxy or picks up a user's config by accident."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NHIRECON_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test has its own state folder, so the default history file starts empty."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


def default_audit_log(state_home: Path, config: Path) -> Path:
    """Where the audit log of ``config`` goes without an ``audit_log:`` key, when
    ``XDG_STATE_HOME`` is ``state_home``: one file per config, named by its stem and 12 hex
    digits of the SHA-256 of its absolute path."""
    full = config.resolve()
    digest = hashlib.sha256(str(full).encode()).hexdigest()[:12]
    return state_home / "nhirecon" / "audit" / f"{full.stem}-{digest}.jsonl"


@functools.cache
def nhirecon_command() -> str:
    """The ``nhirecon`` command pip installed for the Python running the tests, in its
    scripts folder. Not the first on ``PATH``: that may be another installation, at
    another version, than the one the tests import (a version manager's shim, which also
    adds its own start-up to every run)."""
    found = Path(sysconfig.get_path("scripts")) / "nhirecon"
    if not (found.is_file() and os.access(found, os.X_OK)):
        pytest.fail(f"nhirecon is not installed for {sys.executable}: pip install -e .")
    return str(found)


Run = Callable[..., subprocess.CompletedProcess[str]]


def _base_environment() -> dict[str, str]:
    environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    environment.pop("NHIRECON_CONFIG", None)
    return environment


@pytest.fixture(scope="session")
def launcher() -> Iterator[Launcher | None]:
    """The process that forks each run of the command (:mod:`tests.launcher`); ``None``
    when ``NHIRECON_TEST_EXEC=1`` asks for every run to start the script itself."""
    if os.environ.get("NHIRECON_TEST_EXEC") == "1":
        yield None
        return
    started = Launcher(nhirecon_command(), _base_environment())
    yield started
    started.close()


@pytest.fixture
def run(tmp_path: Path, launcher: Launcher | None) -> Run:
    """Run the installed ``nhirecon`` command as a subprocess, in ``tmp_path`` by default:
    forked by the launcher, or started as the script when the environment changes what
    the interpreter decides at start-up (see :mod:`tests.launcher`)."""

    def runner(
        *args: str,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        isolated = {  # history and other state stay inside the test's folder
            "HOME": str(tmp_path / "home"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
        }
        environment = {**_base_environment(), **isolated, **(env or {})}
        folder = cwd or tmp_path
        if launcher is not None and not starts_differently(environment, launcher.environment):
            return launcher.run(list(args), folder, environment, input, timeout)
        return as_script(list(args), folder, environment, input, timeout)

    return runner


def as_script(
    argv: list[str],
    folder: Path,
    env: dict[str, str],
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``nhirecon ARGV`` started as the installed script, in its own process."""
    return subprocess.run(
        [nhirecon_command(), *argv],
        cwd=folder,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented text file under ``tmp_path`` and return its path."""

    def writer(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return writer
