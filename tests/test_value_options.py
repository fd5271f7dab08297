"""The value options of an input (SPEC §3.1, §3.2): "no value" words, date formats and
zones, closed word lists for ``active``, ``kind`` and ``origin``, ``where`` filters,
repeated rows, several date columns, names that find no data, and the coverage of a pull."""

from __future__ import annotations

import json
import logging
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.context import ValueOptions
from nhirecon.connectors.csv import CsvConnector
from nhirecon.connectors.json import JsonConnector
from nhirecon.connectors.yaml import YamlConnector
from nhirecon.core.model import Origin
from nhirecon.errors import ConfigError, DataError

MAPPING_LOG = "nhirecon.connectors.mapping"


def context(
    folder: Path,
    field_map: dict[str, Any] | None = None,
    *,
    origins: dict[str, Origin] | None = None,
    correlated: frozenset[str] | None = None,
    key: str = "targets[0]",
    **options: Any,
) -> ConnectorContext:
    return ConnectorContext(
        "app",
        folder,
        field_map or {},
        origins or {},
        key=key,
        value_options=ValueOptions(**options),
        correlated=correlated,
    )


def csv_records(tmp_path: Path, body: str, field_map: dict[str, Any] | None = None, **kw: Any):
    (tmp_path / "x.csv").write_text(textwrap.dedent(body).lstrip(), encoding="utf-8")
    connector = CsvConnector(context=context(tmp_path, field_map, **kw), path="x.csv")
    return list(connector.records()), connector


def json_records(tmp_path: Path, items: list[Any], field_map: dict[str, Any], **kw: Any):
    (tmp_path / "x.json").write_text(json.dumps(items), encoding="utf-8")
    connector = JsonConnector(context=context(tmp_path, field_map, **kw), path="x.json")
    return list(connector.records()), connector


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


# null_values ------------------------------------------------------------------------------


def test_null_values_are_no_value_in_every_field_in_any_case(tmp_path: Path) -> None:
    records, _ = csv_records(
        tmp_path,
        """
        id,email,department,groups,last_login_at,active,kind
        A1, n/a ,N/A,a;N/A,N/A,N/A,n/a
        A2,b@x.com,Ops,b,2026-01-01,true,bot
        """,
        null_values=frozenset({"n/a"}),
    )
    first, second = records
    assert first.email is None and first.department is None and first.last_login_at is None
    assert first.groups == ("a",) and first.active is True and first.kind == "human"
    assert second.email == "b@x.com" and second.kind == "bot"


def test_null_values_drop_items_of_a_json_list(tmp_path: Path) -> None:
    [record], _ = json_records(
        tmp_path,
        [{"id": "a1", "email": ["N/A", "a@x.com"], "last_login_at": ["N/A"]}],
        {"id": "id", "email": "email", "last_login_at": "last_login_at"},
        null_values=frozenset({"n/a"}),
    )
    assert record.values("email") == ("a@x.com",) and record.last_login_at is None


# dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "raw", "expected"),
    [
        ("iso", "2026-11-20T07:41:12.000+0000", "2026-11-20T07:41:12"),
        ("iso", "2026-11-20T07:41:12.1234567+01:00", "2026-11-20T06:41:12.123456"),
        ("%Y/%m/%d %H:%M:%S", "2026/11/20 07:41:12", "2026-11-20T07:41:12"),
        ("%d %b %Y %H:%M:%S", "20 Nov 2026 07:41:12", "2026-11-20T07:41:12"),
        ("%m/%d/%Y %I:%M:%S %p", "11/20/2026 7:41:12 AM", "2026-11-20T07:41:12"),
        ("%d.%m.%Y", "20.11.2026", "2026-11-20T00:00:00"),
        ("%Y-%m-%d %H:%M:%S%z", "2026-11-20 08:41:12+0100", "2026-11-20T07:41:12"),
        ("epoch", "1795160472", "2026-11-20T07:41:12"),
        ("epoch", "1795160472.5", "2026-11-20T07:41:12.500000"),
        ("epoch_ms", "1795160472000", "2026-11-20T07:41:12"),
        ("filetime", "134396340720000000", "2026-11-20T07:41:12"),
    ],
)
def test_each_date_format_reads_its_spelling(
    tmp_path: Path, form: str, raw: str, expected: str
) -> None:
    [record], _ = csv_records(
        tmp_path, f'id,seen\nA1,"{raw}"\n', {"last_login_at": "seen"}, date_format=form
    )
    assert record.last_login_at == at(expected)


