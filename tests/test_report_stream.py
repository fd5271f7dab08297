"""Reports made and written piece by piece: the JSON report's pieces are, joined, the text
``json.dumps(serialize.report(r), indent=2, ensure_ascii=False)`` gave before streaming, byte
for byte (the orjson fast path included, lone surrogates and all); the CSV report's are its
whole text; and a file written from pieces is still written whole or not at all.

The serialisation as it was before it was made fast is kept here (``reference_*``), so
that the fast one is compared with it on generated records, findings and reports."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import signal
import stat
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nhirecon import config, output, pipeline
from nhirecon.cli import audit as audit_command
from nhirecon.cli.options import Color
from nhirecon.core.allowlist import BroadEntry, ListName
from nhirecon.core.gate import evaluate
from nhirecon.core.model import (
    SEVERITY_ORDER,
    ExceptionRule,
    Finding,
    FindingKind,
    Origin,
    Record,
    Remediation,
    Severity,
    fingerprint,
)
from nhirecon.core.report import (
    BaselineEntry,
    BaselineView,
    HistoryView,
    Report,
    ResolvedFinding,
    RunTrend,
    Seen,
    TargetStats,
)
from nhirecon.core.values import as_utc, format_datetime, parse_datetime
from nhirecon.output import OutputError, write_all
from nhirecon.reporters import FORMATS, serialize
from nhirecon.reporters import json as json_reporter
from nhirecon.reporters.base import Reporter
from nhirecon.reporters.csv import ROWS, CsvReporter
from nhirecon.reporters.json import BATCH, JsonReporter, dumps
from nhirecon.reporters.plain import Items, Plain
from nhirecon.state.baseline import entry_data

from .conftest import NOW, ROOT

# ---------------------------------------------------------------- the serialisation before


def reference_record(value: Record | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if value is None:
        return None
    data: dict[str, Any] = {}
    for name in fields:
        item = value.value(name)
        if hasattr(item, "isoformat"):
            item = format_datetime(item)
        elif hasattr(item, "value") and not isinstance(item, str | bool):
            item = item.value
        data[name] = item
    return data


def reference_finding(item: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {
        "fingerprint": item.fingerprint,
        "kind": item.kind.value,
        "severity": item.severity.value,
        "target": item.target,
        "account": reference_record(item.account, serialize.ACCOUNT_FIELDS),
        "identity": reference_record(item.identity, serialize.IDENTITY_FIELDS),
        "message": item.message,
        "detail": dict(item.detail),
        "remediation": item.remediation.value,
        "remediation_reason": item.remediation_reason,
        "controls": list(item.controls),
    }
    if item.expired_exception is not None:
        data["expired_exception"] = serialize.exception(item.expired_exception)
    return data


def reference_context(report: Report, item: Finding) -> dict[str, Any]:
    data: dict[str, Any] = {}
    seen = report.seen(item)
    if seen is not None:
        data["first_seen"] = format_datetime(seen.first_seen)
        data["age_days"] = seen.age_days
        data["new"] = seen.new
    if report.baseline is not None:
        data["baselined"] = report.is_baselined(item)
    return data


def reference_summary(report: Report) -> dict[str, Any]:
    by_kind = Counter(item.kind.value for item in report.findings)
    by_target = Counter(item.target for item in report.findings)
    by_severity = Counter(item.severity.value for item in report.findings)
    data: dict[str, Any] = {
        "total": len(report.findings),
        "excepted": len(report.excepted),
        "by_kind": {kind.value: by_kind[kind.value] for kind in FindingKind if by_kind[kind.value]},
        "by_target": dict(sorted(by_target.items())),
        "by_severity": {
            level.value: by_severity[level.value]
            for level in SEVERITY_ORDER
            if by_severity[level.value]
        },
    }
    if report.history is not None:
        data["new"] = sum(1 for item in report.findings if (seen := report.seen(item)) and seen.new)
        data["resolved"] = len(report.history.resolved)
    if report.baseline is not None:
        data["baselined"] = len(report.baseline.accepted)
    return data


def reference_report(value: Report) -> dict[str, Any]:
    """``serialize.report`` as it was: every finding's dict built, in one document."""
    data: dict[str, Any] = {
        "schema_version": value.schema_version,
        "tool": {"name": "nhirecon", "version": value.tool_version},
        "generated_at": format_datetime(value.generated_at),
        "source": {
            "name": value.source_name,
            "connector": value.source_connector,
            "identities": value.identities,
            **serialize.evidence(value.source_evidence),
        },
        "targets": [
            {
                "name": stats.name,
                "connector": stats.connector,
                "accounts": stats.accounts,
                "linked": stats.linked,
                "unmatched": stats.unmatched,
                "ambiguous": stats.ambiguous,
                "inactive": stats.inactive,
                "lookalike": stats.lookalike,
                **serialize.evidence(stats.evidence),
            }
            for stats in value.targets
        ],
        "summary": reference_summary(value),
        "findings": [reference_finding(i) | reference_context(value, i) for i in value.findings],
        "excepted": [
            {
                **reference_finding(item),
                **reference_context(value, item),
                "exception": serialize.exception(rule),
            }
            for item, rule in value.excepted
        ],
        "allowlist": [
            {
                "list": entry.list.value,
                "target": entry.target,
                "entry": entry.entry,
                "accounts": list(entry.accounts),
                "effect": entry.effect,
            }
            for entry in value.allowlist
        ],
        "gate": {
            "passed": value.gate.passed,
            "rules": [
                {"rule": outcome.rule.text, "count": outcome.count, "passed": outcome.passed}
                for outcome in value.gate.outcomes
            ],
        },
    }
    if value.history is not None:
        previous = value.history.previous_run
        data["resolved"] = [serialize.resolved(item) for item in value.history.resolved]
        data["history"] = {
            "previous_run": format_datetime(previous) if previous else None,
            "trend": [serialize.trend_point(run) for run in value.history.trend],
        }
    if value.baseline is not None:
        data["baseline"] = {
            "path": value.baseline.path,
            "entries": value.baseline.entries,
            "matched": len(value.baseline.accepted),
            "stale": [entry_data(entry) for entry in value.baseline.stale],
            "outgrown": [
                {**entry_data(entry), "differing_now": list(more)}
                for entry, more in value.baseline.outgrown
            ],
        }
    return data


