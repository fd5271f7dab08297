"""Bad input, through the installed command: the right exit code, a clear one-line error
that names the file and row (or the key path and line), nothing on stdout, and no report
or temporary file left behind. The cases are listed in tests/data/bad/cases.yaml.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nhirecon import config as configs
from nhirecon import yamlsafe
from nhirecon.connectors.base import Connector, ConnectorContext
from nhirecon.connectors.csv import CsvConnector
from nhirecon.connectors.json import JsonConnector
from nhirecon.connectors.yaml import YamlConnector
from nhirecon.errors import ConfigError, ConnectorError

from .conftest import DATA, NOW, Run

BAD = DATA / "bad"
ESTATE = BAD / "estate"
MANIFEST = BAD / "cases.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["cases"]
USES = ("source", "target", "include", "config")
REPORTS = ("out/report.json", "out/report.csv")
MAX_COMMITTED_BYTES = 64 * 1024

SOURCE: dict[str, Any] = {
    "name": "hr",
    "connector": "csv",
    "path": "hr.csv",
    "map": {"id": "employee_id", "email": "work_email", "status": "status"},
}
TARGET: dict[str, Any] = {"name": "app", "connector": "csv", "path": "app.csv"}


def endpoint(case: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """The config entry that reads the case's file, in place of ``base``."""
    entry = {
        **{key: value for key, value in base.items() if key in ("name", "map")},
        "connector": case.get("connector", "csv"),
        "path": case["file"],
        **case.get("options", {}),
    }
    if "map" in case:
        entry["map"] = case["map"]
    return entry


def config_for(case: dict[str, Any]) -> dict[str, Any]:
    source, target = dict(SOURCE), dict(TARGET)
    if case["use"] == "source":
        source = endpoint(case, SOURCE)
    elif case["use"] == "target":
        target = endpoint(case, TARGET)
    elif case["use"] == "include":
        source["include"] = [endpoint(case, {})]
    return {"version": 1, "source": source, "targets": [target]}


def prepare(case: dict[str, Any], work: Path) -> Path:
    """The estate, the case's file and a config in ``work``; returns the config's path."""
    shutil.copytree(ESTATE, work)
    destination = work / case["file"]
    generate = case.get("generate")
    if generate:
        with destination.open("w", encoding="utf-8", newline="") as out:
            out.write(generate["before"])
            out.write(generate["repeat"] * generate["times"])
            out.write(generate["after"])
    else:
        shutil.copyfile(BAD / case["file"], destination)
    if case["use"] == "config":
        return destination
    config = work / "nhirecon.yaml"
    config.write_text(yaml.safe_dump(config_for(case), sort_keys=False), encoding="utf-8")
    return config


def files_under(folder: Path) -> set[str]:
    if not folder.exists():
        return set()
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def subject(finding: dict[str, Any]) -> str:
    record = finding["account"] or finding["identity"]
    return f"{finding['kind']} {record['id']}"


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input(case: dict[str, Any], run: Run, tmp_path: Path) -> None:
    work = tmp_path / "work"
    config = prepare(case, work)
    (work / "out").mkdir()
    before = files_under(work)

    result = run(
        "audit",
        "-c",
        config.name,
        "--now",
        NOW,
        "-f",
        "json",
        "-o",
        REPORTS[0],
        "-o",
        REPORTS[1],
        cwd=work,
    )

    assert result.returncode == case["exit"], result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    if "marker" in case:
        assert not (work / case["marker"]).exists()
        assert not list(tmp_path.rglob(case["marker"]))
    created = files_under(work) - before
    if case["exit"] == 0:  # only the warnings the case lists
        warned = "".join(f"nhirecon: WARNING: {line}\n" for line in case.get("warnings", []))
        assert result.stderr == warned
        assert created == set(REPORTS)
        report = json.loads((work / REPORTS[0]).read_text(encoding="utf-8"))
        expected = case["report"]
        assert report["source"]["identities"] == expected["identities"]
        assert [target["accounts"] for target in report["targets"]] == [expected["accounts"]]
        assert {subject(finding) for finding in report["findings"]} == set(expected["findings"])
        assert report["summary"]["excepted"] == expected.get("excepted", 0)
        with (work / REPORTS[1]).open(encoding="utf-8", newline="") as handle:
            assert len(list(csv.reader(handle))) == len(report["findings"]) + 1
    else:
        assert created == set(), "nothing may be written when the run fails"
        lines = result.stderr.splitlines()
        assert lines and result.stderr.endswith("\n")
        # one line per problem (a config lists every one), never a traceback or a dump
        assert all(line.startswith("nhirecon: error: ") for line in lines), lines
        if case.get("use") != "config":
            assert len(lines) == 1, "an export's problem is one line"
        for fragment in case["stderr"]:
            assert fragment in result.stderr
        assert files_under(tmp_path / "state") == set(), "a failed run records no history"


def test_every_file_has_a_case_and_every_case_a_file() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))
    committed = {path.name for path in BAD.iterdir() if path.is_file()} - {MANIFEST.name}
    used = {case["file"] for case in CASES if "generate" not in case}
    assert committed == used
    for case in CASES:
        assert case["use"] in USES
        assert isinstance(case["exit"], int)
        if case["exit"] == 0:
            assert "report" in case and "stderr" not in case
        else:
            assert case["stderr"]
        if case["exit"] in (2, 3):  # a config or connector error names the file
            assert case["file"] in case["stderr"][0]
        if "generate" in case:
            assert not (BAD / case["file"]).exists()


