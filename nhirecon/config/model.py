"""The validated configuration: frozen objects built from the YAML by :mod:`.load`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from nhirecon.connectors.base import Connector, ConnectorContext
from nhirecon.core.model import ExceptionRule, FindingKind, GateRule, Remediation
from nhirecon.core.policy import CorrelationRule, Policy
from nhirecon.errors import ConfigError
from nhirecon.http.webhook import Notify

DEFAULT_PATH: Final = "nhirecon.yaml"
CONFIG_ENV: Final = "NHIRECON_CONFIG"

ACTIONS: Final = {"disable": Remediation.DISABLE, "delete": Remediation.DELETE, "none": None}
DEFAULT_CORRELATE: Final = (CorrelationRule("email", "email"),)
"""The ``correlate`` rules of a target that names none."""


NOTIFY_WHEN: Final = ("always", "changes", "failed")


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
    defined_at: str = ""
    """The config file and line that define it (``nhirecon.yaml:12``), for reports that
    point at a file (SARIF) when its records come from a URL."""

    def open(self, as_of: datetime | None = None) -> Connector:
        """A connector instance ready to pull, for a run evaluated at ``as_of`` when given
        (see :attr:`ConnectorContext.as_of`); :class:`ConfigError` when the connector's
        optional library is not installed (see :meth:`unusable`)."""
        problem = self.unusable()
        if problem is not None:
            raise problem
        context = self.context if as_of is None else replace(self.context, as_of=as_of)
        return self.connector(context=context, **self.options)

    def unusable(self) -> ConfigError | None:
        """Why its connector cannot work on this installation (an extra not installed),
        naming the config's file, line and key; ``None`` when it can. Checked as an input
        is opened, so that a run of other targets (``--target``) is not refused for it."""
        missing = self.connector.missing()
        if not missing:
            return None
        return ConfigError(missing, key=f"{self.key}.connector", file=self.defined_at)


@dataclass(frozen=True)
class Source:
    name: str
    inputs: tuple[Endpoint, ...]
    """The main input first, then each ``include``; their identities are merged."""
    active_status: frozenset[str]
    """Case-folded status values that may hold access."""


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
class Protected:
    target: str
    account: str


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
