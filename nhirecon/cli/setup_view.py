"""What ``validate`` and ``connectors`` print: text for people, JSON for machines.

The JSON shapes are small and stable (the README documents them):

- ``validate``: ``{"config", "valid", "errors", "source", "targets"}``. ``errors`` holds
  the config's error (``message``, ``file``, ``line``, ``key``) when it is not valid;
  ``source`` is ``{"name", "inputs": [{"key", "name", "connector", "records"}]}`` and each
  target ``{"key", "name", "connector", "records"}``, where ``records`` is the count read
  with ``--connect`` and ``null`` without it.
- ``connectors``: a list of ``{"name", "description", "builtin", "origin", "can_write",
  "usable", "problem", "options"}``, each option ``{"name", "required", "default"}``.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nhirecon.config import Config
    from nhirecon.config.model import Endpoint
    from nhirecon.connectors.registry import Available
    from nhirecon.errors import NhireconError

Counts = Mapping[str, int] | None
"""Records read per endpoint key (``source``, ``targets[0]``) with ``--connect``."""


def _dumps(document: object) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def validate_text(loaded: Config, counts: Counts) -> str:
    inputs, targets = len(loaded.source.inputs), len(loaded.targets)
    lines = [
        f"{loaded.path}: valid ({inputs} source input{'s' if inputs != 1 else ''}, "
        f"{targets} target{'s' if targets != 1 else ''})"
    ]
    if counts is not None:
        for endpoint in _endpoints(loaded):
            count = counts[endpoint.key]
            noun = "record" if count == 1 else "records"
            lines.append(
                f"  {endpoint.key} {endpoint.name} ({endpoint.connector.name}): {count} {noun}"
            )
    return "\n".join(lines) + "\n"


def validate_json(loaded: Config, counts: Counts) -> str:
    def entry(endpoint: Endpoint) -> dict[str, Any]:
        return {
            "key": endpoint.key,
            "name": endpoint.name,
            "connector": endpoint.connector.name,
            "records": None if counts is None else counts[endpoint.key],
        }

    return _dumps(
        {
            "config": str(loaded.path),
            "valid": True,
            "errors": [],
            "source": {
                "name": loaded.source.name,
                "inputs": [entry(endpoint) for endpoint in loaded.source.inputs],
            },
            "targets": [entry(target.endpoint) for target in loaded.targets],
        }
    )


def invalid_json(path: Path, error: NhireconError) -> str:
    """The document of a config that is not valid: its error, and nothing read from it."""
    problems = getattr(error, "problems", None) or (error,)
    errors = [
        {
            "message": str(problem),
            "file": getattr(problem, "file", "") or str(path),
            "line": getattr(problem, "line", None),
            "key": getattr(problem, "key", ""),
        }
        for problem in problems
    ]
    return _dumps(
        {"config": str(path), "valid": False, "errors": errors, "source": None, "targets": []}
    )


def _endpoints(loaded: Config) -> list[Endpoint]:
    return [*loaded.source.inputs, *(target.endpoint for target in loaded.targets)]


def connectors_text(found: Sequence[Available]) -> str:
    lines = []
    for available in found:
        if available.connector is None:
            lines.append(f"{available.name} ({available.origin}): unusable: {available.problem}")
            continue
        cls = available.connector
        writes = ", ".join(sorted(cls.can_write)) or "read only"
        lines.append(f"{available.name} ({available.origin}, {writes}): {cls.description}")
        if missing := cls.missing():
            lines.append(f"    unusable here: {missing}")
        for name, parameter in cls.options().items():
            default = parameter.default
            shown = "required" if default is parameter.empty else f"default {default!r}"
            lines.append(f"    {name}: {shown}")
    return "\n".join(lines) + "\n"


def connectors_json(found: Sequence[Available]) -> str:
    listed = []
    for available in found:
        cls = available.connector
        listed.append(
            {
                "name": available.name,
                "description": cls.description if cls else "",
                "builtin": available.origin == "built-in",
                "origin": available.origin,
                "can_write": sorted(cls.can_write) if cls else [],
                "usable": cls is not None and not cls.missing(),
                "problem": available.problem or (cls.missing() if cls else ""),
                "options": [
                    {
                        "name": name,
                        "required": parameter.default is inspect.Parameter.empty,
                        "default": _plain(parameter.default),
                    }
                    for name, parameter in (cls.options().items() if cls else ())
                ],
            }
        )
    return _dumps(listed)


def _plain(value: object) -> object:
    """A default as JSON has it: ``null`` for a required option, the value when JSON can
    hold it, else its ``repr``."""
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, frozenset | set):
        return sorted((_plain(item) for item in value), key=repr)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return repr(value)
