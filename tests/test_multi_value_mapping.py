"""Fields that hold several values, as the exports carry them (SPEC §3.1, §4): a JSON or YAML
list, SCIM ``emails`` with or without ``primary``, a list mixing objects and bare strings,
a ``map`` entry naming several columns, and a path selection that matches several items."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.connectors.base import Connector, ConnectorContext
from nhirecon.connectors.csv import CsvConnector
from nhirecon.connectors.json import JsonConnector
from nhirecon.connectors.yaml import YamlConnector
from nhirecon.core.model import Record
from nhirecon.errors import ConfigError, DataError

NOW = datetime(2026, 11, 28, tzinfo=UTC)
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def read(cls: type[Connector], path: Path, field_map: dict[str, Any] | None = None) -> list[Record]:
    context = ConnectorContext("test", path.parent, field_map or {})
    return list(cls(context=context, path=path.name).records())  # type: ignore[call-arg]


def json_file(tmp_path: Path, data: object, name: str = "app.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def list_response(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [LIST_RESPONSE], "totalResults": len(resources), "Resources": resources}


# JSON and YAML lists --------------------------------------------------------------------


def test_a_json_list_gives_the_field_every_value(tmp_path: Path) -> None:
    path = json_file(
        tmp_path, [{"id": "a1", "email": ["nina.n@mail.example", "nina@corp.example"]}]
    )
    [record] = read(JsonConnector, path)
    assert record.values("email") == ("nina.n@mail.example", "nina@corp.example")
    assert record.email == "nina.n@mail.example"  # shown; correlation uses them all


def test_a_list_mixing_objects_and_bare_strings_is_read(tmp_path: Path) -> None:
    path = json_file(
        tmp_path, [{"id": "a1", "email": ["x@corp.example", {"value": "nina@corp.example"}]}]
    )
    [record] = read(JsonConnector, path)
    assert record.values("email") == ("x@corp.example", "nina@corp.example")


@pytest.mark.parametrize(
    ("listed", "values"),
    [
        (["a@x.com"], ("a@x.com",)),
        (["a@x.com", " a@x.com ", None, ""], ("a@x.com",)),
        ([], ()),
        ([{"value": "b@x.com", "primary": True}, "a@x.com"], ("b@x.com", "a@x.com")),
    ],
)
def test_lists_of_one_value_are_single_values(
    tmp_path: Path, listed: list[Any], values: tuple[str, ...]
) -> None:
    [record] = read(JsonConnector, json_file(tmp_path, [{"id": "a1", "email": listed}]))
    assert record.values("email") == values
    assert ("email" in record.multi_values) is (len(values) > 1)


def test_a_yaml_list_of_usernames(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("- id: svc-1\n  username: [deploy, deploy-bot]\n  kind: bot\n")
    [record] = read(YamlConnector, path)
    assert record.values("username") == ("deploy", "deploy-bot")
    assert record.username == "deploy"


def test_custom_attributes_may_hold_several_values(tmp_path: Path) -> None:
    path = json_file(tmp_path, [{"id": "a1", "aliases": ["n.n", "nn"]}])
    [record] = read(JsonConnector, path, {"id": "id", "upn": "aliases"})
    assert record.attributes["upn"] == "n.n"
    assert record.values("upn") == ("n.n", "nn")


def test_a_field_that_holds_one_value_refuses_several(tmp_path: Path) -> None:
    path = json_file(tmp_path, [{"id": "a1", "status": ["active", "terminated"]}])
    with pytest.raises(DataError, match=r"app.json:1: status .*got a list of 2 values"):
        read(JsonConnector, path)
    one = json_file(tmp_path, [{"id": "a1", "status": ["active"]}], "one.json")
    assert read(JsonConnector, one)[0].status == "active"


def test_an_object_without_value_in_a_list_is_an_error(tmp_path: Path) -> None:
    path = json_file(tmp_path, [{"id": "a1", "email": [{"type": "work", "address": "a@x"}]}])
    with pytest.raises(DataError, match=r"app.json:1: email .*object without `value`"):
        read(JsonConnector, path)


# SCIM emails ----------------------------------------------------------------------------


def scim_user(emails: list[Any], **extra: Any) -> dict[str, Any]:
    return {"id": "u1", "userName": "nina", "emails": emails, **extra}


def test_scim_emails_without_primary_keep_every_value_in_the_order_read(tmp_path: Path) -> None:
    emails = [
        {"type": "home", "value": "nina.n@mail.example"},
        {"type": "work", "value": "nina@corp.example"},
    ]
    [record] = read(JsonConnector, json_file(tmp_path, list_response(scim_user(emails))))
    assert record.values("email") == ("nina.n@mail.example", "nina@corp.example")


def test_scim_primary_is_shown_first_but_every_value_is_kept(tmp_path: Path) -> None:
    emails = [
        {"type": "home", "value": "nina.n@mail.example"},
        {"type": "work", "value": "nina@corp.example", "Primary": True},
    ]
    [record] = read(JsonConnector, json_file(tmp_path, list_response(scim_user(emails))))
    assert record.email == "nina@corp.example"
    assert record.values("email") == ("nina@corp.example", "nina.n@mail.example")


def test_scim_emails_mixing_an_object_and_a_bare_string(tmp_path: Path) -> None:
    emails = ["x@corp.example", {"value": "nina@corp.example"}]
    [record] = read(JsonConnector, json_file(tmp_path, list_response(scim_user(emails))))
    assert record.values("email") == ("x@corp.example", "nina@corp.example")


@pytest.mark.parametrize(
    ("path", "values"),
    [
        ('emails[type eq "work"].value', ("nina@corp.example", "n.n@corp.example")),
        ("emails[type=work].value", ("nina@corp.example", "n.n@corp.example")),
        ("emails[type=home].value", ("nina.n@mail.example",)),
        ("emails[type=other].value", ()),
        ("emails[1].value", ("nina@corp.example",)),
        ("emails.value", ("nina.n@mail.example", "nina@corp.example", "n.n@corp.example")),
    ],
)
def test_a_selection_keeps_every_matching_item(
    tmp_path: Path, path: str, values: tuple[str, ...]
) -> None:
    emails = [
        {"type": "home", "value": "nina.n@mail.example"},
        {"type": "Work", "value": "nina@corp.example"},
        {"type": "work", "value": "n.n@corp.example"},
    ]
    scim = json_file(tmp_path, list_response(scim_user(emails)), "scim.json")
    [record] = read(JsonConnector, scim, {"email": path})
    assert record.values("email") == values
    plain = json_file(tmp_path, [scim_user(emails)], "plain.json")
    [record] = read(JsonConnector, plain, {"email": path})
    assert record.values("email") == values


# several columns ------------------------------------------------------------------------


def test_a_map_entry_naming_several_columns_reads_them_all(tmp_path: Path) -> None:
    path = tmp_path / "app.csv"
    path.write_text(
        "uid,mail,alt\n"
        "a1,nina.n@mail.example,nina@corp.example\n"
        "a2,,omar@corp.example\n"
        "a3,same@corp.example,SAME@corp.example\n"
        "a4,same@corp.example,same@corp.example\n"
    )
    records = read(CsvConnector, path, {"id": "uid", "email": ("mail", "alt")})
    assert [record.values("email") for record in records] == [
        ("nina.n@mail.example", "nina@corp.example"),
        ("omar@corp.example",),
        ("same@corp.example", "SAME@corp.example"),
        ("same@corp.example",),
    ]


def test_a_missing_column_among_several_is_named(tmp_path: Path) -> None:
    path = tmp_path / "app.csv"
    path.write_text("uid,mail\na1,a@x.com\n")
    with pytest.raises(DataError, match=r"column 'alt' \(map.email\) not in the header"):
        read(CsvConnector, path, {"id": "uid", "email": ("mail", "alt")})


CONFIG = """\
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {{id: employee_id, email: {hr_email}, status: status}}
targets:
  - name: app
    connector: csv
    path: app.csv
    map: {{id: uid, email: {app_email}, origin: via}}
    correlate: [{{account: email, identity: email}}]
    remediate: {{orphan: disable, jit-orphan: disable}}