@pytest.mark.parametrize(
    ("form", "raw"),
    [
        ("iso", "0001-01-01T00:00:00Z"),
        ("iso", "0001-01-01 13:14:15"),
        ("iso", "0001-01-01T00:00:00.0000000Z"),
        ("iso", "0001-01-01"),
        ("iso", "1601-01-01T00:00:00Z"),
        ("iso", "1601-01-01 00:00:00+00:00"),
        ("iso", "0"),
        ("iso", "9223372036854775807"),
        ("filetime", "0"),
        ("filetime", "9223372036854775807"),
        ("epoch", "0"),
        ("%d.%m.%Y", "01.01.0001"),
        ("%d.%m.%Y", "0001-01-01T00:00:00Z"),
    ],
)
def test_never_sentinels_are_no_date_in_every_format(tmp_path: Path, form: str, raw: str) -> None:
    [record], _ = csv_records(
        tmp_path,
        f"id,seen\nA1,{raw}\n",
        {"last_login_at": "seen"},
        date_format=form,
        timezone="Europe/Berlin",
    )
    assert record.last_login_at is None


def test_date_formats_override_the_format_for_one_field(tmp_path: Path) -> None:
    [record], _ = csv_records(
        tmp_path,
        "id,made,ends,seen\nA1,2025-01-02,31.12.2026,134396340720000000\n",
        {"created_at": "made", "expires_at": "ends", "last_login_at": "seen"},
        date_formats={"expires_at": "%d.%m.%Y", "last_login_at": "filetime"},
    )
    assert record.created_at == at("2025-01-02T00:00:00")
    assert record.expires_at == at("2026-12-31T00:00:00")
    assert record.last_login_at == at("2026-11-20T07:41:12")


def test_timezone_places_dates_without_a_zone_and_leaves_zoned_ones(tmp_path: Path) -> None:
    [local, zoned, summer], _ = csv_records(
        tmp_path,
        """
        id,ends
        A1,2026-11-28 05:00:00
        A2,2026-11-28T05:00:00Z
        A3,2026-07-01
        """,
        {"expires_at": "ends"},
        timezone="Asia/Tokyo",
    )
    assert local.expires_at == at("2026-11-27T20:00:00")
    assert zoned.expires_at == at("2026-11-28T05:00:00")
    assert summer.expires_at == at("2026-06-30T15:00:00")


def test_yaml_timestamps_take_the_timezone_too(tmp_path: Path) -> None:
    (tmp_path / "inv.yaml").write_text("- {id: s1, ends: 2026-10-31, seen: 0001-01-01}\n")
    connector = YamlConnector(
        context=context(
            tmp_path, {"expires_at": "ends", "last_login_at": "seen"}, timezone="Europe/Berlin"
        ),
        path="inv.yaml",
    )
    [record] = connector.records()
    assert record.expires_at == at("2026-10-30T23:00:00") and record.last_login_at is None


