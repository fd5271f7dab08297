"""The checks of a config that need meaning beyond its shape: a connector's own options,
the fields ``correlate`` and ``compare`` name, names used twice, the targets exceptions
and ``protected`` name.

They read the parsed document, not the models of :mod:`.shape`, and each runs wherever
the values it needs are there and of the right type, whatever is wrong elsewhere: a
typo in ``policy`` does not hide an unknown connector option in a target. The shape
checks report the rest.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Final

from nhirecon.config.inputs import InputKeys, SourceKeys, TargetKeys
from nhirecon.config.problems import Problems, join
from nhirecon.connectors import registry
from nhirecon.connectors.base import Connector
from nhirecon.core.model import CANONICAL_FIELDS, DATE_FIELDS

SHARED: Final = frozenset(InputKeys.model_fields) | {"name"}
"""The keys every input may have; the others are its connector's options."""
SOURCE_ONLY: Final = frozenset(SourceKeys.model_fields) - SHARED
"""Keys of the source that a target or an include may not have (``include``, ...)."""
TARGET_ONLY: Final = frozenset(TargetKeys.model_fields) - SHARED
"""Keys of a target that the source or an include may not have (``correlate``, ...)."""
KNOWN: Final = SHARED | SOURCE_ONLY | TARGET_ONLY
"""Keys that are never a connector's option."""
NOT_CORRELATED: Final = frozenset({"active", "groups", "origin", *DATE_FIELDS})
NOT_COMPARED: Final = frozenset({"id", "active", "origin"})
DEFAULT_RULE: Final = {"account": "email", "identity": "email"}


def check(found: Problems, data: Any) -> None:
    """Add the problems of the parsed config ``data`` that need meaning to ``found``."""
    if not isinstance(data, dict):
        return
    source = data.get("source")
    targets = _list(data.get("targets"))
    for key, entry, refused, why in _inputs(source, targets):
        _options(found, key, entry, refused, why)
        if isinstance(entry, dict):
            _file_name(found, join(key, "path"), entry.get("path"))
    for key in ("history", "audit_log"):
        _file_name(found, key, data.get(key))
    theirs = _source_fields(source)
    names = [("source", _text(source.get("name")) if isinstance(source, dict) else None)]
    for index, entry in enumerate(targets):
        if not isinstance(entry, dict):
            continue
        key = f"targets[{index}]"
        names.append((key, _text(entry.get("name"))))
        own = _fields(entry)
        _correlate(found, join(key, "correlate"), entry.get("correlate"), own, theirs)
        _compare(found, join(key, "compare"), entry.get("compare"), own, theirs)
    _unique(found, names)
    known = {name for _, name in names if name}
    for section in ("exceptions", "protected"):
        for index, entry in enumerate(_list(data.get(section))):
            target = _text(entry.get("target")) if isinstance(entry, dict) else None
            if target is not None and target not in known:
                found.add(
                    f"{section}[{index}].target",
                    f"no source or target named {target!r} (known: {', '.join(sorted(known))})",
                )
            elif section == "protected" and target is not None and target == names[0][1]:
                found.add(
                    f"{section}[{index}].target",
                    f"{target!r} is the source, which nothing is written to: name the target"
                    " whose account is to be protected",
                )


def _inputs(source: Any, targets: list[Any]) -> Iterator[tuple[str, Any, frozenset[str], str]]:
    """Each input: its key, its entry, the keys of other kinds of input it may not have,
    and how to say so."""
    yield "source", source, TARGET_ONLY, "not allowed here"
    if isinstance(source, dict):
        for index, entry in enumerate(_list(source.get("include"))):
            refused = SOURCE_ONLY | TARGET_ONLY
            yield f"source.include[{index}]", entry, refused, "not allowed in an include"
    for index, entry in enumerate(targets):
        yield f"targets[{index}]", entry, SOURCE_ONLY, "not allowed here"


def _options(found: Problems, key: str, entry: Any, refused: frozenset[str], why: str) -> None:
    """The keys of an input that belong to other kinds of input, its connector, and the
    connector's own options (checked by the connector: plugins declare their own)."""
    if not isinstance(entry, dict):
        return
    options = {}
    for option, value in entry.items():
        if option in refused:
            found.add(join(key, str(option)), why)
        elif isinstance(option, str) and option not in KNOWN:
            options[option] = value
    name = _text(entry.get("connector"))
    if name is None:
        return  # missing or not a string: the shape checks say so
    connector = registry.lookup(name)
    if connector is None:
        available = ", ".join(registry.names())
        found.add(join(key, "connector"), f"unknown connector {name!r} (available: {available})")
        return
    own = connector.options()
    for option, problem in connector.check_options(options):
        if option in options and option not in own:
            problem = _unknown(option, key, name, own, KNOWN - refused)
        found.add(join(key, option), problem)