def whole_document(report: Report) -> str:
    """The JSON report as it was written before streaming."""
    return json.dumps(reference_report(report), indent=2, ensure_ascii=False) + "\n"


def standard(value: Any, level: int = 0) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n" + "  " * level)


# ---------------------------------------------------------------- strategies

SPECIAL = "\x00\x01\x08\t\n\x0b\x0c\r\x1f \"'/\\\x7f\x80\x9f\xa0\u2028\u2029\ufeff\uffff"
CHARACTERS = st.one_of(
    st.characters(exclude_categories=()),  # surrogates too
    st.characters(categories=["Cs"]),
    st.sampled_from([*SPECIAL, "é", "山", "\U0001f600", "\U0010ffff"]),
)
TEXT = st.text(CHARACTERS, max_size=12)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.integers(),
    st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 0, -1]),
    st.floats(),
    st.sampled_from([0.1, 1e-07, 1e16, 1e22, -0.0, 5e-324, 1.7976931348623157e308]),
    TEXT,
    st.sampled_from(list(Origin)),
)
KEYS = st.one_of(TEXT, TEXT, st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(TEXT, inner, max_size=4),
        st.dictionaries(KEYS, inner, max_size=3),
    ),
    max_leaves=24,
)
ZONES: st.SearchStrategy[tzinfo | None] = st.one_of(
    st.none(),
    st.just(UTC),
    st.builds(
        timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23))
    ),
)
INSTANTS = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=ZONES,  # type: ignore[arg-type]  # (hypothesis types it by its default)
)
MAYBE_TEXT = st.none() | TEXT
MAYBE_INSTANT = st.none() | INSTANTS


