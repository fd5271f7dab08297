"""The audit pipeline: pull, correlate, apply the rules, build the report.

Identities are held in memory and indexed once; each target's accounts are streamed in a
single pass, so memory grows with the source and the findings, not with the targets.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from nhirecon import __version__
from nhirecon.columnar.engine import MIN_BYTES, Progress, triage
from nhirecon.columnar.pulled import Pulled, by_row
from nhirecon.columnar.quiet import Quiet
from nhirecon.config import Config, Target
from nhirecon.connectors import registry
from nhirecon.core.allowlist import BroadEntry, ListName, Tally, entry_key
from nhirecon.core.correlate import Correlator, IdentityIndex, Link, LinkStatus
from nhirecon.core.credentials import SharedCredentials
from nhirecon.core.duplicates import Duplicates
from nhirecon.core.evidence import TARGET_NEEDS, Evidence, evaluated, unreadable_rules
from nhirecon.core.exceptions import Exceptions
from nhirecon.core.findings import Clock, TargetRules, account_findings, is_active
from nhirecon.core.gate import evaluate
from nhirecon.core.model import (
    Finding,
    FindingKind,
    GateRule,
    Record,
)
from nhirecon.core.report import Report, TargetStats
from nhirecon.core.source_findings import source_findings
from nhirecon.errors import DataError
from nhirecon.sources import (
    SourceData,
    counted,
    evidence_of,
    place_of,
    pull_source,
    quiet,
    triaged_source,
)

log = logging.getLogger(__name__)

__all__ = [
    "Progress",
    "SourceData",
    "allowlist_tally",
    "audit",
    "audit_target",
    "bulk",
    "place_of",
    "pull_source",
    "quiet",
    "selected_targets",
    "target_accounts",
    "target_rules",
]

Engine = Literal["auto", "columnar", "python"]
"""How rows are read (see :func:`audit`)."""


def allowlist_tally(config: Config, target: str) -> Tally:
    """Counts the accounts each ``exceptions`` and ``protected`` entry for ``target`` names."""
    return Tally(
        target,
        [
            *(
                (ListName.EXCEPTIONS, rule.account)
                for rule in config.exceptions
                if rule.target == target
            ),
            *(
                (ListName.PROTECTED, entry.account)
                for entry in config.protected
                if entry.target == target
            ),
        ],
    )


def target_rules(config: Config, target: Target) -> TargetRules:
    protected = frozenset(
        key
        for entry in config.protected
        if entry.target == target.name
        for key in [entry_key(entry.account)]
        if key is not None
    )
    return TargetRules(
        name=target.name,
        connector=target.endpoint.connector.name,
        compare=target.compare,
        remediate=target.remediate,
        can_write=target.endpoint.connector.writes(target.endpoint.options),
        protected=protected,
    )


@dataclass
class _Tally:
    accounts: int = 0
    linked: int = 0
    unmatched: int = 0
    ambiguous: int = 0
    inactive: int = 0
    lookalike: int = 0

    def add_quiet(self, quiet: Quiet) -> None:
        """Counts the accounts the columnar engine settled without a record."""
        self.accounts += quiet.accounts
        self.linked += quiet.linked
        self.unmatched += quiet.unmatched
        self.ambiguous += quiet.ambiguous
        self.inactive += quiet.inactive

    def add(self, account: Record, link: Link) -> None:
        self.accounts += 1
        if link.lookalike is not None:
            self.lookalike += 1
        if not account.active:
            self.inactive += 1
        if link.status is LinkStatus.LINKED:
            self.linked += 1
        elif link.status is LinkStatus.AMBIGUOUS:
            self.ambiguous += 1
        else:
            self.unmatched += 1


def target_accounts(pulled: registry.Pull, target: Target, progress: Progress) -> Iterator[Record]:
    """A target's accounts, streamed; the pull fails on an id seen twice (see
    :class:`~nhirecon.connectors.registry.Pull`)."""
    return counted(pulled, target.name, progress)


def audit_target(
    config: Config,
    target: Target,
    source: SourceData,
    index: IdentityIndex,
    clock: Clock,
    progress: Progress = quiet,
    shared: SharedCredentials | None = None,
    triaged: Pulled | None = None,
    identity_rows: Mapping[int, Record] = MappingProxyType({}),
) -> tuple[TargetStats, list[Finding], list[BroadEntry]]:
    """One pass over a target's accounts: correlate each and apply every rule. Also returns
    the allowlist entries that name several of its accounts, or none. With ``triaged``, the pass
    is over the accounts the columnar engine kept, linked as its joins linked them (to
    the source's records in ``identity_rows``, by row), and its counts add the others."""
    correlator = Correlator(index, target.correlate)
    link_of: Callable[[Record], Link] = correlator.link
    rules = target_rules(config, target)
    tally = _Tally()
    named = allowlist_tally(config, target.name)
    duplicates = Duplicates()
    findings: list[Finding] = []
    started = time.monotonic()
    if triaged is None:
        pulled = registry.pull(target.endpoint, clock.now)
        accounts: Iterable[Record] = target_accounts(pulled, target, progress)
    else:
        accounts = triaged
        tally.add_quiet(triaged.quiet)
        link_of = triaged.linker(correlator, identity_rows)
    for account in accounts:
        link = link_of(account)
        tally.add(account, link)
        named.see(account)
        duplicates.see(account, link)
        if shared is not None:
            shared.see(target.name, account, link.identity)
        findings.extend(
            account_findings(rules, account, link, source.name, clock, config.source.active_status)
        )
    findings.extend(duplicates.findings(rules))
    if not tally.accounts:
        log.warning(
            "target %s returned no accounts (is the export empty or truncated?)", target.name
        )
    log.info(
        "target %s: %d accounts (%d linked, %d unmatched, %d ambiguous) in %.1f s",
        target.name,
        tally.accounts,
        tally.linked,
        tally.unmatched,
        tally.ambiguous,
        time.monotonic() - started,
    )
    found = evidence_of([pulled.coverage if triaged is None else triaged.coverage], TARGET_NEEDS)
    check_readable(target, tally.accounts, found, source.evidence)
    stats = TargetStats(
        name=target.name,
        connector=rules.connector,
        accounts=tally.accounts,
        linked=tally.linked,
        unmatched=tally.unmatched,
        ambiguous=tally.ambiguous,
        inactive=tally.inactive,
        lookalike=tally.lookalike,
        evidence=found,
        place=place_of([target.endpoint]),
    )
    return stats, evaluated(findings, target.name, found), [*named.broad(), *named.idle()]


def check_readable(target: Target, accounts: int, found: Evidence, source: Evidence) -> None:
    """:class:`DataError` (exit 3) when none of ``target``'s correlation rules can link
    any of its ``accounts`` (evidence ``found``) to the ``source`` (see
    :func:`~nhirecon.core.evidence.unreadable_rules`)."""
    problem = unreadable_rules(target.correlate, found, source)
    if accounts and problem:
        raise DataError(
            f"{target.endpoint.key} ({target.name}): {problem}; map each field to the column"
            " or path that holds it, or correlate on fields both sides have"
        )


def selected_targets(config: Config, only: Sequence[str] = ()) -> tuple[Target, ...]:
    """The targets a run covers: all, or those named with ``--target``."""
    if not only:
        return config.targets
    return tuple(config.target(name) for name in dict.fromkeys(only))


def audit(
    config: Config,
    *,
    now: datetime,
    only: Sequence[str] = (),
    gate_rules: Sequence[GateRule] | None = None,
    progress: Progress = quiet,
    engine: Engine = "auto",
) -> Report:
    """Run the whole audit and return the report (without writing anything).

    ``engine``: ``auto`` lets the columnar engine triage a large estate of CSV exports
    (:mod:`nhirecon.columnar`), ``columnar`` lets it triage any estate it can read (for
    tests), ``python`` reads every row the usual way. The report is the same."""
    with bulk():
        return _audit(
            config, now=now, only=only, gate_rules=gate_rules, progress=progress, engine=engine
        )


@contextlib.contextmanager
def bulk() -> Iterator[None]:
    """Cycle collection paused while the records stream, then what survives frozen.

    The records, links and findings hold no reference cycles, so reference counting frees
    each as soon as it is dropped; but every cycle collection walks all the live ones,
    millions of them in a large estate, and took about a third of the run. What the
    report keeps is moved out of the collector's sight (:func:`gc.freeze`), so rendering
    and recording it do not walk it again either; it is still freed when dropped."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.freeze()


def _audit(
    config: Config,
    *,
    now: datetime,
    only: Sequence[str],
    gate_rules: Sequence[GateRule] | None,
    progress: Progress,
    engine: Engine,
) -> Report:
    targets = selected_targets(config, only)
    triaged = None
    if engine != "python":
        triaged = triage(
            config, targets, now, progress, min_bytes=0 if engine == "columnar" else MIN_BYTES
        )
    source = (
        pull_source(config.source, progress, now)
        if triaged is None
        else triaged_source(config, triaged.source)
    )
    clock = Clock(now, config.policy)
    index = IdentityIndex(source.identities)
    identity_rows = {} if triaged is None else by_row(source.identities)
    stats: list[TargetStats] = []
    raw = evaluated(
        source_findings(source.name, source.identities, config.source.active_status, clock),
        source.name,
        source.evidence,
    )
    _warn_of_status(source)
    broad = _source_broad(config, source)
    shared = SharedCredentials(source.name)
    for identity in source.identities:
        if is_active(identity, config.source.active_status):
            shared.see(source.name, identity)
    for target in targets:
        target_stats, target_findings, target_broad = audit_target(
            config,
            target,
            source,
            index,
            clock,
            progress,
            shared,
            None if triaged is None else triaged.targets[target.name],
            identity_rows,
        )
        stats.append(target_stats)
        raw.extend(target_findings)
        broad.extend(target_broad)
    raw.extend(shared.findings())
    for entry in broad:
        if not entry.accounts:
            log.warning("%s", entry.message)
    counted, excepted = Exceptions(config.exceptions, now, broad).split(raw)
    counted.sort(key=Finding.sort_key)
    excepted.sort(key=lambda pair: pair[0].sort_key())
    rules = config.gate if gate_rules is None else gate_rules
    return Report(
        tool_version=__version__,
        generated_at=now,
        source_name=source.name,
        source_connector=source.connector,
        identities=source.count,
        targets=tuple(stats),
        findings=tuple(counted),
        excepted=tuple(excepted),
        gate=evaluate(rules, counted),
        source_evidence=source.evidence,
        allowlist=tuple(broad),
        source_place=source.place,
        source_inputs=source.inputs,
    )


def _warn_of_status(source: SourceData) -> None:
    """Say so when the source's status column is empty in every row: each identity then
    counts as active, and no account is found to belong to a leaver. A source with no
    status at all lists ``leaver`` in its ``not_evaluated`` instead (SPEC §3.2), which
    every report shows, as it does for the other rules."""
    evidence = source.evidence
    if any(
        item.rule is FindingKind.LEAVER and item.input is None for item in evidence.not_evaluated
    ):
        return
    if source.count and not evidence.coverage.get("status", 0):
        log.warning(
            "source %s: no identity has a status (the column is empty): every identity"
            " counts as active, so no account is found to belong to a leaver",
            source.name,
        )


def _source_broad(config: Config, source: SourceData) -> list[BroadEntry]:
    """The exceptions for the source's own findings that name several identities, or none."""
    named = allowlist_tally(config, source.name)
    for identity in source.identities:
        named.see(identity)
    return [*named.broad(), *named.idle()]
