"""The AWS IAM credential report: the CSV that ``aws iam get-credential-report`` returns
(base64-encoded), one row per IAM user plus one for the account's root user. No AWS access
is needed: the connector reads a saved report.

It is read as AWS documents it (IAM User Guide, "Generate credential reports for your AWS
account", *Understanding the report format*,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html):

- the header must hold the 22 documented columns (in any order; a column AWS adds later
  is kept as a raw name). Anything else is not a credential report (exit 3);
- ``N/A`` (no such credential, a key never used), ``no_information`` (a password never
  used, or last used before IAM tracked sign-ins, 2014-10-20) and ``not_supported`` (a
  field the root user does not have) are no value, in every column;
- ``true`` and ``false`` (any case) are the booleans; dates are ISO 8601 (``+00:00``);
- the ``<root_account>`` row is an account like the others (id ``<root_account>``, kind
  ``human``), active unless its ``password_enabled`` says ``false`` (root credentials
  removed centrally) and it holds no active key: a report without it is refused as
  partial or edited, and leaving it out is the config's choice (``where_not``).

``records: users`` gives one account per row. ``records: credentials`` gives one record
per access key and signing certificate that exists: ``<user>/access_key_N`` and
``<user>/cert_N`` (``N`` is 1 or 2). The canonical fields are derived under ``nhirecon.*``
names (the connector's default ``map``); every report column stays readable by its own
name for ``map``, ``where`` and ``where_not``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal

from nhirecon.connectors import dates, files
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.csv import CsvConnector
from nhirecon.core.values import ValueError_
from nhirecon.errors import ConfigError, DataError

ROOT: Final = "<root_account>"
"""The ``user`` of the root user's row."""
NO_VALUE: Final = frozenset({"n/a", "no_information", "not_supported"})
"""The report's words for "no value" (case-folded)."""
DERIVED: Final = "nhirecon."
"""The prefix of the names the connector computes (never a report column)."""
KEYS: Final = ("access_key_1", "access_key_2")
CERTS: Final = ("cert_1", "cert_2")
KEY_COLUMNS: Final = (
    "active",
    "last_rotated",
    "last_used_date",
    "last_used_region",
    "last_used_service",
)
COLUMNS: Final = (
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    *(f"{key}_{column}" for key in KEYS for column in KEY_COLUMNS),
    *(f"{cert}_{column}" for cert in CERTS for column in ("active", "last_rotated")),
)
"""The documented columns, in the report's order."""
USER_FIELDS: Final = (
    "id",
    "username",
    "external_id",
    "display_name",
    "created_at",
    "active",
    "password_enabled",
    "last_interactive_login_at",
    "last_login_at",
    "credential_rotated_at",
)
CREDENTIAL_FIELDS: Final = (
    "id",
    "external_id",
    "owner",
    "credential_id",
    "created_at",
    "active",
    "password_enabled",
    "last_interactive_login_at",
    "last_login_at",
    "credential_rotated_at",
)
EXTRA: Final = ("credential", "last_used_region", "last_used_service")
"""More derived names of ``records: credentials`` (the slot, where a key was last used)."""


def _derived(fields: tuple[str, ...]) -> Mapping[str, str]:
    return MappingProxyType({name: f"{DERIVED}{name}" for name in fields})


USERS_MAP: Final = _derived(USER_FIELDS)
CREDENTIALS_MAP: Final = _derived(CREDENTIAL_FIELDS)