@pytest.mark.parametrize(
    ("form", "raw", "message"),
    [
        ("iso", "11/20/2026", "'11/20/2026' is not an ISO-8601 date or datetime"),
        ("%d.%m.%Y", "2026-11-20", "'2026-11-20' does not match the date format '%d.%m.%Y'"),
        ("epoch", "yesterday", "'yesterday' is not a number of seconds since 1970-01-01"),
        ("epoch", "1e9", "'1e9' is not a number of seconds"),
        ("epoch_ms", "9" * 30, "is out of range as milliseconds since 1970-01-01"),
        ("filetime", "-5", "'-5' is not a FILETIME"),
        ("filetime", "①", "'①' is not a FILETIME"),
        ("filetime", "1²", "'1²' is not a FILETIME"),
        ("filetime", "9223372036854775806", "is out of range as a FILETIME"),
        ("filetime", "9" * 4400, "is out of range as a FILETIME"),
        ("epoch", "9" * 4400, "is out of range as seconds since 1970-01-01"),
        ("epoch_ms", "-" + "9" * 4400, "is out of range as milliseconds since 1970-01-01"),
        ("iso", "0001-01-01T00:00:00+01:00", "is out of range in UTC"),
    ],
)
def test_a_date_that_does_not_parse_names_row_field_column_and_value(
    tmp_path: Path, form: str, raw: str, message: str
) -> None:
    with pytest.raises(DataError) as caught:
        csv_records(tmp_path, f"id,seen\nA1,{raw}\n", {"last_login_at": "seen"}, date_format=form)
    text = str(caught.value)
    assert "x.csv:2: " in text and "last_login_at (column 'seen')" in text and message in text


def test_a_repeated_raw_date_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nhirecon.connectors import dates

    calls: list[str] = []
    iso = dates._CONVERTERS["iso"]
    monkeypatch.setitem(dates._CONVERTERS, "iso", lambda value: calls.append(value) or iso(value))
    body = "id,seen\n" + "".join(f"A{n},2026-11-20T07:41:12Z\n" for n in range(50))
    records, _ = csv_records(tmp_path, body, {"last_login_at": "seen"})
    assert len(records) == 50 and calls == ["2026-11-20T07:41:12Z"]


# several date columns ---------------------------------------------------------------------


def test_a_credential_of_several_columns_is_as_old_as_its_oldest(tmp_path: Path) -> None:
    """Two keys, one rotated in 2023: the account's credential is that old, or the stale
    key hides behind the fresh one."""
    records, _ = csv_records(
        tmp_path,
        "id,key1_rotated,key2_rotated,created\nsvc-etl,2023-01-01,2026-11-01,2022-05-01\n",
        {"credential_rotated_at": ["key1_rotated", "key2_rotated"], "created_at": ["created"]},
    )
    assert records[0].credential_rotated_at == at("2023-01-01T00:00:00")
    assert records[0].created_at == at("2022-05-01T00:00:00")


def test_several_date_columns_give_the_latest_date(tmp_path: Path) -> None:
    records, _ = csv_records(
        tmp_path,
        """
        user,password_last_used,key_1_last_used
        a,2026-01-01T00:00:00+00:00,2026-11-20T00:00:00+00:00
        b,2026-11-21T00:00:00+00:00,N/A
        c,N/A,no_information
        """,
        {"id": "user", "last_login_at": ["password_last_used", "key_1_last_used"]},
        null_values=frozenset({"n/a", "no_information"}),
    )
    assert [record.last_login_at for record in records] == [
        at("2026-11-20T00:00:00"),
        at("2026-11-21T00:00:00"),
        None,
    ]


def test_a_bad_date_in_any_of_several_columns_names_that_column(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"x.csv:2: last_login_at \(column 'b'\): 'soon'"):
        csv_records(tmp_path, "id,a,b\nA1,2026-01-01,soon\n", {"last_login_at": ["a", "b"]})


# active, kind, origin: closed word lists ---------------------------------------------------


@pytest.mark.parametrize("word", ["on", "off", "y", "n", "suspended", "2", "enabled!"])
def test_active_accepts_only_the_usual_words(tmp_path: Path, word: str) -> None:
    with pytest.raises(
        DataError, match=rf"x.csv:2: active \(column 'active'\): '{word}' is not a yes/no"
    ):
        csv_records(tmp_path, f"id,active\nA1,{word}\n")


def test_active_values_are_the_only_words_read(tmp_path: Path) -> None:
    words = {"active": True, "locked_out": True, "suspended": False}
    records, _ = csv_records(
        tmp_path,
        "id,state\nA1,ACTIVE\nA2,Locked_Out\nA3,SUSPENDED\n",
        {"active": "state"},
        active_values=words,
    )
    assert [record.active for record in records] == [True, True, False]
    with pytest.raises(
        DataError, match=r"x.csv:2: active \(column 'state'\): 'true' is not listed"
    ):
        csv_records(tmp_path, "id,state\nA1,true\n", {"active": "state"}, active_values=words)


