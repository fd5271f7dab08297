"""Allowlists, look-alike links and duplicate accounts through the installed command: the
JSON report, every report for people, and `validate` (SPEC §4, §5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import NOW as NOW_TEXT
from tests.conftest import Run

Write = Callable[[str, str], Path]


@pytest.fixture
def estate(write: Write) -> Path:
    write(
        "hr.csv",
        """
        id,email,username,status
        E1,ana@corp.example,ana,active
        """,
    )
    write(
        "app.csv",
        """
        id,username,email,origin,active
        u1,deploy-bot,,scim,true
        u2,DEPLOY-BOT,,jit,true
        u3,BreakGlass,,scim,true
        u4,ｂｒｅａｋｇｌａｓｓ,,jit,true
        u5,mallory,breakglass,jit,true
        """,
    )
    return write(
        "nhirecon.yaml",
        """
        version: 1
        source:
          name: hr
          connector: csv
          path: hr.csv
          map: {id: id, email: email, username: username, status: status}
        targets:
          - name: app
            connector: csv
            path: app.csv
            map: {id: id, username: username, email: email, origin: origin, active: active}
            correlate: [{account: email, identity: email}]
        exceptions:
          - {target: app, account: deploy-bot, reason: deploys, owner: sec@corp.example,
             expires: 2027-06-30}
        protected:
          - {target: app, account: breakglass}
        gate: ["orphan,jit-orphan>0"]
        """,
    )


def test_lookalikes_are_reported_and_the_gate_sees_the_shadow_account(
    run: Run, estate: Path
) -> None:
    done = run("audit", "-c", str(estate), "-f", "json", "--now", NOW_TEXT, "--no-history")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    by_account = {item["account"]["id"]: item for item in report["findings"]}
    # the exception names two accounts, so neither is excepted
    assert report["excepted"] == []
    assert {"u1", "u2"} <= by_account.keys()
    assert "suppresses none" in by_account["u2"]["message"]
    # only the account that is breakglass (any case) is protected
    assert by_account["u3"]["remediation_reason"].startswith("protected")
    assert not by_account["u4"]["remediation_reason"].startswith("protected")
    assert not by_account["u5"]["remediation_reason"].startswith("protected")
    assert report["allowlist"] == [
        {
            "list": "exceptions",
            "target": "app",
            "entry": "deploy-bot",
            "accounts": ["u1", "u2"],
            "effect": "suppresses none of them",
        }
    ]


def test_a_protected_entry_that_names_several_accounts_protects_all_and_says_so(
    run: Run, estate: Path, write: Write
) -> None:
    write(
        "app.csv",
        """
        id,username,email,origin,active
        u3,BreakGlass,,scim,true
        u6,breakglass,,jit,true
        """,
    )
    done = run("audit", "-c", str(estate), "-f", "json", "--now", NOW_TEXT, "--no-history")
    report = json.loads(done.stdout)
    assert all(item["remediation_reason"].startswith("protected") for item in report["findings"])
    assert report["allowlist"] == [
        {
            "list": "protected",
            "target": "app",
            "entry": "breakglass",
            "accounts": ["u3", "u6"],
            "effect": "protects all of them",
        },
        {  # deploy-bot is gone from this export
            "list": "exceptions",
            "target": "app",
            "entry": "deploy-bot",
            "accounts": [],
            "effect": "suppresses nothing",
        },
    ]


def test_an_entry_that_names_no_account_is_reported_and_warned_of(
    run: Run, estate: Path, write: Write
) -> None:
    """A misspelt ``protected`` entry protects nothing, and says so on every run; so does
    an exception for the source that names no identity."""
    config = (
        estate.read_text(encoding="utf-8")
        .replace("- {target: app, account: breakglass}", "- {target: app, account: breakglas}")
        .replace(
            "exceptions:\n",
            "exceptions:\n  - {target: hr, account: nobody@corp.example, reason: r,"
            " owner: o@corp.example, expires: 2027-06-30}\n",
        )
    )
    write("nhirecon.yaml", config)
    done = run("audit", "-c", str(estate), "-f", "json", "--now", NOW_TEXT, "--no-history")
    report = json.loads(done.stdout)
    idle = [entry for entry in report["allowlist"] if not entry["accounts"]]
    assert [(entry["target"], entry["entry"], entry["effect"]) for entry in idle] == [
        ("hr", "nobody@corp.example", "suppresses nothing"),
        ("app", "breakglas", "protects nothing"),
    ]
    assert "protected entry 'breakglas' on app names no account: protects nothing" in (done.stderr)
    assert "'nobody@corp.example' on hr names no account" in done.stderr
    assert not any(
        item["remediation_reason"].startswith("protected") for item in report["findings"]
    )
    table = run("audit", "-c", str(estate), "--now", NOW_TEXT, "--no-history", "-f", "table")
    assert "protected entry 'breakglas' on app names no account" in table.stdout


def test_every_report_for_people_lists_the_broad_entries(run: Run, estate: Path) -> None:
    base = ("audit", "-c", str(estate), "--now", NOW_TEXT, "--no-history")
    html = run(*base, "-f", "html").stdout
    assert '<section id="allowlist">' in html
    assert "<td>deploy-bot</td><td>u1, u2</td><td>suppresses none of them</td>" in html
    table = run(*base, "-f", "table").stdout
    assert "exceptions entry 'deploy-bot' on app names 2 accounts (u1, u2)" in table
    markdown = run(*base, "-f", "markdown").stdout  # every punctuation mark escaped
    assert r"exceptions entry \'deploy\-bot\' on app names 2 accounts \(u1\, u2\)" in markdown


def test_duplicate_account_cannot_be_given_an_action(run: Run, write: Write) -> None:
    config = _estate(write, remediate="remediate: {duplicate-account: disable}")
    done = run("validate", "-c", str(config))
    assert done.returncode == 2
    assert "duplicate-account" in done.stderr


def _estate(write: Write, remediate: str = "") -> Path:
    write(
        "hr.csv",
        """
        id,email,status
        E1,alice@corp.example,active
        E2,bob@corp.example,active
        """,
    )
    write(
        "app.csv",
        """
        id,email,origin,active
        u1,alice@corp.example,scim,true
        u2,ａlice@corp.example,jit,true
        u3,ⓑob@corp.example,scim,true
        """,
    )
    return write(
        "nhirecon.yaml",
        f"""
        version: 1
        source:
          name: hr
          connector: csv
          path: hr.csv
          map: {{id: id, email: email, status: status}}
        targets:
          - name: app
            connector: csv
            path: app.csv
            map: {{id: id, email: email, origin: origin, active: active}}
            correlate: [{{account: email, identity: email}}]
            {remediate}
        gate: ["duplicate-account>0"]
        """,
    )


def test_a_shadow_account_is_reported_end_to_end(run: Run, write: Write) -> None:
    config = _estate(write)
    done = run("audit", "-c", str(config), "-f", "json", "--now", NOW_TEXT, "--no-history")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    [target] = report["targets"]
    assert target["linked"] == 3 and target["lookalike"] == 2
    duplicates = {
        item["account"]["id"]: item
        for item in report["findings"]
        if item["kind"] == "duplicate-account"
    }
    assert sorted(duplicates) == ["u1", "u2"]
    assert duplicates["u2"]["detail"]["lookalike"]["account_value"] == "ａlice@corp.example"
    assert duplicates["u1"]["severity"] == "medium"
    assert duplicates["u1"]["controls"] == ["NIST-CSF-2.0:PR.AA-01"]
    unmanaged = [item for item in report["findings"] if item["kind"] == "unmanaged"]
    assert [item["detail"]["lookalike"]["identity_value"] for item in unmanaged] == [
        "alice@corp.example"
    ]
    assert report["gate"]["passed"] is False


def test_explain_never_takes_a_lookalike_for_the_account_asked(
    run: Run, estate: Path, write: Write
) -> None:
    base = ("-c", str(estate), "--now", NOW_TEXT)
    shown = run("explain", "app", "breakglass", *base)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("account u3 in app")  # BreakGlass, not the full-width one
    write(
        "app.csv",
        """
        id,username,email,origin,active
        u4,ｂｒｅａｋｇｌａｓｓ,,jit,true
        """,
    )
    refused = run("explain", "app", "breakglass", *base)
    assert refused.returncode == 2
    assert "no account 'breakglass'; look-alikes" in refused.stderr and "u4" in refused.stderr
    write(
        "app.csv",
        """
        id,username,email,origin,active
        u3,BreakGlass,,scim,true
        u6,breakglass,,jit,true
        """,
    )
    several = run("explain", "app", "breakglass", *base)
    assert several.returncode == 2
    assert "2 accounts named 'breakglass' (u3, u6): name one by id" in several.stderr
    assert run("explain", "app", "u6", *base).stdout.startswith("account u6 in app")
