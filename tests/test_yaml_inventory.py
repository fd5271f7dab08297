"""A YAML inventory is data: each value is read as written, not as YAML 1.1 guesses its
type, so an employee id ``00012345`` is not the octal number 5349 (another person)."""

from __future__ import annotations

import json
from pathlib import Path

from nhirecon.connectors.base import ConnectorContext
from nhirecon.connectors.yaml import YamlConnector

from .conftest import Run

NOW = "2026-11-28T00:00:00Z"


def test_plain_values_are_the_text_written(tmp_path: Path) -> None:
    (tmp_path / "nhi.yaml").write_text(
        "- {id: 00012345, a: 1:20, b: 0x1F, c: 1.10, d: on, e: true, f: 2026-11-20,\n"
        "   g: 2026-11-20 10:00:00, h: '007', i: ~, j: , k: null, l: .inf, m: 1_000}\n"
    )
    connector = YamlConnector(context=ConnectorContext("inv", tmp_path, {}, {}), path="nhi.yaml")
    [row] = list(connector.rows())
    assert {name: row.lookup(name) for name in "abcdefghijklm"} | {"id": row.lookup("id")} == {
        "id": "00012345",
        "a": "1:20",
        "b": "0x1F",
        "c": "1.10",
        "d": "on",
        "e": "true",
        "f": "2026-11-20",
        "g": "2026-11-20 10:00:00",
        "h": "007",
        "i": None,
        "j": None,
        "k": None,
        "l": ".inf",
        "m": "1_000",
    }


def test_an_owner_id_with_a_leading_zero_is_that_owner(run: Run, tmp_path: Path) -> None:
    """Read as YAML 1.1 reads it, ``00012345`` (a leaver) was 5349 (active): the
    service account's owner looked present and no ``ownerless`` finding was made."""
    (tmp_path / "hr.csv").write_text(
        "employee_id,email,status\n"
        "00012345,ana@corp.example,terminated\n"
        "5349,bo@corp.example,active\n"
    )
    (tmp_path / "nhi.yaml").write_text(
        "- {id: svc-deploy, type: service_account, owner: 00012345, status: active}\n"
    )
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source:\n"
        "  name: hr\n"
        "  connector: csv\n"
        "  path: hr.csv\n"
        "  map: {id: employee_id, email: email, status: status}\n"
        "  include:\n"
        "    - {connector: yaml, path: nhi.yaml,\n"
        "       map: {id: id, kind: type, owner: owner, status: status}}\n"
        "targets: []\n"
    )
    done = run("audit", "-c", "nhirecon.yaml", "--now", NOW, "--no-history", "-f", "json")
    assert done.returncode == 0, done.stderr
    [finding] = json.loads(done.stdout)["findings"]
    assert finding["kind"] == "ownerless"
    assert finding["identity"]["owner"] == "00012345"


def test_a_yaml_boolean_is_still_a_yes_no_for_a_yes_no_field(tmp_path: Path) -> None:
    """``active: on`` meant active to every YAML 1.1 writer; ``owner: on`` is a name."""
    (tmp_path / "nhi.yaml").write_text(
        "- {id: a1, owner: on, active: on, password_enabled: Off}\n"
        "- {id: a2, owner: yes, active: NO, password_enabled: YES}\n"
        "- {id: a3, owner: 'on', active: 'true'}\n"
    )
    context = ConnectorContext(
        "inv",
        tmp_path,
        {},
        {"owner": "owner", "active": "active", "password_enabled": "password_enabled"},
    )
    connector = YamlConnector(context=context, path="nhi.yaml")
    records = list(connector.records())
    assert [(r.owner, r.active, r.password_enabled) for r in records] == [
        ("on", True, False),
        ("yes", False, True),
        ("on", True, None),
    ]