def test_a_kind_outside_the_canonical_kinds_is_an_error(tmp_path: Path) -> None:
    records, _ = csv_records(tmp_path, "id,kind\nS1,Service_Account\nS2,workload\nH1,\n")
    assert [record.kind for record in records] == ["service_account", "workload", "human"]
    with pytest.raises(
        DataError, match=r"x.csv:3: kind \(column 'kind'\): 'employee' is not a kind"
    ):
        csv_records(tmp_path, "id,kind\nS1,bot\nE1,employee\n")


def test_kind_values_map_the_exports_words(tmp_path: Path) -> None:
    kinds = {"employee": "human", "contractor": "human", "svc": "service_account"}
    records, _ = csv_records(
        tmp_path,
        "id,type\nE1,Employee\nE2,contractor\nS1,svc\nB1,bot\n",
        {"kind": "type"},
        kind_values=kinds,
    )
    assert [record.kind for record in records] == ["human", "human", "service_account", "bot"]
    with pytest.raises(DataError, match=r"'intern' is not a kind .* nor listed in kind_values"):
        csv_records(tmp_path, "id,type\nE1,intern\n", {"kind": "type"}, kind_values=kinds)


def test_origin_values_are_closed(tmp_path: Path) -> None:
    origins = {"sso": Origin.JIT, "admin": Origin.MANUAL}
    records, _ = csv_records(
        tmp_path, "id,via\n1,SSO\n2,admin\n3,scim\n4,\n", {"origin": "via"}, origins=origins
    )
    assert [record.origin for record in records] == [
        Origin.JIT,
        Origin.MANUAL,
        Origin.SCIM,
        Origin.UNKNOWN,
    ]
    with pytest.raises(
        DataError, match=r"x.csv:2: origin \(column 'via'\): 'saml' is not an origin"
    ):
        csv_records(tmp_path, "id,via\n1,saml\n", {"origin": "via"}, origins=origins)


# where, where_not --------------------------------------------------------------------------


def test_where_keeps_only_the_listed_values_and_where_not_drops(tmp_path: Path) -> None:
    body = """
        id,userType,seen
        A1,Member,2026-01-01
        A2,guest,never
        A3, MEMBER ,never
        A4,,never
        """
    records, connector = csv_records(
        tmp_path,
        body,
        {"last_login_at": "seen"},
        where={"userType": frozenset({"member"})},
        where_not={"id": frozenset({"a3"})},
    )
    assert [record.id for record in records] == ["A1"]
    assert connector.coverage is not None and connector.coverage.dropped == 3


def test_where_on_a_mapped_field_reads_its_column_and_json_lists(tmp_path: Path) -> None:
    items = [
        {"id": "a1", "type": "Member", "roles": ["x", "admin"]},
        {"id": "a2", "type": "Guest", "roles": [{"value": "admin"}]},
        {"id": "a3", "type": "Member", "roles": []},
    ]
    records, _ = json_records(
        tmp_path,
        items,
        {"id": "id", "kind_word": "type", "roles": "roles"},
        where={"kind_word": frozenset({"member"})},
        where_not={"roles": frozenset({"admin"})},
    )
    assert [record.id for record in records] == ["a3"]


def test_a_where_column_the_header_lacks_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"x.csv:1: column 'userType' \(targets\[0\].where.userType\)"
    ):
        csv_records(tmp_path, "id\nA1\n", where={"userType": frozenset({"member"})})


def test_a_where_path_no_record_has_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"x.json: 'userType' \(targets\[0\].where_not.userType\)"):
        json_records(
            tmp_path, [{"id": "a"}], {"id": "id"}, where_not={"userType": frozenset({"g"})}
        )


# repeated rows -----------------------------------------------------------------------------


