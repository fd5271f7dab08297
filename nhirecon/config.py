"""The YAML configuration, validated into frozen objects.

Every error names the file, the key path and the line, so that a user can fix it at once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from nhirecon import yamlsafe
from nhirecon.connectors import registry
from nhirecon.connectors.base import Connector, ConnectorContext
from nhirecon.errors import ConfigError
from nhirecon.gate import parse_rule
from nhirecon.model import (
    CANONICAL_FIELDS,
    DATE_FIELDS,
    ExceptionRule,
    FindingKind,
    GateRule,
    Origin,
    Remediation,
)
from nhirecon.values import comparison_mode

DEFAULT_PATH: Final = "nhirecon.yaml"
CONFIG_ENV: Final = "NHIRECON_CONFIG"

ACCOUNT_KINDS: Final = frozenset(FindingKind) - {FindingKind.OWNERLESS, FindingKind.AMBIGUOUS}
"""Finding kinds that a target's ``remediate`` may name."""
ACTIONS: Final = {"disable": Remediation.DISABLE, "delete": Remediation.DELETE, "none": None}
SPECIAL_MAP_KEYS: Final = frozenset({"origin", "version"})

ENDPOINT_KEYS: Final = frozenset({"name", "connector", "map", "origin_values"})
SOURCE_KEYS: Final = ENDPOINT_KEYS | {"active_status", "include"}
INCLUDE_KEYS: Final = ENDPOINT_KEYS
TARGET_KEYS: Final = ENDPOINT_KEYS | {"correlate", "compare", "remediate"}
TOP_KEYS: Final = frozenset(
    {
        "version",
        "source",
        "targets",
        "policy",
        "exceptions",
        "protected",
        "gate",
        "history",
        "notify",
        "audit_log",
    }
)
DEFAULT_CORRELATE: Final = ({"account": "email", "identity": "email"},)


@dataclass(frozen=True)
class Endpoint:
    """A source input or a target: which connector, with which options and mapping."""

    name: str
    connector: type[Connector]
    options: Mapping[str, Any]
    """The connector's own options (its keyword-only constructor arguments)."""
    context: ConnectorContext
    key: str
    """Where it is in the config, for messages: ``source``, ``targets[2]``."""

    def open(self) -> Connector:
        """A connector instance ready to pull."""
        return self.connector(context=self.context, **self.options)


@dataclass(frozen=True)
class Source:
    name: str
    inputs: tuple[Endpoint, ...]
    """The main input first, then each ``include``; their identities are merged."""
    active_status: frozenset[str]
    """Case-folded status values that may hold access."""


@dataclass(frozen=True)
class CorrelationRule:
    account: str
    identity: str

    @property
    def mode(self) -> str:
        return comparison_mode(self.account, self.identity)

    def __str__(self) -> str:
        return f"account.{self.account} = identity.{self.identity}"


@dataclass(frozen=True)
class Target:
    endpoint: Endpoint
    correlate: tuple[CorrelationRule, ...]
    compare: tuple[str, ...]
    remediate: Mapping[FindingKind, Remediation]

    @property
    def name(self) -> str:
        return self.endpoint.name


@dataclass(frozen=True)
class Policy:
    dormant_days: int = 90
    credential_max_age_days: int = 90
    orphan_grace_days: int = 0
    max_actions: int = 25
    max_action_percent: float = 10.0
    max_source_drop_percent: float = 20.0


@dataclass(frozen=True)
class Protected:
    target: str
    account: str


NOTIFY_WHEN: Final = ("always", "changes", "failed")
NOTIFY_KEYS: Final = frozenset({"webhook_url_env", "report_link", "when", "timeout_seconds"})


@dataclass(frozen=True)
class Notify:
    """The optional ``notify:`` key: post a short summary to a chat webhook after audit."""

    webhook_url_env: str
    """The environment variable holding the webhook URL (a secret: never in the file)."""
    report_link: str | None = None
    """A link or path to the report, shown as given."""
    when: str = "always"
    """``always``; ``changes`` (new or resolved findings); ``failed`` (the gate failed)."""
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class Config:
    path: Path
    digest: str
    """SHA-256 of the file's bytes: a plan is bound to the exact config it came from."""
    source: Source
    targets: tuple[Target, ...]
    policy: Policy = field(default_factory=Policy)
    exceptions: tuple[ExceptionRule, ...] = ()
    protected: tuple[Protected, ...] = ()
    gate: tuple[GateRule, ...] = ()
    history: Path | None = None
    audit_log: Path | None = None
    notify: Notify | None = None

    def target(self, name: str) -> Target:
        for target in self.targets:
            if target.name == name:
                return target
        known = ", ".join(target.name for target in self.targets) or "none"
        raise ConfigError(f"no target named {name!r} (targets: {known})")


