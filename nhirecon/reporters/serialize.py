"""Reports as plain data: the JSON schema, shared by every machine-readable format.

A report can hold hundreds of thousands of findings, so what runs once per finding here
is written for speed (attributes read together, enumerations by their ``_value_``), and
:func:`sections` gives the long lists as :class:`Items`, made one item at a time, for the
JSON report to write as it goes."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
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
from nhirecon.reporters.plain import Items, Plain, plain
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
_AS_IS_NATIVE = _AS_IS | {datetime}
"""The same, with the instants a JSON encoder of :mod:`nhirecon.reporters.json` writes."""


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


def record(
    value: Record | None, fields: tuple[str, ...], *, native_instants: bool = False
) -> dict[str, Any] | None:
    """``fields`` of ``value`` as plain data (a :class:`Plain` when each value is text, a
    flag or ``None`` once its instants are written), in the order of ``fields``; each value
    as :func:`_convert` writes it.

    With ``native_instants``, an instant of type ``datetime`` in UTC (or naive) is left as
    it is, in a :class:`Plain` too, for the encoders of :mod:`nhirecon.reporters.json`,
    which write it as :func:`~nhirecon.core.values.format_datetime` does (orjson, in C,
    with :data:`~nhirecon.core.values.SECONDS_Z`): the JSON report's findings."""
    if value is None:
        return None
    data, as_is = _read(value, fields, native_instants)
    return Plain(data) if as_is else data


def _read(
    value: Record, fields: tuple[str, ...], native_instants: bool
) -> tuple[dict[str, Any], bool]:
    """``fields`` of ``value`` as :func:`record` gives them (the dict itself, not yet a
    :class:`Plain`), and whether they are plain data."""
    if fields is ACCOUNT_FIELDS:  # the report's own lists of fields, without hashing them
        read, instants = _ACCOUNT_PLAN
    elif fields is IDENTITY_FIELDS:
        read, instants = _IDENTITY_PLAN
    else:
        read, instants = _plan(fields)
    data = read(value)
    for name in instants:
        if type(item := data[name]) is datetime and not (
            native_instants and (item.tzinfo is UTC or item.tzinfo is None)
        ):
            data[name] = format_datetime(item)
    if (_AS_IS_NATIVE if native_instants else _AS_IS).issuperset(map(type, data.values())):
        return data, True
    converted = {
        name: item if item is None or type(item) is str or type(item) is bool else _convert(item)
        for name, item in data.items()
    }
    return converted, plain(converted)


_ACCOUNT_PLAN: Final = _plan(ACCOUNT_FIELDS)
_IDENTITY_PLAN: Final = _plan(IDENTITY_FIELDS)


def exception(rule: ExceptionRule) -> dict[str, Any]:
    return {
        "target": rule.target,
        "account": rule.account,
        "kind": rule.kind.value if rule.kind else None,
        "reason": rule.reason,
        "owner": rule.owner,
        "expires": rule.expires.isoformat(),
    }


def finding(item: Finding, *, native_instants: bool = False) -> dict[str, Any]:
    """One finding as plain data; a :class:`Plain` when its records and detail are, and
    then with its records' instants as :func:`record` leaves them with
    ``native_instants`` (a finding that is not plain is written by the standard library,
    which takes only text)."""
    kind: str = item.kind._value_
    account: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    is_plain = True
    if item.account is not None:
        account, is_plain = _read(item.account, ACCOUNT_FIELDS, native_instants)
    if item.identity is not None:
        identity, plain_identity = _read(item.identity, IDENTITY_FIELDS, native_instants)
        is_plain = is_plain and plain_identity
    detail = dict(item.detail)
    is_plain = is_plain and plain(detail)
    if native_instants and not is_plain:
        account = record(item.account, ACCOUNT_FIELDS)
        identity = record(item.identity, IDENTITY_FIELDS)
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
    return Plain(data) if is_plain else data


def listed(report: Report, item: Finding, *, native_instants: bool = False) -> dict[str, Any]:
    """One finding as the JSON report lists it: :func:`finding` and :func:`finding_context`."""
    data = finding(item, native_instants=native_instants)
    data.update(finding_context(report, item))
    return data


def listed_excepted(
    report: Report, item: Finding, rule: ExceptionRule, *, native_instants: bool = False
) -> dict[str, Any]:
    """One excepted finding as the JSON report lists it: :func:`listed` and its exception."""
    data = listed(report, item, native_instants=native_instants)
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
            "outgrown": [
                {**entry_data(entry), "differing_now": list(more)}
                for entry, more in baseline.outgrown
            ],
        }
    return data


def evidence(value: Evidence) -> dict[str, Any]:
    """``coverage`` (canonical field → records with a value) and ``not_evaluated`` (the
    rules skipped for want of data, with why) of one source or target (SPEC §3.2)."""
    return {
        "coverage": dict(value.coverage),
        "not_evaluated": [
            {"rule": item.rule.value, "reason": item.reason}
            | ({} if item.input is None else {"input": item.input})
            for item in value.not_evaluated
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


def sections(value: Report, *, native_instants: bool = False) -> dict[str, Any]:
    """The JSON report's fields in order, each long list (the findings, the excepted ones,
    the resolved ones, the stale baseline entries) as :class:`Items`; the instants of the
    findings' records as :func:`record` leaves them with ``native_instants``."""
    native = native_instants
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
        "findings": Items(
            lambda: (listed(value, item, native_instants=native) for item in value.findings)
        ),
        "excepted": Items(
            lambda: (
                listed_excepted(value, item, rule, native_instants=native)
                for item, rule in value.excepted
            )
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