def test_a_repeated_id_is_an_error_naming_both_rows(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"x.csv:4: account id 'A1' already read at .*x.csv:2 .*merge"
    ):
        csv_records(tmp_path, "id,groups\nA1,a\nA2,b\nA1,c\n")
    with pytest.raises(DataError, match=r"identity id 'A1' already read"):
        csv_records(tmp_path, "id,groups\nA1,a\nA1,c\n", key="source")


def test_merged_rows_unite_groups_and_values_and_take_the_latest_date(tmp_path: Path) -> None:
    records, connector = csv_records(
        tmp_path,
        """
        id,email,alias,group,seen,status,team,rotated
        A1,a@x.com,a1,admins,2026-01-01,active,ops,2026-11-01
        A2,b@x.com,b1,staff,,active,,
        A1,a@x.com,a2,staff,2026-03-01,,dev,2023-01-01
        A1,A2@x.com,,staff,2025-01-01,active,,2025-06-01
        """,
        {
            "groups": "group",
            "last_login_at": "seen",
            "username": "alias",
            "team": "team",
            "credential_rotated_at": "rotated",
        },
        repeated_rows="merge",
    )
    first, second = records
    assert first.id == "A1" and first.location.endswith("x.csv:2")
    assert first.groups == ("admins", "staff")
    assert first.values("email") == ("a@x.com", "A2@x.com")
    assert first.values("username") == ("a1", "a2") and first.username == "a1"
    assert first.values("team") == ("ops", "dev") and first.attributes["team"] == "ops"
    assert first.last_login_at == at("2026-03-01T00:00:00") and first.status == "active"
    assert first.credential_rotated_at == at("2023-01-01T00:00:00"), "its oldest key"
    assert second.id == "A2" and second.groups == ("staff",)
    coverage = connector.coverage
    assert coverage is not None and (coverage.rows, coverage.records) == (4, 2)


@pytest.mark.parametrize("rows", ["A1,\nA1,false\n", "A1,false\nA1,\n"])
def test_a_blank_cell_beside_a_value_takes_the_value_whatever_the_order(
    tmp_path: Path, rows: str
) -> None:
    """As the README says: an empty cell is no value, not a different one."""
    [record], _ = csv_records(tmp_path, f"id,active\n{rows}", repeated_rows="merge")
    assert record.active is False


@pytest.mark.parametrize(
    ("column", "first", "second", "shown"),
    [
        ("status", "active", "terminated", "status 'terminated' differs from 'active'"),
        ("active", "true", "false", "active False differs from True"),
        ("kind", "bot", "human", "kind 'human' differs from 'bot'"),
    ],
)
def test_merged_rows_that_disagree_are_an_error_naming_both(
    tmp_path: Path, column: str, first: str, second: str, shown: str
) -> None:
    with pytest.raises(DataError) as caught:
        csv_records(tmp_path, f"id,{column}\nA1,{first}\nA1,{second}\n", repeated_rows="merge")
    assert f"x.csv:3: {shown} in the row for the same id 'A1' at " in str(caught.value)
    assert str(caught.value).count("x.csv:") == 2


# names that find no data, coverage ---------------------------------------------------------


def test_a_csv_column_missing_for_a_decision_is_an_error_and_otherwise_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    decided = frozenset({"email"})
    with pytest.raises(DataError, match=r"column 'seen' \(targets\[0\].map.last_login_at\)"):
        csv_records(tmp_path, "id,mail\nA1,a\n", {"last_login_at": "seen"}, correlated=decided)
    with pytest.raises(DataError, match=r"column 'mail' \(targets\[0\].map.email\)"):
        csv_records(tmp_path, "id\nA1\n", {"email": "mail"}, correlated=decided)
    with caplog.at_level(logging.WARNING, logger=MAPPING_LOG):
        [record], _ = csv_records(
            tmp_path, "id,mail\nA1,a\n", {"email": "mail", "department": "dept"}, correlated=decided
        )
    assert record.email == "a" and record.department is None
    assert "column 'dept' (targets[0].map.department) not in the header" in caplog.text


