"""The shape of an input of the config: the source, an ``include:`` entry or a target.

Each has a ``connector`` and the keys every input shares (``map``, the value options of
SPEC §3.1); every other key is one of the connector's own options, checked by the
connector (:meth:`~nhirecon.connectors.base.Connector.check_options`), as plugins declare
their own.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from nhirecon.config import model
from nhirecon.config.base import Keys
from nhirecon.config.problems import describe, problem
from nhirecon.config.types import (
    ONE_COLUMN_FIELDS,
    Column,
    Columns,
    DateFormat,
    FieldDateFormat,
    ListedWords,
    LooseWords,
    Text,
    TimeZone,
    Words,
    at_least_one,
    enum,
    one_column,
    one_of,
)
from nhirecon.core.model import Origin

REPEATED_ROWS: Final = ("error", "merge")
ACTIONS: Final = tuple(model.ACTIONS)


class FieldMap(Keys):
    """Canonical field → the column (CSV) or path (JSON, YAML, SCIM: `profile.dept`,
    `emails[type=work].value`) it is read from. A field not named is read from a column
    of its own name, if there is one. Any other name is a custom attribute, which
    `compare` and `correlate` can name."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Columns] = Field(init=False)

    id: Column = None
    """The stable key of a record (required on the source and each `include`)."""
    external_id: Columns = None
    """The id another system knows the record by (SCIM `externalId`)."""
    username: Columns = None
    """The login name."""
    email: Columns = None
    """The email address; several columns or a list hold several addresses."""
    display_name: Columns = None
    """The name shown to people."""
    status: Column = None
    """The status word (compared with the source's `active_status`)."""
    active: Column = None
    """Whether the account is active: a boolean or yes/no word (see `active_values`)."""
    kind: Column = None
    """human, service_account, api_key, bot, agent or workload (see `kind_values`)."""
    owner: Column = None
    """Who answers for a non-human identity: another identity's id, email or username."""
    department: Column = None
    """The department, for `compare`."""
    title: Column = None
    """The job title, for `compare`."""
    manager: Column = None
    """The manager (an email or id), for `compare`."""
    credential_id: Column = None
    """The id of the key or token a record stands for or holds (an access key id)."""
    groups: Column = None
    """Group names: a list, or a cell separated by `;`, `|` or `,`."""
    created_at: Columns = None
    """When the account was created; several columns: the latest date."""
    last_login_at: Columns = None
    """The last sign-in or use; several columns: the latest date."""
    expires_at: Columns = None
    """When the identity or credential expires."""
    credential_rotated_at: Columns = None
    """When the secret was last rotated."""
    last_interactive_login_at: Columns = None
    """The last console or browser sign-in; several columns: the latest date."""
    origin: Column = None
    """How the account came to exist (see `origin_values`)."""
    password_enabled: Column = None
    """Whether the identity has an interactive password (a yes/no value)."""
    version: Column = None
    """A version tag of the record (a SCIM `meta.version`)."""

    @model_validator(mode="after")
    def _one_column_attributes(self) -> Self:
        """A field the core holds one value of, should it be named here only as an extra
        key, still reads one column."""
        for name, columns in (self.model_extra or {}).items():
            if name in ONE_COLUMN_FIELDS and isinstance(columns, tuple):
                raise problem(one_column(name), f".{name}")
        return self


class SourceMap(FieldMap):
    """The map of a source input, which must name `id`."""

    id: Column
    """The stable key of an identity (required)."""


def _closed(model: Keys, meanings: dict[str, Any], *, strict: bool) -> dict[str, Any]:
    """Raw word → meaning from a closed value map; a word listed under two meanings is a
    problem, and so (``strict``) is a map that lists no word."""
    found: dict[str, Any] = {}
    where: dict[str, str] = {}
    for name, meaning in meanings.items():
        for word in getattr(model, name) or []:
            if word in found and found[word] != meaning:
                raise problem(f"{word!r} is listed under both {where[word]} and {name}", f".{name}")
            found[word] = meaning
            where[word] = name
    if not found and strict:
        raise problem("lists no value")
    return found


class ActiveValues(Keys):
    """The export's own words for `active`; when set, the only words it accepts."""

    active: Words | None = None
    """Raw values that mean active (`[ACTIVE, LOCKED_OUT]`)."""
    inactive: Words | None = None
    """Raw values that mean inactive (`[SUSPENDED, DEPROVISIONED]`)."""

    def words(self) -> dict[str, bool]:
        return _closed(self, {"active": True, "inactive": False}, strict=True)

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.words()
        return self


class KindValues(Keys):
    """The export's own words for `kind`; besides these, only the canonical kinds."""

    human: Words | None = None
    """Raw values that mean a person (`[employee, contractor]`)."""
    service_account: Words | None = None
    """Raw values that mean a service account."""
    api_key: Words | None = None
    """Raw values that mean an API key."""
    bot: Words | None = None
    """Raw values that mean a bot."""
    agent: Words | None = None
    """Raw values that mean an AI agent."""
    workload: Words | None = None
    """Raw values that mean a workload identity."""

    def words(self) -> dict[str, str]:
        return _closed(self, {name: name for name in type(self).model_fields}, strict=True)

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.words()
        return self


