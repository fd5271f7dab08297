"""File connectors: shapes they read, and a clear error naming file and row otherwise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.csv import CsvConnector
from nhirecon.connectors.json import JsonConnector
from nhirecon.connectors.registry import BUILTINS, discover
from nhirecon.connectors.yaml import YamlConnector
from nhirecon.core.model import Origin, Record
from nhirecon.errors import ConnectorError, DataError


def read(
    cls: type[Connector],
    path: Path,
    field_map: dict[str, str] | None = None,
    origin_values: dict[str, Origin] | None = None,
    **options: object,
) -> list[Record]:
    context = ConnectorContext("test", path.parent, field_map or {}, origin_values or {})
    return list(cls(context=context, path=path.name, **options).records())  # type: ignore[call-arg]


def csv_file(tmp_path: Path, body: str | bytes, name: str = "x.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    return path


# CSV ----------------------------------------------------------------------------------


def test_csv_maps_columns_and_parses_values(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "\ufeffuid,mail,on,made,seen,via,team,groups\n"
        " u1 ,A@x.com,Enabled,2025-01-02,2025-03-04T05:06:07+02:00,SSO,Ops,b;a\n",
    )
    [record] = read(
        CsvConnector,
        path,
        {
            "id": "uid",
            "email": "mail",
            "active": "on",
            "created_at": "made",
            "last_login_at": "seen",
            "origin": "via",
            "team": "team",
        },
        {"sso": Origin.JIT},
    )
    # An id is kept exactly as read (a write addresses the account by it); other text is
    # trimmed. Correlation compares ids trimmed, so " u1 " still links to "u1".
    assert record.id == " u1 " and record.email == "A@x.com" and record.active is True
    assert record.created_at == datetime(2025, 1, 2, tzinfo=UTC)
    assert record.last_login_at == datetime(2025, 3, 4, 3, 6, 7, tzinfo=UTC)
    assert record.origin is Origin.JIT
    assert record.attributes == {"team": "Ops"}
    assert record.groups == ("a", "b")
    assert record.location.endswith("x.csv:2")


def test_csv_without_active_column_counts_accounts_as_active(tmp_path: Path) -> None:
    [record] = read(CsvConnector, csv_file(tmp_path, "id,email\n1,a@x.com\n"))
    assert record.active is True and record.origin is Origin.UNKNOWN


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("TRUE", True),
        ("no", False),
        ("1", True),
        ("0", False),
        ("Disabled", False),
        ("inactive", False),
        ("Active", True),
        ("yes", True),
    ],
)
def test_csv_active_accepts_the_usual_words(tmp_path: Path, word: str, expected: bool) -> None:
    [record] = read(CsvConnector, csv_file(tmp_path, f"id,active\n1,{word}\n"))
    assert record.active is expected


def test_csv_origin_value_naming_an_origin_is_taken_as_is(tmp_path: Path) -> None:
    records = read(CsvConnector, csv_file(tmp_path, "id,origin\n1,scim\n2,JIT\n3,\n"))
    assert [record.origin for record in records] == [Origin.SCIM, Origin.JIT, Origin.UNKNOWN]


def test_csv_origin_value_naming_no_origin_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"x.csv:3: origin \(column 'origin'\): 'weird' is not"):
        read(CsvConnector, csv_file(tmp_path, "id,origin\n1,scim\n2,weird\n"))


def test_csv_latin1_when_configured(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "id,display_name\n1,José\n".encode("latin-1"))
    [record] = read(CsvConnector, path, encoding="latin-1")
    assert record.display_name == "José"


CSV_ERRORS = [
    (b"id,active\n1,maybe\n", "x.csv:2: active (column 'active'): 'maybe' is not a yes/no"),
    (b"id,created_at\n1,yesterday\n", "x.csv:2: created_at (column 'created_at'): 'yesterday'"),
    (b"id,created_at\n1,2025-13-01\n", "x.csv:2: created_at"),
    (b"id,email\n1,a\n2,b,c\n", "x.csv:3: 3 fields where the header has 2"),
    (b"id,email\n,a@x.com\n", "x.csv:2: no value for id"),
    (b'id,email\n1,"unclosed\n', "x.csv:2: malformed CSV"),
    (b"id,email\n1,a\x00b\n", "x.csv:2: NUL character"),
    (b"id,email,id\n1,a,1\n", "x.csv:1: column 'id' appears twice"),
    (b"", "x.csv: empty file (no header row)"),
    (b"id,email\n1,Jos\xe9\n", "x.csv:2: not valid utf-8 text"),
    (b"email\na@x.com\n", "no `id` column"),
]


@pytest.mark.parametrize(("body", "message"), CSV_ERRORS)
def test_csv_errors_name_file_and_row(tmp_path: Path, body: bytes, message: str) -> None:
    with pytest.raises(DataError) as caught:
        read(CsvConnector, csv_file(tmp_path, body))
    assert message in str(caught.value)


def test_csv_mapped_column_missing_from_header(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "user_id,mail\n1,a\n")
    with pytest.raises(DataError, match=r"column 'work_email' \(map.email\) not in the header"):
        read(CsvConnector, path, {"id": "user_id", "email": "work_email"})


def test_csv_huge_field_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = csv_file(tmp_path, b"id,email\n1," + b"a" * (2 << 20) + b"\n")
    with pytest.raises(DataError, match="field larger than field limit"):
        read(CsvConnector, path)


def test_csv_header_only_gives_no_records(tmp_path: Path) -> None:
    assert read(CsvConnector, csv_file(tmp_path, "id,email\n")) == []


def test_missing_file_is_a_connector_error(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"absent.csv: file not found"):
        read(CsvConnector, tmp_path / "absent.csv")


# JSON ---------------------------------------------------------------------------------


def test_json_array_with_dotted_paths(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps([{"uid": "1", "profile": {"dept": "Ops"}, "state": "active"}]))
    [record] = read(
        JsonConnector, path, {"id": "uid", "department": "profile.dept", "active": "state"}
    )
    assert record.department == "Ops" and record.active is True
    assert record.location.endswith("x.json:1")  # the line the record starts on


def test_json_lines_report_their_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "1"}\n\n{"id": "2", "created_at": "bad"}\n')
    with pytest.raises(DataError, match=r"x.jsonl:3: created_at"):
        read(JsonConnector, path)


def test_json_lines_invalid_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "1"}\n{"id": \n')
    with pytest.raises(DataError, match=r"x.jsonl:2: invalid JSON"):
        read(JsonConnector, path)


def scim_user(id: str, external: str | None = None, **extra: object) -> dict[str, object]:
    user: dict[str, object] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": f"{id}@x.com",
        "active": True,
        "emails": [
            {"value": f"other-{id}@x.com", "type": "home"},
            {"value": f"{id}@x.com", "type": "work", "primary": True},
        ],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "department": "Ops",
            "manager": {"value": "boss"},
        },
        "meta": {"created": "2025-01-01T00:00:00Z", "version": 'W/"3"'},
        **extra,
    }
    if external:
        user["externalId"] = external
    return user


def list_response(resources: list[dict[str, object]], total: int | None = None) -> str:
    return json.dumps(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(resources) if total is None else total,
            "Resources": resources,
        }
    )


def test_saved_scim_list_response_maps_scim_attributes(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    vendor = "urn:example:params:scim:schemas:extension:activity:2.0:User"
    path.write_text(
        list_response(
            [
                scim_user("a", "E1", **{vendor: {"lastLoginAt": "2026-01-01T00:00:00Z"}}),
                scim_user("b"),
            ]
        )
    )
    first, second = read(JsonConnector, path, {"last_login_at": f"{vendor}:lastLoginAt"})
    assert first.email == "a@x.com" and first.external_id == "E1"
    assert first.department == "Ops" and first.manager == "boss"
    assert first.origin is Origin.SCIM and second.origin is Origin.JIT
    assert first.version == 'W/"3"'
    assert first.last_login_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_one_line_list_response_is_not_taken_for_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(list_response([scim_user("a")]) + "\n")
    [record] = read(JsonConnector, path)
    assert record.id == "a" and record.origin is Origin.JIT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (list_response([scim_user("a")], total=5), "holds 1 resources but totalResults says 5"),
        (
            '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],'
            ' "totalResults": 3}',
            "totalResults 3 but no Resources",
        ),
        ('{"id": 1,\n "x": [}', "invalid JSON"),
        ('{"just": "an object",\n "not": "a list"}', "not a SCIM ListResponse"),
        ("[1, 2]", "bad.json:1: expected an object, got int"),
        ("[" * 100000 + "]" * 100000, "JSON nested too deeply"),
        ("   ", "empty file"),
    ],
)
def test_json_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DataError) as caught:
        read(JsonConnector, path)
    assert message in str(caught.value)
    assert "bad.json" in str(caught.value)


# YAML ---------------------------------------------------------------------------------


def test_yaml_list_under_single_key_with_dates(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("identities:\n  - {id: s1, name: bot, expires: 2026-05-01}\n")
    [record] = read(YamlConnector, path, {"username": "name", "expires_at": "expires"})
    assert record.username == "bot"
    assert record.expires_at == datetime(2026, 5, 1, tzinfo=UTC)
    assert record.location.endswith("inv.yaml:2")


def test_yaml_errors(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("- !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(DataError, match=r"inv.yaml:1: invalid YAML: tag"):
        read(YamlConnector, path)
    path.write_text("a: [1]\nb: [2]\n")
    with pytest.raises(DataError, match="set the connector's `key` option"):
        read(YamlConnector, path)
    path.write_text("- just a string\n")
    with pytest.raises(DataError, match=r"inv.yaml:1: expected a mapping"):
        read(YamlConnector, path)


# the registry -------------------------------------------------------------------------


def test_builtins_are_listed_and_describe_their_options() -> None:
    listed = {available.name: available for available in discover()}
    assert {"csv", "json", "yaml"} <= set(listed)
    assert listed["csv"].origin == "built-in"
    assert "path" in BUILTINS["csv"].options()
    assert BUILTINS["csv"].check_options({"path": 1}) == [("path", "expected a string, got 1")]
    assert BUILTINS["csv"].check_options({}) == [("path", "required by connector 'csv'")]


# plugins ------------------------------------------------------------------------------


class _Entry:
    """Stands in for an installed distribution's entry point."""

    def __init__(self, name: str, target: object) -> None:
        self.name = name
        self.value = f"plugin_pkg:{name}"
        self.dist = None
        self._target = target

    def load(self) -> object:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


