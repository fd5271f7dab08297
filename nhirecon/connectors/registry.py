"""Which connectors exist: the built-ins, listed here, and plugins from entry points."""

from __future__ import annotations

import importlib
import logging
import os
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import entry_points
from typing import Any, Final, Protocol

from nhirecon.connectors.base import Connector
from nhirecon.connectors.coverage import Coverage
from nhirecon.core.model import Record
from nhirecon.errors import ConnectorError, DataError, InternalError, NhireconError, describe

ENTRY_POINT_GROUP = "nhirecon.connectors.v1"
"""Third-party connectors register a :class:`Connector` subclass under this group."""

BUILTIN_CLASSES: Final[Mapping[str, str]] = {
    "csv": "nhirecon.connectors.csv:CsvConnector",
    "json": "nhirecon.connectors.json:JsonConnector",
    "yaml": "nhirecon.connectors.yaml:YamlConnector",
    "scim": "nhirecon.connectors.scim:ScimConnector",
    "ldap": "nhirecon.connectors.ldap:LdapConnector",
    "entra": "nhirecon.connectors.entra:EntraConnector",
    "okta": "nhirecon.connectors.okta:OktaConnector",
    "google": "nhirecon.connectors.google:GoogleConnector",
    "aws-iam": "nhirecon.connectors.aws_iam:AwsIamConnector",
    "github": "nhirecon.connectors.github:GithubConnector",
    "gcp": "nhirecon.connectors.gcp:GcpConnector",
    "aws-credential-report": "nhirecon.connectors.aws_credential_report:AwsCredentialReportConnector",  # noqa: E501
}
"""Each built-in connector's name and where its class is (``module:Class``). A module is
imported only when its connector is used or listed, so that a command that reads no
connector starts fast, and a connector whose optional library is missing (an extra) says so
when it is used rather than breaking every command. Each module imports its optional
library inside the methods that need it."""


class _Builtins(Mapping[str, type[Connector]]):
    """The built-in connectors by name, each class imported on first use."""

    def __init__(self, classes: Mapping[str, str]) -> None:
        self._classes = classes
        self._loaded: dict[str, type[Connector]] = {}

    def __getitem__(self, name: str) -> type[Connector]:
        found = self._loaded.get(name)
        if found is None:
            module, _, attribute = self._classes[name].partition(":")
            loaded = getattr(importlib.import_module(module), attribute)
            if loaded.name != name:
                raise InternalError(f"built-in connector {name!r} is named {loaded.name!r}")
            found = self._loaded[name] = loaded
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes


BUILTINS: Final = _Builtins(BUILTIN_CLASSES)

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
        problem = plugin_problem(entry.name, loaded)
        found.append(Available(entry.name, dist, None if problem else loaded, problem))
    return found


def plugin_problem(entry_name: str, cls: type[Connector]) -> str:
    """Why a plugin class cannot be used (empty when it can): it must name itself as its
    entry point does, describe itself, and have option annotations that resolve at run
    time (they are how an option's type is checked)."""
    name = getattr(cls, "name", None)
    if name != entry_name:
        return f"its class name is {name!r}, not the entry point's {entry_name!r}"
    description = getattr(cls, "description", None)
    if not isinstance(description, str) or not description.strip():
        return "it has no description"
    try:
        typing.get_type_hints(cls.__init__)
    except Exception as exc:  # NameError for a name imported only under TYPE_CHECKING
        return f"its option annotations do not resolve at run time ({type(exc).__name__}: {exc})"
    return ""


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


# Pulling, with a connector's own exceptions named ----------------------------------------

MAX_CAUSE_CHARS: Final = 500
"""How much of a failing connector's own exception message an error repeats."""
REDACTED: Final = "[redacted]"


class Endpoint(Protocol):
    """What :func:`pull` needs of a source input or target from the config."""

    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def connector(self) -> type[Connector]: ...
    @property
    def options(self) -> Mapping[str, Any]: ...
    def open(self, as_of: datetime | None = None) -> Connector: ...


