"""Baselines: findings a team has accepted for now, so that CI fails only on new ones.

A baseline file is JSON::

    {
      "nhirecon_baseline": 1,
      "generated_at": "2026-11-28T00:00:00Z",
      "source": "hr",
      "entries": [
        {"fingerprint": "…", "kind": "orphan", "target": "crm", "account": "u-17",
         "label": "old-admin", "note": "migration, ticket SEC-12",
         "accepted_at": "2026-11-28T00:00:00Z"}
      ]
    }

A ``stale-attribute`` entry also holds ``"fields"``, the compared fields whose drift was
accepted: the finding is accepted only while no other field drifts (a reviewed drift of
``department`` does not accept a later one of ``groups``).

``fingerprint`` decides a match; the other fields are there for the people who review
the file, so they must tell the truth about it: an entry whose ``account`` is not the one
its fingerprint hashes, or whose fingerprint matches a finding of another kind, target or
account, refuses the file (an entry that reads as a dormant test account must not accept a
leaver). Entries are sorted by kind, target and label so that diffs stay small.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from nhirecon.connectors import files
from nhirecon.core import strict_json
from nhirecon.core.gate import evaluate
from nhirecon.core.model import Finding, FindingKind, fingerprint
from nhirecon.core.report import BaselineEntry, BaselineView, Report
from nhirecon.core.values import ValueError_, format_datetime, parse_datetime
from nhirecon.errors import NhireconError
from nhirecon.exit_codes import ExitCode

FORMAT_VERSION: Final = 1
VERSION_KEY: Final = "nhirecon_baseline"
ENTRY_KEYS: Final = (
    "fingerprint",
    "kind",
    "target",
    "account",
    "label",
    "note",
    "accepted_at",
    "fields",
)


class BaselineError(NhireconError):
    """A baseline file is missing, unreadable or malformed; the message names it."""

    exit_code = ExitCode.USAGE


@dataclass(frozen=True)
class Baseline:
    """A baseline file's content."""

    path: str
    generated_at: datetime | None
    source: str | None
    entries: tuple[BaselineEntry, ...]

    def by_fingerprint(self) -> Mapping[str, BaselineEntry]:
        return {entry.fingerprint: entry for entry in self.entries}


def _entry_key(entry: BaselineEntry) -> tuple[str, str, str, str]:
    return (entry.kind.value, entry.target, entry.label, entry.fingerprint)


def _covered(report: Report) -> set[str]:
    return {report.source_name, *(stats.name for stats in report.targets)}


def entry_for(finding: Finding, *, note: str, accepted_at: datetime) -> BaselineEntry:
    subject = finding.account or finding.identity
    return BaselineEntry(
        fingerprint=finding.fingerprint,
        kind=finding.kind,
        target=finding.target,
        account=finding.account.id if finding.account else None,
        label=subject.label if subject else "",
        note=note,
        accepted_at=accepted_at,
        fields=drifted(finding),
    )


def drifted(finding: Finding) -> tuple[str, ...] | None:
    """The fields a ``stale-attribute`` finding names, sorted; ``None`` for another kind."""
    if finding.kind is not FindingKind.STALE_ATTRIBUTE:
        return None
    return tuple(sorted({str(item["field"]) for item in finding.detail.get("fields", ())}))


def unaccepted(entry: BaselineEntry, finding: Finding) -> tuple[str, ...]:
    """The fields of ``finding`` that ``entry`` does not accept (none: it accepts it all)."""
    found = drifted(finding)
    if entry.fields is None or found is None:
        return ()
    return tuple(name for name in found if name not in entry.fields)


def build(report: Report, *, note: str = "", previous: Baseline | None = None) -> Baseline:
    """A baseline accepting every counted finding of ``report``.

    Entries already in ``previous`` keep their note and acceptance time; entries of
    ``previous`` for places this run did not cover (``--target``) are kept as they are;
    the others, which match nothing any more, are dropped.
    """
    kept = previous.by_fingerprint() if previous else {}
    entries: dict[str, BaselineEntry] = {}
    for finding in report.findings:
        earlier = kept.get(finding.fingerprint)
        fresh = entry_for(finding, note=note, accepted_at=report.generated_at)
        if earlier is not None and _said(earlier) == _said(fresh):  # not an entry that lied
            # accepted anew (now) when it accepts more than it did: a field more, or fields
            # where it named none (written before entries named them, it accepted drifts
            # nobody reviewed)
            named_now = earlier.fields is None and fresh.fields is not None
            grew = named_now or bool(unaccepted(earlier, finding))
            accepted_at = fresh.accepted_at if grew else earlier.accepted_at
            fresh = replace(fresh, note=earlier.note, accepted_at=accepted_at)
        entries[finding.fingerprint] = fresh
    covered = _covered(report)
    for key, entry in kept.items():
        if entry.target not in covered and _truthful(entry):
            entries.setdefault(key, entry)
    return Baseline(
        path="",
        generated_at=report.generated_at,
        source=report.source_name,
        entries=tuple(sorted(entries.values(), key=_entry_key)),
    )