def resolve_path(explicit: str | None) -> Path:
    """The config path from ``-c``, else ``$NHIRECON_CONFIG``, else ``nhirecon.yaml``."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_PATH)


def load(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror or exc}", file=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=str(path), line=line) from None
    try:
        document = yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=str(path), line=exc.line) from None
    return _Reader(path, document).config(hashlib.sha256(raw).hexdigest())


class _Reader:
    """Walks the document, checking each key; errors carry the key path and line."""

    def __init__(self, path: Path, document: yamlsafe.Document) -> None:
        self.path = path
        self.base_dir = path.resolve().parent
        self.document = document

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, key=key, file=str(self.path), line=self.document.line(key))

    def mapping(self, value: Any, key: str, allowed: frozenset[str] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {_type(value)}")
        for name in value:
            if not isinstance(name, str):
                raise self.fail(key, f"keys must be strings, got {name!r}")
            if allowed is not None and name not in allowed:
                raise self.fail(_join(key, name), f"unknown key (allowed: {_list(allowed)})")
        return value

    def require(self, data: Mapping[str, Any], key: str, name: str) -> Any:
        if name not in data or data[name] is None:
            raise self.fail(key, f"missing required key {_join(key, name)!r}")
        return data[name]

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {_type(value)}")
        return value.strip()

    def sequence(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_type(value)}")
        return value

    def number(self, value: Any, key: str, kind: type[int] | type[float]) -> Any:
        fits = isinstance(value, int | float) if kind is float else isinstance(value, int)
        if isinstance(value, bool) or not fits:
            word = "a number" if kind is float else "a whole number"
            raise self.fail(key, f"expected {word}, got {_type(value)}")
        if value < 0:
            raise self.fail(key, f"must not be negative, got {value}")
        return kind(value)

    def config(self, digest: str) -> Config:
        data = self.document.data
        if data is None:
            raise self.fail("", "the config file is empty")
        data = self.mapping(data, "", TOP_KEYS)
        version = self.require(data, "", "version")
        if version != 1:
            raise self.fail("version", f"unsupported config version {version!r} (expected 1)")
        source = self.source(self.require(data, "", "source"))
        targets = self.targets(self.require(data, "", "targets"), source)
        names = {source.name, *(target.name for target in targets)}
        return Config(
            path=self.path,
            digest=digest,
            source=source,
            targets=targets,
            policy=self.policy(data.get("policy")),
            exceptions=self.exceptions(data.get("exceptions"), names),
            protected=self.protected(data.get("protected"), names),
            gate=self.gate(data.get("gate")),
            history=self.optional_path(data.get("history"), "history"),
            audit_log=self.optional_path(data.get("audit_log"), "audit_log"),
            notify=self.notify(data.get("notify")),
        )

    def endpoint(self, data: dict[str, Any], key: str, name: str, *, require_id: bool) -> Endpoint:
        connector_name = self.string(self.require(data, key, "connector"), _join(key, "connector"))
        connector = registry.lookup(connector_name)
        if connector is None:
            raise self.fail(
                _join(key, "connector"),
                f"unknown connector {connector_name!r} (available: {', '.join(registry.names())})",
            )
        field_map = self.field_map(data.get("map"), _join(key, "map"), require_id=require_id)
        origin_values = self.origin_values(data.get("origin_values"), _join(key, "origin_values"))
        allowed = TARGET_KEYS | SOURCE_KEYS
        options = {option: value for option, value in data.items() if option not in allowed}
        for option, problem in connector.check_options(options):
            raise self.fail(_join(key, option), problem)
        context = ConnectorContext(
            name=name,
            base_dir=self.base_dir,
            field_map=MappingProxyType(field_map),
            origin_values=MappingProxyType(origin_values),
            key=key,
        )
        return Endpoint(name, connector, MappingProxyType(options), context, key)

    def field_map(self, value: Any, key: str, *, require_id: bool) -> dict[str, str]:
        if value is None:
            if require_id:
                raise self.fail(key, f"missing required key {key!r} (with at least `id`)")
            return {}
        data = self.mapping(value, key, None)
        result = {}
        for name, column in data.items():
            result[name] = self.string(column, _join(key, name))
        if require_id and "id" not in result:
            raise self.fail(key, f"missing required key {_join(key, 'id')!r}: the stable key")
        return result

    def origin_values(self, value: Any, key: str) -> dict[str, Origin]:
        if value is None:
            return {}
        allowed = frozenset(origin.value for origin in Origin)
        data = self.mapping(value, key, allowed)
        result: dict[str, Origin] = {}
        for origin_name, words in data.items():
            entry_key = _join(key, origin_name)
            listed = words if isinstance(words, list) else [words]
            for index, word in enumerate(listed):
                if not isinstance(word, str | int | bool):
                    raise self.fail(f"{entry_key}[{index}]", f"expected a value, got {_type(word)}")
                result[str(word).strip().casefold()] = Origin(origin_name)
        return result

    def source(self, value: Any) -> Source:
        data = self.mapping(value, "source", None)
        name = self.string(self.require(data, "source", "name"), "source.name")
        main = self.endpoint(data, "source", name, require_id=True)
        inputs = [main]
        for index, item in enumerate(self.sequence(data.get("include") or [], "source.include")):
            key = f"source.include[{index}]"
            entry = self.mapping(item, key, None)
            for option in entry:
                if option in SOURCE_KEYS - INCLUDE_KEYS or option in TARGET_KEYS - ENDPOINT_KEYS:
                    raise self.fail(_join(key, option), "not allowed in an include")
            label = entry.get("name") or f"{name}.include[{index}]"
            inputs.append(self.endpoint(entry, key, str(label), require_id=True))
        statuses = data.get("active_status", ["active"])
        words = self.sequence(statuses, "source.active_status")
        active = frozenset(str(word).strip().casefold() for word in words)
        if not active:
            raise self.fail("source.active_status", "must name at least one status")
        self._forbid(data, "source", TARGET_KEYS - ENDPOINT_KEYS)
        return Source(name, tuple(inputs), active)

    def _forbid(self, data: Mapping[str, Any], key: str, names: frozenset[str]) -> None:
        for name in sorted(names & set(data)):
            raise self.fail(_join(key, name), "not allowed here")

    def targets(self, value: Any, source: Source) -> tuple[Target, ...]:
        seen = {source.name}
        result = []
        for index, item in enumerate(self.sequence(value, "targets")):
            key = f"targets[{index}]"
            data = self.mapping(item, key, None)
            name = self.string(self.require(data, key, "name"), _join(key, "name"))
            if name in seen:
                raise self.fail(_join(key, "name"), f"name {name!r} is used twice")
            seen.add(name)
            self._forbid(data, key, SOURCE_KEYS - ENDPOINT_KEYS)
            endpoint = self.endpoint(data, key, name, require_id=False)
            known = self._known_fields(source) & self._known_fields_of(endpoint)
            compare = self.compare(data.get("compare"), _join(key, "compare"), known)
            context = replace(endpoint.context, compared=frozenset(compare))
            result.append(
                Target(
                    endpoint=replace(endpoint, context=context),
                    correlate=self.correlate(data.get("correlate"), _join(key, "correlate")),
                    compare=compare,
                    remediate=self.remediate(data.get("remediate"), _join(key, "remediate")),
                )
            )
        return tuple(result)

    def _known_fields(self, source: Source) -> set[str]:
        names = set(CANONICAL_FIELDS)
        for endpoint in source.inputs:
            names |= self._known_fields_of(endpoint)
        return names

    def _known_fields_of(self, endpoint: Endpoint) -> set[str]:
        return (
            set(CANONICAL_FIELDS)
            | set(endpoint.context.field_map)
            | set(endpoint.connector.default_map)
        )

    def correlate(self, value: Any, key: str) -> tuple[CorrelationRule, ...]:
        items = DEFAULT_CORRELATE if value is None else self.sequence(value, key)
        if not items:
            raise self.fail(key, "must hold at least one rule")
        rules = []
        for index, item in enumerate(items):
            rule_key = f"{key}[{index}]"
            data = self.mapping(item, rule_key, frozenset({"account", "identity"}))
            account = self.string(self.require(data, rule_key, "account"), f"{rule_key}.account")
            identity = self.string(self.require(data, rule_key, "identity"), f"{rule_key}.identity")
            for side, name in (("account", account), ("identity", identity)):
                if name in ("active", "groups", "origin") or name in DATE_FIELDS:
                    raise self.fail(f"{rule_key}.{side}", f"{name!r} cannot be used to correlate")
            rules.append(CorrelationRule(account, identity))
        return tuple(rules)

    def compare(self, value: Any, key: str, known: set[str]) -> tuple[str, ...]:
        if value is None:
            return ()
        names = []
        for index, item in enumerate(self.sequence(value, key)):
            name = self.string(item, f"{key}[{index}]")
            if name not in known:
                raise self.fail(
                    f"{key}[{index}]",
                    f"{name!r} is neither a canonical field nor mapped on both sides",
                )
            if name in ("id", "active", "origin"):
                raise self.fail(f"{key}[{index}]", f"{name!r} cannot be compared")
            names.append(name)
        return tuple(names)

    def remediate(self, value: Any, key: str) -> Mapping[FindingKind, Remediation]:
        if value is None:
            return MappingProxyType({})
        allowed = frozenset(kind.value for kind in ACCOUNT_KINDS)
        data = self.mapping(value, key, allowed)
        result = {}
        for kind_name, action in data.items():
            if action not in ACTIONS:
                raise self.fail(
                    _join(key, kind_name), f"expected disable, delete or none, got {action!r}"
                )
            chosen = ACTIONS[action]
            if chosen is not None:
                result[FindingKind(kind_name)] = chosen
        return MappingProxyType(result)

    def policy(self, value: Any) -> Policy:
        if value is None:
            return Policy()
        names = frozenset(Policy.__dataclass_fields__)
        data = self.mapping(value, "policy", names)
        values: dict[str, Any] = {}
        for name in data:
            kind = int if name.endswith("days") or name == "max_actions" else float
            values[name] = self.number(data[name], f"policy.{name}", kind)
            if name.endswith("percent") and values[name] > 100:
                raise self.fail(f"policy.{name}", "a percentage must be at most 100")
        return Policy(**values)

    def exceptions(self, value: Any, names: set[str]) -> tuple[ExceptionRule, ...]:
        if value is None:
            return ()
        rules = []
        keys = frozenset({"target", "account", "kind", "reason", "owner", "expires"})
        for index, item in enumerate(self.sequence(value, "exceptions")):
            key = f"exceptions[{index}]"
            data = self.mapping(item, key, keys)
            values = {
                name: self.string(self.require(data, key, name), f"{key}.{name}")
                for name in ("target", "account", "reason", "owner")
            }
            self._known_name(values["target"], f"{key}.target", names)
            kind = None
            if data.get("kind") is not None:
                kind_name = data["kind"]
                if kind_name not in {kind.value for kind in FindingKind}:
                    raise self.fail(f"{key}.kind", f"unknown finding kind {kind_name!r}")
                kind = FindingKind(kind_name)
            expires = self.expiry(self.require(data, key, "expires"), f"{key}.expires")
            rules.append(ExceptionRule(kind=kind, expires=expires, **values))
        return tuple(rules)

    def expiry(self, value: Any, key: str) -> date:
        """The last day an exception applies."""
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(key, f"expected a date like 2027-01-31, got {value!r}")

    def _known_name(self, name: str, key: str, names: set[str]) -> None:
        if name not in names:
            raise self.fail(key, f"no source or target named {name!r} (known: {_list(names)})")

    def protected(self, value: Any, names: set[str]) -> tuple[Protected, ...]:
        if value is None:
            return ()
        result = []
        for index, item in enumerate(self.sequence(value, "protected")):
            key = f"protected[{index}]"
            data = self.mapping(item, key, frozenset({"target", "account"}))
            target = self.string(self.require(data, key, "target"), f"{key}.target")
            account = self.string(self.require(data, key, "account"), f"{key}.account")
            self._known_name(target, f"{key}.target", names)
            result.append(Protected(target, account))
        return tuple(result)

    def gate(self, value: Any) -> tuple[GateRule, ...]:
        if value is None:
            return ()
        rules = []
        for index, item in enumerate(self.sequence(value, "gate")):
            key = f"gate[{index}]"
            try:
                rules.append(parse_rule(self.string(item, key)))
            except ValueError as exc:
                raise self.fail(key, str(exc)) from None
        return tuple(rules)

    def notify(self, value: Any) -> Notify | None:
        if value is None:
            return None
        data = self.mapping(value, "notify", NOTIFY_KEYS)
        variable = self.string(
            self.require(data, "notify", "webhook_url_env"), "notify.webhook_url_env"
        )
        link = data.get("report_link")
        when = data.get("when", "always")
        if when not in NOTIFY_WHEN:
            raise self.fail(
                "notify.when", f"expected one of {', '.join(NOTIFY_WHEN)}, got {when!r}"
            )
        timeout = data.get("timeout_seconds", 10.0)
        return Notify(
            webhook_url_env=variable,
            report_link=None if link is None else self.string(link, "notify.report_link"),
            when=when,
            timeout_seconds=self.number(timeout, "notify.timeout_seconds", float) or 10.0,
        )

    def optional_path(self, value: Any, key: str) -> Path | None:
        if value is None:
            return None
        candidate = Path(self.string(value, key)).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _type(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _list(names: Sequence[str] | set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(names))
