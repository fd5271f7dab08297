"""The command line as the README documents it, through the installed ``nhirecon``: a fast
start that imports nothing a command does not run, the common options on every command
(before or after its name), format names in any case, readable help, shell completion,
colour that follows ``--color``, ``NO_COLOR`` and ``FORCE_COLOR``, the table's filters,
and JSON from every command that prints something a machine may read."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer.main

from nhirecon.cli import app

from .conftest import NOW, ROOT, Run, nhirecon_command

SAMPLE = str(ROOT / "config.sample.yaml")
COMMON = ("--config", "--now", "--quiet", "--verbose", "--color")
SGR = re.compile(r"\x1b\[")
"""The start of every colour (and other CSI) sequence."""


def click_command(name: str | None = None) -> Any:
    group = typer.main.get_command(app)
    return group if name is None else group.commands[name]  # type: ignore[attr-defined]


COMMANDS = sorted(click_command().commands)


# start-up ----------------------------------------------------------------------------------

NEVER_AT_START = (
    "nhirecon.connectors.scim",
    "nhirecon.http",
    "jinja2",
    "nhirecon.reporters.html",
    "nhirecon.state.history_db",
    "nhirecon.pipeline",
    "nhirecon.config",
    "nhirecon.reporters",
    "requests",
    "yaml",
)


def imported_by(*argv: str) -> set[str]:
    """The modules loaded when the entry point runs ``nhirecon ARGV`` (in a fresh Python)."""
    code = (
        "import json, sys\n"
        "from nhirecon.cli import main\n"
        f"sys.argv = ['nhirecon', *{list(argv)!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "100"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stderr.splitlines()[-1]))


@pytest.mark.parametrize("argv", [("--version",), ("--help",), ("audit", "--help")])
def test_version_and_help_import_nothing_a_command_runs(argv: tuple[str, ...]) -> None:
    loaded = imported_by(*argv)
    assert "nhirecon.cli.app" in loaded, "the check sees the entry point's imports"
    found = sorted(name for name in loaded if name.split(".")[0] in {"jinja2", "requests", "yaml"})
    found += sorted(
        name
        for name in loaded
        for heavy in NEVER_AT_START
        if heavy.startswith("nhirecon") and (name == heavy or name.startswith(heavy + "."))
    )
    assert found == [], f"nhirecon {' '.join(argv)} imported {found}"


def test_the_static_choices_match_the_modules_that_define_them() -> None:
    from nhirecon import config
    from nhirecon.cli import options
    from nhirecon.reporters import FORMATS

    assert [name.value for name in options.ReportFormat] == list(FORMATS)
    assert options.CONFIG_ENV == config.CONFIG_ENV


# the common options ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_and_the_root_take_the_common_options(command: str | None) -> None:
    declared = {name for param in click_command(command).params for name in param.opts}
    assert set(COMMON) <= declared
    assert {"-c", "-q", "-v"} <= declared


@pytest.mark.parametrize("command", ["validate", "history", "connectors", "explain"])
@pytest.mark.parametrize("place", ["before", "after"])
def test_the_commands_that_refused_them_take_them_before_and_after(
    run: Run, command: str, place: str
) -> None:
    common = ["-c", SAMPLE, "--now", NOW, "-q", "-v", "--color", "never"]
    own = ["crm", "deploy-bot"] if command == "explain" else []
    argv = [*common, command, *own] if place == "before" else [command, *own, *common]
    result = run(*argv)
    assert result.returncode == 0, result.stderr
    assert "No such option" not in result.stderr


def test_init_writes_the_config_that_c_names_before_or_after(run: Run, tmp_path: Path) -> None:
    assert run("-c", "before.yaml", "-q", "init").returncode == 0
    assert run("init", "-c", "after.yaml", "-v", "--now", NOW).returncode == 0
    assert (tmp_path / "before.yaml").exists() and (tmp_path / "after.yaml").exists()
    named = run("-c", "ignored.yaml", "init", "given.yaml")
    assert named.returncode == 0 and named.stdout == "wrote given.yaml\n"
    assert not (tmp_path / "ignored.yaml").exists(), "PATH wins over -c"


def audit_json(run: Run, *argv: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = run(*argv, env=env)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_options_before_the_command_are_used(run: Run) -> None:
    report = audit_json(run, "-c", SAMPLE, "--now", NOW, "audit", "--no-history", "-f", "json")
    assert report["generated_at"] == NOW
    assert report["summary"]["total"] == 54


def test_the_option_after_the_command_wins(run: Run, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.yaml")
    later = "2026-12-01T00:00:00Z"
    report = audit_json(
        run, "-c", missing, "--now", later, "audit", "-c", SAMPLE, "--now", NOW, "-f", "json"
    )
    assert report["generated_at"] == NOW
    failed = run("-c", SAMPLE, "audit", "-c", missing, "--now", NOW, "-f", "json")
    assert failed.returncode == 2 and "missing.yaml" in failed.stderr
    assert failed.stdout == ""


def test_c_before_the_command_wins_over_the_environment(run: Run, tmp_path: Path) -> None:
    env = {"NHIRECON_CONFIG": str(tmp_path / "missing.yaml")}
    report = audit_json(run, "-c", SAMPLE, "audit", "--now", NOW, "-f", "json", env=env)
    assert report["generated_at"] == NOW
    assert run("audit", "--now", NOW, env=env).returncode == 2, "the environment is read"


def test_quiet_and_verbose_before_the_command(run: Run) -> None:
    quiet = run("-q", "audit", "-c", SAMPLE, "--now", NOW)
    assert quiet.returncode == 0 and quiet.stdout == "gate passed (54 findings)\n"
    verbose = run("-v", "audit", "-c", SAMPLE, "--now", NOW, "-f", "json", "-o", "r.json")
    assert verbose.returncode == 0 and "nhirecon: INFO: wrote r.json" in verbose.stderr


@pytest.mark.parametrize("spelling", ["JSON", "Json", "json"])
def test_format_names_in_any_case(run: Run, spelling: str) -> None:
    report = audit_json(run, "audit", "-c", SAMPLE, "--now", NOW, "-f", spelling)
    assert report["schema_version"] == 1


def test_sarif_in_any_case_and_a_wrong_name_is_a_usage_error(run: Run) -> None:
    sarif = audit_json(run, "audit", "-c", SAMPLE, "--now", NOW, "-f", "Sarif")
    assert sarif["version"] == "2.1.0"
    wrong = run("audit", "-c", SAMPLE, "--now", NOW, "-f", "pdf")
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert "'pdf' is not one of" in wrong.stderr


# help and completion -----------------------------------------------------------------------


def test_audit_help_shows_the_formats_and_placeholders_people_read(run: Run) -> None:
    shown = run("audit", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "-f, --format [table|json|csv|markdown|html|sarif|junit|ocsf]" in text
    for placeholder in ("--fail-on RULE", "--target NAME", "-o, --output FILE", "--kind KIND"):
        assert placeholder in text


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_no_help_shows_a_python_type_as_a_placeholder(run: Run, command: str | None) -> None:
    """Each option is followed by a word that says what it takes (``--fail-on RULE``), not
    a type (``<list[str]>``, ``TEXT``). (typer shows an argument's type beside its name in
    the Arguments section: ``TARGET <str>``; that is not an option's placeholder.)"""
    shown = run(*([command] if command else []), "--help")
    assert shown.returncode == 0
    options = [line for line in shown.stdout.splitlines() if line.lstrip().startswith("-")]
    assert len(options) >= len(COMMON) + 1
    for line in options:
        assert not re.search(r"<(list|str|int|path|float)\b|\bTEXT\b|<int range>", line), line


def test_every_summary_is_a_whole_sentence_and_the_help_ends_with_an_example(run: Run) -> None:
    shown = run("--help")
    assert shown.returncode == 0
    commands = shown.stdout.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    summaries: dict[str, str] = {}
    for line in commands.splitlines():
        name, _, text = line.strip().partition(" ")
        if line.startswith("  ") and not line.startswith("   "):
            summaries[name] = text.strip()
        else:
            summaries[list(summaries)[-1]] += " " + line.strip()
    assert sorted(summaries) == COMMANDS
    for name, summary in summaries.items():
        first = (click_command(name).help or "").split("\n\n", 1)[0]
        assert summary == " ".join(first.split()), name
        assert summary.endswith(".") and "..." not in summary and "…" not in summary
    last = shown.stdout.rstrip().split("\n\n")[-1]
    assert " ".join(last.split()).startswith("Example: nhirecon ")


NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
"""Makes typer take the shell from the command line instead of finding the one it runs in
(which a test run may not have)."""


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_is_shown_and_installed(run: Run, tmp_path: Path, shell: str) -> None:
    script = run("--show-completion", shell, env=NAMED_SHELL)
    assert script.returncode == 0 and f"_NHIRECON_COMPLETE=complete_{shell}" in script.stdout
    sourced = run(env={"_NHIRECON_COMPLETE": f"source_{shell}"})
    assert sourced.returncode == 0 and f"_NHIRECON_COMPLETE=complete_{shell}" in sourced.stdout
    if shell == "bash":  # HOME is the test's own folder (see the run fixture)
        installed = run("--install-completion", "bash", env=NAMED_SHELL)
        assert installed.returncode == 0, installed.stderr
        completion = tmp_path / "home" / ".bash_completions" / "nhirecon.sh"
        assert "_NHIRECON_COMPLETE=complete_bash" in completion.read_text()
        assert f"source '{completion}'" in (tmp_path / "home" / ".bashrc").read_text()


def test_shell_completion_completes_commands_and_formats(run: Run) -> None:
    from nhirecon.reporters import FORMATS

    env = {
        "_NHIRECON_COMPLETE": "complete_bash",
        "COMP_WORDS": "nhirecon audit -f ",
        "COMP_CWORD": "3",
    }
    completed = run(env=env)
    assert completed.returncode == 0
    assert completed.stdout.split() == list(FORMATS)
    env = {"_NHIRECON_COMPLETE": "complete_bash", "COMP_WORDS": "nhirecon val", "COMP_CWORD": "1"}
    assert run(env=env).stdout.split() == ["validate"]


# colour ------------------------------------------------------------------------------------


def colour_environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_STATE_HOME": str(tmp_path)}
    for name in ("NO_COLOR", "FORCE_COLOR", "NHIRECON_CONFIG", "COLUMNS"):
        env.pop(name, None)
    return {**env, "TERM": "xterm-256color", **extra}


def stdout_on_a_terminal(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run ``nhirecon ARGV`` with stdout on a pty (stderr on a pipe); what it showed."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [nhirecon_command(), *argv],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + 120
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
                shown += chunk
            elif process.poll() is not None:
                break
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return code, shown.decode("utf-8", errors="replace")


AUDIT = ["audit", "-c", SAMPLE, "--now", NOW, "--no-history"]


@pytest.mark.parametrize(
    ("argv", "extra", "coloured"),
    [
        (AUDIT, {}, True),
        (AUDIT, {"NO_COLOR": "1"}, False),
        (AUDIT, {"NO_COLOR": ""}, True),
        ([*AUDIT, "--color", "never"], {}, False),
        (["--color", "never", *AUDIT], {}, False),
        ([*AUDIT, "--color", "always"], {"NO_COLOR": "1"}, True),
        ([*AUDIT, "--color", "NEVER"], {"FORCE_COLOR": "1"}, False),
    ],
)
def test_colour_on_a_terminal(
    tmp_path: Path, argv: list[str], extra: dict[str, str], coloured: bool
) -> None:
    code, screen = stdout_on_a_terminal(argv, colour_environment(tmp_path, **extra), tmp_path)
    assert code == 0, screen
    assert "54 findings" in SGR.sub("", screen)
    assert bool(SGR.search(screen)) is coloured, screen[:300]


@pytest.mark.parametrize(
    ("argv", "extra", "coloured"),
    [
        (AUDIT, {}, False),
        ([*AUDIT, "--color", "always"], {}, True),
        (["--color", "always", *AUDIT], {}, True),
        (AUDIT, {"FORCE_COLOR": "1"}, True),
        (AUDIT, {"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        ([*AUDIT, "--color", "always", "-f", "json"], {}, False),
    ],
)
def test_colour_through_a_pipe(
    run: Run, argv: list[str], extra: dict[str, str], coloured: bool
) -> None:
    env = {"NO_COLOR": "", "FORCE_COLOR": "", **extra}
    result = run(*argv, env=env)
    assert result.returncode == 0, result.stderr
    assert bool(SGR.search(result.stdout)) is coloured


def test_the_colour_rule() -> None:
    from nhirecon.cli.common import use_color
    from nhirecon.cli.options import Color

    def decide(choice: Color, terminal: bool, **environ: str) -> bool:
        return use_color(choice, terminal=terminal, environ=environ)

    assert decide(Color.auto, True) and not decide(Color.auto, False)
    assert not decide(Color.auto, True, NO_COLOR="1") and decide(Color.auto, True, NO_COLOR="")
    assert decide(Color.auto, False, FORCE_COLOR="1") and not decide(
        Color.auto, False, FORCE_COLOR=""
    )
    assert not decide(Color.auto, True, NO_COLOR="1", FORCE_COLOR="1")
    assert decide(Color.always, False, NO_COLOR="1") and not decide(
        Color.never, True, FORCE_COLOR="1"
    )


# the table's filters -----------------------------------------------------------------------

LEAVER = "marcus.webb@example.com"
"""An account of the sample estate with a critical leaver finding (and no orphan)."""
ORPHAN = "derek.olsen@example.com"
"""An account of the sample estate with a high orphan finding only."""


def test_kind_and_severity_narrow_the_table(run: Run) -> None:
    whole = run(*AUDIT)
    assert whole.returncode == 0 and LEAVER in whole.stdout and ORPHAN in whole.stdout
    for narrowing in (
        ["--kind", "leaver"],
        ["--kind", "LEAVER", "--kind", "expired"],
        ["--severity", "critical"],
    ):
        shown = run(*AUDIT, *narrowing)
        assert shown.returncode == 0, shown.stderr
        assert LEAVER in shown.stdout and ORPHAN not in shown.stdout, narrowing
    both = run(*AUDIT, "--kind", "orphan", "--severity", "critical")
    assert both.returncode == 0 and LEAVER not in both.stdout and ORPHAN not in both.stdout


def test_kind_narrows_only_the_table_never_the_other_formats_or_the_gate(
    run: Run, tmp_path: Path
) -> None:
    argv = [*AUDIT, "--kind", "leaver", "--fail-on", "orphan>0"]
    result = run(*argv, "-f", "table", "-o", "t.txt", "-f", "json", "-o", "r.json", "-f", "csv")
    assert result.returncode == 1, "the gate counts the orphans the table leaves out"
    assert ORPHAN in result.stdout, "CSV lists every finding"
    assert ORPHAN not in (tmp_path / "t.txt").read_text()
    report = json.loads((tmp_path / "r.json").read_text())
    assert len(report["findings"]) == report["summary"]["total"] == 54
    assert report["gate"]["passed"] is False


def test_an_unknown_kind_or_severity_is_a_usage_error(run: Run) -> None:
    for wrong in (["--kind", "orphans"], ["--severity", "urgent"]):
        result = run(*AUDIT, *wrong)
        assert result.returncode == 2 and result.stdout == ""


# JSON from every command -------------------------------------------------------------------


def json_of(run: Run, *argv: str) -> Any:
    result = run(*argv)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_validate_json(run: Run) -> None:
    plain = json_of(run, "validate", "-c", SAMPLE, "-f", "json")
    assert set(plain) == {"config", "valid", "errors", "source", "targets"}
    assert plain["valid"] is True and plain["errors"] == []
    assert plain["config"].endswith("config.sample.yaml")
    assert [target["name"] for target in plain["targets"]] == ["slack", "crm", "wiki", "cloud"]
    assert set(plain["targets"][0]) == {"key", "name", "connector", "records"}
    assert plain["targets"][0]["records"] is None
    connected = json_of(run, "validate", "-c", SAMPLE, "-f", "JSON", "--connect")
    assert connected["targets"][1] == {
        "key": "targets[1]",
        "name": "crm",
        "connector": "csv",
        "records": 148,
    }
    assert [item["records"] for item in connected["source"]["inputs"]] == [300, 40]


def test_validate_json_of_a_config_that_is_not_valid(run: Run, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: id}}\n"
        "targets:\n"
        "  - {name: app, connector: csv, path: app.csv}\n"
        "policy:\n"
        "  dormant_dayz: 5\n"
    )
    result = run("validate", "-c", str(config), "-f", "json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["valid"] is False and document["targets"] == []
    assert document["source"] is None and document["config"] == str(config)
    [error] = document["errors"]
    assert set(error) == {"message", "file", "line", "key"}
    assert error["file"] == str(config) and error["line"] == 6
    assert error["key"] == "policy.dormant_dayz" and "unknown key" in error["message"]
    assert "policy.dormant_dayz" in result.stderr, "the error is still said on stderr"
    text = run("validate", "-c", str(config))
    assert text.returncode == 2 and text.stdout == "", "as text, stdout stays empty"


def test_validate_json_prints_nothing_when_a_connector_fails(run: Run, tmp_path: Path) -> None:
    (tmp_path / "hr.csv").write_text("id,email\nE1,a@example.com\n")
    config = tmp_path / "c.yaml"
    config.write_text(
        "version: 1\nsource: {name: hr, connector: csv, path: hr.csv, map: {id: id}}\n"
        "targets:\n  - {name: app, connector: csv, path: gone.csv}\n"
    )
    result = run("validate", "-c", str(config), "-f", "json", "--connect")
    assert result.returncode == 3 and result.stdout == ""
    assert "gone.csv" in result.stderr


def test_explain_json(run: Run) -> None:
    document = json_of(run, "explain", "crm", LEAVER, "-c", SAMPLE, "--now", NOW, "-f", "json")
    assert set(document) == {
        *("target", "account", "trail", "result", "findings", "excepted", "not_replayed")
    }
    assert document["target"] == "crm" and document["account"]["email"] == LEAVER
    step = document["trail"][0]
    assert set(step) == {"rule", "account_field", "identity_field", "mode", "values", "matches"}
    assert set(step["values"][0]) == {"value", "normalised", "matches"}
    assert document["result"]["status"] == "linked"
    text = run("explain", "crm", LEAVER, "-c", SAMPLE, "--now", NOW).stdout
    assert f"result: linked to {document['result']['identity']['id']} (" in text
    assert step["values"][0]["normalised"] in text and document["result"]["rule"] in text
    [finding] = [item for item in document["findings"] if item["kind"] == "leaver"]
    assert {"fingerprint", "severity", "account", "identity", "remediation"} <= set(finding)
    excepted = json_of(
        run, "explain", "crm", "deploy-bot", "-c", SAMPLE, "--now", NOW, "-f", "json"
    )
    assert excepted["result"]["status"] == "unmatched"
    assert excepted["excepted"][0]["exception"]["reason"]


def test_explain_json_of_an_unknown_account_prints_nothing(run: Run) -> None:
    result = run("explain", "crm", "nobody", "-c", SAMPLE, "--now", NOW, "-f", "json")
    assert result.returncode == 2 and result.stdout == ""


def test_connectors_json(run: Run) -> None:
    listed = json_of(run, "connectors", "-f", "json")
    by_name = {entry["name"]: entry for entry in listed}
    assert {"csv", "json", "yaml", "scim"} <= set(by_name)
    keys = {"name", "description", "builtin", "origin", "can_write", "usable", "problem", "options"}
    assert all(set(entry) == keys for entry in listed)
    csv = by_name["csv"]
    assert csv["builtin"] and csv["usable"] and csv["problem"] == "" and csv["can_write"] == []
    assert {"name": "path", "required": True, "default": None} in csv["options"]
    assert {"name": "encoding", "required": False, "default": "auto"} in csv["options"]
    assert by_name["scim"]["can_write"], "SCIM can write"


def test_history_json(run: Run, tmp_path: Path) -> None:
    empty = json_of(run, "history", "-c", SAMPLE, "-f", "json")
    assert set(empty) == {"history", "runs"} and empty["runs"] == []
    assert run("audit", "-c", SAMPLE, "--now", NOW, "-q").returncode == 0
    document = json_of(run, "history", "-c", SAMPLE, "-f", "JSON")
    [recorded] = document["runs"]
    assert {"at", "total", "new", "resolved", "excepted", "by_kind"} <= set(recorded)
    assert recorded["at"] == NOW and recorded["total"] == 54


def test_history_text_is_the_default_and_table_its_other_name(run: Run) -> None:
    default = run("history", "-c", SAMPLE)
    assert default.returncode == 0 and "no runs recorded yet" in default.stdout
    assert run("history", "-c", SAMPLE, "-f", "table").stdout == default.stdout
    assert run("history", "-c", SAMPLE, "-f", "text").stdout == default.stdout


def test_history_json_of_a_broken_file_prints_nothing(run: Run, tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_text("not a database\n")
    result = run("history", "--file", str(broken), "-f", "json")
    assert result.returncode == 2 and result.stdout == ""
    assert "not a usable nhirecon history file" in result.stderr


def test_history_of_a_file_that_is_not_there_is_an_error_not_an_empty_history(
    run: Run, tmp_path: Path
) -> None:
    done = run("history", "--file", str(tmp_path / "typo.db"))
    assert done.returncode == 2 and done.stdout == ""
    assert "typo.db: no such history file" in done.stderr