def connect(endpoint: Endpoint, as_of: datetime | None = None) -> Connector:
    """``endpoint.open(as_of)`` (``open()`` without an instant, as an endpoint made before
    connectors were given one takes it), with a failure named as :func:`pull` names it."""
    try:
        return endpoint.open() if as_of is None else endpoint.open(as_of)
    except NhireconError:
        raise
    except Exception as exc:
        raise failure(endpoint, exc) from exc


class Pull:
    """One pull of a source input or target: iterate it for the records, streamed, their
    ids distinct (a repeated id fails the pull, naming both places); once they have all
    been read, :attr:`coverage` says what the input provided.

    nhirecon's own errors pass as they are. Any other exception is named with the
    connector, the source or target and the exception's type: from a plugin it is a
    :class:`ConnectorError` (exit 3: the connector failed); from a built-in it is a bug,
    an :class:`InternalError` (exit 70).
    """

    def __init__(self, endpoint: Endpoint, as_of: datetime | None = None) -> None:
        self.endpoint = endpoint
        self.as_of = as_of
        """The instant the run evaluates at (see :attr:`ConnectorContext.as_of`)."""
        self.coverage: Coverage | None = None
        """``None`` until every record was read, or when the connector does not say."""

    def __iter__(self) -> Iterator[Record]:
        try:
            connector = connect(self.endpoint, self.as_of)
            records = connector.records()
            if type(connector).records is not Connector.records:
                records = _distinct(records, self.endpoint)  # the mapping checks its own
            yield from records
        except NhireconError:
            raise
        except Exception as exc:
            raise failure(self.endpoint, exc) from exc
        self.coverage = connector.coverage


def _distinct(records: Iterator[Record], endpoint: Endpoint) -> Iterator[Record]:
    """``records``, checked to have distinct ids, from a plugin that yields its own."""
    role = "account" if endpoint.key.startswith("targets") else "identity"
    seen: dict[str, str] = {}
    for record in records:
        first = seen.get(record.id)
        if first is not None:
            raise DataError(f"{record.location}: {role} id {record.id!r} already read at {first}")
        seen[record.id] = record.location
        yield record


def pull(endpoint: Endpoint, as_of: datetime | None = None) -> Pull:
    """Every record of a source input or target, for a run evaluated at ``as_of`` (see
    :class:`Pull`)."""
    return Pull(endpoint, as_of)


def failure(endpoint: Endpoint, exc: Exception) -> NhireconError:
    """The error for ``exc``, raised by ``endpoint``'s connector, naming both; the secrets
    that the endpoint's ``*_env`` options point at are redacted from its message."""
    cls = endpoint.connector
    role = "target" if endpoint.key.startswith("targets") else "source"
    where = f"{role} {endpoint.name!r}"
    cause = _redacted(describe(exc), endpoint.options)
    if len(cause) > MAX_CAUSE_CHARS:
        cause = cause[:MAX_CAUSE_CHARS] + "…"
    if BUILTINS.get(cls.name) is cls:
        return InternalError(f"{where}: connector {cls.name!r} failed unexpectedly: {cause}")
    plugin = f"{cls.__module__}.{cls.__qualname__}"
    return ConnectorError(f"{where}: connector plugin {cls.name!r} ({plugin}) failed: {cause}")


def _redacted(text: str, options: Mapping[str, Any]) -> str:
    for secret in sorted(_secrets(options), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _secrets(options: Mapping[str, Any]) -> set[str]:
    """The values of the environment variables that ``*_env`` options name, nested ones
    (``auth: {token_env: ...}``) included; values shorter than 4 characters are left out,
    as they would blank out ordinary words."""
    found = set()
    for option, value in options.items():
        if isinstance(value, Mapping):
            found |= _secrets(value)
        elif option.endswith("_env") and isinstance(value, str):
            secret = os.environ.get(value, "")
            if len(secret) >= 4:
                found.add(secret)
    return found
