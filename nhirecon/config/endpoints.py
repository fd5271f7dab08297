"""The ``source`` and ``targets`` sections: connectors, mappings, correlation, remediation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from nhirecon.config import value_options
from nhirecon.config.checks import Checks, join
from nhirecon.config.model import (
    ACTIONS,
    DEFAULT_CORRELATE,
    ENDPOINT_KEYS,
    INCLUDE_KEYS,
    SOURCE_KEYS,
    TARGET_KEYS,
    Endpoint,
    Source,
    Target,
)
from nhirecon.connectors import registry
from nhirecon.connectors.base import ConnectorContext
from nhirecon.core.model import (
    ACCOUNT_KINDS,
    CANONICAL_FIELDS,
    DATE_FIELDS,
    MULTI_VALUED_FIELDS,
    FindingKind,
    Remediation,
)
from nhirecon.core.policy import CorrelationRule

ONE_VALUE_FIELDS = frozenset({*CANONICAL_FIELDS, "version"}) - MULTI_VALUED_FIELDS - {*DATE_FIELDS}
"""Fields whose ``map`` entry names exactly one column (a date may name several: the
latest of them is the field's value)."""


def read_source(check: Checks, value: Any) -> Source:
    data = check.mapping(value, "source", None)
    name = check.string(check.require(data, "source", "name"), "source.name")
    main = _endpoint(check, data, "source", name, require_id=True)
    inputs = [main]
    for index, item in enumerate(check.sequence(data.get("include") or [], "source.include")):
        key = f"source.include[{index}]"
        entry = check.mapping(item, key, None)
        for option in entry:
            if option in SOURCE_KEYS - INCLUDE_KEYS or option in TARGET_KEYS - ENDPOINT_KEYS:
                raise check.fail(join(key, option), "not allowed in an include")
        label = entry.get("name") or f"{name}.include[{index}]"
        inputs.append(_endpoint(check, entry, key, str(label), require_id=True))
    statuses = data.get("active_status", ["active"])
    words = check.sequence(statuses, "source.active_status")
    active = frozenset(str(word).strip().casefold() for word in words)
    if not active:
        raise check.fail("source.active_status", "must name at least one status")
    check.forbid(data, "source", TARGET_KEYS - ENDPOINT_KEYS)
    return Source(name, tuple(inputs), active)


def read_targets(check: Checks, value: Any, source: Source) -> tuple[Target, ...]:
    seen = {source.name}
    result = []
    for index, item in enumerate(check.sequence(value, "targets")):
        key = f"targets[{index}]"
        data = check.mapping(item, key, None)
        name = check.string(check.require(data, key, "name"), join(key, "name"))
        if name in seen:
            raise check.fail(join(key, "name"), f"name {name!r} is used twice")
        seen.add(name)
        check.forbid(data, key, SOURCE_KEYS - ENDPOINT_KEYS)
        endpoint = _endpoint(check, data, key, name, require_id=False)
        known = _known_fields(source) & _known_fields_of(endpoint)
        compare = _compare(check, data.get("compare"), join(key, "compare"), known)
        correlate = _correlate(
            check,
            data.get("correlate"),
            join(key, "correlate"),
            {"account": _known_fields_of(endpoint), "identity": _known_fields(source)},
        )
        context = replace(
            endpoint.context,
            compared=frozenset(compare),
            correlated=frozenset(rule.account for rule in correlate),
        )
        result.append(
            Target(
                endpoint=replace(endpoint, context=context),
                correlate=correlate,
                compare=compare,
                remediate=_remediate(check, data.get("remediate"), join(key, "remediate")),
            )
        )
    return tuple(result)


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
    check: Checks, data: dict[str, Any], key: str, name: str, *, require_id: bool
) -> Endpoint:
    connector_name = check.string(check.require(data, key, "connector"), join(key, "connector"))
    connector = registry.lookup(connector_name)
    if connector is None:
        raise check.fail(
            join(key, "connector"),
            f"unknown connector {connector_name!r} (available: {', '.join(registry.names())})",
        )
    field_map = _field_map(check, data.get("map"), join(key, "map"), require_id=require_id)
    origin_values = value_options.origin_values(
        check, data.get("origin_values"), join(key, "origin_values")
    )
    values = value_options.read(check, data, key)
    allowed = TARGET_KEYS | SOURCE_KEYS
    options = {option: value for option, value in data.items() if option not in allowed}
    for option, problem in connector.check_options(options):
        raise check.fail(join(key, option), problem)
    context = ConnectorContext(
        name=name,
        base_dir=check.base_dir,
        field_map=MappingProxyType(field_map),
        origin_values=MappingProxyType(origin_values),
        key=key,
        value_options=values,
    )
    line = check.document.line(key)
    where = _shown(check.path)
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


