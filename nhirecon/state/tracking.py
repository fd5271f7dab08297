"""What a run adds to the pipeline's report: its history and the baseline it is held to."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from nhirecon.config import Config
from nhirecon.core.guards import (
    ACCEPT_HINT,
    SourceCount,
    emptied_target_problem,
    source_drop_problem,
    uncompared_inputs,
)
from nhirecon.core.report import Report
from nhirecon.errors import SafetyError
from nhirecon.state import baseline as baselines
from nhirecon.state import history, history_db

log = logging.getLogger(__name__)


def history_path(config: Config) -> Path:
    """The config's ``history:`` path, else the default under the user's state folder."""
    return config.history or history_db.default_path()


def previous_source_count(config: Config, until: datetime) -> SourceCount | None:
    """The source's identity count, in all and per input, at the last run recorded in the
    history store at or before the instant ``until`` (the run's ``--now``: a run recorded
    at a later instant is not what this one follows; a run the
    source-drop check refused is never recorded); ``None`` when there is none."""
    return history.last_source_count(history_path(config), config.source.name, until)


def source_drop(
    config: Config, report: Report, previous: SourceCount | None, *, accepted: bool = False
) -> str | None:
    """SPEC §3.2: why ``report``'s source, or one of its inputs, shrank more than
    ``max_source_drop_percent`` since ``previous`` (``None`` when there is nothing to
    compare with, or when the user accepted the drop: ``accepted``), or ``None``. An
    accepted drop and an input with nothing to compare with are warned of."""
    current = report.source_count
    problem = source_drop_problem(current, previous, config.policy.max_source_drop_percent)
    for label in uncompared_inputs(current, previous):
        log.warning(
            "source input %s has no count at the last recorded run to compare with: only"
            " the source's total is checked for it this run",
            label,
        )
    if problem and accepted:
        log.warning("accepted for this run (--accept-source-drop): %s", problem)
        return None
    return problem


def check_source_drop(
    config: Config, report: Report, previous: SourceCount | None, *, accepted: bool = False
) -> None:
    """Refuse (:class:`SafetyError`, exit 4) what :func:`source_drop` finds, before
    anything is written or recorded."""
    problem = source_drop(config, report, previous, accepted=accepted)
    if problem:
        raise SafetyError(f"refusing to report: {problem}; {ACCEPT_HINT}")


def previous_target_counts(
    config: Config, targets: Sequence[str], until: datetime
) -> dict[str, int]:
    """Each of ``targets``' account count at the last run that covered it, recorded at or
    before the instant ``until`` (a target never so recorded is absent)."""
    return history.last_target_counts(history_path(config), targets, until)


def check_emptied_targets(report: Report, previous: Mapping[str, int]) -> None:
    """Refuse (:class:`SafetyError`, exit 4) a run in which a target that had accounts at
    its last recorded run has none, before anything is written or recorded."""
    for stats in report.targets:
        problem = emptied_target_problem(stats.name, stats.accounts, previous.get(stats.name))
        if problem:
            raise SafetyError(
                f"refusing to report: {problem}; if it is really empty now, run once with"
                " --accept-empty-target"
            )


def _held(report: Report, accepted: baselines.Baseline | None) -> Report:
    return report if accepted is None else baselines.apply(report, accepted)


@contextlib.contextmanager
def tracked(
    report: Report,
    config: Config,
    *,
    accepted: baselines.Baseline | None,
    keep_history: bool,
) -> Iterator[Report]:
    """The report with its history (unless turned off) and the baseline applied.

    The run is recorded in the history only when the ``with`` block completes: write the
    reports inside it, so that a run whose reports failed is not counted as seen.
    """
    if not keep_history:
        yield _held(report, accepted)
        return
    with history.recording(history_path(config), report) as view:
        yield _held(history.annotate(report, view), accepted)


def track(
    report: Report,
    config: Config,
    *,
    accepted: baselines.Baseline | None,
    keep_history: bool,
) -> Report:
    """Record the run at once (unless turned off) and apply the baseline."""
    with tracked(report, config, accepted=accepted, keep_history=keep_history) as done:
        return done
