"""Reports as plain data: the JSON schema, shared by every machine-readable format.

A report can hold hundreds of thousands of findings, so what runs once per finding here
is written for speed (attributes read together, enumerations by their ``_value_``), and
:func:`sections` gives the long lists as :class:`Items`, made one item at a time, for the
JSON report to write as it goes."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, Final

from nhirecon.core.evidence import Evidence
from nhirecon.core.model import (
    CANONICAL_FIELDS,
    DATE_FIELDS,
    KIND_INFO,
    SEVERITY_ORDER,
    ExceptionRule,
    Finding,
    FindingKind,
    Origin,
    Record,
)
from nhirecon.core.report import Report, ResolvedFinding, RunTrend
from nhirecon.core.values import format_datetime
from nhirecon.state.baseline import entry_data

ACCOUNT_FIELDS = (
    "id",
    "external_id",
    "username",
    "email",
    "display_name",
    "origin",
    "active",
    "kind",
    "created_at",
    "last_login_at",
    "expires_at",
    "credential_rotated_at",
    "last_interactive_login_at",
    "password_enabled",
    "credential_id",
)
IDENTITY_FIELDS = (
    "id",
    "username",
    "email",
    "display_name",
    "status",
    "kind",
    "owner",
    "department",
    "title",
    "manager",
    "expires_at",
    "credential_id",
)


CONTROLS = {kind.value: KIND_INFO[kind].controls for kind in FindingKind}
"""Each kind's controls, by the kind's value (an enumeration hashes slowly)."""


class Plain(dict[str, Any]):
    """A dict of the report made of plain data only (see :func:`plain`), known so when it
    was made: :func:`plain` takes it at its word, without looking inside. Only this module
    makes one, and adds to one only plain data."""

    __slots__ = ()


_LEAVES: Final[set[type]] = {str, bool, int, type(None)}
"""The types of plain values, with each subclass of ``str`` met (a text enumeration)."""
_DEPTH: Final = 200
"""How deep :func:`plain` looks; anything deeper is not plain."""


def plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is plain data: text, flags, ``None`` and integers, in lists,
    tuples and dicts, nested at most :data:`_DEPTH` deep (a :class:`Plain` is, by how it
    was made). The JSON report encodes plain data by orjson, which writes it as the
    standard library does (it refuses keys other than text, integers beyond 64 bits and
    lone surrogates, and the report then falls back); floats, for one, it writes otherwise.
    A list or dict of leaves only is checked in C."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind is Plain or kind in _LEAVES or isinstance(value, str)
    if _LEAVES.issuperset(map(type, items)):
        return True
    if depth >= _DEPTH:
        return False
    for item in items:
        kind = type(item)
        if kind in _LEAVES or kind is Plain:
            continue
        if kind is dict or kind is list or kind is tuple:
            if not plain(item, depth + 1):
                return False
        elif isinstance(item, str):  # a text enumeration: its text, by either
            _LEAVES.add(kind)
        else:
            return False
    return True


class Items:
    """A list of the report that can be long (the findings): its items are made as they
    are read, each time it is iterated, so that the whole list is never held at once."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Iterator[Any]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[Any]:
        return self._make()


_instant_seen = functools.lru_cache(maxsize=4096)(format_datetime)
"""For the instants the history gives, which are those of a few runs."""


def _convert(item: Any) -> Any:
    """A record's value that is not text, a flag or ``None``: an instant as ISO-8601 text,
    an enumeration (other than a text one) as its value."""
    if hasattr(item, "isoformat"):
        return format_datetime(item)
    if hasattr(item, "value") and not isinstance(item, str | bool):
        return item.value
    return item


_AS_IS = frozenset({str, bool, type(None), Origin})
"""Types of record values that :func:`_convert` leaves as they are."""