@st.composite
def records(draw: st.DrawFn) -> Record:
    return Record(
        id=draw(TEXT),
        location="app.json",
        external_id=draw(MAYBE_TEXT),
        username=draw(MAYBE_TEXT),
        email=draw(MAYBE_TEXT),
        display_name=draw(MAYBE_TEXT),
        status=draw(MAYBE_TEXT),
        active=draw(st.booleans()),
        kind=draw(st.sampled_from(["human", "service_account", "bot"])),
        owner=draw(MAYBE_TEXT),
        manager=draw(MAYBE_TEXT),
        created_at=draw(MAYBE_INSTANT),
        last_login_at=draw(MAYBE_INSTANT),
        expires_at=draw(MAYBE_INSTANT),
        credential_rotated_at=draw(MAYBE_INSTANT),
        last_interactive_login_at=draw(MAYBE_INSTANT),
        password_enabled=draw(st.none() | st.booleans()),
        credential_id=draw(MAYBE_TEXT),
        origin=draw(st.sampled_from(list(Origin))),
    )


RULES = st.builds(
    ExceptionRule,
    target=TEXT,
    account=TEXT,
    kind=st.none() | st.sampled_from(list(FindingKind)),
    reason=TEXT,
    owner=TEXT,
    expires=st.dates(min_value=date(2000, 1, 1)),
)


@st.composite
def findings(draw: st.DrawFn) -> Finding:
    kind = draw(st.sampled_from(list(FindingKind)))
    account = draw(st.none() | records())
    identity = draw(records()) if account is None else draw(st.none() | records())
    target = draw(TEXT)
    subject = account or identity
    assert subject is not None
    return Finding(
        kind=kind,
        severity=draw(st.sampled_from(SEVERITY_ORDER)),
        target=target,
        account=account,
        identity=identity,
        message=draw(TEXT),
        detail=draw(st.dictionaries(TEXT, VALUES, max_size=4)),
        remediation=draw(st.sampled_from(list(Remediation))),
        remediation_reason=draw(TEXT),
        fingerprint=fingerprint(kind, target, subject.id) + draw(st.sampled_from(["", "x"])),
        expired_exception=draw(st.none() | RULES),
    )


@st.composite
def reports(draw: st.DrawFn) -> Report:
    counted = tuple(draw(st.lists(findings(), max_size=6)))
    excepted = tuple(draw(st.lists(st.tuples(findings(), RULES), max_size=3)))
    everything = [*counted, *(item for item, _ in excepted)]
    history = None
    if draw(st.booleans()):
        seen = {
            item.fingerprint: Seen(draw(INSTANTS), draw(st.integers(0, 999)), draw(st.booleans()))
            for item in everything
            if draw(st.booleans())
        }
        resolved = tuple(
            ResolvedFinding(draw(TEXT), kind, draw(TEXT), draw(MAYBE_TEXT), None, "x", at, at)
            for kind in draw(st.lists(st.sampled_from(list(FindingKind)), max_size=3))
            for at in (draw(INSTANTS),)
        )
        trend = (RunTrend(datetime(2026, 1, 1, tzinfo=UTC), ("hr",), 1, 0, {}, 1, 0),)
        history = HistoryView(draw(st.none() | INSTANTS), seen, resolved, trend)
    baseline = None
    if draw(st.booleans()):
        accepted = frozenset(item.fingerprint for item in everything if draw(st.booleans()))
        stale = tuple(
            BaselineEntry(draw(TEXT), FindingKind.ORPHAN, "crm", None, draw(TEXT), "", None)
            for _ in range(draw(st.integers(0, 2)))
        )
        baseline = BaselineView(draw(TEXT), len(accepted), accepted, stale)
    return Report(
        tool_version="0.1.0",
        generated_at=draw(INSTANTS),
        source_name=draw(TEXT),
        source_connector="csv",
        identities=3,
        targets=(TargetStats(draw(TEXT), "csv", 1, 1, 0, 0, 0),),
        findings=counted,
        excepted=excepted,
        gate=evaluate((), counted),
        history=history,
        baseline=baseline,
        allowlist=tuple(
            BroadEntry(ListName.PROTECTED, "crm", draw(TEXT), tuple(draw(st.lists(TEXT))))
            for _ in range(draw(st.integers(0, 1)))
        ),
    )


