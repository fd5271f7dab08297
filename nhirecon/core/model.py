"""Domain records: identities and accounts, findings and the gate, all immutable (the
report of a run is in :mod:`nhirecon.core.report`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final


class Origin(StrEnum):
    """How an account came to exist."""

    SCIM = "scim"
    """Provisioned by lifecycle sync (a SCIM client)."""
    JIT = "jit"
    """Created just in time, at first sign-in."""
    MANUAL = "manual"
    """Created by hand by an administrator."""
    UNKNOWN = "unknown"
    """The export does not say."""


class Severity(StrEnum):
    """How urgent a finding is, most urgent first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical, growing as severity falls."""
        return SEVERITY_ORDER.index(self)


SEVERITY_ORDER: Final = tuple(Severity)
_RANKS: Final = {level: level.rank for level in Severity}


class Remediation(StrEnum):
    """What can be done about a finding."""

    DISABLE = "disable"
    DELETE = "delete"
    MANUAL = "manual"
    """A person must act (a ticket): the tool cannot or may not."""
    NONE = "none"


ID_FIELDS: Final = frozenset({"id", "external_id", "credential_id"})
"""Fields compared exactly during correlation."""
CASEFOLD_FIELDS: Final = frozenset({"email", "username"})
"""Fields compared case-insensitively during correlation."""
DATE_FIELDS: Final = (
    "created_at",
    "last_login_at",
    "expires_at",
    "credential_rotated_at",
    "last_interactive_login_at",
)
TEXT_FIELDS: Final = (
    "id",
    "external_id",
    "username",
    "email",
    "display_name",
    "status",
    "kind",
    "owner",
    "department",
    "title",
    "manager",
    "credential_id",
)
CANONICAL_FIELDS: Final = (
    *TEXT_FIELDS,
    "active",
    "groups",
    *DATE_FIELDS,
    "origin",
    "password_enabled",
)
_CANONICAL: Final = frozenset(CANONICAL_FIELDS)
MULTI_VALUED_FIELDS: Final = frozenset({"external_id", "username", "email", "display_name"})
"""Canonical fields that may hold several values (SCIM ``emails``, a list in a JSON or YAML
export, several mapped columns); custom attributes may too. Every other field holds one."""

HUMAN: Final = "human"
EMPTY_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType({})
NO_MULTI_VALUES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Record:
    """An identity (from the source of truth) or an account (from a target).

    Both sides share the canonical fields so that correlation rules and ``compare`` can
    name any of them. Empty values are ``None``.
    """

    id: str
    """Stable key within its source or target."""
    location: str
    """Where it was read from, for messages: ``hr.csv:12`` or a URL."""
    external_id: str | None = None
    username: str | None = None
    email: str | None = None
    display_name: str | None = None
    status: str | None = None
    """The source's own word for the identity's state (``active``, ``terminated``...)."""
    active: bool = True
    """Whether the account can be used; a target without such a field counts as active."""
    kind: str = HUMAN
    """``human``, or a non-human kind such as ``service_account``, ``api_key``, ``bot``."""
    owner: str | None = None
    """Who answers for a non-human identity (an id, email or username in the source)."""
    department: str | None = None
    title: str | None = None
    manager: str | None = None
    groups: tuple[str, ...] = ()
    created_at: datetime | None = None
    last_login_at: datetime | None = None
    expires_at: datetime | None = None
    credential_rotated_at: datetime | None = None
    last_interactive_login_at: datetime | None = None
    """The last interactive sign-in (a console or browser session), where the export tells
    it apart from programmatic use (AWS ``PasswordLastUsed``)."""
    password_enabled: bool | None = None
    """Whether the account has an interactive password (an AWS console password, an Okta
    or Entra password credential); ``None`` when the export does not say."""
    credential_id: str | None = None
    """The id of the credential the record stands for or holds (an access key id, a key's
    name): the same id on two records is one secret in two places (OWASP NHI9)."""
    origin: Origin = Origin.UNKNOWN
    version: str | None = None
    """The target's version tag (SCIM ``meta.version``), used to detect changes."""
    attributes: Mapping[str, str] = field(default_factory=lambda: EMPTY_ATTRIBUTES)
    """Custom attributes named in ``map`` beyond the canonical fields."""
    multi_values: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: NO_MULTI_VALUES)
    """Every value of each field that held more than one, primary (if flagged) first, then
    in the order read. The field itself holds the first of them, for people to read;
    correlation, ``compare``, exceptions and ``protected`` use them all (see :meth:`values`)."""

    @property
    def is_human(self) -> bool:
        return self.kind == HUMAN

    def value(self, name: str) -> Any:
        """A canonical field or custom attribute by name (``None`` when absent)."""
        if name in _CANONICAL:
            return getattr(self, name)
        return self.attributes.get(name)

    def values(self, name: str) -> tuple[str, ...]:
        """Every value of a text field or custom attribute: all of a multi-valued one's,
        else its one value, or none when it is empty."""
        several = self.multi_values.get(name)
        if several is not None:
            return several
        value = self.value(name)
        if value is None:
            return ()
        return (value if isinstance(value, str) else str(value),)

    @property
    def label(self) -> str:
        """The most readable name of the record."""
        return self.username or self.email or self.id