class _PluginConnector(CsvConnector):
    name = "plugin-csv"
    description = "a third-party connector"


def test_plugins_are_listed_and_broken_or_clashing_ones_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nhirecon.connectors import registry

    entries = [
        _Entry("plugin-csv", _PluginConnector),
        _Entry("broken", ImportError("no module named plugin_pkg")),
        _Entry("csv", _PluginConnector),
        _Entry("not-a-connector", object),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: entries)
    plugins = {found.name: found for found in registry.discover() if found.origin != "built-in"}
    assert plugins["plugin-csv"].connector is _PluginConnector
    assert plugins["plugin-csv"].origin == "plugin_pkg:plugin-csv"
    assert "failed to load: no module named plugin_pkg" in plugins["broken"].problem
    assert plugins["not-a-connector"].problem == "is not a Connector subclass"
    assert plugins["csv"].connector is None
    assert "clashes with a built-in" in plugins["csv"].problem
    assert registry.lookup("csv") is CsvConnector, "a plugin never replaces a built-in"
    assert registry.lookup("plugin-csv") is _PluginConnector
    assert registry.lookup("broken") is None
    assert "broken" not in registry.names()


class _Renamed(CsvConnector):
    name = "something-else"
    description = "named otherwise than its entry point"


class _Undescribed(Connector):
    name = "undescribed"

    def rows(self) -> Iterator[RawRow]:
        return iter(())


