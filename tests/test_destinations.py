"""``audit -o`` never writes twice to one file, nor over a file the run reads or keeps; a
long file name is written like any other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import Run

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-11-28T00:00:00Z"


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The bundled example, copied: its config and exports."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copy(ROOT / "config.sample.yaml", tmp_path / "config.sample.yaml")
    return tmp_path / "config.sample.yaml"


@pytest.mark.parametrize(
    ("destination", "named"),
    [
        ("config.sample.yaml", "this run's config"),
        ("examples/hr.csv", "the export source 'hr' reads"),
        ("examples/crm_users.csv", "the export target 'crm' reads"),
        ("state/nhirecon/history.db", "this run's history"),
        ("state/nhirecon/history.db-journal", "a journal of this run's history"),
        ("state/nhirecon/history.db-wal", "a journal of this run's history"),
        ("state/nhirecon/history.db-shm", "a journal of this run's history"),
        ("base.json", "this run's baseline"),
    ],
)
def test_a_file_of_the_run_is_never_a_report(
    run: Run, tmp_path: Path, estate: Path, destination: str, named: str
) -> None:
    (tmp_path / "base.json").write_text('{"version": 1, "findings": []}\n')
    target = tmp_path / destination
    before = target.read_bytes() if target.exists() else None
    done = run(
        "audit", "-c", str(estate), "--now", NOW, "-f", "json", "-o", "other.json",
        "-f", "json", "-o", destination, "--baseline", "base.json",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"-o {destination}: that is {named}" in done.stderr
    assert (target.read_bytes() if target.exists() else None) == before
    assert not (tmp_path / "other.json").exists()


def test_one_file_twice_is_refused(run: Run, tmp_path: Path, estate: Path) -> None:
    done = run(
        "audit", "-c", str(estate), "--now", NOW, "-o", "r.json", "-f", "json", "-o", "x/../r.json"
    )
    assert done.returncode == 2, done.stderr
    assert "-o x/../r.json: the same file as -o r.json" in done.stderr
    assert not (tmp_path / "r.json").exists()
    assert not (tmp_path / "state" / "nhirecon" / "history.db").exists()


def test_a_long_file_name_is_written(run: Run, tmp_path: Path, estate: Path) -> None:
    name = "r" * 245 + ".json"
    done = run("audit", "-c", str(estate), "--now", NOW, "-o", name, "--no-history")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / name).read_text().startswith("{")
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(("command", "said"), [("plan", "a plan"), ("baseline", "a baseline")])
def test_plan_and_baseline_refuse_a_dash_too(
    run: Run, tmp_path: Path, estate: Path, command: str, said: str
) -> None:
    done = run(command, "-c", str(estate), "--now", NOW, "-o", "-")
    assert done.returncode == 2, done.stderr
    assert f"-o -: {said} is written to a file" in done.stderr
    assert not (tmp_path / "-").exists()


def test_a_dash_is_not_taken_for_stdout_nor_written_as_a_file(
    run: Run, tmp_path: Path, estate: Path
) -> None:
    done = run("audit", "-c", str(estate), "--now", NOW, "-f", "json", "-o", "-")
    assert done.returncode == 2, done.stderr
    assert "-o -: a format without -o goes to stdout" in done.stderr
    assert not (tmp_path / "-").exists() and done.stdout == ""
    named = run("audit", "-c", str(estate), "--now", NOW, "-f", "json", "-o", str(tmp_path / "-"))
    assert named.returncode in (0, 1), named.stderr
    assert (tmp_path / "-").read_text().startswith("{")


@pytest.mark.parametrize("command", ["plan", "baseline"])
@pytest.mark.parametrize(
    ("destination", "named"),
    [
        ("config.sample.yaml", "this run's config"),
        ("examples/hr.csv", "the export source 'hr' reads"),
        ("state/nhirecon/history.db", "this run's history"),
        ("state/nhirecon/history.db-wal", "a journal of this run's history"),
        ("actions.jsonl", "the audit log of this config"),
    ],
)
def test_plan_and_baseline_never_write_over_a_file_of_the_run(
    run: Run, tmp_path: Path, estate: Path, command: str, destination: str, named: str
) -> None:
    """``plan -o hr.csv`` replaced the HR export with a plan, exit 0."""
    with estate.open("a", encoding="utf-8") as config:
        config.write("audit_log: actions.jsonl\n")
    (tmp_path / "actions.jsonl").write_text("")
    seeded = run("audit", "-c", str(estate), "--now", NOW, "-q")
    assert seeded.returncode in (0, 1), seeded.stderr  # a history to keep
    target = tmp_path / destination
    before = target.read_bytes() if target.exists() else None
    done = run(command, "-c", str(estate), "--now", NOW, "-o", destination)
    assert done.returncode == 2, done.stderr
    assert f"-o {destination}: that is {named}; write the {command} elsewhere" in done.stderr
    assert (target.read_bytes() if target.exists() else None) == before


@pytest.mark.parametrize("command", ["audit", "plan", "baseline"])
def test_the_ca_bundle_a_target_trusts_is_never_written_over(
    run: Run, tmp_path: Path, estate: Path, command: str
) -> None:
    """``plan -o ca.pem`` replaced the CA bundle a live target trusts with a plan."""
    idp = (
        "targets:\n  - {name: idp, connector: scim, url: 'https://scim.example.com/scim/v2',"
        " auth: {type: none}, ca_bundle: ca.pem}\n"
    )
    estate.write_text(estate.read_text(encoding="utf-8").replace("targets:\n", idp, 1))
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    formats = ["-f", "json"] if command == "audit" else []
    done = run(command, "-c", str(estate), "--now", NOW, *formats, "-o", "ca.pem")
    assert done.returncode == 2, done.stderr
    assert "-o ca.pem: that is the CA bundle target 'idp' trusts" in done.stderr
    assert bundle.read_text() == "-----BEGIN CERTIFICATE-----\n"
