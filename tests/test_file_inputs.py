"""How the file connectors open and read real exports (SPEC §3.1, §8 "Files"): encodings
told by a byte-order mark, Windows text named as cp1252, Excel's ``sep=`` line,
PowerShell's ``#TYPE`` line, API pages refused, ``key`` paths, and inputs that are not
regular files or are too large refused before they can hang a run or fill the memory.

The exports under tests/data/file-inputs/ are copies, byte for byte, of the hand-worked
field cases (AD Export-Csv, PowerShell Out-File UTF-16, German Excel, Microsoft Graph).
"""

from __future__ import annotations

import codecs
import os
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from nhirecon.connectors import files
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.csv import CsvConnector
from nhirecon.connectors.json import JsonConnector
from nhirecon.connectors.yaml import YamlConnector
from nhirecon.errors import ConfigError, ConnectorError, DataError

from .conftest import DATA, Run

INPUTS = DATA / "file-inputs"
CONNECTORS: dict[str, type[Connector]] = {
    "csv": CsvConnector,
    "json": JsonConnector,
    "yaml": YamlConnector,
}


def rows(cls: type[Connector], path: Path, **options: Any) -> list[RawRow]:
    context = ConnectorContext("test", path.parent, {}, {}, key="targets[0]")
    return list(cls(context=context, path=path.name, **options).rows())  # type: ignore[call-arg]


def shown(path: Path) -> str:
    """``path`` as messages and locations show it."""
    return str(ConnectorContext("test", path.parent).resolve(path.name))


def values(found: list[RawRow], *names: str) -> list[tuple[object, ...]]:
    return [tuple(row.lookup(name) for name in names) for row in found]


def copy(source: Path, folder: Path, name: str | None = None) -> Path:
    target = folder / (name or source.name)
    target.write_bytes(source.read_bytes())
    return target


def data_error(cls: type[Connector], path: Path, **options: Any) -> str:
    with pytest.raises(DataError) as caught:
        rows(cls, path, **options)
    message = str(caught.value)
    assert "\n" not in message
    assert path.name in message
    return message


# Encodings ------------------------------------------------------------------------------

AD_COLUMNS = ("SamAccountName", "DisplayName", "mail", "Enabled", "Department")
AD_ROWS = [
    ("zmuller", "Zoë Müller", "zoe.muller@example.com", "True", "Finance"),
    ("jpena", "José Peña", "jose.pena@example.com", "True", "Sales"),
    ("loneil", "Liam O'Neil", "liam.oneil@example.com", "False", "Engineering"),
    ("svc-backup", "svc-backup", "", "True", ""),
]
"""What PowerShell's ``Out-File`` export (field case 03) holds, whatever its encoding."""


def _utf16le_text() -> str:
    return (INPUTS / "ad_utf16le_bom.csv").read_bytes()[2:].decode("utf-16-le")


@pytest.mark.parametrize(
    ("name", "encode"),
    [
        ("utf-16-le with BOM", lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
        ("utf-16-be with BOM", lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be")),
        ("utf-8 with BOM", lambda text: codecs.BOM_UTF8 + text.encode("utf-8")),
        ("utf-8", lambda text: text.encode("utf-8")),
        ("utf-32 with BOM", lambda text: text.encode("utf-32")),
    ],
)
def test_auto_reads_the_byte_order_mark(tmp_path: Path, name: str, encode: Any) -> None:
    path = tmp_path / "ad_users.csv"
    path.write_bytes(encode(_utf16le_text()))
    found = rows(CsvConnector, path)
    assert values(found, *AD_COLUMNS) == AD_ROWS
    assert found[0].location == f"{path}:2"


def test_the_field_case_utf16_export_is_read_as_it_is() -> None:
    assert (INPUTS / "ad_utf16le_bom.csv").read_bytes()[:2] == codecs.BOM_UTF16_LE
    assert values(rows(CsvConnector, INPUTS / "ad_utf16le_bom.csv"), *AD_COLUMNS) == AD_ROWS


def test_utf16_without_a_mark_is_named_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "nobom.csv"
    path.write_bytes(_utf16le_text().encode("utf-16-le"))
    message = data_error(CsvConnector, path)
    assert "looks like UTF-16 (little-endian) text without a byte-order mark" in message
    assert "`encoding: utf-16-le`" in message
    assert values(rows(CsvConnector, path, encoding="utf-16-le"), *AD_COLUMNS) == AD_ROWS
    path.write_bytes(_utf16le_text().encode("utf-16-be"))
    assert "`encoding: utf-16-be`" in data_error(CsvConnector, path, encoding="utf-8")


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("csv", b"id,name\r\n1,Zo\xc3\xab\r\n"),
        ("json", b'[{"id": "1", "name": "Zo\xc3\xab"}]'),
        ("jsonl", b'{"id": "1", "name": "Zo\xc3\xab"}\n'),
        ("yaml", b"- {id: '1', name: Zo\xc3\xab}\n"),
    ],
)
def test_a_utf8_mark_is_dropped_under_an_explicit_utf8(
    tmp_path: Path, kind: str, body: bytes
) -> None:
    path = tmp_path / f"bom.{kind}"
    path.write_bytes(codecs.BOM_UTF8 + body)
    cls = CONNECTORS["json" if kind == "jsonl" else kind]
    for encoding in ("utf-8", "UTF8", "utf-8-sig", "auto", "AUTO"):
        [row] = rows(cls, path, encoding=encoding)
        assert (row.lookup("id"), row.lookup("name")) == ("1", "Zoë")