class FindingKind(StrEnum):
    """What has drifted (SPEC §5)."""

    JIT_ORPHAN = "jit-orphan"
    ORPHAN = "orphan"
    LEAVER = "leaver"
    EXPIRED = "expired"
    STALE_ATTRIBUTE = "stale-attribute"
    UNMANAGED = "unmanaged"
    DORMANT = "dormant"
    STALE_CREDENTIAL = "stale-credential"
    OWNERLESS = "ownerless"
    AMBIGUOUS = "ambiguous"
    DUPLICATE_ACCOUNT = "duplicate-account"
    HUMAN_USE = "human-use"
    SHARED_CREDENTIAL = "shared-credential"


NHI1: Final = "OWASP-NHI1:2025"
NHI7: Final = "OWASP-NHI7:2025"
NHI9: Final = "OWASP-NHI9:2025"
NHI10: Final = "OWASP-NHI10:2025"
PR_AA_01: Final = "NIST-CSF-2.0:PR.AA-01"
PR_AA_05: Final = "NIST-CSF-2.0:PR.AA-05"
CIS_5_3: Final = "CIS-8:5.3"
CIS_6_2: Final = "CIS-8:6.2"


ACCOUNT_KINDS: Final = frozenset(FindingKind) - {
    FindingKind.OWNERLESS,
    FindingKind.AMBIGUOUS,
    FindingKind.DUPLICATE_ACCOUNT,
    FindingKind.SHARED_CREDENTIAL,
}
"""Finding kinds about an account, which a target's ``remediate`` may name. Never
``ambiguous`` or ``duplicate-account``: which account is the wrong one is a person's call."""


@dataclass(frozen=True, slots=True)
class KindInfo:
    """The fixed facts about one finding kind."""

    severity: Severity
    controls: tuple[str, ...]
    summary: str
    """One line for help texts and report legends."""