class _ForwardOnly(CsvConnector):
    name = "forward-only"
    description = "an option typed with a name that exists only for type checkers"

    def __init__(self, *, context: ConnectorContext, path: str, limit: Unknowable = 1) -> None:  # type: ignore[name-defined]  # noqa: F821
        super().__init__(context=context, path=path)


def test_plugins_that_would_fail_later_are_skipped_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from nhirecon.connectors import registry

    entries = [
        _Entry("renamed", _Renamed),
        _Entry("undescribed", _Undescribed),
        _Entry("forward-only", _ForwardOnly),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: entries)
    plugins = {found.name: found for found in registry.discover() if found.origin != "built-in"}
    assert all(found.connector is None for found in plugins.values())
    assert "class name is 'something-else', not the entry point's 'renamed'" in (
        plugins["renamed"].problem
    )
    assert plugins["undescribed"].problem == "it has no description"
    assert "annotations do not resolve at run time (NameError" in plugins["forward-only"].problem
    assert registry.lookup("renamed") is None


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e300, 10**400])
def test_a_number_option_that_is_not_finite_or_is_huge_is_refused(value: float) -> None:
    """A NaN, infinite or huge timeout or size failed as an internal error mid-pull (exit
    70): refused as the config is read, naming the option."""
    from nhirecon.connectors.scim import ScimConnector

    problems = ScimConnector.check_options(
        {"url": "https://scim.example.com/v2", "timeout": value, "max_response_mb": value}
    )
    assert [name for name, _ in problems] == ["timeout", "max_response_mb"]
    assert all("expected a number of at most 1e9" in message for _, message in problems)