"""
HR = """\
employee_id,work_email,alias,status
E7,nina@corp.example,,active
E8,omar@corp.example,ops@corp.example,active
E9,gone@corp.example,,terminated
"""
APP = """\
uid,mail,alt,via
a1,nina.n@mail.example,nina@corp.example,jit
a2,gone@corp.example,omar@corp.example,jit
a3,x@mail.example,,jit
a4,ops@corp.example,,jit
"""


def audit(tmp_path: Path, hr_email: str, app_email: str) -> dict[str, Any]:
    (tmp_path / "hr.csv").write_text(HR)
    (tmp_path / "app.csv").write_text(APP)
    path = tmp_path / "nhirecon.yaml"
    path.write_text(CONFIG.format(hr_email=hr_email, app_email=app_email))
    report = pipeline.audit(config.load(path), now=NOW)
    found: dict[str, list[tuple[str, str | None]]] = {}
    for finding in report.findings:
        if finding.account is not None:
            identity = finding.identity.id if finding.identity else None
            found.setdefault(finding.account.id, []).append((finding.kind.value, identity))
            if finding.kind.value == "ambiguous":
                assert finding.remediation.value == "manual"
    return {account: sorted(kinds) for account, kinds in found.items()}


def test_several_columns_correlate_on_every_value_in_an_audit(tmp_path: Path) -> None:
    found = audit(tmp_path, "[work_email, alias]", "[mail, alt]")
    assert found == {
        "a1": [("unmanaged", "E7")],  # her work address is in the second column: linked
        "a2": [("ambiguous", None)],  # a leaver's address and another's: never guessed
        "a3": [("jit-orphan", None)],
        "a4": [("unmanaged", "E8")],  # an identity's second column finds it
    }


def test_one_column_each_side_is_correlated_as_before(tmp_path: Path) -> None:
    found = audit(tmp_path, "work_email", "mail")
    assert found == {
        "a1": [("jit-orphan", None)],
        "a2": [("leaver", "E9"), ("unmanaged", "E9")],
        "a3": [("jit-orphan", None)],
        "a4": [("jit-orphan", None)],
    }


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("status: [a, b]", "'status' reads one column; several columns are for fields"),
        ("active: [a, b]", "'active' reads one column"),
        ("last_login_at: []", "names no column"),
        ("email: []", "names no column"),
        ("email: [mail, 3]", "expected a non-empty string"),
    ],
)
def test_several_columns_only_where_a_field_can_hold_several_values(
    tmp_path: Path, entry: str, message: str
) -> None:
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            version: 1
            source: {{name: hr, connector: csv, path: hr.csv, map: {{id: id}}}}
            targets:
              - name: app
                connector: csv
                path: app.csv
                map:
                  id: uid
                  {entry}
            """
        )
    )
    with pytest.raises(ConfigError, match=message) as caught:
        config.load(path)
    assert "targets[0].map." in str(caught.value)


def test_the_primary_address_alone_can_be_named(tmp_path: Path) -> None:
    emails = [
        {"type": "home", "value": "nina.n@mail.example"},
        {"type": "work", "value": "nina@corp.example", "primary": True},
    ]
    path = json_file(tmp_path, list_response(scim_user(emails)))
    [record] = read(JsonConnector, path, {"email": "emails[primary eq true].value"})
    assert record.values("email") == ("nina@corp.example",)
