"""Loading the YAML configuration into validated, frozen objects.

Every problem is reported at once, each naming the file, the line and the key path, so
that a user can fix them all in one go: the shape of the file is checked against the
models of :mod:`.shape`, then every part whose shape is right goes through the checks
that need meaning (:mod:`.endpoints`, the names exceptions and ``protected`` use).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from pydantic import ValidationError

from nhirecon import yamlsafe
from nhirecon.config import meaning
from nhirecon.config.endpoints import read_source, read_target, with_decisions
from nhirecon.config.model import CONFIG_ENV, DEFAULT_PATH, Config, Protected
from nhirecon.config.problems import Problems
from nhirecon.config.shape import ConfigFile, ExceptionKeys, NotifyKeys
from nhirecon.connectors import files
from nhirecon.core.gate import parse_rule
from nhirecon.core.model import ExceptionRule, FindingKind
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
    return read_config(path, document, hashlib.sha256(raw).hexdigest())


def read_config(path: Path, document: yamlsafe.Document, digest: str) -> Config:
    """The config in ``document``; every problem in it raised as one :class:`ConfigError`."""
    found = Problems(path, document)
    if document.data is None:
        found.add("", "the config file is empty")
        raise found.error()
    try:
        keys: ConfigFile | None = ConfigFile.model_validate(document.data)
    except ValidationError as exc:
        found.add_validation(exc, ConfigFile)
        keys = None
    meaning.check(found, document.data)
    if found or keys is None:
        raise found.error()
    lines = document.lines
    targets = tuple(
        read_target(path, lines, target, f"targets[{index}]")
        for index, target in enumerate(keys.targets)
    )
    return Config(
        path=path,
        digest=digest,
        source=with_decisions(read_source(path, lines, keys.source), targets),
        targets=targets,
        policy=Policy(**keys.policy.model_dump()) if keys.policy else Policy(),
        exceptions=tuple(_exception(entry) for entry in keys.exceptions or []),
        protected=tuple(Protected(item.target, item.account) for item in keys.protected or []),
        gate=tuple(parse_rule(text) for text in keys.gate or []),
        history=_path(path, keys.history),
        audit_log=_path(path, keys.audit_log),
        notify=_notify(keys.notify),
    )


def _exception(entry: ExceptionKeys) -> ExceptionRule:
    return ExceptionRule(
        target=entry.target,
        account=entry.account,
        kind=None if entry.kind is None else FindingKind(entry.kind),
        reason=entry.reason,
        owner=entry.owner,
        expires=entry.expires,
    )


def _path(config: Path, value: str | None) -> Path | None:
    """A path from the config, relative to its folder."""
    if value is None:
        return None
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else config.resolve().parent / candidate


def _notify(keys: NotifyKeys | None) -> Notify | None:
    if keys is None:
        return None
    return Notify(
        webhook_url_env=keys.webhook_url_env,
        report_link=keys.report_link,
        when=keys.when,
        timeout_seconds=keys.timeout_seconds or 10.0,
    )
