"""The value options of an input (SPEC §3.1): how its raw values are read.

They sit beside ``map`` on a source, an ``include:`` entry or a target, and apply whatever
the connector. Their shape is checked by :class:`~nhirecon.config.inputs.InputKeys`
(a YAML boolean in a word list is refused there: ``no`` and ``off`` unquoted are
``false`` to YAML, and the word the export holds cannot be told back); here they become
the :class:`~nhirecon.connectors.context.ValueOptions` a connector is given. Word lists
are compared trimmed and case-insensitively, so they are held case-folded.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from nhirecon.config.inputs import InputKeys
from nhirecon.connectors.context import ValueOptions
from nhirecon.core.model import Origin

VALUE_KEYS: Final = frozenset(InputKeys.model_fields) - {"connector", "map", "origin_values"}
"""The keys read by :func:`read`, allowed on every input."""


def read(keys: InputKeys) -> ValueOptions:
    """The value options of one input (defaults for the keys it lacks)."""
    formats = keys.date_formats.model_dump(exclude_none=True) if keys.date_formats else {}
    return ValueOptions(
        null_values=frozenset(keys.null_values or ()),
        date_format=keys.date_format,
        date_formats=MappingProxyType(formats),
        timezone=keys.timezone,
        active_values=(
            None if keys.active_values is None else MappingProxyType(keys.active_values.words())
        ),
        kind_values=(
            None if keys.kind_values is None else MappingProxyType(keys.kind_values.words())
        ),
        where=_filters(keys.where),
        where_not=_filters(keys.where_not),
        repeated_rows="merge" if keys.repeated_rows == "merge" else "error",
    )


def origin_values(keys: InputKeys) -> dict[str, Origin]:
    """``origin_values``: raw word (case-folded) → origin."""
    return {} if keys.origin_values is None else keys.origin_values.words()


def _filters(value: Mapping[str, list[str]] | None) -> Mapping[str, frozenset[str]]:
    """``where`` / ``where_not``: field or raw name → the values it is compared with."""
    return MappingProxyType({name: frozenset(words) for name, words in (value or {}).items()})
