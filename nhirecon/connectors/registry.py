"""Which connectors exist: the built-ins, listed here, and plugins from entry points."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from nhirecon.connectors.base import Connector
from nhirecon.connectors.csv import CsvConnector
from nhirecon.connectors.json import JsonConnector
from nhirecon.connectors.scim import ScimConnector
from nhirecon.connectors.yaml import YamlConnector

ENTRY_POINT_GROUP = "nhirecon.connectors.v1"
"""Third-party connectors register a :class:`Connector` subclass under this group."""

BUILTINS: dict[str, type[Connector]] = {
    connector.name: connector
    for connector in (CsvConnector, JsonConnector, YamlConnector, ScimConnector)
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Available:
    """One connector as ``nhirecon connectors`` lists it."""

    name: str
    origin: str
    """``built-in``, or the distribution that provides the plugin."""
    connector: type[Connector] | None
    problem: str = ""
    """Why a plugin could not be used (it is then skipped)."""


def discover() -> list[Available]:
    """Built-ins first, then plugins; broken or clashing plugins are listed with the problem."""
    found = [Available(name, "built-in", cls) for name, cls in BUILTINS.items()]
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        dist = entry.dist.name if entry.dist else entry.value
        if entry.name in BUILTINS:
            found.append(Available(entry.name, dist, None, "clashes with a built-in; ignored"))
            continue
        try:
            loaded = entry.load()
        except Exception as exc:  # a broken plugin must not take the tool down
            found.append(Available(entry.name, dist, None, f"failed to load: {exc}"))
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
            found.append(Available(entry.name, dist, None, "is not a Connector subclass"))
            continue
        found.append(Available(entry.name, dist, loaded))
    return found


def lookup(name: str) -> type[Connector] | None:
    """The connector class for ``connector: NAME``, or ``None`` when there is none."""
    if name in BUILTINS:
        return BUILTINS[name]
    for available in discover():
        if available.name == name and available.connector is not None:
            return available.connector
        if available.name == name:
            log.warning("connector plugin %r skipped: %s", name, available.problem)
    return None


def names() -> list[str]:
    return [available.name for available in discover() if available.connector is not None]
