"""The source of truth's identities, pulled: every input of the source read the usual way,
or what the columnar engine kept of it (see :mod:`nhirecon.columnar`)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from nhirecon.columnar.engine import Progress
from nhirecon.columnar.pulled import Pulled
from nhirecon.config import Config, Endpoint, Source
from nhirecon.connectors import registry
from nhirecon.connectors.coverage import Coverage
from nhirecon.core.evidence import SOURCE_NEEDS, Evidence, NotEvaluated, evidence
from nhirecon.core.model import CANONICAL_FIELDS, FindingKind, Record
from nhirecon.core.report import Place
from nhirecon.errors import DataError, SafetyError

log = logging.getLogger("nhirecon.pipeline")

PROGRESS_EVERY = 5000
"""How many records between two progress calls."""


def quiet(label: str, count: int) -> None:
    """The default progress sink: says nothing."""


@dataclass(frozen=True)
class SourceData:
    name: str
    connector: str
    identities: tuple[Record, ...]
    """Every identity; with the columnar engine, those the rules need (see
    :mod:`nhirecon.columnar.decide`)."""
    evidence: Evidence = field(default_factory=Evidence)
    place: Place = field(default_factory=Place)
    total: int | None = None
    """How many identities were read, when not all are held."""
    inputs: tuple[tuple[str, str, int], ...] = ()
    """With ``include:`` entries, each input's key, :func:`input_label` and how many
    identities it returned (see :attr:`~nhirecon.core.report.Report.source_inputs`)."""

    @property
    def count(self) -> int:
        return len(self.identities) if self.total is None else self.total


def counted(records: Iterable[Record], label: str, progress: Progress) -> Iterator[Record]:
    count = 0
    for count, record in enumerate(records, start=1):
        if count % PROGRESS_EVERY == 0:
            progress(label, count)
        yield record
    progress(label, count)


def pull_source(
    source: Source, progress: Progress = quiet, as_of: datetime | None = None
) -> SourceData:
    """Every identity of the source, from all its inputs, for a run evaluated at ``as_of``
    (see :attr:`~nhirecon.connectors.context.ConnectorContext.as_of`); ids must be unique."""
    identities: list[Record] = []
    seen: set[str] = set()
    pulls, counts = [], []
    for endpoint in source.inputs:
        before = len(identities)
        pulled = registry.pull(endpoint, as_of)
        pulls.append(pulled)
        for identity in counted(pulled, endpoint.name, progress):
            if len(source.inputs) > 1:  # each pull's ids are distinct: check across them
                if identity.id in seen:
                    raise DataError(
                        f"{identity.location}: identity id {identity.id!r} already read at"
                        f" {_first(identities, identity.id)}"
                    )
                seen.add(identity.id)
            identities.append(identity)
        if len(identities) == before and len(source.inputs) > 1:
            path = endpoint.options.get("path")
            place = f"{endpoint.context.resolve(path)}: " if isinstance(path, str) else ""
            raise SafetyError(
                f"{place}{endpoint.key} ({endpoint.name}) returned no identities; refusing to"
                " report the accounts it should cover as orphans (is the export empty or"
                " truncated?)"
            )
        read = identities[before:] if len(source.inputs) > 1 else []  # for _per_input
        counts.append((len(read), sum(1 for identity in read if not identity.is_human)))
    log.info("source %s: %d identities from %s", source.name, len(identities), _inputs(source))
    if not identities:
        raise SafetyError(
            f"source {source.name!r} returned no identities; refusing to report every account"
            " as an orphan (is the export empty or truncated?)"
        )
    return SourceData(
        source.name,
        source.inputs[0].connector.name,
        tuple(identities),
        _per_input(
            evidence_of([pulled.coverage for pulled in pulls], SOURCE_NEEDS),
            list(zip(source.inputs, [pulled.coverage for pulled in pulls], counts, strict=True)),
        ),
        place_of(source.inputs),
        inputs=tuple(
            (endpoint.key, input_label(endpoint), count)
            for endpoint, (count, _) in zip(source.inputs, counts, strict=True)
            if len(source.inputs) > 1
        ),
    )


def input_label(endpoint: Endpoint) -> str:
    """How a source's input is named in messages: its key in the config and what it reads,
    ``source.include[0] (contractors.csv)``."""
    path = endpoint.options.get("path")
    return f"{endpoint.key} ({path if isinstance(path, str) else endpoint.connector.name})"


def _per_input(
    pooled: Evidence, inputs: Sequence[tuple[Endpoint, Coverage | None, tuple[int, int]]]
) -> Evidence:
    """``pooled`` (the evidence of a source's inputs together), with the rules an input
    cannot support though the others do, as not evaluated for that input: ``leaver`` for
    one without a status (its identities all count as active, so none of their accounts
    is found to be a leaver's) and ``human-use`` for one with non-human identities but
    neither ``password_enabled`` nor ``last_interactive_login_at``. Together, the inputs
    would hide it. An input whose status column is empty in every row is warned of. A
    source of one input is judged on ``pooled`` alone (see ``pipeline._warn_of_status``)."""
    if len(inputs) < 2:
        return pooled
    whole = {item.rule for item in pooled.not_evaluated}
    skipped = []
    for endpoint, coverage, (count, non_human) in inputs:
        if coverage is None:
            continue
        label = input_label(endpoint)
        counted = "its identity counts" if count == 1 else f"its {count} identities count"
        if FindingKind.LEAVER not in whole and "status" not in coverage.provided:
            reason = f"{label} provides no status: {counted} as active, so no account is"
            reason += " found to belong to a leaver among them"
            skipped.append(NotEvaluated(FindingKind.LEAVER, reason, endpoint.key))
        elif FindingKind.LEAVER not in whole and count and not coverage.values.get("status"):
            log.warning(
                "no identity of %s has a status (the column is empty): %s as active, so no"
                " account is found to belong to a leaver among them",
                label,
                counted,
            )
        used = SOURCE_NEEDS[FindingKind.HUMAN_USE]
        if FindingKind.HUMAN_USE not in whole and non_human and coverage.provided.isdisjoint(used):
            them = "identity is" if non_human == 1 else f"{non_human} identities are"
            reason = f"{label} provides no {' or '.join(used)}: its non-human {them}"
            reason += " not checked for human-use"
            skipped.append(NotEvaluated(FindingKind.HUMAN_USE, reason, endpoint.key))
    return replace(pooled, not_evaluated=(*pooled.not_evaluated, *skipped))


def _first(records: Sequence[Record], id_: str) -> str:
    """Where the record with ``id_`` was first read (an error's message: found by a scan)."""
    return next(record.location for record in records if record.id == id_)


def place_of(inputs: Sequence[Endpoint]) -> Place:
    """Where the records of these inputs come from: the first one's definition in the
    config, and every export file they read."""
    files = []
    for endpoint in inputs:
        path = endpoint.options.get("path")
        if isinstance(path, str):
            files.append(str(endpoint.context.resolve(path)))
    return Place(inputs[0].defined_at if inputs else "", tuple(files))


def evidence_of(
    coverages: Sequence[Coverage | None], needs: Mapping[FindingKind, tuple[str, ...]]
) -> Evidence:
    """What the inputs provided together; an input that does not say (a plugin with its
    own ``records``) is taken to provide every field, so that no rule is skipped on a guess."""
    known = [coverage for coverage in coverages if coverage is not None]
    if len(known) < len(coverages) or not known:
        return Evidence(provided=frozenset(CANONICAL_FIELDS))
    total = known[0]
    for more in known[1:]:
        total = total + more
    return evidence(total.provided, total.values, needs)


def triaged_source(config: Config, pulled: Pulled) -> SourceData:
    source = config.source
    identities = tuple(pulled)
    log.info("source %s: %d identities from %s", source.name, pulled.total, _inputs(source))
    return SourceData(
        source.name,
        source.inputs[0].connector.name,
        identities,
        evidence_of([pulled.coverage], SOURCE_NEEDS),
        place_of(source.inputs),
        pulled.total,
    )


def _inputs(source: Source) -> str:
    count = len(source.inputs)
    return "1 input" if count == 1 else f"{count} inputs"
