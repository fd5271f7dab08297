"""The ``source`` and ``targets`` sections, once they are known to be right (their shape
by :mod:`.shape`, their meaning by :mod:`.meaning`): the frozen
:class:`~nhirecon.config.model.Source` and :class:`~nhirecon.config.model.Target`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from nhirecon.config import value_options
from nhirecon.config.inputs import InputKeys, SourceKeys, TargetKeys
from nhirecon.config.model import ACTIONS, DEFAULT_CORRELATE, Endpoint, Source, Target
from nhirecon.connectors import registry
from nhirecon.connectors.base import ConnectorContext
from nhirecon.core.model import FindingKind, Remediation
from nhirecon.core.policy import CorrelationRule
from nhirecon.errors import ConfigError


def read_source(path: Path, lines: Mapping[str, int], keys: SourceKeys) -> Source:
    inputs = [_endpoint(path, lines, keys, "source", keys.name)]
    for index, entry in enumerate(keys.include or []):
        key = f"source.include[{index}]"
        label = entry.name or f"{keys.name}.include[{index}]"
        inputs.append(_endpoint(path, lines, entry, key, label))
    active = frozenset(str(word).strip().casefold() for word in keys.active_status)
    return Source(keys.name, tuple(inputs), active)


def read_target(path: Path, lines: Mapping[str, int], keys: TargetKeys, key: str) -> Target:
    endpoint = _endpoint(path, lines, keys, key, keys.name)
    rules = keys.correlate or ()
    correlate = tuple(CorrelationRule(rule.account, rule.identity) for rule in rules)
    correlate = correlate or DEFAULT_CORRELATE
    compare = tuple(keys.compare or ())
    context = replace(
        endpoint.context,
        compared=frozenset(compare),
        correlated=frozenset(rule.account for rule in correlate),
    )
    return Target(
        endpoint=replace(endpoint, context=context),
        correlate=correlate,
        compare=compare,
        remediate=_remediate(keys),
    )


def with_decisions(source: Source, targets: tuple[Target, ...]) -> Source:
    """``source`` with the fields the targets correlate on and compare noted on each of
    its inputs: a mapped name that no record has is an error for them (SPEC §3.2)."""
    correlated = frozenset(rule.identity for target in targets for rule in target.correlate)
    compared = frozenset(name for target in targets for name in target.compare)
    inputs = tuple(
        replace(
            endpoint,
            context=replace(endpoint.context, correlated=correlated, compared=compared),
        )
        for endpoint in source.inputs
    )
    return replace(source, inputs=inputs)


def _endpoint(
    path: Path, lines: Mapping[str, int], keys: InputKeys, key: str, name: str
) -> Endpoint:
    connector = registry.lookup(keys.connector)
    if connector is None:  # checked by meaning.check; a plugin gone since is an error
        raise ConfigError(f"unknown connector {keys.connector!r}", key=f"{key}.connector")
    field_map = keys.map.model_dump(exclude_none=True) if keys.map else {}
    context = ConnectorContext(
        name=name,
        base_dir=path.resolve().parent,
        field_map=MappingProxyType(field_map),
        origin_values=MappingProxyType(value_options.origin_values(keys)),
        key=key,
        value_options=value_options.read(keys),
    )
    options = keys.options()
    where = _shown(path)
    line = lines.get(key)
    return Endpoint(
        name,
        connector,
        MappingProxyType(options),
        context,
        key,
        defined_at=f"{where}:{line}" if line else where,
    )


def _shown(path: Path) -> str:
    """The config's path relative to the working directory when it lies below it, as input
    paths are shown (:meth:`ConnectorContext.resolve`)."""
    full = path if path.is_absolute() else Path.cwd() / path
    try:
        return str(full.relative_to(Path.cwd()))
    except ValueError:
        return str(full)


def _remediate(keys: TargetKeys) -> Mapping[FindingKind, Remediation]:
    if keys.remediate is None:
        return MappingProxyType({})
    chosen = keys.remediate.model_dump(by_alias=True, exclude_none=True)
    return MappingProxyType(
        {
            FindingKind(kind): action
            for kind, word in chosen.items()
            if (action := ACTIONS[word]) is not None
        }
    )
