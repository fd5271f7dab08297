"""What one pull of an input provided: the coverage the report shows (SPEC §3.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Coverage:
    """What one pull of an input provided, for the report (SPEC §3.2)."""

    rows: int = 0
    """Raw rows read."""
    dropped: int = 0
    """Rows that ``where`` or ``where_not`` left out."""
    records: int = 0
    """Records returned (rows sharing an id merged)."""
    provided: frozenset[str] = frozenset()
    """Fields the input has data for: a column in the header, or a path found in at least
    one record (``map``-ped or by default)."""
    values: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Field (canonical or custom) → how many records have a value for it."""

    def __add__(self, other: Coverage) -> Coverage:
        """Two inputs of one source, together."""
        counts = dict(self.values)
        for name, count in other.values.items():
            counts[name] = counts.get(name, 0) + count
        return Coverage(
            self.rows + other.rows,
            self.dropped + other.dropped,
            self.records + other.records,
            self.provided | other.provided,
            MappingProxyType(counts),
        )
