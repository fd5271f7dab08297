"""An identity without a status counts as active, whatever words ``active_status`` lists:
neither its accounts' ``leaver`` nor its own ``ownerless`` may depend on the word
``active`` being among them (an HR export that says "Employed", beside an inventory
that has no status column). Both engines alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import NOW, Run


@pytest.mark.parametrize("engine", ["python", "columnar"])
@pytest.mark.parametrize("status_column", [True, False], ids=["blank", "no-column"])
def test_an_identity_without_a_status_is_active(
    run: Run, tmp_path: Path, engine: str, status_column: bool
) -> None:
    rows = ["E1,u1@c.x,u1,Employed,,", "E2,u2@c.x,u2,,,", "S1,,svc1,,service_account,nobody"]
    if status_column:
        hr = "id,email,username,status,kind,owner\n" + "\n".join(rows) + "\n"
        status = "status: status, "
    else:
        hr = (
            "id,email,username,kind,owner\n"
            + "\n".join(
                ",".join(cell for index, cell in enumerate(row.split(",")) if index != 3)
                for row in rows
            )
            + "\n"
        )
        status = ""
    (tmp_path / "hr.csv").write_text(hr)
    (tmp_path / "app.csv").write_text(
        "id,email,username,active\na1,u1@c.x,u1,true\na2,u2@c.x,u2,true\na4,,svc1,true\n"
    )
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, active_status: [Employed, leave],\n"
        f"         map: {{id: id, email: email, username: username, {status}kind: kind,"
        " owner: owner}}\n"
        "targets:\n"
        "  - {name: app, connector: csv, path: app.csv,\n"
        "     map: {id: id, email: email, username: username, active: active},\n"
        "     correlate: [{account: email, identity: email},"
        " {account: username, identity: username}]}\n"
    )
    done = run(
        "audit", "-c", "nhirecon.yaml", "--now", NOW, "--no-history", "-f", "json",
        "--engine", engine,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = sorted(
        (f["kind"], (f["account"] or f["identity"])["id"])
        for f in json.loads(done.stdout)["findings"]
    )
    assert found == [("ownerless", "S1")]


APP_TARGET = (
    "targets:\n  - {name: app, connector: csv, path: app.csv,"
    " correlate: [{account: email, identity: email}]}\n"
)


def audited(run: Run) -> tuple[Any, dict[str, Any]]:
    """The JSON audit of the folder's ``nhirecon.yaml``, which must pass."""
    done = run("audit", "-c", "nhirecon.yaml", "--now", NOW, "--no-history", "-f", "json")
    assert done.returncode == 0, done.stderr
    return done, json.loads(done.stdout)


@pytest.mark.parametrize("hr_status", ["renamed", "empty"])
def test_an_include_with_a_status_never_hides_an_input_without_one(
    run: Run, tmp_path: Path, hr_status: str
) -> None:
    """HR's status column renamed away (or empty in every row), beside an inventory that
    has one: HR's people all count as active and no account is a leaver's. Said per input,
    as it is for a source of one input, not hidden by the inventory's statuses."""
    column = "EmploymentStatus" if hr_status == "renamed" else "status"
    cells = ("active", "terminated") if hr_status == "renamed" else ("", "")
    (tmp_path / "hr.csv").write_text(
        f"id,email,{column}\nE1,alice@x.example,{cells[0]}\nE2,bob@x.example,{cells[1]}\n"
    )
    (tmp_path / "inv.yaml").write_text(
        "- {id: N1, name: svc1, type: service_account, owner: E1, status: active}\n"
    )
    (tmp_path / "app.csv").write_text("id,email,active\na2,bob@x.example,true\n")
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: id, email: email},\n"
        "         include: [{connector: yaml, path: inv.yaml,\n"
        "                    map: {id: id, username: name, kind: type, owner: owner,"
        " status: status}}]}\n" + APP_TARGET
    )
    done, report = audited(run)
    skipped = report["source"]["not_evaluated"]
    said = [item["reason"] for item in skipped if item["rule"] == "leaver"]
    if hr_status == "renamed":
        assert said == [
            "source (hr.csv) provides no status: its 2 identities count as active, so no account"
            " is found to belong to a leaver among them"
        ]
    else:
        assert said == []
        assert "no identity of source (hr.csv) has a status (the column is empty)" in done.stderr
    assert [item.get("input") for item in skipped if item["rule"] == "leaver"] == (
        ["source"] if hr_status == "renamed" else []
    )
    text = run("audit", "-c", "nhirecon.yaml", "--now", NOW, "--no-history", "-f", "table")
    assert ("leaver (hr: source)" in text.stdout) is (hr_status == "renamed")


def test_an_include_without_what_human_use_reads_is_said_and_the_others_findings_stand(
    run: Run, tmp_path: Path
) -> None:
    """Two inventories of service accounts: one says which have a console password, the
    other (its column renamed) does not. The first's ``human-use`` stands; the second is
    listed as not checked, rather than hidden by the first's column."""
    (tmp_path / "hr.csv").write_text("id,email,status\nE1,alice@x.example,active\n")
    (tmp_path / "inv1.yaml").write_text(
        "- {id: N1, name: svc1, type: service_account, owner: E1, console: true}\n"
    )
    (tmp_path / "inv2.yaml").write_text(
        "- {id: N2, name: svc2, type: service_account, owner: E1, console_password: true}\n"
    )
    (tmp_path / "app.csv").write_text("id,email,active\na1,alice@x.example,true\n")
    inventory = "map: {id: id, username: name, kind: type, owner: owner"
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: id, email: email,"
        " status: status},\n"
        f"         include: [{{connector: yaml, path: inv1.yaml, {inventory},"
        " password_enabled: console}},\n"
        f"                   {{connector: yaml, path: inv2.yaml, {inventory}}}}}]}}\n" + APP_TARGET
    )
    _, report = audited(run)
    found = sorted((f["kind"], (f["account"] or f["identity"])["id"]) for f in report["findings"])
    assert ("human-use", "N1") in found
    [item] = [i for i in report["source"]["not_evaluated"] if i["rule"] == "human-use"]
    assert item["input"] == "source.include[1]"
    assert item["reason"] == (
        "source.include[1] (inv2.yaml) provides no password_enabled or last_interactive_login_at:"
        " its non-human identity is not checked for human-use"
    )
