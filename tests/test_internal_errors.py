"""Failures nobody planned for, through the installed command: a bug is exit 70 with one
line on stderr (the traceback only with -v), a plugin that raises is a connector failure
(exit 3) naming the plugin and the target, Ctrl-C stays 130, and none of them leaves a
report, a temporary file or a recorded run behind. Exit 1 only ever means the gate failed.

Faults are injected into the real command by a ``sitecustomize`` module on PYTHONPATH that
replaces one function when ``NHIRECON_TEST_FAULT`` names it; plugins are a small
distribution (a module and its ``.dist-info`` with ``entry_points.txt``) on PYTHONPATH.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nhirecon import pipeline
from nhirecon.cli.app import app
from nhirecon.exit_codes import ExitCode, combine

from .conftest import NOW, ROOT, Run, nhirecon_command

ESTATE = ROOT / "tests" / "data" / "bad" / "estate"
SOURCE = {
    "name": "hr",
    "connector": "csv",
    "path": "hr.csv",
    "map": {"id": "employee_id", "email": "work_email", "status": "status"},
}
REPORTS = ("out/report.json", "out/report.html")
SECRET = "s3cr3t-plugin-token-4711"

SITECUSTOMIZE = '''
"""Test fault injection: NHIRECON_TEST_FAULT=module:attr.path[=KeyboardInterrupt]."""
import importlib
import os

_spec = os.environ.get("NHIRECON_TEST_FAULT")
if _spec:
    _where, _, _raised = _spec.partition("=")
    _module, _, _path = _where.partition(":")
    _owner = importlib.import_module(_module)
    *_parents, _name = _path.split(".")
    for _parent in _parents:
        _owner = getattr(_owner, _parent)

    def _fault(*args, **kwargs):
        if _raised == "KeyboardInterrupt":
            raise KeyboardInterrupt
        return 1 / 0

    setattr(_owner, _name, _fault)
'''

PLUGIN = '''
"""A third-party connector for tests: two accounts, then the failure `fail` names."""
import os

from nhirecon.connectors.base import Connector, RawRow
from nhirecon.errors import ConnectorError


class FlakyConnector(Connector):
    name = "flaky"
    description = "Two accounts, then the failure its `fail` option names."

    def __init__(self, *, context, fail: str = "", token_env: str = "") -> None:
        super().__init__(context=context)
        if fail == "init":
            raise ValueError("no such tenant")
        self.fail = fail
        self.token = os.environ.get(token_env, "")

    def rows(self):
        yield RawRow("flaky:1", {"id": "A1", "email": "ann@example.com"}.get)
        yield RawRow("flaky:2", {"id": "A3", "email": "zed@example.com"}.get)
        if self.fail == "runtime":
            raise RuntimeError(f"vendor API refused token {self.token}")
        if self.fail == "key":
            raise KeyError("users")
        if self.fail == "own":
            raise ConnectorError("flaky: page 2: HTTP 503\\nnhirecon: error: forged \\x1b[2J")
'''

PLUGIN_METADATA = "Metadata-Version: 2.1\nName: nhirecon-test-plugin\nVersion: 1.0\n"
PLUGIN_ENTRY_POINTS = "[nhirecon.connectors.v1]\nflaky = nhirecon_test_plugin:FlakyConnector\n"


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    """A folder for PYTHONPATH holding the fault injector and the test plugin."""
    folder = tmp_path / "hooks"
    info = folder / "nhirecon_test_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    (folder / "nhirecon_test_plugin.py").write_text(textwrap.dedent(PLUGIN), encoding="utf-8")
    (info / "METADATA").write_text(PLUGIN_METADATA, encoding="utf-8")
    (info / "entry_points.txt").write_text(PLUGIN_ENTRY_POINTS, encoding="utf-8")
    return folder


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The small estate (hr.csv, app.csv) and an ``out`` folder for the reports."""
    folder = tmp_path / "work"
    folder.mkdir()
    for name in ("hr.csv", "app.csv"):
        (folder / name).write_bytes((ESTATE / name).read_bytes())
    (folder / "out").mkdir()
    return folder


def write_config(folder: Path, target: dict[str, object] | None = None) -> Path:
    config = {
        "version": 1,
        "source": SOURCE,
        "targets": [target or {"name": "app", "connector": "csv", "path": "app.csv"}],
        "history": "state/history.db",
    }
    path = folder / "nhirecon.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def python_path(hooks: Path) -> str:
    return os.pathsep.join([str(hooks), *filter(None, [os.environ.get("PYTHONPATH")])])