def test_a_mark_that_contradicts_an_explicit_encoding_is_an_error() -> None:
    message = data_error(CsvConnector, INPUTS / "ad_utf16le_bom.csv", encoding="utf-8")
    assert "starts with a UTF-16 (little-endian) byte-order mark" in message
    assert "`encoding` option says 'utf-8'" in message
    utf16 = rows(CsvConnector, INPUTS / "ad_utf16le_bom.csv", encoding="utf-16")
    assert values(utf16, *AD_COLUMNS) == AD_ROWS


def test_windows_text_read_as_utf8_names_cp1252_never_latin1() -> None:
    path = INPUTS / "hr_excel_de.csv"
    message = data_error(CsvConnector, path)
    assert message.startswith(f"{shown(path)}:3: not valid utf-8 text at byte offset 97")
    assert "b'E900;zoe.obrien@example.com;Zo\\xeb O\\x92Brien" in message  # the raw bytes
    assert "(0x92 is ’)" in message and "`encoding: cp1252`" in message
    assert "latin" not in message.lower()


def test_an_explicit_encoding_is_obeyed() -> None:
    path = INPUTS / "hr_excel_de.csv"
    assert values(rows(CsvConnector, path, encoding="cp1252"), "Name")[0] == ("Zoë O’Brien",)
    # latin-1, asked for, is what it reads: the control character that cp1252 avoids
    assert values(rows(CsvConnector, path, encoding="latin-1"), "Name")[0] == ("Zoë O\x92Brien",)