class OriginValues(Keys):
    """The export's own words for `origin`; a word naming an origin is read as it is."""

    scim: LooseWords | None = None
    """Raw values that mean provisioned by SCIM."""
    jit: LooseWords | None = None
    """Raw values that mean created at first sign-in (`[sso, saml]`)."""
    manual: LooseWords | None = None
    """Raw values that mean created by hand (`[admin]`)."""
    unknown: LooseWords | None = None
    """Raw values that say the origin is not known."""

    def words(self) -> dict[str, Origin]:
        return _closed(self, {origin.value: origin for origin in Origin}, strict=False)

    @model_validator(mode="after")
    def _check(self) -> Self:
        self.words()
        return self


class DateFormats(Keys):
    """The date format of one field, overriding `date_format`."""

    created_at: FieldDateFormat = None
    """The format of `created_at`."""
    last_login_at: FieldDateFormat = None
    """The format of `last_login_at`."""
    expires_at: FieldDateFormat = None
    """The format of `expires_at`."""
    credential_rotated_at: FieldDateFormat = None
    """The format of `credential_rotated_at`."""
    last_interactive_login_at: FieldDateFormat = None
    """The format of `last_interactive_login_at`."""


def _statuses(words: list[Any]) -> list[Any]:
    if not words:
        raise problem("must name at least one status")
    return words


def _repeated(value: Any) -> str:
    return f"expected error or merge, got {describe(value)}"


class InputKeys(Keys):
    """The keys every input has; any other key is an option of its connector."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Any] = Field(init=False)

    connector: Text = Field(examples=["csv", "json", "yaml", "scim"])
    """Which connector reads it: csv, json, yaml, scim, or a plugin's name (see
    `nhirecon connectors`). Its options sit beside this key."""
    map: FieldMap | None = None
    origin_values: OriginValues | None = None
    null_values: Words | None = None
    """Raw values read as "no value" in every field (`["", "N/A", "Never logged in"]`)."""
    date_format: DateFormat = "iso"
    """iso (default), epoch, epoch_ms, filetime, or a strptime pattern (`%d.%m.%Y`)."""
    date_formats: DateFormats | None = None
    timezone: TimeZone = "UTC"
    """The zone of date-times written without one (an IANA name; default UTC)."""
    active_values: ActiveValues | None = None
    kind_values: KindValues | None = None
    where: dict[Text, ListedWords] | None = None
    """Keep only the rows whose field (canonical or raw name) is one of these values."""
    where_not: dict[Text, ListedWords] | None = None
    """Drop the rows whose field (canonical or raw name) is one of these values."""
    repeated_rows: Annotated[str, one_of(REPEATED_ROWS, _repeated), enum(REPEATED_ROWS)] = "error"
    """error (default), or merge: rows sharing an id are one record, groups united."""

    def options(self) -> dict[str, Any]:
        """The keys that are not the shared ones: the connector's options."""
        return dict(self.model_extra or {})


class IncludeKeys(InputKeys):
    """One more input of the source, merged into it (an NHI inventory beside the HR
    export); ids must be unique across all inputs."""

    name: Text | None = None
    """A label for messages (default: the source's name and `.include[N]`)."""
    map: SourceMap
    """Canonical field → column or path; must name `id`."""


class SourceKeys(InputKeys):
    """Who and what should exist: an HR export, a directory, an inventory of non-human
    identities."""

    name: Text
    """A label used in reports."""
    map: SourceMap
    """Canonical field → column or path; must name `id`."""
    active_status: Annotated[list[Any], AfterValidator(_statuses)] = Field(
        default_factory=lambda: ["active"], json_schema_extra={"minItems": 1}
    )
    """Status values that may hold access, compared case-insensitively (default [active])."""
    include: list[IncludeKeys] | None = None
    """More inputs merged into this source."""


def _action(value: Any) -> str:
    return f"expected disable, delete or none, got {value!r}"


Action = Annotated[str | None, one_of(ACTIONS, _action), enum(ACTIONS)]


class Remediate(Keys):
    """Finding kind → what `plan` and `apply` do about it: disable, delete or none (the
    default)."""

    jit_orphan: Action = Field(None, alias="jit-orphan")
    """An active account created at sign-in (JIT) that no identity owns."""
    orphan: Action = None
    """An active account of any other origin that no identity owns."""
    leaver: Action = None
    """An active account whose identity's status is not in `active_status`."""
    expired: Action = None
    """An account, or its identity, past its `expires_at`."""
    stale_attribute: Action = Field(None, alias="stale-attribute")
    """An account whose `compare` fields differ from the source."""
    unmanaged: Action = None
    """A linked account created by JIT, never brought under lifecycle sync."""
    dormant: Action = None
    """An account not used for longer than `policy.dormant_days`."""
    stale_credential: Action = Field(None, alias="stale-credential")
    """A credential rotated longer ago than `policy.credential_max_age_days`."""
    human_use: Action = Field(None, alias="human-use")
    """A non-human identity's account with an interactive password or sign-in."""


class CorrelateRule(Keys):
    """An account field compared with an identity field."""

    account: Text
    """A canonical field, or a custom attribute the target maps."""
    identity: Text
    """A canonical field, or a custom attribute the source maps."""


class TargetKeys(InputKeys):
    """An app whose accounts are checked against the source."""

    name: Text
    """A label used in reports, unique among the source and targets."""
    correlate: (
        Annotated[list[CorrelateRule], AfterValidator(at_least_one("must hold at least one rule"))]
        | None
    ) = Field(None, json_schema_extra={"minItems": 1})
    """Rules tried in order: the first that finds exactly one identity links the account
    (default `[{account: email, identity: email}]`)."""
    compare: list[Text] | None = None
    """Fields whose drift from the source is reported (canonical, or mapped on both sides)."""
    remediate: Remediate | None = None