def audit(
    run: Run,
    work: Path,
    hooks: Path,
    *extra: str,
    fault: str = "",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    environment = {"PYTHONPATH": python_path(hooks), **(env or {})}
    if fault:
        environment["NHIRECON_TEST_FAULT"] = fault
    args = ["-f", "json", "-o", REPORTS[0], "-f", "html", "-o", REPORTS[1]]
    return run("audit", "--now", NOW, *args, *extra, cwd=work, env=environment)


def files_under(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def recorded_runs(work: Path) -> int:
    database = work / "state" / "history.db"
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone():
            return 0  # created and rolled back with the run that failed
        return int(connection.execute("SELECT count(*) FROM runs").fetchone()[0])


def assert_nothing_written(work: Path, before: set[str]) -> None:
    created = files_under(work) - before - {"state/history.db"}
    assert created == set(), "no report, temporary or partial file is left behind"
    assert recorded_runs(work) == 0, "a failed run is recorded nowhere"


# the exit codes --------------------------------------------------------------------------


def test_internal_error_is_70_and_documented_as_a_failure_above_1() -> None:
    assert int(ExitCode.INTERNAL) == 70
    assert combine(ExitCode.GATE_FAILED, ExitCode.INTERNAL) is ExitCode.INTERNAL
    assert combine(ExitCode.INTERNAL, ExitCode.GATE_FAILED) is ExitCode.INTERNAL
    assert combine(ExitCode.OK, ExitCode.INTERNAL) is ExitCode.INTERNAL
    assert combine(ExitCode.ACTIONS_FAILED, ExitCode.INTERNAL) is ExitCode.ACTIONS_FAILED
    assert combine(ExitCode.INTERNAL, ExitCode.INTERRUPTED) is ExitCode.INTERNAL
    assert combine(ExitCode.GATE_FAILED) is ExitCode.GATE_FAILED


# a bug -----------------------------------------------------------------------------------


def test_the_injector_really_runs_the_command(run: Run, work: Path, hooks: Path) -> None:
    write_config(work)
    result = audit(run, work, hooks)
    assert result.returncode == 0, result.stderr
    assert files_under(work / "out") == {"report.json", "report.html"}
    assert recorded_runs(work) == 1


def test_a_bug_is_exit_70_with_one_line_and_no_traceback(run: Run, work: Path, hooks: Path) -> None:
    write_config(work)
    before = files_under(work)
    result = audit(run, work, hooks, fault="nhirecon.pipeline:audit")
    assert result.returncode == 70
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        "nhirecon: internal error: ZeroDivisionError: division by zero"
        " (during audit, at nhirecon/cli/audit.py:"
    )
    assert result.stderr.rstrip().endswith("); run again with -v for the traceback")
    assert_nothing_written(work, before)


def test_with_verbose_the_traceback_comes_first_then_the_same_line(
    run: Run, work: Path, hooks: Path
) -> None:
    write_config(work)
    result = audit(run, work, hooks, "-v", fault="nhirecon.pipeline:audit")
    assert result.returncode == 70
    lines = result.stderr.splitlines()
    assert "Traceback (most recent call last):" in lines
    assert lines[-2] == "ZeroDivisionError: division by zero"
    assert lines[-1].startswith("nhirecon: internal error: ZeroDivisionError: division by zero")
    assert "run again with -v" not in lines[-1]


def test_a_bug_while_rendering_the_second_report_writes_neither_and_records_nothing(
    run: Run, work: Path, hooks: Path
) -> None:
    write_config(work)
    before = files_under(work)
    result = audit(run, work, hooks, fault="nhirecon.reporters.html:HtmlReporter.render")
    assert result.returncode == 70
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "ZeroDivisionError" in result.stderr
    assert_nothing_written(work, before)


def test_a_bug_with_a_failing_gate_is_still_70_never_1(run: Run, work: Path, hooks: Path) -> None:
    write_config(work)
    result = audit(
        run, work, hooks, "--fail-on", "any>0", fault="nhirecon.reporters.html:HtmlReporter.render"
    )
    assert result.returncode == 70


def test_a_bug_outside_the_command_body_is_caught_by_main(
    run: Run, work: Path, hooks: Path
) -> None:
    write_config(work)
    result = audit(run, work, hooks, fault="nhirecon.cli.audit:setup_logging")
    assert result.returncode == 70
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("nhirecon: internal error: ZeroDivisionError")


def test_a_bug_in_a_built_in_connector_names_it_and_the_target(
    run: Run, work: Path, hooks: Path
) -> None:
    write_config(work)
    result = audit(run, work, hooks, fault="nhirecon.connectors.csv:CsvConnector.rows")
    assert result.returncode == 70
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "nhirecon: internal error: source 'hr': connector 'csv' failed unexpectedly:"
        " ZeroDivisionError: division by zero (during audit, at nhirecon/connectors/"
    )