def test_a_json_path_in_no_record_is_an_error_for_a_decision_and_otherwise_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    items = [{"id": "a", "profile": {"email": "a@x.com"}}, {"id": "b", "profile": {}}]
    with pytest.raises(
        DataError,
        match=r"x.json: 'profile.emial' \(targets\[0\].map.email\) in none of the 2 records",
    ):
        json_records(
            tmp_path, items, {"id": "id", "email": "profile.emial"}, correlated=frozenset({"email"})
        )
    with caplog.at_level(logging.WARNING, logger=MAPPING_LOG):
        records, _ = json_records(
            tmp_path,
            items,
            {"id": "id", "email": "profile.email", "title": "profile.title"},
            correlated=frozenset({"email"}),
        )
    assert [record.email for record in records] == ["a@x.com", None]
    assert "'profile.title' (targets[0].map.title) is in none of the 2 records" in caplog.text


def test_a_row_that_says_it_holds_a_null_path_counts_as_having_it(tmp_path: Path) -> None:
    class Nulls(Connector):
        name = "nulls"
        description = "rows whose lastLogin is null"

        def rows(self):  # type: ignore[no-untyped-def]
            for number in range(2):
                item = {"id": f"u{number}", "lastLogin": None}
                yield RawRow(f"mem[{number}]", item.get, item.__contains__)

    connector = Nulls(context=context(tmp_path, {"id": "id", "last_login_at": "lastLogin"}))
    assert [record.last_login_at for record in connector.records()] == [None, None]
    assert connector.coverage is not None and "last_login_at" in connector.coverage.provided


def test_coverage_counts_the_records_with_a_value_per_field(tmp_path: Path) -> None:
    _, connector = csv_records(
        tmp_path,
        """
        id,email,seen,team,kind
        A1,a@x.com,2026-01-01,ops,
        A2,,,ops,bot
        A3,c@x.com,N/A,,
        """,
        {"last_login_at": "seen", "team": "team"},
        null_values=frozenset({"n/a"}),
    )
    coverage = connector.coverage
    assert coverage is not None
    assert coverage.records == 3 and coverage.rows == 3 and coverage.dropped == 0
    assert {
        name: coverage.values[name] for name in ("id", "email", "last_login_at", "team", "kind")
    } == {
        "id": 3,
        "email": 2,
        "last_login_at": 1,
        "team": 2,
        "kind": 1,
    }
    assert {"id", "email", "last_login_at", "team", "kind"} <= coverage.provided
    assert "owner" not in coverage.provided and coverage.values.get("owner", 0) == 0
    both = coverage + coverage
    assert both.records == 6 and both.values["email"] == 4


