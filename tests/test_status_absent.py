"""An identity without a status counts as active, whatever words ``active_status`` lists:
neither its accounts' ``leaver`` nor its own ``ownerless`` may depend on the word
``active`` being among them (an HR export that says "Employed", beside an inventory
that has no status column). Both engines alike."""

from __future__ import annotations

import json
from pathlib import Path

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