def test_ctrl_c_stays_130(run: Run, work: Path, hooks: Path) -> None:
    write_config(work)
    before = files_under(work)
    result = audit(run, work, hooks, fault="nhirecon.pipeline:audit=KeyboardInterrupt")
    assert result.returncode == 130
    assert "Traceback" not in result.stderr and "interrupted" in result.stderr
    assert_nothing_written(work, before)


def test_a_bug_in_process_through_the_command_runner(
    monkeypatch: pytest.MonkeyPatch, work: Path
) -> None:
    config = write_config(work)

    def broken(*args: object, **kwargs: object) -> None:
        raise LookupError("no such thing\nsecond line")

    monkeypatch.setattr(pipeline, "audit", broken)
    result = CliRunner().invoke(app, ["audit", "-c", str(config), "--now", NOW])
    assert result.exit_code == 70
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        "nhirecon: internal error: LookupError: no such thing\\nsecond line"
        " (during audit, at nhirecon/cli/audit.py:"
    )


def test_a_reader_that_closes_stdout_is_not_a_bug(tmp_path: Path) -> None:
    """``nhirecon audit -f json | head -c1``: the output could not be delivered (exit 2)."""
    config = ROOT / "config.sample.yaml"
    read, written = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        result = subprocess.run(
            [nhirecon_command(), "audit", "-c", str(config), "--now", NOW, "-f", "json"],
            stdout=written,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
            timeout=120,
            check=False,
        )
    finally:
        os.close(written)
    assert result.returncode == 2
    assert result.stderr == "nhirecon: error: stdout was closed before the output was written\n"


# a plugin that raises --------------------------------------------------------------------


def plugin_target(fail: str) -> dict[str, object]:
    return {"name": "app", "connector": "flaky", "fail": fail, "token_env": "FLAKY_TOKEN"}


def test_the_test_plugin_is_found_and_works(run: Run, work: Path, hooks: Path) -> None:
    write_config(work, plugin_target(""))
    result = audit(run, work, hooks)
    assert result.returncode == 0, result.stderr
    assert files_under(work / "out") == {"report.json", "report.html"}


@pytest.mark.parametrize(
    ("fail", "cause"),
    [
        ("runtime", "RuntimeError: vendor API refused token [redacted]"),
        ("key", "KeyError: 'users'"),
        ("init", "ValueError: no such tenant"),
    ],
)
def test_a_plugin_that_raises_is_a_connector_failure_naming_it_and_the_target(
    run: Run, work: Path, hooks: Path, fail: str, cause: str
) -> None:
    write_config(work, plugin_target(fail))
    before = files_under(work)
    result = audit(run, work, hooks, env={"FLAKY_TOKEN": SECRET})
    assert result.returncode == 3, result.stderr
    assert result.stdout == ""
    assert result.stderr == (
        "nhirecon: error: target 'app': connector plugin 'flaky'"
        f" (nhirecon_test_plugin.FlakyConnector) failed: {cause}\n"
    )
    assert SECRET not in result.stderr
    assert_nothing_written(work, before)


def test_a_plugin_that_raises_in_the_source_names_the_source(
    run: Run, work: Path, hooks: Path
) -> None:
    write_config(work)
    config = yaml.safe_load((work / "nhirecon.yaml").read_text(encoding="utf-8"))
    config["source"]["include"] = [{"connector": "flaky", "fail": "key", "map": {"id": "id"}}]
    (work / "nhirecon.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    result = audit(run, work, hooks)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("nhirecon: error: source 'hr.include[0]': connector plugin")
    assert "connector plugin 'flaky'" in result.stderr and "KeyError: 'users'" in result.stderr


def test_a_plugins_own_connector_error_passes_as_it_is_on_one_line(
    run: Run, work: Path, hooks: Path
) -> None:
    write_config(work, plugin_target("own"))
    result = audit(run, work, hooks)
    assert result.returncode == 3
    assert result.stderr == (
        "nhirecon: error: flaky: page 2: HTTP 503\\nnhirecon: error: forged \\x1b[2J\n"
    )


def test_validate_connect_names_a_failing_plugin(run: Run, work: Path, hooks: Path) -> None:
    write_config(work, plugin_target("key"))
    environment = {"PYTHONPATH": python_path(hooks)}
    result = run("validate", "--connect", cwd=work, env=environment)
    assert result.returncode == 3, result.stderr
    assert "connector plugin 'flaky'" in result.stderr and "KeyError" in result.stderr
    write_config(work, plugin_target("init"))
    result = run("validate", cwd=work, env=environment)
    assert result.returncode == 3, result.stderr
    assert "ValueError: no such tenant" in result.stderr
