"""The report of one run, and what the history and a baseline add to it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from nhirecon.core.allowlist import BroadEntry
from nhirecon.core.evidence import Evidence
from nhirecon.core.guards import SourceCount
from nhirecon.core.model import ExceptionRule, Finding, FindingKind, GateResult


@dataclass(frozen=True, slots=True)
class Place:
    """Where a source's or target's records come from, for reports that point at files."""

    defined_at: str = ""
    """The config file and line that define it: ``nhirecon.yaml:12``."""
    files: tuple[str, ...] = ()
    """The export files it reads, as record locations name them (``examples/hr.csv``)."""

    def file_of(self, location: str) -> tuple[str, int] | None:
        """The file and line (1 when the record's line is not known) that a record's
        ``location`` points into; ``None`` for a record read from a URL."""
        for path in sorted(self.files, key=len, reverse=True):
            rest = location.removeprefix(path)
            if rest == location or rest[:1] not in ("", ":", "[", "."):
                continue
            if rest.startswith(":") and rest[1:].isdigit():
                return path, int(rest[1:])
            return path, 1
        return None


@dataclass(frozen=True, slots=True)
class TargetStats:
    """What one target returned and how its accounts correlated."""

    name: str
    connector: str
    accounts: int
    linked: int
    unmatched: int
    ambiguous: int
    inactive: int
    """Accounts that are disabled: listed, but not access."""
    lookalike: int = 0
    """Linked accounts whose link holds only after Unicode compatibility folding."""
    place: Place = field(default_factory=Place, compare=False)
    """Where its definition and its export are."""
    evidence: Evidence = field(default_factory=Evidence)
    """What the target's export provided, and the rules its data could not support."""


@dataclass(frozen=True, slots=True)
class Seen:
    """What the history store knows about one finding of this run."""

    first_seen: datetime
    """The first run of its current streak: a finding that was resolved and came back
    starts again."""
    age_days: int
    """Whole days from ``first_seen`` to this run's instant."""
    new: bool
    """True when the previous run covering its target did not have it."""


@dataclass(frozen=True, slots=True)
class ResolvedFinding:
    """A finding of the previous run that this run no longer has."""

    fingerprint: str
    kind: FindingKind
    target: str
    account_id: str | None
    """The account's id; ``None`` for findings about the source (then ``identity_id``)."""
    identity_id: str | None
    label: str
    """The most readable name of the account or identity when it was last seen."""
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class RunTrend:
    """One recorded run, for trend charts and ``nhirecon history``."""

    at: datetime
    """The instant the run was evaluated at (``--now``), which orders runs."""
    places: tuple[str, ...]
    """The source and the targets the run covered."""
    total: int
    """Findings that counted (excepted ones are not included)."""
    excepted: int
    by_kind: Mapping[FindingKind, int]
    new: int
    """Counted findings the previous run covering their target did not have."""
    resolved: int
    """Findings of the previous run covering their target that this run no longer had."""


@dataclass(frozen=True, slots=True)
class HistoryView:
    """The history store's view of this run, filled in after the pipeline builds the report."""

    previous_run: datetime | None
    """The latest earlier run (``None`` on the first run)."""
    seen: Mapping[str, Seen]
    """Per fingerprint, for every finding of this run, counted or excepted."""
    resolved: tuple[ResolvedFinding, ...]
    trend: tuple[RunTrend, ...]
    """Recent runs, oldest first, ending with this one."""


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    """One accepted finding in a baseline file."""

    fingerprint: str
    kind: FindingKind
    target: str
    account: str | None
    """The account id (``None`` for findings about the source)."""
    label: str
    """The most readable name of the account or identity, for people reviewing the file."""
    note: str
    accepted_at: datetime | None
    """When the finding was accepted (``None`` when the file does not say)."""
    fields: tuple[str, ...] | None = None
    """For a ``stale-attribute``, the fields whose drift was accepted (sorted): a drift in
    another field is not accepted. ``None``: any (an entry written without them)."""


@dataclass(frozen=True, slots=True)
class BaselineView:
    """A baseline applied to this run (``--baseline``)."""

    path: str
    entries: int
    accepted: frozenset[str]
    """Fingerprints of this run's findings that the baseline accepts: they do not count."""
    stale: tuple[BaselineEntry, ...]
    """Entries, for the places this run covered, that match no finding any more."""
    outgrown: tuple[tuple[BaselineEntry, tuple[str, ...]], ...] = ()
    """Entries whose finding now has more than they accepted (a ``stale-attribute`` with a
    field they do not name), with the fields they do not name: those findings count."""
    unfielded: int = 0
    """How many ``stale-attribute`` entries name no fields (files written before entries
    did): they accept any drift of their accounts."""


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a run found, ready for any renderer."""

    tool_version: str
    generated_at: datetime
    source_name: str
    source_connector: str
    identities: int
    targets: tuple[TargetStats, ...]
    findings: tuple[Finding, ...]
    """Findings that count: sorted by severity, kind, target and subject."""
    excepted: tuple[tuple[Finding, ExceptionRule], ...]
    """Findings suppressed by an active exception, with the exception."""
    gate: GateResult
    schema_version: int = 1
    source_evidence: Evidence = field(default_factory=Evidence)
    """What the source's inputs provided together, and the rules they could not support."""
    history: HistoryView | None = None
    """What the history store says about this run; ``None`` when history is off."""
    baseline: BaselineView | None = None
    """The baseline applied to this run; ``None`` without ``--baseline``."""
    allowlist: tuple[BroadEntry, ...] = ()
    """``exceptions`` and ``protected`` entries that name several accounts (SPEC §5), or
    none (``accounts`` empty)."""
    source_place: Place = field(default_factory=Place, compare=False)
    """Where the source's definition and its exports are."""
    source_inputs: tuple[tuple[str, str, int], ...] = ()
    """For a source with ``include:`` entries, each input's key in the config
    (``source.include[0]``), what it reads (``source.include[0] (contractors.csv)``) and how
    many identities it returned, in the config's order; empty for a source of one input."""

    @property
    def source_count(self) -> SourceCount:
        """How many identities the source returned, in all and per input: what the
        source-drop guard compares with the last recorded run."""
        return SourceCount(
            self.identities,
            MappingProxyType({key: count for key, _, count in self.source_inputs}),
            MappingProxyType({key: label for key, label, _ in self.source_inputs}),
        )

    def place(self, name: str) -> Place:
        """The place of the source or the target called ``name``."""
        for stats in self.targets:
            if stats.name == name:
                return stats.place
        return self.source_place

    def seen(self, finding: Finding) -> Seen | None:
        """The history of one finding, when history is kept."""
        return self.history.seen.get(finding.fingerprint) if self.history else None

    def is_baselined(self, finding: Finding) -> bool:
        return self.baseline is not None and finding.fingerprint in self.baseline.accepted

    @property
    def gated(self) -> tuple[Finding, ...]:
        """The findings the gate counts: after exceptions and the baseline."""
        return tuple(finding for finding in self.findings if not self.is_baselined(finding))
