"""What a run adds to the engine's report: its history and the baseline it is held to."""

from __future__ import annotations

from pathlib import Path

from nhirecon import baseline as baselines
from nhirecon import history
from nhirecon.config import Config
from nhirecon.model import Report


def history_path(config: Config) -> Path:
    """The config's ``history:`` path, else the default under the user's state folder."""
    return config.history or history.default_path()


def track(
    report: Report,
    config: Config,
    *,
    accepted: baselines.Baseline | None,
    keep_history: bool,
) -> Report:
    """Record the run in the history (unless turned off) and apply the baseline."""
    if keep_history:
        report = history.annotate(report, history.record(history_path(config), report))
    if accepted is not None:
        report = baselines.apply(report, accepted)
    return report