# ---------------------------------------------------------------- the encoder


@settings(deadline=None, max_examples=1500)
@given(VALUES, st.integers(0, 3))
def test_dumps_writes_the_standard_librarys_text(value: Any, level: int) -> None:
    assert dumps(value, level) == standard(value, level)


@pytest.mark.parametrize(
    "value",
    [
        "".join(map(chr, range(0x20))) + '\x7f\u2028\u2029\U0001f600"\\/',
        {},
        [],
        {"a": {}, "b": [], "c": [{}], "d": [[]]},
        [1e-07, 1e16, 1e22, float("nan"), float("inf"), -float("inf"), -0.0, 0.1],
        [2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**40],
        {"id": "bad\ud800name", "pair": "\ud83d\ude00", "low": "\udfff"},
        {1: "one", None: "nothing", 1.5: "half"},
        {True: "yes", False: "no", "true": "text"},
        {Origin.JIT: 1},
        [Origin.SCIM, (1, ("a",))],
    ],
)
def test_dumps_writes_awkward_values_as_the_standard_library_does(value: Any) -> None:
    for level in (0, 2):
        assert dumps(value, level) == standard(value, level)


def test_values_orjson_writes_alike_never_reach_the_standard_library(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path is taken: text, flags, None, integers of 64 bits, lists and dicts."""

    class Refuse(json.JSONEncoder):
        def encode(self, o: Any) -> str:
            raise AssertionError(f"the standard library was asked for {o!r}")

    plain = {"a": [1, -(2**63), 2**64 - 1, True, None, "zoë 山 \U0001f600"], "b": {"c": ()}}
    expected = standard(plain, 2)
    monkeypatch.setattr(json_reporter, "_STANDARD", Refuse())
    assert dumps(plain, 2) == expected


@pytest.mark.parametrize("size", [0, 1, BATCH - 1, BATCH, BATCH + 1, 2 * BATCH + 3])
@pytest.mark.parametrize("level", [0, 1, 3])
def test_a_long_list_is_written_in_batches_as_the_standard_library_writes_it(
    size: int, level: int
) -> None:
    """A batch of plain items is one orjson call; a batch holding an item orjson would
    write otherwise (a float) or refuses (a lone surrogate) is written item by item."""

    def item(number: int) -> Any:
        if number % 97 == 5:
            return {"score": 0.1 * number}
        if number % 131 == 7:
            return {"id": f"bad\ud800{number}"}
        return Plain({"id": f"u{number}", "n": number, "tags": ["a", {}], "none": None})

    items = [item(number) for number in range(size)]
    streamed = "".join(json_reporter.stream(Items(lambda: iter(items)), level))
    assert streamed == standard(items, level)
    wrapped = "".join(json_reporter.stream({"findings": Items(lambda: iter(items))}, level))
    assert wrapped == standard({"findings": items}, level)


def test_dumps_refuses_what_the_standard_library_refuses() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(circular)
    for value in ({"when": datetime(2026, 1, 1)}, [{1, 2}], {"x": object()}):
        with pytest.raises(TypeError, match="not JSON serializable"):
            dumps(value)


def test_dumps_goes_deeper_than_orjson() -> None:
    value: list[Any] = ["x"]
    for _ in range(300):
        value = [value, {"k": 1}]
    assert dumps(value, 1) == standard(value, 1)


# ---------------------------------------------------------------- the fast serialisation


@settings(deadline=None, max_examples=300)
@given(records())
def test_records_serialise_as_before(value: Record) -> None:
    for fields in (serialize.ACCOUNT_FIELDS, serialize.IDENTITY_FIELDS, ("created_at",)):
        data = serialize.record(value, fields)
        assert data == reference_record(value, fields)
        assert json.dumps(data, ensure_ascii=False) == json.dumps(
            reference_record(value, fields), ensure_ascii=False
        )


def test_a_record_holding_odd_values_serialises_as_before() -> None:
    """Values no connector makes, in fields that do not hold them, still come out alike."""
    when = datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=timezone(timedelta(hours=5)))
    odd = Record(
        id="x",
        location="y",
        username=when,  # type: ignore[arg-type]
        email=1e-07,  # type: ignore[arg-type]
        created_at=datetime(2026, 1, 1, 12),
        last_login_at=when,
        kind=FindingKind.ORPHAN,
        attributes={"team": "ops"},
    )
    for fields in (serialize.ACCOUNT_FIELDS, ("id", "team", "kind"), ("team",)):
        assert serialize.record(odd, fields) == reference_record(odd, fields)


@settings(deadline=None, max_examples=300)
@given(INSTANTS)
def test_instants_are_written_in_utc_to_the_second(moment: datetime) -> None:
    expected = as_utc(moment).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    assert format_datetime(moment) == expected


def test_instants_at_the_ends_of_the_calendar_and_of_a_subclass() -> None:
    """orjson writes a ``datetime``; a subclass of it is spelt out, the same way."""

    class Moment(datetime):
        pass

    assert format_datetime(datetime(1, 1, 1)) == "0001-01-01T00:00:00Z"
    last = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert format_datetime(last) == "9999-12-31T23:59:59Z"
    assert format_datetime(Moment(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC)) == "2026-03-04T05:06:07Z"
    east = Moment(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=5)))
    assert format_datetime(east) == "2026-03-04T00:06:07Z"


# ---------------------------------------------------------------- the JSON report


@settings(deadline=None, max_examples=150)
@given(reports())
def test_the_streamed_json_report_is_the_whole_document_it_was(report: Report) -> None:
    expected = whole_document(report)
    pieces = list(JsonReporter().chunks(report))
    assert "".join(pieces) == expected
    assert JsonReporter().render(report) == expected
    assert serialize.report(report) == reference_report(report)
    batches = -(-len(report.findings) // BATCH) + -(-len(report.excepted) // BATCH)
    assert len(pieces) >= batches


def test_instants_left_to_the_encoder_are_written_as_before_on_every_path() -> None:
    """The JSON report leaves a record's instants in UTC (or naive) to its encoder; an
    instant in another zone is written here first. Each path gives the whole document's
    text: orjson's, the standard library's for a detail orjson spells otherwise (a float),
    and for a lone surrogate, which orjson refuses."""
    east = timezone(timedelta(hours=-5))
    odd = Record(id="E1", location="hr.csv", email=1e-07)  # type: ignore[arg-type]
    cases = (
        ("a1", {"n": 1}, None),
        ("a1", {"f": 0.1}, None),
        ("a\ud800", {"n": 1}, None),
        ("a1", {"n": 1}, odd),  # a float no connector puts there: the standard library's
    )
    for account_id, detail, identity in cases:
        account = Record(
            id=account_id,
            location="app.json",
            created_at=datetime(2026, 3, 4, 5, 6, 7, 890, tzinfo=UTC),
            last_login_at=datetime(2026, 3, 4, 23, 0),
            expires_at=datetime(2026, 3, 4, 22, 0, tzinfo=east),
        )
        finding = Finding(
            kind=FindingKind.DORMANT,
            severity=Severity.MEDIUM,
            target="app",
            account=account,
            identity=identity,
            message="m",
            detail=detail,
            remediation=Remediation.NONE,
            remediation_reason="",
            fingerprint=fingerprint(FindingKind.DORMANT, "app", account_id),
        )
        native = serialize.finding(finding, native_instants=True)
        assert (type(native) is Plain) == (detail == {"n": 1} and identity is None)
        report = Report(
            tool_version="0",
            generated_at=datetime(2026, 3, 5, tzinfo=UTC),
            source_name="hr",
            source_connector="csv",
            identities=0,
            targets=(),
            findings=(finding,),
            excepted=(),
            gate=evaluate([], [finding]),
        )
        text = JsonReporter().render(report)
        assert text == whole_document(report)
        assert '"created_at": "2026-03-04T05:06:07Z"' in text
        assert '"last_login_at": "2026-03-04T23:00:00Z"' in text
        assert '"expires_at": "2026-03-05T03:00:00Z"' in text


def example_report(tmp_path: Path) -> Report:
    loaded = config.load(ROOT / "config.sample.yaml")
    instant = parse_datetime(NOW)
    assert instant is not None
    return pipeline.audit(loaded, now=instant)


def test_the_streamed_json_report_of_the_example_is_the_whole_document(tmp_path: Path) -> None:
    report = example_report(tmp_path)
    assert report.findings, "the example estate has findings"
    pieces = list(JsonReporter().chunks(report))
    assert "".join(pieces) == whole_document(report)
    for piece in pieces:  # a piece is one field, or a batch of findings, not more
        assert len(re.findall(r'\n  "[a-z_]+": ', piece)) <= 1
        assert piece.count('"fingerprint": ') <= BATCH


def synthetic(size: int) -> Report:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    made = tuple(
        Finding(
            kind=FindingKind.DORMANT,
            severity=SEVERITY_ORDER[number % 5],
            target=f"app{number % 3}",
            account=Record(
                id=f"u{number}\ud800" if number % 97 == 0 else f"u{number}",
                location="app.csv",
                username=f"zoë{number}",
                created_at=base - timedelta(days=number),
                last_login_at=base - timedelta(seconds=number),
                origin=Origin.JIT,
            ),
            identity=None,
            message=f"u{number}: last used long ago",
            detail={"days": number, "ratio": number / 7} if number % 10 == 0 else {"days": 1},
            remediation=Remediation.DISABLE,
            remediation_reason="",
            fingerprint=f"{number:032x}",
        )
        for number in range(size)
    )
    seen = {item.fingerprint: Seen(base, 3, False) for item in made[::2]}
    return Report(
        "0.1.0",
        base,
        "hr",
        "csv",
        size,
        (),
        made,
        (),
        evaluate((), made),
        history=HistoryView(None, seen, (), ()),
    )


def test_a_large_report_is_made_a_batch_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    report = synthetic(3000)
    made: list[Finding] = []
    listed = serialize.listed

    def counted(value: Report, item: Finding, *, native_instants: bool) -> dict[str, Any]:
        made.append(item)
        return listed(value, item, native_instants=native_instants)

    monkeypatch.setattr(serialize, "listed", counted)
    pieces = JsonReporter().chunks(report)
    head = ""
    while '"fingerprint"' not in head:
        head += next(pieces)
    assert len(made) == BATCH, "the first batch is written before the others are made"
    rest = list(pieces)
    assert len(made) == 3000 and len(rest) > 3000 // BATCH
    assert head + "".join(rest) == whole_document(report)


# ---------------------------------------------------------------- the CSV report


def test_the_streamed_csv_report_is_its_whole_text() -> None:
    report = synthetic(ROWS * 2 + 7)
    pieces = list(CsvReporter().chunks(report))
    assert len(pieces) == 3
    assert all(piece.endswith("\r\n") for piece in pieces)
    assert "".join(pieces) == CsvReporter().render(report)
    assert "".join(pieces).count("\r\n") == len(report.findings) + 1
    empty = synthetic(0)
    assert list(CsvReporter().chunks(empty)) == [CsvReporter().render(empty)]


# ---------------------------------------------------------------- writing pieces


def failing_pieces(made: list[str]) -> Iterator[str]:
    for number in range(10):
        made.append(f"piece {number}\n")
        yield made[-1]
    raise RuntimeError("the reporter broke half way")


def test_pieces_are_written_whole_private_and_with_surrogates_escaped(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "out.json"
    report = synthetic(300)
    write_all([(path, JsonReporter().chunks(report))])
    text = whole_document(report)
    assert path.read_bytes() == text.encode("utf-8", "backslashreplace")
    assert b"u0\\ud800" in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)


def test_a_reporter_failing_half_way_leaves_no_file_and_no_temporary(tmp_path: Path) -> None:
    made: list[str] = []
    with pytest.raises(RuntimeError, match="half way"):
        write_all([(tmp_path / "new.json", failing_pieces(made))])
    assert len(made) == 10, "the pieces were being written as they came"
    assert os.listdir(tmp_path) == []


def test_a_reporter_failing_half_way_leaves_the_old_file_as_it_was(tmp_path: Path) -> None:
    old, other = tmp_path / "report.json", tmp_path / "report.csv"
    old.write_text("the report of last night\n")
    with pytest.raises(RuntimeError, match="half way"):
        write_all([(other, iter(["a,b\r\n"])), (old, failing_pieces([]))])
    assert old.read_text() == "the report of last night\n"
    assert sorted(os.listdir(tmp_path)) == ["report.json"], "neither file, no temporary"


def refusing(
    monkeypatch: pytest.MonkeyPatch, refused: Path, error: int = errno.EBUSY
) -> list[Path]:
    """``os.replace`` refuses to put anything at ``refused`` (as a file bind-mounted into a
    container does); the destinations it replaced are listed."""
    real = os.replace
    replaced: list[Path] = []

    def replace(source: Any, destination: Any) -> None:
        if Path(destination) == refused:
            raise OSError(error, os.strerror(error), str(destination))
        real(source, destination)
        replaced.append(Path(destination))

    monkeypatch.setattr(os, "replace", replace)
    return replaced


def test_a_destination_that_cannot_be_replaced_puts_back_those_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or none holds through the renames too: the first report was put back as it
    was, the new third one never appears, and nothing is left beside them."""
    first, second, third = (tmp_path / name for name in ("r.json", "r.csv", "r.sarif"))
    first.write_text("last night's json\n")
    second.write_text("last night's csv\n")
    replaced = refusing(monkeypatch, second)
    with pytest.raises(OutputError, match=r"r\.csv: cannot write: Device or resource busy"):
        write_all([(first, iter(["new json\n"])), (second, iter(["x"])), (third, iter(["y"]))])
    assert replaced[0] == first, "the first was replaced, then put back"
    assert first.read_text() == "last night's json\n"
    assert second.read_text() == "last night's csv\n"
    assert sorted(os.listdir(tmp_path)) == ["r.csv", "r.json"]
    monkeypatch.undo()
    write_all([(first, iter(["new json\n"])), (second, iter(["x"])), (third, iter(["y"]))])
    assert [first.read_text(), second.read_text(), third.read_text()] == ["new json\n", "x", "y"]
    assert sorted(os.listdir(tmp_path)) == ["r.csv", "r.json", "r.sarif"]


def test_a_new_file_is_removed_again_when_a_later_one_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made, refused = tmp_path / "new.json", tmp_path / "old.csv"
    refused.write_text("kept\n")
    refusing(monkeypatch, refused, errno.EPERM)
    with pytest.raises(OutputError, match="Operation not permitted"):
        write_all([(made, iter(["{}"])), (refused, iter(["a"]))])
    assert sorted(os.listdir(tmp_path)) == ["old.csv"]
    assert refused.read_text() == "kept\n"


def test_an_old_file_that_cannot_be_put_back_is_kept_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second file cannot be replaced, and the first cannot be put back either: its
    old content is never deleted, and the error says where it is."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text("OLD-A")
    second.write_text("OLD-B")
    real = os.replace
    into_first: list[Any] = []

    def replace(source: Any, destination: Any) -> None:
        if Path(destination) == second:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(destination))
        if Path(destination) == first:
            into_first.append(source)
            if len(into_first) > 1:  # putting the old one back
                raise OSError(errno.EIO, os.strerror(errno.EIO), str(destination))
        real(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OutputError) as raised:
        write_all([(first, iter(["NEW-A"])), (second, iter(["NEW-B"]))])
    message = str(raised.value)
    assert "b.json: cannot write: Device or resource busy" in message
    assert f"{first} is new and could not be put back (Input/output error)" in message
    kept = Path(message.rsplit("its old content is kept at ", 1)[1])
    assert kept.read_text() == "OLD-A", "the only copy of the old report is not deleted"
    assert second.read_text() == "OLD-B"


