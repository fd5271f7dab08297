"""What a run adds to the pipeline's report: its history and the baseline it is held to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from nhirecon.config import Config
from nhirecon.core.guards import SourceCount, emptied_target_problem, source_drop_problem
from nhirecon.core.report import Report
from nhirecon.errors import SafetyError
from nhirecon.state import baseline as baselines
from nhirecon.state import history, history_db


def history_path(config: Config) -> Path:
    """The config's ``history:`` path, else the default under the user's state folder."""
    return config.history or history_db.default_path()


def previous_source_count(config: Config) -> SourceCount | None:
    """The source's identity count, in all and per input, at the last run recorded in the
    history store (a run the source-drop check refused is never recorded); ``None`` when
    there is none."""
    return history.last_source_count(history_path(config), config.source.name)


def check_source_drop(config: Config, report: Report, previous: SourceCount | None) -> None:
    """SPEC §3.2: refuse (:class:`SafetyError`, exit 4) a run whose source, or one of its
    inputs, shrank more than ``max_source_drop_percent`` since ``previous``, before anything
    is written or recorded. ``previous`` is ``None`` when there is nothing to compare with,
    or when the user accepted the drop for this run."""
    problem = source_drop_problem(
        report.source_count, previous, config.policy.max_source_drop_percent
    )
    if problem:
        raise SafetyError(
            f"refusing to report: {problem}; if the drop is real, run once with"
            " --accept-source-drop"
        )


def previous_target_counts(config: Config, targets: Sequence[str]) -> dict[str, int]:
    """Each of ``targets``' account count at the last recorded run that covered it (a
    target never recorded is absent)."""
    return history.last_target_counts(history_path(config), targets)


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