def entry_data(entry: BaselineEntry) -> dict[str, Any]:
    """One entry as it stands in the file (and in the JSON report's stale list)."""
    return {
        "fingerprint": entry.fingerprint,
        "kind": entry.kind.value,
        "target": entry.target,
        "account": entry.account,
        "label": entry.label,
        "note": entry.note,
        "accepted_at": format_datetime(entry.accepted_at) if entry.accepted_at else None,
        **({} if entry.fields is None else {"fields": list(entry.fields)}),
    }


def dumps(baseline: Baseline) -> str:
    """The baseline file's text (deterministic)."""
    document = {
        VERSION_KEY: FORMAT_VERSION,
        "generated_at": format_datetime(baseline.generated_at) if baseline.generated_at else None,
        "source": baseline.source,
        "entries": [entry_data(entry) for entry in baseline.entries],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _text(value: Any, where: str, *, optional: bool = False) -> str:
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _entry(data: Any, where: str, *, checked: bool = True) -> BaselineEntry:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected an object")
    unknown = sorted(set(data) - set(ENTRY_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(ENTRY_KEYS)})")
    for required in ("fingerprint", "kind", "target"):
        if required not in data:
            raise ValueError(f"{where}: missing {required!r}")
    kind_name = _text(data["kind"], f"{where}.kind")
    try:
        kind = FindingKind(kind_name)
    except ValueError:
        raise ValueError(f"{where}.kind: unknown finding kind {kind_name!r}") from None
    accepted_raw = data.get("accepted_at")
    try:
        accepted = parse_datetime(accepted_raw) if accepted_raw is not None else None
    except ValueError_ as exc:
        raise ValueError(f"{where}.accepted_at: {exc}") from None
    account = data.get("account")
    fields = data.get("fields")
    if fields is not None and (
        kind is not FindingKind.STALE_ATTRIBUTE
        or not isinstance(fields, list)
        or not fields
        or not all(isinstance(name, str) and name for name in fields)
    ):
        raise ValueError(
            f"{where}.fields: expected a list of one or more field names, and only in a"
            f" stale-attribute entry (got {fields!r})"
        )
    entry = BaselineEntry(
        fingerprint=_text(data["fingerprint"], f"{where}.fingerprint"),
        kind=kind,
        target=_text(data["target"], f"{where}.target"),
        account=None if account is None else _text(account, f"{where}.account"),
        label=_text(data.get("label"), f"{where}.label", optional=True),
        note=_text(data.get("note"), f"{where}.note", optional=True),
        accepted_at=accepted,
        fields=None if fields is None else tuple(sorted(set(fields))),
    )
    if checked and not _truthful(entry):
        raise ValueError(
            f"{where}: {entry.fingerprint} is not the fingerprint of {_said(entry)}"
            f" (edited by hand?); {REWRITE}"
        )
    return entry


REWRITE: Final = "write the file again with `nhirecon baseline`"


def _truthful(entry: BaselineEntry) -> bool:
    """Whether the entry's account is the one its fingerprint hashes (an entry about the
    source names none, and is checked against the finding it matches instead)."""
    return entry.account is None or entry.fingerprint == fingerprint(
        entry.kind, entry.target, entry.account
    )


def _said(entry: BaselineEntry) -> str:
    return f"{entry.kind.value} {entry.target} {entry.account or '(no account)'}"


def load(path: Path, *, checked: bool = True) -> Baseline:
    """Read a baseline file (a regular file: not a pipe, a device or a folder); errors name
    the file and the entry. Not ``checked``: an entry whose account is not the one its
    fingerprint hashes is read all the same (for ``nhirecon baseline`` to write the file
    anew, keeping only the notes of entries that tell the truth)."""
    try:
        text = files.read_whole(path, files.MAX_DOCUMENT_BYTES, "a baseline").decode("utf-8-sig")
    except FileNotFoundError:
        raise BaselineError(f"baseline file {path}: not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise BaselineError(f"baseline file {path}: cannot read: {reason}") from None
    except files.NotAFile as exc:
        raise BaselineError(f"baseline file {path}: {exc}") from None
    try:
        document = strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline file {path}:{exc.lineno}: not JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise BaselineError(f"baseline file {path}: unreadable JSON: {exc}") from None
    except RecursionError:
        raise BaselineError(
            f"baseline file {path}: not a baseline: JSON nested too deeply"
        ) from None
    try:
        if not isinstance(document, dict) or VERSION_KEY not in document:
            raise ValueError(f"not an nhirecon baseline (no {VERSION_KEY!r} key)")
        version = document[VERSION_KEY]
        if type(version) is not int or version != FORMAT_VERSION:  # not true, not 1.0
            raise ValueError(f"unsupported baseline version {version!r} (expected 1)")
        entries = document.get("entries")
        if not isinstance(entries, list):
            raise ValueError("'entries' must be a list")
        parsed = [
            _entry(item, f"entries[{index}]", checked=checked) for index, item in enumerate(entries)
        ]
        generated = document.get("generated_at")
        if generated is not None and not isinstance(generated, str):
            raise ValueError(f"generated_at: expected a date and time, got {generated!r}")
        source = document.get("source")
        return Baseline(
            path=str(path),
            generated_at=parse_datetime(generated) if generated else None,
            source=source if isinstance(source, str) else None,
            entries=tuple(parsed),
        )
    except (ValueError, ValueError_) as exc:
        raise BaselineError(f"baseline file {path}: {exc}") from None


def apply(report: Report, baseline: Baseline) -> Report:
    """Mark the findings the baseline accepts and evaluate the gate without them.

    Entries for the places this run covered that match no finding (counted or excepted)
    are listed as stale, so that the file can be pruned; a ``stale-attribute`` whose
    drifted fields an entry does not all name is not accepted, and the entry is listed as
    outgrown.
    """
    known = baseline.by_fingerprint()
    matched = [(known[f.fingerprint], f) for f in report.findings if f.fingerprint in known]
    outgrown = tuple(
        (entry, more) for entry, finding in matched if (more := unaccepted(entry, finding))
    )
    beyond = {entry.fingerprint for entry, _ in outgrown}
    accepted = frozenset(f.fingerprint for _, f in matched if f.fingerprint not in beyond)
    for finding in (*report.findings, *(finding for finding, _ in report.excepted)):
        entry = known.get(finding.fingerprint)
        account = finding.account.id if finding.account else None
        if entry is not None and (entry.kind, entry.target, entry.account) != (
            finding.kind,
            finding.target,
            account,
        ):
            at = baseline.entries.index(entry)
            subject = account or (finding.identity.id if finding.identity else "")
            raise BaselineError(
                f"baseline file {baseline.path}: entries[{at}] says {_said(entry)}, but its"
                f" fingerprint is that of {finding.kind.value} {finding.target} {subject}"
                f" (edited by hand?); {REWRITE}"
            )
    present = {f.fingerprint for f in report.findings}
    present |= {finding.fingerprint for finding, _ in report.excepted}
    covered = _covered(report)
    stale = tuple(
        entry
        for entry in baseline.entries
        if entry.target in covered and entry.fingerprint not in present
    )
    view = BaselineView(
        path=baseline.path,
        entries=len(baseline.entries),
        accepted=accepted,
        stale=stale,
        outgrown=outgrown,
        unfielded=sum(
            entry.kind is FindingKind.STALE_ATTRIBUTE and entry.fields is None
            for entry in baseline.entries
        ),
    )
    marked = replace(report, baseline=view)
    rules = [outcome.rule for outcome in report.gate.outcomes]
    return replace(marked, gate=evaluate(rules, marked.gated))


def warning_lines(view: BaselineView) -> Sequence[str]:
    """One log line per stale entry, one per entry its finding has outgrown, and one for
    the ``stale-attribute`` entries that name no fields, for stderr."""
    return [
        *(
            f"baseline {view.path}: stale entry {entry.kind.value} {entry.target} "
            f"{_named(entry)} matches nothing now"
            for entry in view.stale
        ),
        *(
            f"baseline {view.path}: entry {entry.kind.value} {entry.target} {_named(entry)}"
            f" accepts {', '.join(entry.fields or ())}, but {', '.join(more)} now"
            f" {'differs' if len(more) == 1 else 'differ'} too: the finding counts"
            for entry, more in view.outgrown
        ),
        *(
            [
                f"baseline {view.path}: {view.unfielded} stale-attribute"
                + (
                    " entry names no fields, and so accepts any drift of its account"
                    if view.unfielded == 1
                    else " entries name no fields, and so accept any drift of their accounts"
                )
                + "; write the file again with `nhirecon baseline -o` to name them"
            ]
            if view.unfielded
            else []
        ),
    ]


def _named(entry: BaselineEntry) -> str:
    return entry.label or entry.account or entry.fingerprint