def test_an_old_file_that_cannot_be_kept_aside_replaces_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every old file is kept aside before the first is replaced: one that cannot be (no
    hard link, and no room for a copy) leaves every file as it was."""
    names = ("a.json", "b.html", "c.md")
    for name in names:
        (tmp_path / name).write_text(f"old {name}\n")
    real = output._keep_aside

    def keep_aside(path: Path, aside: Path) -> None:
        if path.name == "c.md":
            aside.write_text("half a copy")  # as a copy cut short by a full disk leaves it
            raise OutputError(f"{path}: cannot keep the old file aside: No space left on device")
        real(path, aside)

    monkeypatch.setattr(output, "_keep_aside", keep_aside)
    with pytest.raises(OutputError, match="No space left"):
        write_all([(tmp_path / name, iter([f"new {name}\n"])) for name in names])
    assert [(tmp_path / name).read_text() for name in names] == [f"old {n}\n" for n in names]
    assert sorted(os.listdir(tmp_path)) == list(names), "no temporary, no file kept aside"


def test_a_signal_between_two_renames_waits_until_every_file_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM as the first file is renamed: the run still stops with it, but after the
    last file is in place, never between the two."""

    class Stopped(Exception):
        pass

    def stop(number: int, frame: Any) -> None:
        raise Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    real = os.replace
    seen: list[set[str]] = []

    def replace(source: Any, destination: Any) -> None:
        real(source, destination)
        if not seen:
            signal.raise_signal(signal.SIGTERM)
        seen.append(set(os.listdir(tmp_path)))

    monkeypatch.setattr(os, "replace", replace)
    try:
        with pytest.raises(Stopped):
            write_all([(tmp_path / "a.json", iter(["a"])), (tmp_path / "b.csv", iter(["b"]))])
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert {"a.json", "b.csv"} <= seen[-1], "the second rename ran after the signal came"
    assert sorted(os.listdir(tmp_path)) == ["a.json", "b.csv"]