def _field_map(
    check: Checks, value: Any, key: str, *, require_id: bool
) -> dict[str, str | tuple[str, ...]]:
    if value is None:
        if require_id:
            raise check.fail(key, f"missing required key {key!r} (with at least `id`)")
        return {}
    data = check.mapping(value, key, None)
    result: dict[str, str | tuple[str, ...]] = {}
    for name, column in data.items():
        entry = join(key, name)
        if not isinstance(column, list):
            result[name] = check.string(column, entry)
            continue
        if name in ONE_VALUE_FIELDS:
            raise check.fail(
                entry,
                f"{name!r} reads one column; several columns are for fields that can hold"
                f" several values ({', '.join(sorted(MULTI_VALUED_FIELDS))} and custom"
                " attributes) and for dates (the latest of them is taken)",
            )
        columns = [check.string(item, f"{entry}[{index}]") for index, item in enumerate(column)]
        if not columns:
            raise check.fail(entry, "names no column")
        distinct = tuple(dict.fromkeys(columns))
        result[name] = distinct[0] if len(distinct) == 1 else distinct
    if require_id and "id" not in result:
        raise check.fail(key, f"missing required key {join(key, 'id')!r}: the stable key")
    return result


def _known_fields(source: Source) -> set[str]:
    names = set(CANONICAL_FIELDS)
    for endpoint in source.inputs:
        names |= _known_fields_of(endpoint)
    return names


def _known_fields_of(endpoint: Endpoint) -> set[str]:
    return (
        set(CANONICAL_FIELDS)
        | set(endpoint.context.field_map)
        | set(endpoint.connector.default_map)
    )


def _correlate(
    check: Checks, value: Any, key: str, known: Mapping[str, set[str]]
) -> tuple[CorrelationRule, ...]:
    """The rules, each naming a canonical field or an attribute its side maps (SPEC §3.2)."""
    items = DEFAULT_CORRELATE if value is None else check.sequence(value, key)
    if not items:
        raise check.fail(key, "must hold at least one rule")
    rules = []
    for index, item in enumerate(items):
        rule_key = f"{key}[{index}]"
        data = check.mapping(item, rule_key, frozenset({"account", "identity"}))
        account = check.string(check.require(data, rule_key, "account"), f"{rule_key}.account")
        identity = check.string(check.require(data, rule_key, "identity"), f"{rule_key}.identity")
        for side, name in (("account", account), ("identity", identity)):
            if name in ("active", "groups", "origin") or name in DATE_FIELDS:
                raise check.fail(f"{rule_key}.{side}", f"{name!r} cannot be used to correlate")
            if name not in known[side]:
                where = "the target" if side == "account" else "the source"
                raise check.fail(
                    f"{rule_key}.{side}",
                    f"{name!r} is neither a canonical field nor an attribute {where} maps",
                )
        rules.append(CorrelationRule(account, identity))
    return tuple(rules)


def _compare(check: Checks, value: Any, key: str, known: set[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    names = []
    for index, item in enumerate(check.sequence(value, key)):
        name = check.string(item, f"{key}[{index}]")
        if name not in known:
            raise check.fail(
                f"{key}[{index}]",
                f"{name!r} is neither a canonical field nor mapped on both sides",
            )
        if name in ("id", "active", "origin"):
            raise check.fail(f"{key}[{index}]", f"{name!r} cannot be compared")
        names.append(name)
    return tuple(names)


def _remediate(check: Checks, value: Any, key: str) -> Mapping[FindingKind, Remediation]:
    if value is None:
        return MappingProxyType({})
    allowed = frozenset(kind.value for kind in ACCOUNT_KINDS)
    data = check.mapping(value, key, allowed)
    result = {}
    for kind_name, action in data.items():
        if action not in ACTIONS:
            raise check.fail(
                join(key, kind_name), f"expected disable, delete or none, got {action!r}"
            )
        chosen = ACTIONS[action]
        if chosen is not None:
            result[FindingKind(kind_name)] = chosen
    return MappingProxyType(result)
