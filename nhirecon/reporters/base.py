"""The reporter contract: a report in, text out. Renderers are pure and deterministic."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import ClassVar

from nhirecon.core.report import Report


class Reporter(ABC):
    name: ClassVar[str]
    """The name used with ``-f/--format``."""
    description: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]
    """File suffixes that select this format when ``-o`` is given without ``-f``."""

    @abstractmethod
    def render(self, report: Report) -> str:
        """The whole report as text; the same report always gives the same text."""

    def chunks(self, report: Report) -> Iterator[str]:
        """:meth:`render`'s text in pieces, in order, for writing as they come: a format
        that can make its text piece by piece (JSON, CSV) never holds all of it at once."""
        yield self.render(report)
