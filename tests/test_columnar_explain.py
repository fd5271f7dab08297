"""``explain`` with the columnar engine against the usual path, on the generated estates of
``test_columnar_differential``: the same explanation, or the same error, for accounts
named by id, username or email, in another case, with spaces, as full-width look-alikes,
by names several accounts share, and by names no account has.

With an account sought, the engine keeps it and what its correlation depends on instead of
the rows the finding rules need, so accounts an audit would not map at all are explained
here too (two tests below name such accounts on purpose)."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhirecon import explain
from nhirecon.columnar import engine
from nhirecon.config.load import load
from nhirecon.errors import NhireconError

from .conftest import Run
from .test_columnar_differential import NOW, Estate


def explained(path: Path, target: str, query: str, engine_name: Any) -> tuple[Any, ...]:
    try:
        config = load(path)
        return ("explained", explain.explain(config, target, query, now=NOW, engine=engine_name))
    except NhireconError as exc:
        return ("error", type(exc).__name__, str(exc))


def queries(folder: Path, target: str, r: random.Random) -> list[str]:
    """Names to explain in ``target``: cells of its export, varied, and names of no one."""
    number = target.removeprefix("app")
    with (folder / f"app{number}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    row = r.choice(rows)
    picked = [row[0], row[1], row[2], row[1].upper(), f" {row[2]} "]
    if row[2][:1].isalnum():  # a full-width look-alike of the username
        picked.append(chr(ord(row[2][0]) + 0xFEE0) + row[2][1:])
    picked += ["nobody@example.com", "p1", "P2@EXAMPLE.COM"]
    return [name for name in r.sample(picked, 3) if name.strip()]


def check(folder: Path, seed: int) -> bool:
    """Both engines explain a few names in each target of the estate of ``seed``; returns
    whether the columnar engine ran and explained an account."""
    path = Estate(folder, seed).write()
    r = random.Random(seed)
    try:
        config = load(path)
    except NhireconError:
        return False
    explained_one = False
    triaged: list[engine.Triaged | None] = []  # by the columnar explains only

    def noted(*args: Any, **kwargs: Any) -> engine.Triaged | None:
        triaged.append(engine.triage(*args, **kwargs))
        return triaged[-1]

    with mock.patch.object(explain, "triage", noted):
        for target in config.targets:
            for query in queries(folder, target.name, r):
                usual = explained(path, target.name, query, "python")
                columnar = explained(path, target.name, query, "columnar")
                assert columnar == usual, (
                    f"seed {seed}: {target.name} {query!r}: the engines disagree"
                )
                explained_one = explained_one or usual[0] == "explained"
    ran = any(each is not None for each in triaged)
    return explained_one and ran


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_the_engines_explain_alike(tmp_path_factory: pytest.TempPathFactory, seed: int) -> None:
    check(tmp_path_factory.mktemp("estate"), seed)


def test_the_engine_explains_most_accounts(tmp_path: Path) -> None:
    """Not vacuous: on most estates the engine ran and an account was explained."""
    ran = 0
    for seed in range(8):
        folder = tmp_path / str(seed)
        folder.mkdir()
        ran += check(folder, seed)
    assert ran >= 4


def test_an_account_no_rule_needs_is_explained_by_the_engine(tmp_path: Path) -> None:
    """A quiet account (plain, linked, active, nothing near a limit): the audit's triage
    leaves it out, the explanation's keeps it, and both engines explain it alike."""
    (tmp_path / "hr.csv").write_text(
        "employee_id,email,login,status\n"
        + "".join(f"E{i},p{i}@example.com,p{i},active\n" for i in range(50)),
        encoding="utf-8",
    )
    (tmp_path / "app.csv").write_text(
        "user_id,email,enabled\n" + "".join(f"u{i},p{i}@example.com,true\n" for i in range(50)),
        encoding="utf-8",
    )
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv,\n"
        "  map: {id: employee_id, email: email, username: login, status: status}}\n"
        "targets:\n"
        "  - {name: app, connector: csv, path: app.csv,\n"
        "     map: {id: user_id, email: email, active: enabled},\n"
        "     correlate: [{account: email, identity: email}]}\n",
        encoding="utf-8",
    )
    config = load(path)
    audit = engine.triage(config, config.targets, NOW, lambda *_: None, min_bytes=0)
    assert audit is not None
    assert [account.id for account in audit.targets["app"]] == []
    sought = {"app": frozenset({"p7@example.com"})}
    kept = engine.triage(config, config.targets, NOW, lambda *_: None, min_bytes=0, sought=sought)
    assert kept is not None
    assert [account.id for account in kept.targets["app"]] == ["u7"]
    assert [identity.id for identity in kept.source] == ["E7"]
    for query in ("u7", "P7@Example.com", "ｐ7@example.com", "u70"):
        assert explained(path, "app", query, "columnar") == explained(path, "app", query, "python")