def _unknown(option: str, key: str, name: str, own: Iterable[str], keys: Iterable[str]) -> str:
    """A key that is neither the input's own nor an option of its connector; the nearest
    of either, when one is near (a misspelt ``compare`` is not a connector option)."""
    what = "the source" if key == "source" else "an include" if "include" in key else "a target"
    options = list(own)
    message = (
        f"unknown key: neither a key of {what} nor an option of connector {name!r}"
        f" ({', '.join(options) or 'it has none'})"
    )
    near = difflib.get_close_matches(option, sorted({*keys, *options}), n=1)
    return f"{message}; did you mean {near[0]!r}?" if near else message


def _file_name(found: Problems, key: str, value: Any) -> None:
    """A path no file can have here: a NUL character (the C library ends a name there), or
    a character the file system's encoding has no bytes for (``"\\ud800"``, a lone
    surrogate written as an escape; those that stand for a byte, ``"\\udcff"``, are
    fine: PEP 383)."""
    if not isinstance(value, str):
        return
    if "\0" in value:
        found.add(key, "a file name cannot hold a NUL character")
        return
    try:
        os.fsencode(value)
    except UnicodeEncodeError as exc:
        found.add(
            key,
            f"a file name cannot hold {value[exc.start]!r}: the file system's encoding"
            f" ({sys.getfilesystemencoding()}) has no bytes for it",
        )


def _connector(entry: dict[str, Any]) -> type[Connector] | None:
    name = _text(entry.get("connector"))
    return None if name is None else registry.lookup(name)


def _fields(entry: dict[str, Any]) -> set[str]:
    """The fields an input provides: the canonical ones, what it maps, and what its
    connector reads by default."""
    mapped = entry.get("map")
    names = (
        {name for name in mapped if isinstance(name, str)} if isinstance(mapped, dict) else set()
    )
    defaults = (_connector(entry) or Connector).default_map
    return set(CANONICAL_FIELDS) | names | set(defaults)


def _source_fields(source: Any) -> set[str] | None:
    """The fields the source's inputs provide; ``None`` when there is no source to say."""
    if not isinstance(source, dict):
        return None
    names = _fields(source)
    for entry in _list(source.get("include")):
        if isinstance(entry, dict):
            names |= _fields(entry)
    return names


def _correlate(
    found: Problems, key: str, value: Any, own: set[str], theirs: set[str] | None
) -> None:
    """Each rule names a canonical field or an attribute its side maps (SPEC §3.2)."""
    rules = [DEFAULT_RULE] if value is None else _list(value)
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue
        for side, known in (("account", own), ("identity", theirs)):
            name = _text(rule.get(side))
            rule_key = f"{key}[{index}].{side}"
            if name is None:
                continue
            if name in NOT_CORRELATED:
                found.add(rule_key, f"{name!r} cannot be used to correlate")
            elif known is not None and name not in known:
                where = "the target" if side == "account" else "the source"
                found.add(
                    rule_key, f"{name!r} is neither a canonical field nor an attribute {where} maps"
                )


def _compare(found: Problems, key: str, value: Any, own: set[str], theirs: set[str] | None) -> None:
    for index, item in enumerate(_list(value)):
        name = _text(item)
        if name is None:
            continue
        if theirs is not None and name not in own & theirs:
            found.add(
                f"{key}[{index}]", f"{name!r} is neither a canonical field nor mapped on both sides"
            )
        elif name in NOT_COMPARED:
            found.add(f"{key}[{index}]", f"{name!r} cannot be compared")


def _unique(found: Problems, names: list[tuple[str, str | None]]) -> None:
    """Each name is used once, the source's and the targets' together."""
    seen: set[str] = set()
    for key, name in names:
        if name is None:
            continue
        if name in seen:
            found.add(join(key, "name"), f"name {name!r} is used twice")
        seen.add(name)


def _text(value: Any) -> str | None:
    """A non-empty string, trimmed; ``None`` for anything else."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