def test_committed_inputs_stay_small() -> None:
    sizes = {path.name: path.stat().st_size for path in BAD.rglob("*") if path.is_file()}
    assert {name: size for name, size in sizes.items() if size > MAX_COMMITTED_BYTES} == {}


def test_an_alias_bomb_is_refused_before_any_value_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[object] = []
    construct = yaml.SafeLoader.construct_object

    def counting(self: yaml.SafeLoader, node: yaml.Node, deep: bool = False) -> Any:
        built.append(node)
        return construct(self, node, deep)

    monkeypatch.setattr(yaml.SafeLoader, "construct_object", counting)
    with pytest.raises(yamlsafe.YamlError, match=r"an alias bomb") as caught:
        yamlsafe.load((BAD / "alias_bomb.yaml").read_text(encoding="utf-8"))
    assert caught.value.line == 11
    assert built == []


@pytest.mark.parametrize(
    "case", [case for case in CASES if "marker" in case], ids=lambda case: case["id"]
)
def test_the_refused_payloads_are_live(
    case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unsafe loader would run the payload: proof that the refusal above matters."""
    monkeypatch.chdir(tmp_path)
    yaml.unsafe_load((BAD / case["file"]).read_text(encoding="utf-8"))
    assert (tmp_path / case["marker"]).exists()


# Damaged exports and configs, generated: the product's own error or a result, never a crash

SEEDS: dict[str, tuple[type[Connector] | None, bytes]] = {
    "csv": (
        CsvConnector,
        b"id,email,active,last_login_at,groups\n"
        b'A1,ann@x.com,true,2026-01-01T00:00:00Z,a;b\n"A2","b""o@x.com",no,2026-01-01,\n',
    ),
    "json": (
        JsonConnector,
        b'[{"id": "A1", "email": "ann@x.com", "active": true, "last_login_at": "2026-01-01",'
        b' "groups": ["a", {"display": "b"}]}, {"id": 2, "active": "no"}]\n',
    ),
    "jsonl": (JsonConnector, b'{"id": "A1", "email": "a@x.com"}\n{"id": "A2", "active": false}\n'),
    "yaml": (
        YamlConnector,
        b"- {id: A1, email: ann@x.com, active: true, last_login_at: 2026-01-01, groups: [a]}\n"
        b"- id: A2\n  active: no\n  last_login_at: 2026-01-01 10:00:00+02:00\n",
    ),
    "config": (None, (BAD / "config_exception_9999.yaml").read_bytes()),
}
DATE = re.compile(rb"\d{4}-\d\d-\d\d(?:[T ][0-9:]+(?:Z|[+-]\d\d:\d\d)?)?")
BAD_DATES = st.sampled_from(
    (b"2026-02-30", b"2026-01-01 25:00:00", b"0001-01-01T00:00:00+01:00", b"31/12/2025")
)
TOKENS = st.sampled_from((b"&a ", b"*a", b"!!str ", b"!!int ", b"\xef\xbb\xbf", b"\\u0000"))
"""Pieces that damage in meaningful ways: aliases, tags, a byte-order mark, an escape."""
BYTES = st.sampled_from([*b"\x00\xff\xe9\"',;:[]{}&*!|>%@#-\\\n\r\t 0123456789", *range(256)])


@st.composite
def damaged(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few bytes or tokens inserted, a date made impossible, bytes deleted
    or replaced, or a stretch repeated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 5))):
        where = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(("insert", "token", "date", "delete", "replace", "repeat")))
        dates = list(DATE.finditer(data))
        if edit == "date" and dates:
            found = draw(st.sampled_from(dates))
            data[found.start() : found.end()] = draw(BAD_DATES)
        elif edit == "insert":
            data[where:where] = bytes(draw(st.lists(BYTES, min_size=1, max_size=4)))
        elif edit == "token":
            data[where:where] = draw(TOKENS)
        elif edit == "delete":
            del data[where : where + draw(st.integers(1, 8))]
        elif edit == "replace" and where < len(data):
            data[where] = draw(BYTES)
        elif edit == "repeat":
            end = draw(st.integers(where, len(data)))
            data[where:where] = data[where:end] * draw(st.integers(1, 20))
    return bytes(data)


@pytest.mark.parametrize("shape", sorted(SEEDS))
def test_damaged_input_gives_a_result_or_the_products_own_error(shape: str) -> None:
    connector, seed = SEEDS[shape]

    @settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(damaged(seed), st.binary(max_size=120)))
    def read(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "input"
            path.write_bytes(data)
            if connector is None:
                try:
                    configs.load(path)
                except ConfigError as exc:
                    assert str(path) in str(exc)
                return
            context = ConnectorContext("test", Path(folder), {}, {})
            try:
                records = list(connector(context=context, path="input").records())  # type: ignore[call-arg]
            except ConnectorError as exc:
                assert "input" in str(exc)
            else:
                assert all(record.id for record in records)

    read()
