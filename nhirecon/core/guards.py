"""Integrity guards that need no network: is what was read plausibly the whole estate?"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class SourceCount:
    """How many identities a source returned: in all, and per input when it has
    ``include:`` entries (the input's key in the config, ``source.include[0]`` → its
    identities; empty for a source of one input)."""

    identities: int
    inputs: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """For messages: an input's key → what it reads, ``source.include[0] (contractors.csv)``."""


def source_drop_problem(
    current: SourceCount, previous: SourceCount | None, max_percent: float
) -> str | None:
    """Why the source, or one of its inputs, shrank more than ``max_percent`` since the last
    recorded run (``previous``), or ``None``.

    Each input is held to the limit on its own: a contractors' export cut to a tenth of
    itself beside a large HR export barely moves the total, yet makes an orphan of every
    account of the people cut out. Inputs are known by their key in the config, so one
    whose file was renamed is still compared; an input the last run did not read has
    nothing to compare with and passes.
    """
    if previous is None:
        return None
    problems = [_dropped("the source", current.identities, previous.identities, max_percent)]
    problems += [
        _dropped(
            f"source input {current.labels.get(key, key)}",
            count,
            previous.inputs.get(key),
            max_percent,
        )
        for key, count in current.inputs.items()
    ]
    found = [problem for problem in problems if problem]
    return "; ".join(found) if found else None


def uncompared_inputs(current: SourceCount, previous: SourceCount | None) -> list[str]:
    """The inputs of ``current`` that the last recorded run has no count for (new, moved in
    the config, or that run recorded none: a release before inputs were counted, or
    another config whose source has the same name), as their labels: only the source's
    total is checked for them."""
    if previous is None:
        return []
    return [current.labels.get(key, key) for key in current.inputs if key not in previous.inputs]


ACCEPT_HINT = "if the drop is real, run once with --accept-source-drop"
"""What a refusal for a shrunken source says to do."""


def _dropped(what: str, current: int, previous: int | None, max_percent: float) -> str | None:
    if previous is None or previous <= 0:
        return None
    drop = 100.0 * (previous - current) / previous
    if drop > max_percent:
        # Shown to a tenth; a drop short of all of them never reads as 100.0%.
        shown = min(round(drop, 1), 99.9) if current else 100.0
        identities = "identity" if current == 1 else "identities"
        return (
            f"{what} returned {current} {identities}, {shown:.1f}% fewer than the {previous}"
            f" of the last recorded run (max_source_drop_percent {max_percent:g})"
        )
    return None


def emptied_target_problem(target: str, current: int, previous: int | None) -> str | None:
    """Why a target that had accounts at the last recorded run covering it, and has none
    now, is not believed, or ``None``. An export cut down to its header reads as a target
    with no accounts, every finding of which would pass for resolved. A target that only
    shrank is believed: cleaning up is what the findings are for."""
    if current or not previous:
        return None
    return (
        f"target {target} returned no accounts, where the last recorded run read {previous};"
        " refusing to report its findings as resolved (is the export empty or truncated?)"
    )