KIND_INFO: Final[Mapping[FindingKind, KindInfo]] = MappingProxyType(
    {
        FindingKind.JIT_ORPHAN: KindInfo(
            Severity.HIGH,
            (NHI1, PR_AA_01),
            "Active account created at first sign-in (JIT) that no identity in the source owns.",
        ),
        FindingKind.ORPHAN: KindInfo(
            Severity.HIGH,
            (NHI1, PR_AA_01),
            "Active account that no identity in the source owns.",
        ),
        FindingKind.LEAVER: KindInfo(
            Severity.CRITICAL,
            (NHI1, PR_AA_01, CIS_6_2),
            "Active account of an identity whose status in the source says it has left.",
        ),
        FindingKind.EXPIRED: KindInfo(
            Severity.HIGH,
            (NHI1, PR_AA_01),
            "Active account or non-human identity past its expiry date.",
        ),
        FindingKind.STALE_ATTRIBUTE: KindInfo(
            Severity.MEDIUM,
            (PR_AA_05,),
            "Linked account whose compared attributes differ from the source.",
        ),
        FindingKind.UNMANAGED: KindInfo(
            Severity.MEDIUM,
            (PR_AA_01,),
            "Linked account created at sign-in (JIT), never brought under lifecycle sync.",
        ),
        FindingKind.DORMANT: KindInfo(
            Severity.MEDIUM,
            (CIS_5_3,),
            "Active account not used for longer than the dormancy limit.",
        ),
        FindingKind.STALE_CREDENTIAL: KindInfo(
            Severity.HIGH,
            (NHI7,),
            "Active credential not rotated for longer than the rotation limit.",
        ),
        FindingKind.OWNERLESS: KindInfo(
            Severity.HIGH,
            (NHI1, PR_AA_01),
            "Non-human identity whose owner is missing, unknown or no longer active.",
        ),
        FindingKind.AMBIGUOUS: KindInfo(
            Severity.MEDIUM,
            (PR_AA_01,),
            "Account that a correlation rule matched to several identities.",
        ),
        FindingKind.DUPLICATE_ACCOUNT: KindInfo(
            Severity.MEDIUM,
            (PR_AA_01,),
            "One of several active accounts of a target that link to the same identity.",
        ),
        FindingKind.HUMAN_USE: KindInfo(
            Severity.HIGH,
            (NHI10,),
            "Non-human identity used like a person: an interactive password or sign-in.",
        ),
        FindingKind.SHARED_CREDENTIAL: KindInfo(
            Severity.HIGH,
            (NHI9,),
            "One credential or key id seen on several identities or targets.",
        ),
    }
)


def fingerprint(kind: FindingKind, target: str, subject_id: str) -> str:
    """A stable id of a finding across runs: hash of (kind, target, account or identity id)."""
    text = f"{kind._value_}\x1f{target}\x1f{subject_id}"
    # An id may hold a lone surrogate (a JSON export's "\ud800"), which strict UTF-8
    # refuses; surrogatepass hashes it, and every other id exactly as before.
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ExceptionRule:
    """An accepted risk from the config's ``exceptions`` list."""

    target: str
    account: str
    """Matched against the account's id, username or email (or an identity's)."""
    kind: FindingKind | None
    """The one kind it covers; ``None`` covers every kind."""
    reason: str
    owner: str
    expires: date
    """The last day (UTC) on which it applies."""

    @property
    def ends(self) -> datetime:
        """The first instant at which it no longer applies."""
        if self.expires == date.max:  # 9999-12-31: there is no next day
            return datetime.max.replace(tzinfo=UTC)
        return datetime.combine(self.expires + timedelta(days=1), time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that has drifted, with what can be done about it."""

    kind: FindingKind
    severity: Severity
    target: str
    """The target's name, or the source's name for findings about the source itself."""
    account: Record | None
    """The account concerned; ``None`` for findings about the source."""
    identity: Record | None
    """The linked identity, or the source identity concerned; ``None`` when unlinked."""
    message: str
    detail: Mapping[str, Any]
    remediation: Remediation
    remediation_reason: str
    """Why the remediation is what it is (empty for an automatic action)."""
    fingerprint: str
    expired_exception: ExceptionRule | None = None
    """An exception that covered this finding but has expired."""

    @property
    def controls(self) -> tuple[str, ...]:
        return KIND_INFO[self.kind].controls

    @property
    def subject_id(self) -> str:
        subject = self.account or self.identity
        return subject.id if subject else ""

    def sort_key(self) -> tuple[int, str, str, str]:
        """Most severe first, then by kind, target and subject (run once per finding of a
        large report: enumerations read by ``_value_``, ranks from a table)."""
        subject = self.account or self.identity
        return (
            _RANKS[self.severity],
            self.kind._value_,
            self.target,
            subject.id if subject else "",
        )


@dataclass(frozen=True, slots=True)
class GateRule:
    """One ``--fail-on`` expression: ``SELECTOR OP N``."""

    text: str
    kinds: frozenset[FindingKind]
    """The kinds counted (every kind for ``any`` and severity selectors)."""
    min_severity: Severity | None
    """For ``severity:LEVEL``: that level and above."""
    inclusive: bool
    """``>=`` when true, ``>`` when false."""
    threshold: int


@dataclass(frozen=True, slots=True)
class GateOutcome:
    rule: GateRule
    count: int
    passed: bool


@dataclass(frozen=True, slots=True)
class GateResult:
    outcomes: tuple[GateOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)