@functools.cache
def _plan(fields: tuple[str, ...]) -> tuple[Callable[[Record], dict[str, Any]], tuple[str, ...]]:
    """How to read ``fields`` of a record into a dict, and which of them may hold an
    instant. Canonical fields (attributes, whose names are identifiers) are read by a dict
    display made once here, as :mod:`dataclasses` makes its methods: the dict is built
    presized, in one step, about twice as fast as ``dict(zip(...))``."""
    instants = tuple(name for name in fields if name in DATE_FIELDS)
    if all(name in CANONICAL_FIELDS and name.isidentifier() for name in fields):
        display = ", ".join(f"{name!r}: record.{name}" for name in fields)
        return eval(f"lambda record: {{{display}}}", {"__builtins__": {}}), instants
    return (lambda value: {name: value.value(name) for name in fields}), instants


def record(value: Record | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    """``fields`` of ``value`` as plain data (a :class:`Plain` when each value is text, a
    flag or ``None`` once its instants are written), in the order of ``fields``; each value
    as :func:`_convert` writes it."""
    if value is None:
        return None
    read, instants = _plan(fields)
    data = read(value)
    for name in instants:
        if type(item := data[name]) is datetime:
            data[name] = format_datetime(item)
    if _AS_IS.issuperset(map(type, data.values())):  # in C: nothing else to convert
        return Plain(data)
    return {
        name: item if item is None or type(item) is str or type(item) is bool else _convert(item)
        for name, item in data.items()
    }


def exception(rule: ExceptionRule) -> dict[str, Any]:
    return {
        "target": rule.target,
        "account": rule.account,
        "kind": rule.kind.value if rule.kind else None,
        "reason": rule.reason,
        "owner": rule.owner,
        "expires": rule.expires.isoformat(),
    }


def finding(item: Finding) -> dict[str, Any]:
    """One finding as plain data; a :class:`Plain` when its records and detail are."""
    kind: str = item.kind._value_
    account = record(item.account, ACCOUNT_FIELDS)
    identity = record(item.identity, IDENTITY_FIELDS)
    detail = dict(item.detail)
    data: dict[str, Any] = {
        "fingerprint": item.fingerprint,
        "kind": kind,
        "severity": item.severity._value_,
        "target": item.target,
        "account": account,
        "identity": identity,
        "message": item.message,
        "detail": detail,
        "remediation": item.remediation._value_,
        "remediation_reason": item.remediation_reason,
        "controls": list(CONTROLS[kind]),
    }
    if item.expired_exception is not None:
        data["expired_exception"] = exception(item.expired_exception)
    # The other values are text (a finding's own, or the config's) or lists of it.
    return Plain(data) if plain(account) and plain(identity) and plain(detail) else data


def listed(report: Report, item: Finding) -> dict[str, Any]:
    """One finding as the JSON report lists it: :func:`finding` and :func:`finding_context`."""
    data = finding(item)
    data.update(finding_context(report, item))
    return data


def listed_excepted(report: Report, item: Finding, rule: ExceptionRule) -> dict[str, Any]:
    """One excepted finding as the JSON report lists it: :func:`listed` and its exception."""
    data = listed(report, item)
    data["exception"] = exception(rule)
    return data


def summary(report: Report) -> dict[str, Any]:
    findings = report.findings
    by_kind = Counter(item.kind._value_ for item in findings)
    by_target = Counter(item.target for item in findings)
    by_severity = Counter(item.severity._value_ for item in findings)
    return {
        "total": len(report.findings),
        "excepted": len(report.excepted),
        "by_kind": {kind.value: by_kind[kind.value] for kind in FindingKind if by_kind[kind.value]},
        "by_target": dict(sorted(by_target.items())),
        "by_severity": {
            level.value: by_severity[level.value]
            for level in SEVERITY_ORDER
            if by_severity[level.value]
        },
        **run_summary(report),
    }


def run_summary(report: Report) -> dict[str, Any]:
    """Counts that exist only with history (new, resolved) or a baseline (baselined)."""
    data: dict[str, Any] = {}
    if report.history is not None:
        seen = report.history.seen
        data["new"] = sum(
            1 for item in report.findings if (known := seen.get(item.fingerprint)) and known.new
        )
        data["resolved"] = len(report.history.resolved)
    if report.baseline is not None:
        data["baselined"] = len(report.baseline.accepted)
    return data


def finding_context(report: Report, item: Finding) -> dict[str, Any]:
    """Per-finding fields from the history (first_seen, age_days, new) and the baseline."""
    data: dict[str, Any] = {}
    history, baseline = report.history, report.baseline
    seen = None if history is None else history.seen.get(item.fingerprint)
    if seen is not None:
        data["first_seen"] = _instant_seen(seen.first_seen)
        data["age_days"] = seen.age_days
        data["new"] = seen.new
    if baseline is not None:
        data["baselined"] = item.fingerprint in baseline.accepted
    return data


def resolved(item: ResolvedFinding) -> dict[str, Any]:
    return {
        "fingerprint": item.fingerprint,
        "kind": item.kind.value,
        "target": item.target,
        "account_id": item.account_id,
        "identity_id": item.identity_id,
        "label": item.label,
        "first_seen": format_datetime(item.first_seen),
        "last_seen": format_datetime(item.last_seen),
    }


def trend_point(run: RunTrend) -> dict[str, Any]:
    return {
        "at": format_datetime(run.at),
        "places": list(run.places),
        "total": run.total,
        "excepted": run.excepted,
        "new": run.new,
        "resolved": run.resolved,
        "by_kind": {kind.value: count for kind, count in run.by_kind.items()},
    }


def run_context(report: Report) -> dict[str, Any]:
    """Top-level sections that exist only with history or a baseline (their long lists as
    :class:`Items`)."""
    data: dict[str, Any] = {}
    history, baseline = report.history, report.baseline
    if history is not None:
        previous = history.previous_run
        data["resolved"] = Items(lambda: (resolved(item) for item in history.resolved))
        data["history"] = {
            "previous_run": format_datetime(previous) if previous else None,
            "trend": [trend_point(run) for run in history.trend],
        }
    if baseline is not None:
        data["baseline"] = {
            "path": baseline.path,
            "entries": baseline.entries,
            "matched": len(baseline.accepted),
            "stale": Items(lambda: (entry_data(entry) for entry in baseline.stale)),
        }
    return data


def evidence(value: Evidence) -> dict[str, Any]:
    """``coverage`` (canonical field → records with a value) and ``not_evaluated`` (the
    rules skipped for want of data, with why) of one source or target (SPEC §3.2)."""
    return {
        "coverage": dict(value.coverage),
        "not_evaluated": [
            {"rule": item.rule.value, "reason": item.reason} for item in value.not_evaluated
        ],
    }


def report(value: Report) -> dict[str, Any]:
    """The JSON report, schema version 1."""
    return {key: _whole(item) for key, item in sections(value).items()}


def _whole(value: Any) -> Any:
    if isinstance(value, Items):
        return list(value)
    if isinstance(value, dict):
        return {key: _whole(item) for key, item in value.items()}
    return value


def sections(value: Report) -> dict[str, Any]:
    """The JSON report's fields in order, each long list (the findings, the excepted ones,
    the resolved ones, the stale baseline entries) as :class:`Items`."""
    data: dict[str, Any] = {
        "schema_version": value.schema_version,
        "tool": {"name": "nhirecon", "version": value.tool_version},
        "generated_at": format_datetime(value.generated_at),
        "source": {
            "name": value.source_name,
            "connector": value.source_connector,
            "identities": value.identities,
            **evidence(value.source_evidence),
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
                **evidence(stats.evidence),
            }
            for stats in value.targets
        ],
        "summary": summary(value),
        "findings": Items(lambda: (listed(value, item) for item in value.findings)),
        "excepted": Items(
            lambda: (listed_excepted(value, item, rule) for item, rule in value.excepted)
        ),
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
    data.update(run_context(value))
    return data