@pytest.mark.parametrize(
    ("body", "encoding", "expected"),
    [
        (b"id,name\n1,Jos\xe9\n", "auto", ("x.csv:2", "byte offset 13", "`encoding: cp1252`")),
        (b"id,name\n1,Zo\xc3", "auto", ("x.csv:2", "ends inside a character (cut short?)")),
        ("id,name\n1,Á\n".encode(), "cp1252", ("x.csv:2", "`encoding: utf-8`")),
        (b"id,name\n1,\x81\x8d\n", "auto", ("x.csv:2", "to the encoding the export was saved in")),
    ],
)
def test_decode_errors_name_line_offset_and_likely_encoding(
    tmp_path: Path, body: bytes, encoding: str, expected: tuple[str, ...]
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(body)
    message = data_error(CsvConnector, path, encoding=encoding)
    assert all(part in message for part in expected), message
    assert "latin" not in message.lower()


def test_the_offset_counts_from_the_start_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"id,name\n1,Jos\xe9\n")
    assert "x.csv:2: not valid utf-8 text at byte offset 16 " in data_error(CsvConnector, path)
    # far into a large file, just past a character cut in two by the read chunks
    head = b"id,name\n" + b"1,Zo\xc3\xab\n" * 200_000
    head += b"2,Zo\xc3\xab\n" * (((1 << 20) * 2 - len(head)) // 8) + b"3,"
    cut = (1 << 20) * 2 - len(head) - 1
    body = head + b"x" * cut + b"\xc3\xab\n4,Jos\xe9\n"
    path.write_bytes(body)
    message = data_error(CsvConnector, path)
    offset = body.index(b"\xe9")
    line = body.count(b"\n", 0, offset) + 1
    assert f"x.csv:{line}: not valid utf-8 text at byte offset {offset} " in message


def test_a_utf16_part_appended_to_a_utf8_export_is_named(tmp_path: Path) -> None:
    """PowerShell's ``>>`` appends UTF-16 to whatever the file held."""
    path = tmp_path / "x.csv"
    for order, name in (("utf-16-le", "little-endian"), ("utf-16-be", "big-endian")):
        for before in (b"1,Ann\n", b"1,Anne\n"):  # an even and an odd number of bytes
            appended = "2,Zoë\n3,Bo\n".encode(order)
            path.write_bytes(b"id,name\n" + before * 1001 + appended)
            message = data_error(CsvConnector, path)
            assert f"x.csv:1003: NUL character in the file: it looks like UTF-16 ({name}): " in (
                message
            ), message


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_json_and_yaml_name_the_likely_encoding_too(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"x.{kind}"
    text = '[{"id": "1", "name": "O’Brien"}]' if kind == "json" else "- {id: '1', name: O’Brien}"
    path.write_bytes(text.encode("cp1252"))
    message = data_error(CONNECTORS[kind], path)
    assert f"{path}:1: not valid utf-8 text" in message and "`encoding: cp1252`" in message
    assert values(rows(CONNECTORS[kind], path, encoding="cp1252"), "name") == [("O’Brien",)]


def test_unknown_or_non_text_encoding_is_a_config_error(tmp_path: Path) -> None:
    context = ConnectorContext("test", tmp_path, {}, {}, key="targets[0]")
    for encoding in ("utf-9", "rot13", "base64"):
        with pytest.raises(ConfigError, match=r"targets\[0\]\.encoding: unknown text encoding"):
            JsonConnector(context=context, path="x.json", encoding=encoding)


# Preamble lines of Windows tools --------------------------------------------------------


def test_powershell_type_line_is_skipped_and_rows_keep_their_line() -> None:
    typed = rows(CsvConnector, INPUTS / "ad_type.csv")
    plain = rows(CsvConnector, INPUTS / "ad_notype.csv")
    assert (INPUTS / "ad_type.csv").read_bytes().startswith(b"#TYPE Selected.Microsoft")
    columns = ("SamAccountName", "UserPrincipalName", "Enabled", "lastLogonTimestamp")
    assert values(typed, *columns) == values(plain, *columns) and len(typed) == 7
    assert typed[0].location.endswith("ad_type.csv:3")
    assert plain[0].location.endswith("ad_notype.csv:2")


def test_powershell_type_line_after_a_utf8_mark(tmp_path: Path) -> None:
    body = (INPUTS / "ad_type.csv").read_bytes()
    path = tmp_path / "ad.csv"
    path.write_bytes(codecs.BOM_UTF8 + body)
    assert values(rows(CsvConnector, path), "SamAccountName")[0] == ("asilva",)


EXCEL_ROW = ("E900", "zoe.obrien@example.com", "Zoë O’Brien", "aktiv", "Finanzen", "")


def test_excel_sep_line_sets_the_delimiter_and_is_skipped() -> None:
    columns = ("Personalnummer", "E-Mail", "Name", "Status", "Abteilung", "Austrittsdatum")
    with_sep = rows(CsvConnector, INPUTS / "hr_excel_de.csv", encoding="cp1252")
    assert values(with_sep, *columns)[0] == EXCEL_ROW
    assert with_sep[0].location.endswith("hr_excel_de.csv:3")
    for delimiter in ("auto", ";"):
        assert values(
            rows(CsvConnector, INPUTS / "hr_excel_de.csv", encoding="cp1252", delimiter=delimiter),
            *columns,
        ) == values(with_sep, *columns)
    without = rows(CsvConnector, INPUTS / "hr_excel_de_nosep.csv", encoding="cp1252", delimiter=";")
    assert values(without, *columns) == values(with_sep, *columns)


def test_a_sep_line_that_contradicts_the_delimiter_is_an_error() -> None:
    path = INPUTS / "hr_excel_de.csv"
    message = data_error(CsvConnector, path, encoding="cp1252", delimiter=",")
    assert message == (
        f"{shown(path)}:1: the file's 'sep=;' line says the delimiter is ';', but the connector's"
        " `delimiter` option says ','; remove the option or correct it"
    )


def test_delimiter_option_spellings(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_bytes(b"id\tname\n1\tAnn\n")
    for delimiter in ("\t", "\\t"):
        assert values(rows(CsvConnector, path, delimiter=delimiter), "name") == [("Ann",)]
    path.write_bytes(b"id,name\n1,Ann\n")
    for delimiter in ("auto", "Auto", ","):
        assert values(rows(CsvConnector, path, delimiter=delimiter), "name") == [("Ann",)]
    context = ConnectorContext("test", tmp_path, {}, {}, key="source")
    for wrong in (";;", "", '"'):
        with pytest.raises(ConfigError, match=r"source\.delimiter: expected one character"):
            CsvConnector(context=context, path="x.tsv", delimiter=wrong)


# Pages of an API listing, and the key of the records --------------------------------------


def test_a_graph_page_with_a_next_link_is_refused() -> None:
    path = INPUTS / "graph_users_page1.json"
    for options in ({}, {"key": "value"}):
        message = data_error(JsonConnector, path, **options)
        assert message.startswith(
            f"{shown(path)}: holds one page of several (`@odata.nextLink` is set)"
        )


def test_the_full_graph_listing_is_read_under_key_value() -> None:
    path = INPUTS / "graph_users_all.json"
    found = rows(JsonConnector, path, key="value")
    assert len(found) == 6 and found[-1].location == f"{shown(path)}:102"  # its opening brace
    assert "eli.evans@example.com" in {row.lookup("userPrincipalName") for row in found}
    assert found[0].lookup("signInActivity.lastSignInDateTime") is not None
    assert "(here: `key: value`)" in data_error(JsonConnector, path)


def test_a_plain_array_needs_no_key_and_refuses_one() -> None:
    path = INPUTS / "okta_users.json"
    assert len(rows(JsonConnector, path)) == 9
    assert "the document is a list, not an object with 'value'" in data_error(
        JsonConnector, path, key="value"
    )


MARKERS = [
    ({"@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=X"}, "@odata.nextLink"),
    ({"@odata.nextlink": "https://graph.microsoft.com/v1.0/users?$skiptoken=X"}, "@odata.nextLink"),
    ({"odata.nextLink": "directoryObjects/$/Microsoft.DirectoryServices.User?$skiptoken=X"},
     "odata.nextLink"),
    ({"nextLink": "https://management.azure.com/?$skiptoken=X"}, "nextLink"),
    ({"next": "https://api.example.com/users?page=2"}, "next"),
    ({"links": {"next": "/users?page[number]=2"}}, "links.next"),
    ({"_links": {"next": "/rest/api/user/list?start=25"}, "size": 1}, "_links.next"),
    ({"nextPageToken": "BAgVPQ"}, "nextPageToken"),
    ({"NextToken": "eyJNYXJrZXIiOiBudWxsfQ=="}, "NextToken"),
    ({"IsTruncated": True, "Marker": "AAFJ0eXAiOiJKV1Qi"}, "IsTruncated"),
    ({"isLast": False, "nextPage": "https://x.atlassian.net/rest/api/3/users/search?startAt=1"},
     "isLast"),
    ({"pageInfo": {"hasNextPage": True, "endCursor": "Y3Vyc29y"}}, "pageInfo.hasNextPage"),
    ({"response_metadata": {"next_cursor": "dXNlcjpVMEc5V0ZYTlo="}},
     "response_metadata.next_cursor"),
]  # fmt: skip
"""One page of a listing, as each service writes it (Microsoft Graph, in any case; Azure AD
Graph; Azure Resource Manager; JSON:API; Confluence; Google; AWS; AWS IAM's `ListUsers`;
Jira; a GraphQL connection; Slack)."""
LAST_PAGES = [
    {"next": None},
    {"nextPageToken": ""},
    {"links": {"next": None}},
    {},
    {"IsTruncated": False},
    {"isLast": True},
    {"pageInfo": {"hasNextPage": False}},
    {"_links": {"self": "/rest/api/user/list"}},
]


@pytest.mark.parametrize("kind", ["json", "yaml"])
@pytest.mark.parametrize(("marker", "name"), MARKERS, ids=[name for _, name in MARKERS])
def test_next_page_markers_are_refused(
    tmp_path: Path, kind: str, marker: dict[str, Any], name: str
) -> None:
    import json

    path = tmp_path / f"page.{kind}"
    path.write_text(json.dumps({"users": [{"id": "1"}], **marker}), encoding="utf-8")
    for options in ({}, {"key": "users"}):
        message = data_error(CONNECTORS[kind], path, **options)
        said = "is false" if name == "isLast" else "is true" if name in FLAGS else "is set"
        assert f"holds one page of several (`{name}` {said})" in message


FLAGS = {"IsTruncated", "pageInfo.hasNextPage"}


@pytest.mark.parametrize("kind", ["json", "yaml"])
@pytest.mark.parametrize("last", LAST_PAGES)
def test_a_last_page_marker_without_a_value_is_fine(
    tmp_path: Path, kind: str, last: dict[str, Any]
) -> None:
    import json

    path = tmp_path / f"all.{kind}"
    path.write_text(json.dumps({"users": [{"id": "1"}, {"id": "2"}], **last}), encoding="utf-8")
    assert len(rows(CONNECTORS[kind], path, key="users")) == 2


def test_a_last_graph_answer_on_one_line_is_a_document_that_needs_its_key(
    tmp_path: Path,
) -> None:
    """Compact, as ``curl`` saves it: its ``@odata.context`` says it is a document, so it
    gets the document's hint rather than being read as one record of JSON Lines."""
    import json

    document = json.loads((INPUTS / "graph_users_all.json").read_text(encoding="utf-8"))
    path = tmp_path / "users.json"
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n", encoding="utf-8")
    assert "(here: `key: value`)" in data_error(JsonConnector, path)
    assert len(rows(JsonConnector, path, key="value")) == len(document["value"])


def test_a_page_saved_on_one_line_is_not_taken_for_json_lines(tmp_path: Path) -> None:
    page = (INPUTS / "graph_users_page1.json").read_text(encoding="utf-8")
    path = tmp_path / "page.json"
    path.write_text(page.replace("\n", " ") + "\n", encoding="utf-8")
    assert "`@odata.nextLink` is set" in data_error(JsonConnector, path)


NESTED = {"meta": {"count": 2}, "data": {"users": [{"id": "1"}, {"id": "2"}]}, "a.b": [{"id": "3"}]}


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_key_is_a_path_into_the_document(tmp_path: Path, kind: str) -> None:
    import json

    path = tmp_path / f"doc.{kind}"
    path.write_text(json.dumps(NESTED), encoding="utf-8")
    assert values(rows(CONNECTORS[kind], path, key="data.users"), "id") == [("1",), ("2",)]
    assert values(rows(CONNECTORS[kind], path, key="a.b"), "id") == [("3",)]  # a name first
    for key, problem in [
        ("data.people", "key 'data.people': data has no 'people'"),
        ("users", "key 'users': the document has no 'users'"),
        (  # YAML's data is read as written (2 is a number only to JSON)
            "meta.count.x",
            "key 'meta.count.x': meta.count is "
            + ("a string ('2')" if kind == "yaml" else "a number (2)")
            + ", not an object",
        ),
        ("meta", "key 'meta' holds an object, not a list of records"),
    ]:
        assert problem in data_error(CONNECTORS[kind], path, key=key)


@pytest.mark.parametrize("key", ["", ".users", "data..users", "users."])
def test_a_malformed_key_is_a_config_error(tmp_path: Path, key: str) -> None:
    context = ConnectorContext("test", tmp_path, {}, {}, key="targets[1]")
    for cls in (JsonConnector, YamlConnector):
        with pytest.raises(ConfigError, match=r"targets\[1\]\.key: expected the name"):
            cls(context=context, path="x", key=key)  # type: ignore[call-arg]


def test_json_and_yaml_rows_tell_a_null_field_from_an_absent_one(tmp_path: Path) -> None:
    [row] = rows(JsonConnector, copy(INPUTS / "okta_users.json", tmp_path))[-1:]
    assert row.has is not None
    never = [
        found
        for found in rows(JsonConnector, tmp_path / "okta_users.json")
        if found.lookup("lastLogin") is None
    ]
    assert never and all(found.has and found.has("lastLogin") for found in never)
    assert row.has("profile.login") and not row.has("profile.emial") and not row.has("x.y")


# Inputs that are not regular files, and inputs too large to read ----------------------------


def config(tmp_path: Path, role: str, kind: str, path: str) -> Path:
    """A config with one input at ``path`` as the source, an include or the target."""
    (tmp_path / "hr.csv").write_text("id,email\nE1,a@example.com\n", encoding="utf-8")
    (tmp_path / "app.csv").write_text("id,email\nA1,a@example.com\n", encoding="utf-8")
    entry = f"{{name: x, connector: {kind}, path: {path!r}, map: {{id: id}}}}"
    source = "{name: hr, connector: csv, path: hr.csv, map: {id: id}}"
    target = "{name: app, connector: csv, path: app.csv}"
    if role == "source":
        source = entry
    elif role == "include":
        source = f"{{name: hr, connector: csv, path: hr.csv, map: {{id: id}}, include: [{entry}]}}"
    else:
        target = entry
    text = f"""
        version: 1
        source: {source}
        targets: [{target}]
    """
    written = tmp_path / "nhirecon.yaml"
    written.write_text(textwrap.dedent(text), encoding="utf-8")
    return written


@pytest.mark.parametrize("role", ["source", "include", "target"])
@pytest.mark.parametrize("kind", ["csv", "json", "yaml"])
def test_a_fifo_is_refused_without_hanging(run: Run, tmp_path: Path, role: str, kind: str) -> None:
    fifo = tmp_path / f"export.{kind}"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it to read would wait forever
    written = config(tmp_path, role, kind, fifo.name)
    started = time.monotonic()
    for command in (("validate", "--connect"), ("audit", "--no-history")):
        result = run(*command, "-c", str(written), timeout=30)
        assert result.returncode == 3, result.stderr
        assert f"{fifo.name}: is a named pipe (FIFO), not a regular file" in result.stderr
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("path", "kind"), [("/dev/zero", "a character device"), (".", "a folder, not a file")]
)
def test_a_device_or_folder_is_refused(run: Run, tmp_path: Path, path: str, kind: str) -> None:
    for connector in ("csv", "json", "yaml"):
        result = run("audit", "-c", str(config(tmp_path, "target", connector, path)), timeout=30)
        assert result.returncode == 3, result.stderr
        assert f"{path}: is {kind}" in result.stderr and "Traceback" not in result.stderr


def test_a_fifo_swapped_in_after_the_check_is_not_waited_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "late.csv"
    os.mkfifo(fifo)
    with pytest.raises(ConnectorError, match="is a named pipe"):
        files.open_binary(fifo)
    (tmp_path / "hr.csv").write_text("id\n1\n", encoding="utf-8")
    real = files.regular_file
    monkeypatch.setattr(files, "regular_file", lambda path: real(tmp_path / "hr.csv"))
    with pytest.raises(ConnectorError, match="is a named pipe"):  # found on the descriptor
        files.open_binary(fifo)


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_a_document_over_the_size_limit_is_refused_before_reading(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"huge.{kind}"
    path.write_bytes(b"[" if kind == "json" else b"- ")
    os.truncate(path, files.MAX_DOCUMENT_BYTES + 1)  # sparse: no disk, no time
    started = time.monotonic()
    message = data_error(CONNECTORS[kind], path)
    assert "too large to read whole (512 MiB)" in message
    assert "may hold at most 512 MiB" in message
    assert time.monotonic() - started < 5


def test_json_lines_over_the_size_limit_stream_with_a_bounded_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    path.write_bytes(b'{"id": "1"}\n{"id": "2"}\n')
    os.truncate(path, files.MAX_DOCUMENT_BYTES + 1)  # then one endless line of NUL bytes
    context = ConnectorContext("test", tmp_path, {}, {})
    found = JsonConnector(context=context, path=path.name).rows()
    assert [next(found).location, next(found).location] == [f"{path}:1", f"{path}:2"]
    with pytest.raises(DataError, match=r"huge.jsonl:3: a line longer than 64 MiB"):
        next(found)
