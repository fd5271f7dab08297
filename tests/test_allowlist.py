"""Exceptions and ``protected`` entries match exactly after case-folding, never a look-alike,
and an entry that names several accounts is reported (SPEC §5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from nhirecon.core.allowlist import BroadEntry, ListName, Tally, entry_key, names
from nhirecon.core.correlate import UNMATCHED
from nhirecon.core.exceptions import Exceptions
from nhirecon.core.findings import account_findings
from nhirecon.core.model import ExceptionRule, FindingKind, Origin, Remediation
from tests.conftest import NOW as NOW_TEXT
from tests.conftest import Run
from tests.factories import ACTIVE, CLOCK, NOW, account, rules

Write = Callable[[str, str], Path]


@pytest.mark.parametrize(
    "name",
    [
        "BreakGlass",
        " breakglass ",
        "BREAKGLASS",
    ],
)
def test_an_entry_names_its_account_in_any_case(name: str) -> None:
    assert entry_key("breakglass") in names(account("a1", username=name))


@pytest.mark.parametrize(
    "lookalike",
    [
        "ｂｒｅａｋｇｌａｓｓ",  # full width
        "ⓑreakglass",  # circled
        "breakglaſs",  # long s: Unicode case folding alone maps it to s
        "brea\u212aglass",  # Kelvin sign: case folding alone maps it to k
        "break\u200bglass",  # zero-width space
        "breakglass\u0307",  # combining dot
    ],
)
def test_a_lookalike_is_never_the_entry(lookalike: str) -> None:
    assert entry_key("breakglass") not in names(account("a1", username=lookalike))
    # an entry written with the same characters names it exactly
    assert entry_key(lookalike) in names(account("a1", username=lookalike))


def test_an_email_field_that_is_not_an_address_names_nothing() -> None:
    planted = account("a7", username="mallory", email="breakglass")
    assert names(planted) == {"a7", "mallory"}
    assert "ops@corp.example" in names(account("a8", email="Ops@Corp.example"))


def _orphan(id: str, **fields: object) -> list[object]:
    target = rules(
        remediate={FindingKind.ORPHAN: Remediation.DISABLE},
        can_write=frozenset({"disable"}),
        protected=frozenset({"breakglass"}),
    )
    return list(account_findings(target, account(id, **fields), UNMATCHED, "hr", CLOCK, ACTIVE))


@pytest.mark.parametrize(
    ("fields", "protected"),
    [
        ({"username": "BreakGlass"}, True),
        ({"username": "ｂｒｅａｋｇｌａｓｓ"}, False),
        ({"username": "mallory", "email": "breakglass"}, False),
        ({"username": "mallory", "email": "ｂｒｅａｋｇｌａｓｓ@corp.example"}, False),
    ],
)
def test_protected_covers_the_account_and_no_lookalike(
    fields: dict[str, object], protected: bool
) -> None:
    [finding] = _orphan("a1", **fields)
    assert finding.remediation is (Remediation.NONE if protected else Remediation.DISABLE)  # type: ignore[attr-defined]


def _exception(account_name: str) -> ExceptionRule:
    return ExceptionRule("app", account_name, None, "deploys", "sec@corp.example", date(2027, 1, 1))


def test_an_exception_that_names_several_accounts_suppresses_none() -> None:
    tally = Tally("app", [(ListName.EXCEPTIONS, "deploy-bot")])
    bot, shadow = (
        account("a1", username="deploy-bot"),
        account("a2", username="DEPLOY-BOT", origin=Origin.JIT),
    )
    for record in (bot, shadow, account("a3", username="someone")):
        tally.see(record)
    broad = tally.broad()
    assert broad == [BroadEntry(ListName.EXCEPTIONS, "app", "deploy-bot", ("a1", "a2"))]
    found = [*_orphan("a1", username="deploy-bot"), *_orphan("a2", username="DEPLOY-BOT")]
    counted, excepted = Exceptions([_exception("deploy-bot")], NOW, broad).split(found)  # type: ignore[arg-type]
    assert excepted == [] and len(counted) == 2
    assert all("names 2 accounts" in finding.message for finding in counted)
    assert all(finding.detail["exception_names_several"] == ["a1", "a2"] for finding in counted)
    # the same exception, naming one account, suppresses it
    counted, excepted = Exceptions([_exception("deploy-bot")], NOW).split(found[:1])  # type: ignore[arg-type]
    assert counted == [] and len(excepted) == 1


def test_one_account_named_twice_by_an_entry_is_one_account() -> None:
    tally = Tally("app", [(ListName.PROTECTED, "ops@corp.example")])
    tally.see(account("ops@corp.example", username="ops@corp.example", email="OPS@corp.example"))
    assert tally.broad() == []


# end to end ----------------------------------------------------------------------------


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
        }
    ]


def test_every_report_for_people_lists_the_broad_entries(run: Run, estate: Path) -> None:
    base = ("audit", "-c", str(estate), "--now", NOW_TEXT, "--no-history")
    html = run(*base, "-f", "html").stdout
    assert '<section id="allowlist">' in html
    assert "<td>deploy-bot</td><td>u1, u2</td><td>suppresses none of them</td>" in html
    table = run(*base, "-f", "table").stdout
    assert "exceptions entry 'deploy-bot' on app names 2 accounts (u1, u2)" in table
    markdown = run(*base, "-f", "markdown").stdout  # every punctuation mark escaped
    assert r"exceptions entry \'deploy\-bot\' on app names 2 accounts \(u1\, u2\)" in markdown