@pytest.mark.parametrize("form", ["text", "json"])
def test_the_installed_command_explains_alike_with_either_engine(
    run: Run, tmp_path: Path, form: str
) -> None:
    """``explain --engine columnar`` and ``--engine python`` as a user runs them: the same
    output and exit code; ``-v`` says when the engine was used."""
    path = Estate(tmp_path, 7).write()
    with (tmp_path / "app1.csv").open(encoding="utf-8", newline="") as handle:
        account = list(csv.reader(handle))[5][0]
    outputs = {}
    for name in ("columnar", "python"):
        result = run(
            "explain", "app1", account, "-c", str(path), "--now", NOW.isoformat(),
            "--engine", name, "-f", form, "-v",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert account in result.stdout
        outputs[name] = result.stdout
        assert ("columnar engine:" in result.stderr) is (name == "columnar"), result.stderr
    assert outputs["columnar"] == outputs["python"]
    missing = {}
    for name in ("columnar", "python"):
        result = run(
            "explain", "app1", "nobody@nowhere.example", "-c", str(path),
            "--now", NOW.isoformat(), "--engine", name, "-f", form,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr  # SPEC: a usage error
        missing[name] = result.stderr
    assert "has no account 'nobody@nowhere.example'" in missing["columnar"]
    assert missing["columnar"] == missing["python"]


def test_an_exception_naming_several_accounts_holds_with_the_engine(tmp_path: Path) -> None:
    """An exception that names two accounts suppresses neither (SPEC §6): explaining one,
    the engine keeps the other, which no rule needs, so that the entry is seen naming
    both."""
    (tmp_path / "hr.csv").write_text(
        "employee_id,email,status\n"
        + "".join(f"E{i},p{i}@example.com,active\n" for i in range(20)),
        encoding="utf-8",
    )
    (tmp_path / "app.csv").write_text(
        "user_id,email,username,enabled,last_login\n"
        "u1,p1@example.com,ops,true,2025-01-02\n"
        "u2,p2@example.com,OPS,true,2026-11-20\n"
        + "".join(f"u{i},p{i}@example.com,x{i},true,2026-11-20\n" for i in range(3, 20)),
        encoding="utf-8",
    )
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv,\n"
        "  map: {id: employee_id, email: email, status: status}}\n"
        "targets:\n"
        "  - {name: app, connector: csv, path: app.csv,\n"
        "     map: {id: user_id, email: email, username: username, active: enabled,\n"
        "           last_login_at: last_login},\n"
        "     correlate: [{account: email, identity: email}]}\n"
        "exceptions:\n"
        "  - {target: app, account: ops, reason: shared, owner: sec@example.com,\n"
        "     expires: 2027-06-30}\n",
        encoding="utf-8",
    )
    usual = explained(path, "app", "u1", "python")
    assert usual[0] == "explained"
    assert [finding.kind.value for finding in usual[1].findings] == ["dormant"]
    assert usual[1].excepted == ()
    assert explained(path, "app", "u1", "columnar") == usual