def test_a_link_is_refused_before_any_piece_is_made(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    link = tmp_path / "report.json"
    link.symlink_to(victim)
    made: list[str] = []
    with pytest.raises(Exception, match="symbolic link"):
        write_all([(link, failing_pieces(made))])
    assert made == [] and victim.read_text() == "keep me" and link.is_symlink()


class Broken(Reporter):
    name = "json"
    description = "breaks half way"
    extensions = (".json",)

    def render(self, report: Report) -> str:
        return "".join(self.chunks(report))

    def chunks(self, report: Report) -> Iterator[str]:
        yield from failing_pieces([])


def test_the_audit_command_writes_no_report_when_one_breaks_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = audit_command._Table(Color.never, kinds=(), levels=())
    good, bad = tmp_path / "report.csv", tmp_path / "report.json"
    bad.write_text("{}\n")
    monkeypatch.setitem(FORMATS, "json", Broken)
    with pytest.raises(RuntimeError, match="half way"):
        audit_command._emit(synthetic(20), [("csv", good), ("json", bad)], table)
    assert sorted(os.listdir(tmp_path)) == ["report.json"] and bad.read_text() == "{}\n"


@pytest.mark.parametrize("name", ["json", "csv"])
def test_the_audit_command_streams_to_its_files_and_stdout(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = synthetic(ROWS + 3)
    table = audit_command._Table(Color.never, kinds=(), levels=())
    path = tmp_path / f"report.{name}"
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    audit_command._emit(report, [(name, path)], table)
    expected = FORMATS[name]().render(report)
    assert path.read_bytes() == expected.encode("utf-8", "backslashreplace")
    assert stdout.getvalue() == ""
    audit_command._emit(report, [(name, None)], table)
    assert stdout.getvalue() == expected
