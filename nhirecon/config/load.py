"""Loading the YAML configuration into validated, frozen objects.

Every error names the file, the key path and the line, so that a user can fix it at once.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

from nhirecon import yamlsafe
from nhirecon.config.checks import Checks
from nhirecon.config.endpoints import read_source, read_targets, with_decisions
from nhirecon.config.model import (
    CONFIG_ENV,
    DEFAULT_PATH,
    NOTIFY_KEYS,
    NOTIFY_WHEN,
    TOP_KEYS,
    Config,
    Protected,
)
from nhirecon.connectors import files
from nhirecon.core.gate import parse_rule
from nhirecon.core.model import ExceptionRule, FindingKind, GateRule
from nhirecon.core.policy import Policy
from nhirecon.errors import ConfigError
from nhirecon.http.webhook import Notify

MAX_CONFIG_BYTES = 16 << 20
"""The largest config file read (16 MiB); a real one holds a few kilobytes."""


def resolve_path(explicit: str | None) -> Path:
    """The config path from ``-c``, else ``$NHIRECON_CONFIG``, else ``nhirecon.yaml``."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_PATH)


def load(path: Path) -> Config:
    """Read and validate a config file: a regular file (not a pipe, a device or a folder)
    of at most :data:`MAX_CONFIG_BYTES`."""
    try:
        raw = files.read_whole(path, MAX_CONFIG_BYTES, "a config")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror or exc}", file=str(path)) from None
    except files.NotAFile as exc:
        raise ConfigError(str(exc), file=str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise ConfigError(f"not UTF-8 text ({exc.reason})", file=str(path), line=line) from None
    try:
        document = yamlsafe.load(text)
    except yamlsafe.YamlError as exc:
        raise ConfigError(f"invalid YAML: {exc}", file=str(path), line=exc.line) from None
    return read_config(Checks(path, document), hashlib.sha256(raw).hexdigest())


def read_config(check: Checks, digest: str) -> Config:
    data = check.document.data
    if data is None:
        raise check.fail("", "the config file is empty")
    data = check.mapping(data, "", TOP_KEYS)
    version = check.require(data, "", "version")
    if version != 1:
        raise check.fail("version", f"unsupported config version {version!r} (expected 1)")
    source = read_source(check, check.require(data, "", "source"))
    targets = read_targets(check, check.require(data, "", "targets"), source)
    source = with_decisions(source, targets)
    names = {source.name, *(target.name for target in targets)}
    return Config(
        path=check.path,
        digest=digest,
        source=source,
        targets=targets,
        policy=_policy(check, data.get("policy")),
        exceptions=_exceptions(check, data.get("exceptions"), names),
        protected=_protected(check, data.get("protected"), names),
        gate=_gate(check, data.get("gate")),
        history=check.optional_path(data.get("history"), "history"),
        audit_log=check.optional_path(data.get("audit_log"), "audit_log"),
        notify=_notify(check, data.get("notify")),
    )


def _policy(check: Checks, value: Any) -> Policy:
    if value is None:
        return Policy()
    names = frozenset(Policy.__dataclass_fields__)
    data = check.mapping(value, "policy", names)
    values: dict[str, Any] = {}
    for name in data:
        kind = int if name.endswith("days") or name == "max_actions" else float
        values[name] = check.number(data[name], f"policy.{name}", kind)
        if name.endswith("percent") and values[name] > 100:
            raise check.fail(f"policy.{name}", "a percentage must be at most 100")
    return Policy(**values)


def _exceptions(check: Checks, value: Any, names: set[str]) -> tuple[ExceptionRule, ...]:
    if value is None:
        return ()
    rules = []
    keys = frozenset({"target", "account", "kind", "reason", "owner", "expires"})
    for index, item in enumerate(check.sequence(value, "exceptions")):
        key = f"exceptions[{index}]"
        data = check.mapping(item, key, keys)
        values = {
            name: check.string(check.require(data, key, name), f"{key}.{name}")
            for name in ("target", "account", "reason", "owner")
        }
        check.known_name(values["target"], f"{key}.target", names)
        kind = None
        if data.get("kind") is not None:
            kind_name = data["kind"]
            if kind_name not in {kind.value for kind in FindingKind}:
                raise check.fail(f"{key}.kind", f"unknown finding kind {kind_name!r}")
            kind = FindingKind(kind_name)
        expires = _expiry(check, check.require(data, key, "expires"), f"{key}.expires")
        rules.append(ExceptionRule(kind=kind, expires=expires, **values))
    return tuple(rules)


def _expiry(check: Checks, value: Any, key: str) -> date:
    """The last day an exception applies."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise check.fail(key, f"expected a date like 2027-01-31, got {value!r}")


def _protected(check: Checks, value: Any, names: set[str]) -> tuple[Protected, ...]:
    if value is None:
        return ()
    result = []
    for index, item in enumerate(check.sequence(value, "protected")):
        key = f"protected[{index}]"
        data = check.mapping(item, key, frozenset({"target", "account"}))
        target = check.string(check.require(data, key, "target"), f"{key}.target")
        account = check.string(check.require(data, key, "account"), f"{key}.account")
        check.known_name(target, f"{key}.target", names)
        result.append(Protected(target, account))
    return tuple(result)


def _gate(check: Checks, value: Any) -> tuple[GateRule, ...]:
    if value is None:
        return ()
    rules = []
    for index, item in enumerate(check.sequence(value, "gate")):
        key = f"gate[{index}]"
        try:
            rules.append(parse_rule(check.string(item, key)))
        except ValueError as exc:
            raise check.fail(key, str(exc)) from None
    return tuple(rules)


def _notify(check: Checks, value: Any) -> Notify | None:
    if value is None:
        return None
    data = check.mapping(value, "notify", NOTIFY_KEYS)
    variable = check.string(
        check.require(data, "notify", "webhook_url_env"), "notify.webhook_url_env"
    )
    link = data.get("report_link")
    when = data.get("when", "always")
    if when not in NOTIFY_WHEN:
        raise check.fail("notify.when", f"expected one of {', '.join(NOTIFY_WHEN)}, got {when!r}")
    timeout = data.get("timeout_seconds", 10.0)
    return Notify(
        webhook_url_env=variable,
        report_link=None if link is None else check.string(link, "notify.report_link"),
        when=when,
        timeout_seconds=check.number(timeout, "notify.timeout_seconds", float) or 10.0,
    )