def test_coverage_is_none_until_the_pull_is_read_to_the_end(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("id\nA1\nA2\n", encoding="utf-8")
    connector = CsvConnector(context=context(tmp_path), path="x.csv")
    assert connector.coverage is None
    records = connector.records()
    next(records)
    assert connector.coverage is None
    list(records)
    assert connector.coverage is not None and connector.coverage.records == 2


# the config ---------------------------------------------------------------------------------


def test_the_config_carries_the_options_and_the_fields_that_drive_decisions(tmp_path: Path) -> None:
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            source:
              name: hr
              connector: csv
              path: hr.csv
              map: {id: id, login: login}
              kind_values: {human: [Employee, contractor], service_account: svc}
              include:
                - {connector: yaml, path: nhi.yaml, map: {id: id}, null_values: [n/a]}
            targets:
              - name: app
                connector: csv
                path: app.csv
                map: {id: uid, last_login_at: [a, b]}
                null_values: ["N/A", 0, 2026-01-01]
                date_format: "%d.%m.%Y %H:%M"
                date_formats: {expires_at: epoch_ms}
                timezone: Europe/Berlin
                active_values: {active: [ACTIVE, " Locked "], inactive: SUSPENDED}
                where: {userType: [Member]}
                where_not: {state: [x, 'no']}
                repeated_rows: merge
                correlate: [{account: username, identity: login}]
                compare: [department]
            """
        )
    )
    loaded = config.load(path)
    target = loaded.targets[0].endpoint.context
    options = target.value_options
    assert options.null_values == {"n/a", "0", "2026-01-01"}
    assert options.date_format == "%d.%m.%Y %H:%M" and options.date_formats == {
        "expires_at": "epoch_ms"
    }
    assert options.timezone == "Europe/Berlin" and options.repeated_rows == "merge"
    assert options.active_values == {"active": True, "locked": True, "suspended": False}
    assert options.where == {"userType": {"member"}} and options.where_not == {"state": {"x", "no"}}
    assert target.field_map["last_login_at"] == ("a", "b")
    assert target.correlated == {"username"} and target.compared == {"department"}
    main, include = (endpoint.context for endpoint in loaded.source.inputs)
    assert main.value_options.kind_values == {
        "employee": "human",
        "contractor": "human",
        "svc": "service_account",
    }
    assert include.value_options.null_values == {"n/a"}
    assert main.correlated == include.correlated == {"login"}
    assert main.compared == {"department"}


BAD_OPTIONS = [
    ("null_values: [{a: 1}]", "targets[0].null_values[0]", "expected a value"),
    ("null_values: [no]", "targets[0].null_values[0]", "got the YAML boolean false"),
    ("date_format: dd.mm.yyyy", "targets[0].date_format", "has no % directive"),
    ("date_format: '%Q'", "targets[0].date_format", "bad directive"),
    ("date_format: '%Y-%m-%d %H:%M:%S %Z'", "targets[0].date_format", "%Z reads a zone's name"),
    (
        "date_formats: {last_login_at: '%d.%m.%Y %Z'}",
        "targets[0].date_formats.last_login_at",
        "use %z for an offset",
    ),
    ("date_format: ''", "targets[0].date_format", "expected a non-empty string"),
    ("date_formats: {seen: epoch}", "targets[0].date_formats.seen", "unknown key"),
    ("date_formats: {expires_at: epochs}", "targets[0].date_formats.expires_at", "no % directive"),
    ("timezone: Mars/Olympus", "targets[0].timezone", "unknown time zone 'Mars/Olympus'"),
    ("timezone: ../etc/passwd", "targets[0].timezone", "unknown time zone"),
    ("active_values: {enabled: [x]}", "targets[0].active_values.enabled", "unknown key"),
    ("active_values: {active: [a], inactive: [A]}", "targets[0].active_values.inactive", "both"),
    ("active_values: {}", "targets[0].active_values", "lists no value"),
    ("active_values: [a]", "targets[0].active_values", "expected a mapping"),
    ("kind_values: {robot: [r2]}", "targets[0].kind_values.robot", "unknown key"),
    ("kind_values: {human: [x], bot: [x]}", "targets[0].kind_values.bot", "both"),
    ("origin_values: {jit: [sso], manual: [SSO]}", "targets[0].origin_values.manual", "both"),
    ("where: [userType]", "targets[0].where", "expected a mapping"),
    ("where: {userType: []}", "targets[0].where.userType", "lists no value"),
    ("where_not: {userType: [[a]]}", "targets[0].where_not.userType[0]", "expected a value"),
    ("repeated_rows: keep", "targets[0].repeated_rows", "expected error or merge"),
    ("map: {id: uid, status: [a, b]}", "targets[0].map.status", "reads one column"),
    (
        "correlate: [{account: mial, identity: email}]",
        "targets[0].correlate[0].account",
        "'mial' is neither a canonical field nor an attribute the target maps",
    ),
    (
        "correlate: [{account: email, identity: emial}]",
        "targets[0].correlate[0].identity",
        "'emial' is neither a canonical field nor an attribute the source maps",
    ),
]


@pytest.mark.parametrize(("entry", "key", "message"), BAD_OPTIONS)
def test_option_mistakes_name_the_key_and_line(
    tmp_path: Path, entry: str, key: str, message: str
) -> None:
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\nsource: {name: hr, connector: csv, path: hr.csv, map: {id: id}}\n"
        f"targets:\n  - name: app\n    connector: csv\n    path: app.csv\n    {entry}\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert caught.value.key == key and message in str(caught.value)
    assert caught.value.line == 7
