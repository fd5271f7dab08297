"""Odd inputs (SPEC §8 "Files": inputs must be regular files): a named pipe, a device or a
folder given as an export, the config, a baseline or a plan is refused before it is read,
by plain ``validate`` too, so it can neither hang a run nor fill the memory; a plan nested
thousands deep is a usage error naming it.

Already covered elsewhere: pulls refusing a FIFO, a device or a folder as an export,
without hanging (tests/test_file_inputs.py); a baseline nested 100,000 deep
(tests/test_deep_nesting.py); a config nested too deeply (tests/data/bad/cases.yaml,
``config-deeply-nested``); a gzip bomb, an answer over ``max_response_mb`` and a page
holding more than asked (tests/test_scim_listing_vendors.py); the webhook not following a
307 (tests/test_notify.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from nhirecon import output
from nhirecon.connectors import files
from nhirecon.errors import UsageError
from nhirecon.remediation import plan_file

from .conftest import NOW
from .test_planted_files import file_estate, nhirecon, one_error

DEVICE = "/dev/zero"
"""Read to its end, it never ends: a read that does not check first fills the memory."""


def special(tmp_path: Path, kind: str, name: str) -> str:
    """A named pipe nobody writes to, or the endless device, as the path to give."""
    if kind == "device":
        return DEVICE
    fifo = tmp_path / name
    os.mkfifo(fifo)
    return fifo.name


KINDS = {
    "fifo": "is a named pipe (FIFO), not a regular file",
    "device": "is a character device, not a regular file",
}


# --- exports: plain validate ---------------------------------------------------------------


def config_with(tmp_path: Path, role: str, path: str) -> Path:
    """A config with an input at ``path`` as the source, an include or the target."""
    (tmp_path / "hr.csv").write_text("id,email\nE1,a@example.com\n", encoding="utf-8")
    (tmp_path / "app.csv").write_text("id,email\nA1,a@example.com\n", encoding="utf-8")
    entry = f"{{name: x, connector: csv, path: {path!r}, map: {{id: id}}}}"
    source = "{name: hr, connector: csv, path: hr.csv, map: {id: id}}"
    target = "{name: app, connector: csv, path: app.csv}"
    if role == "source":
        source = entry
    elif role == "include":
        source = f"{{name: hr, connector: csv, path: hr.csv, map: {{id: id}}, include: [{entry}]}}"
    else:
        target = entry
    text = f"""
        version: 1
        source: {source}
        targets: [{target}]
    """
    written = tmp_path / "nhirecon.yaml"
    written.write_text(textwrap.dedent(text), encoding="utf-8")
    return written


@pytest.mark.parametrize("role", ["source", "include", "target"])
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_plain_validate_says_a_pipe_or_device_export_is_invalid(
    tmp_path: Path, role: str, kind: str
) -> None:
    path = special(tmp_path, kind, "export.csv")
    config_with(tmp_path, role, path)
    result = nhirecon(tmp_path, "validate", timeout=30)
    one_error(result, 3, f"{path}: {KINDS[kind]}")
    assert result.stdout == ""


def test_plain_validate_looks_at_exports_but_reads_none(tmp_path: Path) -> None:
    """A missing export is named; a broken one is left for ``--connect``, which reads it."""
    config_with(tmp_path, "target", "later.csv")
    missing = nhirecon(tmp_path, "validate")
    assert missing.returncode == 3
    assert "targets[0].path: later.csv: file not found" in missing.stderr
    (tmp_path / "later.csv").write_bytes(b"\x00\xff not, a csv\n")
    result = nhirecon(tmp_path, "validate")
    assert result.returncode == 0, result.stderr
    assert "valid (1 source input, 1 target)" in result.stdout


# --- the config ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_config_must_be_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = "." if kind == "folder" else special(tmp_path, kind, "nhirecon.yaml")
    reason = {**KINDS, "folder": "is a folder, not a file"}[kind]
    for command in (["validate"], ["audit", "--now", NOW]):
        result = nhirecon(tmp_path, *command, "-c", path, timeout=30)
        one_error(result, 2, f"{path}: {reason}; a config must be a regular file")


def test_a_config_piped_to_dev_stdin_is_refused_and_one_redirected_from_a_file_is_read(
    tmp_path: Path,
) -> None:
    config = file_estate(tmp_path)
    reader, writer = os.pipe()
    os.write(writer, config.read_bytes())
    os.close(writer)
    try:
        piped = nhirecon(tmp_path, "validate", "-c", "/dev/stdin", stdin=reader, timeout=30)
    finally:
        os.close(reader)
    one_error(piped, 2, "/dev/stdin: is a named pipe (FIFO)", "a config must be a regular file")
    with config.open("rb") as handle:
        redirected = nhirecon(tmp_path, "validate", "-c", "/dev/stdin", stdin=handle.fileno())
    assert redirected.returncode == 0, redirected.stderr


def test_a_config_too_large_to_be_one_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "nhirecon.yaml"
    big.write_bytes(b"version: 1\n")
    os.truncate(big, 4 << 30)  # sparse: no disk, and no memory unless it is read
    result = nhirecon(tmp_path, "validate", timeout=30)
    one_error(result, 2, "nhirecon.yaml: is larger than 16 MiB: too large for a config")


# --- baselines -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_baseline_must_be_a_regular_file(tmp_path: Path, kind: str) -> None:
    file_estate(tmp_path)
    path = special(tmp_path, kind, "baseline.json")
    result = nhirecon(tmp_path, "audit", "--now", NOW, "--no-history", "--baseline", path)
    one_error(
        result, 2, f"baseline file {path}: {KINDS[kind]}", "a baseline must be a regular file"
    )


# --- plans ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_reading_a_plan_refuses_a_pipe_or_device(tmp_path: Path, kind: str) -> None:
    path = Path(special(tmp_path, kind, "plan.json"))
    if kind == "fifo":
        path = tmp_path / path
    with pytest.raises(UsageError) as caught:
        plan_file.read(path)
    assert str(caught.value) == f"{path}: {KINDS[kind]}; a plan must be a regular file"


def test_a_plan_is_read_and_a_broken_one_named(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff{}")
    with pytest.raises(UsageError, match=r"plan.json: not a plan file \(not UTF-8"):
        plan_file.read(path)
    with pytest.raises(UsageError, match=r"nothing.json: cannot read the plan: No such file"):
        plan_file.read(tmp_path / "nothing.json")


def test_apply_refuses_a_plan_that_is_a_pipe_without_hanging(tmp_path: Path) -> None:
    file_estate(tmp_path)
    path = special(tmp_path, "fifo", "plan.json")
    try:
        result = nhirecon(tmp_path, "apply", path, "--yes", "--now", NOW, timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("apply waited on the pipe") from None
    one_error(result, 2, f"{path}: {KINDS['fifo']}; a plan must be a regular file")


@pytest.mark.parametrize("levels", [5_000, 100_000])
def test_a_plan_nested_thousands_deep_is_a_usage_error(tmp_path: Path, levels: int) -> None:
    file_estate(tmp_path)
    deep = "[" * levels + "]" * levels
    (tmp_path / "plan.json").write_text(
        json.dumps({"plan_version": 1, "config": {}})[:-1] + f', "x": {deep}}}', encoding="utf-8"
    )
    result = nhirecon(tmp_path, "apply", "plan.json", "--yes", "--now", NOW)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "nhirecon: error: plan.json: not a plan file: JSON nested too deeply\n"


# --- the shared reader ---------------------------------------------------------------------


def test_read_whole_checks_the_open_file_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipe put in place between the check and the open is found on the descriptor, and
    never waited on."""
    fifo = tmp_path / "late.yaml"
    os.mkfifo(fifo)
    real = output.irregular
    calls: list[int] = []

    def regular_at_first(mode: int) -> str:  # the check before the open saw a regular file
        calls.append(mode)
        return "" if len(calls) == 1 else real(mode)

    monkeypatch.setattr(files, "irregular", regular_at_first)
    with pytest.raises(files.NotAFile, match="is a named pipe"):
        files.read_whole(fifo, 1 << 20, "a config")
    assert len(calls) == 2
