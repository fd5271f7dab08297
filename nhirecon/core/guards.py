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
