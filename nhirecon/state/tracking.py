"""What a run adds to the pipeline's report: its history and the baseline it is held to."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from nhirecon.config import Config
from nhirecon.core.report import Report
from nhirecon.state import baseline as baselines
from nhirecon.state import history, history_db


def history_path(config: Config) -> Path:
    """The config's ``history:`` path, else the default under the user's state folder."""
    return config.history or history_db.default_path()


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