@dataclass(frozen=True, slots=True)
class Slot:
    """One access key or signing certificate of a row, read."""

    name: str
    """``access_key_1``, ``access_key_2``, ``cert_1`` or ``cert_2``."""
    active: bool | None
    rotated: datetime | None
    """When it was created or last changed."""
    used: datetime | None
    """When it last signed a request (access keys only: the report has none for certificates)."""

    @property
    def exists(self) -> bool:
        """A slot whose rotation date is ``N/A`` holds no credential, unless it says active."""
        return self.active is True or self.rotated is not None

    @property
    def is_key(self) -> bool:
        return self.name in KEYS


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the report, read."""

    user: str
    arn: str | None
    created: datetime | None
    password: bool | None
    """``password_enabled``; ``None`` for ``not_supported`` (the root user)."""
    password_used: datetime | None
    slots: tuple[Slot, ...]

    @property
    def is_root(self) -> bool:
        return self.user == ROOT

    @property
    def active(self) -> bool:
        """A console password or an active key or certificate. The root user always has a
        password unless the report says ``false`` (root credentials removed centrally)."""
        has_password = self.password is not False if self.is_root else self.password is True
        return has_password or any(slot.active for slot in self.slots)


class AwsCredentialReportConnector(Connector):
    name = "aws-credential-report"
    description = (
        "An AWS IAM credential report (aws iam get-credential-report), saved as CSV: one"
        " account per IAM user, or one record per access key and signing certificate."
    )
    default_map: ClassVar[Mapping[str, str]] = MappingProxyType({**USERS_MAP, **CREDENTIALS_MAP})

    def __init__(
        self,
        *,
        context: ConnectorContext,
        path: str,
        records: Literal["users", "credentials"] = "users",
        encoding: str = files.DEFAULT_ENCODING,
    ) -> None:
        """Options (the keys of a ``connector: aws-credential-report`` input):

        - ``path``: the saved report, relative to this config file;
        - ``records``: ``users`` (one account per IAM user and the root user) or
          ``credentials`` (one record per access key and signing certificate, such as
          ``<user>/access_key_1``);
        - ``encoding``: ``auto`` (default: a byte-order mark decides, else UTF-8), or a codec.
        """
        super().__init__(context=context)
        self.mode = records
        self._csv = CsvConnector(context=context, path=path, delimiter=",", encoding=encoding)
        self.path: Path = self._csv.path
        self._map = USERS_MAP if records == "users" else CREDENTIALS_MAP
        options = context.value_options
        self._nulls = NO_VALUE | options.null_values
        self._date = dates.date_reader(
            options.date_format, dates.time_zone(options.timezone), self._nulls
        )
        self._columns: frozenset[str] | None = None
        self._header: tuple[str, ...] = ()
        self._check_correlation(context)

    def _check_correlation(self, context: ConnectorContext) -> None:
        """A target that correlates on a field the report does not have would find no
        identity for any account: every user an orphan. Refused, naming the field."""
        if context.correlated is None or not context.key.startswith("targets"):
            return
        missing = sorted(context.correlated - set(self._map) - set(context.field_map))
        if missing:
            fields = ("id", "username", "external_id", "display_name", "owner", "credential_id")
            has = ", ".join(name for name in fields if name in self._map)
            hint = "owner (the IAM user name)" if self.mode == "credentials" else "username"
            raise ConfigError(
                f"correlates on {', '.join(missing)}, which the credential report does not have"
                " (without `correlate`, the rule is email = email); correlate on"
                f" {hint} (records: {self.mode} gives {has}), or map a column",
                key=f"{context.key}.correlate",
            )

    def defaults(self) -> Mapping[str, str]:
        return self._map

    def columns(self) -> frozenset[str] | None:
        return self._columns

    def rows(self) -> Iterator[RawRow]:
        root = False
        for raw in self._csv.rows():
            if self._columns is None:
                self._check_header()
            cells = {name: self._cell(raw.lookup(name)) for name in self._header}
            row = self._read(cells, raw.location)
            root = root or row.is_root
            if self.mode == "users":
                yield RawRow(raw.location, {**cells, **self._user(row)}.get)
            else:
                for slot in row.slots:
                    if slot.exists:
                        values = {**cells, **self._credential(row, slot, cells)}
                        yield RawRow(raw.location, values.get)
        if self._columns is None:
            self._check_header()
        if not root:
            raise DataError(
                f"{self.path}: no {ROOT} row: every credential report AWS writes has one, so"
                " this copy is partial or edited. Read the whole report; to leave the root"
                f' user out, say so with `where_not: {{user: ["{ROOT}"]}}`'
            )

    def _check_header(self) -> None:
        header = self._csv.columns() or frozenset()
        missing = [name for name in COLUMNS if name not in header]
        if missing:
            raise DataError(
                f"{self.path}: not an IAM credential report: the header lacks"
                f" {', '.join(missing)} (the report's columns: {', '.join(COLUMNS)})"
            )
        self._header = tuple(sorted(header))
        extra = EXTRA if self.mode == "credentials" else ()
        self._columns = frozenset(
            {*header, *self._map.values(), *(f"{DERIVED}{name}" for name in extra)}
        )

    def _cell(self, raw: object) -> str | None:
        if not isinstance(raw, str):
            return None
        value = raw.strip()
        return None if not value or value.casefold() in self._nulls else value

    def _read(self, cells: Mapping[str, str | None], location: str) -> Row:
        user = cells["user"]
        if user is None:
            raise DataError(f"{location}: column 'user' is empty")

        def moment(column: str) -> datetime | None:
            try:
                value: datetime | None = self._date(cells[column])
            except ValueError_ as exc:
                raise DataError(f"{location}: column {column!r}: {exc}") from None
            return value

        def flag(column: str) -> bool | None:
            value = cells[column]
            if value is None:
                return None
            word = value.casefold()
            if word not in ("true", "false"):
                raise DataError(f"{location}: column {column!r}: {value!r} is not true or false")
            return word == "true"

        slots = tuple(
            Slot(
                name,
                flag(f"{name}_active"),
                moment(f"{name}_last_rotated"),
                moment(f"{name}_last_used_date") if name in KEYS else None,
            )
            for name in (*KEYS, *CERTS)
        )
        return Row(
            user,
            cells["arn"],
            moment("user_creation_time"),
            flag("password_enabled"),
            moment("password_last_used"),
            slots,
        )

    def _user(self, row: Row) -> dict[str, Any]:
        """One account per IAM user: last use is the latest of the password and both keys;
        the credential age is that of the oldest active key or certificate."""
        used = [row.password_used, *(slot.used for slot in row.slots)]
        rotated = [slot.rotated for slot in row.slots if slot.active]
        values: dict[str, Any] = {
            "id": row.user,
            "username": row.user,
            "external_id": row.arn,
            "display_name": _root_name(row.arn) if row.is_root else None,
            "created_at": row.created,
            "active": row.active,
            "password_enabled": row.password,
            "last_interactive_login_at": row.password_used,
            "last_login_at": max((d for d in used if d is not None), default=None),
            "credential_rotated_at": min((d for d in rotated if d is not None), default=None),
        }
        return {f"{DERIVED}{name}": value for name, value in values.items()}

    def _credential(self, row: Row, slot: Slot, cells: Mapping[str, str | None]) -> dict[str, Any]:
        """One record per access key or certificate. A certificate's use is not in the
        report, so it has no ``created_at`` either: "never used" would be a guess."""
        values: dict[str, Any] = {
            "id": f"{row.user}/{slot.name}",
            "external_id": row.arn,
            "owner": row.user,
            "credential_id": f"{row.arn or row.user}#{slot.name}",
            "created_at": slot.rotated if slot.is_key else None,
            "active": slot.active is True,
            "password_enabled": row.password,
            "last_interactive_login_at": row.password_used,
            "last_login_at": slot.used,
            "credential_rotated_at": slot.rotated,
            "credential": slot.name,
            "last_used_region": cells.get(f"{slot.name}_last_used_region"),
            "last_used_service": cells.get(f"{slot.name}_last_used_service"),
        }
        return {f"{DERIVED}{name}": value for name, value in values.items()}


def _root_name(arn: str | None) -> str:
    """``AWS account root user (111122223333)``, the account's id from the ARN."""
    parts = (arn or "").split(":")
    account = parts[4] if len(parts) > 5 and parts[4].isdigit() else ""
    return f"AWS account root user ({account})" if account else "AWS account root user"
