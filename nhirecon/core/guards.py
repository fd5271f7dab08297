"""Integrity guards that need no network: is what was read plausibly the whole estate?"""

from __future__ import annotations


def source_drop_problem(current: int, previous: int | None, max_percent: float) -> str | None:
    """Why the source shrank too much since the last recorded run, or ``None``."""
    if previous is None or previous <= 0:
        return None
    drop = 100.0 * (previous - current) / previous
    if drop > max_percent:
        return (
            f"the source returned {current} identities, {drop:.1f}% fewer than the {previous}"
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
