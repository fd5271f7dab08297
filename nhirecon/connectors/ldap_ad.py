"""How the entries of an LDAP directory read as raw rows, in both flavors.

Values arrive as bytes. Text is UTF-8; a date attribute in LDAP's generalized time
(``20240611084000Z``) reads as a date; ``memberOf`` reads as the names of the groups (the
value of each group DN's first RDN) and ``manager`` as the manager's ``mail``. Active
Directory (``flavor: ad``) adds its own spellings: ``objectGUID`` as the standard GUID
string, ``objectSid`` as ``S-1-5-…``, FILETIMEs (100 ns since 1601; ``0`` and
``9223372036854775807`` mean never) as dates, and names derived from other attributes:
``accountEnabled`` and ``accountStatus`` (from the ACCOUNTDISABLE bit of
``userAccountControl``) and ``accountKind`` (``service_account`` for an entry with a
``servicePrincipalName`` or one under a service-account OU, else ``human``).
"""

from __future__ import annotations

import re
import string
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal

from nhirecon.connectors import dates
from nhirecon.connectors.context import RawRow
from nhirecon.core.values import ValueError_
from nhirecon.errors import DataError

Flavor = Literal["ldap", "ad"]
DnKey = tuple[tuple[tuple[str, str], ...], ...]
"""A DN as it is compared: its RDNs, each a sorted tuple of (attribute, value) pairs,
attribute names and values case-folded and spaces folded."""

ACCOUNT_ENABLED: Final = "accountenabled"
"""Derived (``flavor: ad``): false when ``userAccountControl`` has ACCOUNTDISABLE."""
ACCOUNT_STATUS: Final = "accountstatus"
"""Derived (``flavor: ad``): ``active``, or ``disabled`` when ``userAccountControl`` has
ACCOUNTDISABLE: a source's disabled users are then leavers (``active_status``)."""
ACCOUNT_KIND: Final = "accountkind"
"""Derived: ``service_account`` or ``human`` (see :meth:`Entries.kind`)."""
ACCOUNTDISABLE: Final = 0x2
DEPENDS: Final[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
    "ldap": {ACCOUNT_KIND: ()},
    "ad": {
        ACCOUNT_ENABLED: ("userAccountControl",),
        ACCOUNT_STATUS: ("userAccountControl",),
        ACCOUNT_KIND: ("servicePrincipalName",),
    },
}
"""Per flavor, each derived name and the attributes it is computed from."""
FILETIME_ATTRIBUTES: Final = frozenset(
    name.casefold()
    for name in (
        "lastLogonTimestamp",
        "lastLogon",
        "lastLogoff",
        "accountExpires",
        "pwdLastSet",
        "badPasswordTime",
        "lockoutTime",
        "msDS-UserPasswordExpiryTimeComputed",
        "msDS-LastSuccessfulInteractiveLogonTime",
        "msDS-LastFailedInteractiveLogonTime",
    )
)
"""Active Directory's FILETIME attributes (read as dates with ``flavor: ad``)."""
GENERALIZED_TIME_ATTRIBUTES: Final = frozenset(
    name.casefold()
    for name in (
        "createTimestamp",
        "modifyTimestamp",
        "whenCreated",
        "whenChanged",
        "pwdChangedTime",
        "pwdAccountLockedTime",
        "pwdLastSuccess",
        "authTimestamp",
    )
)
"""Generalized-time attributes read as dates wherever they are mapped; so is any attribute
mapped to a date field whose value is written in generalized time."""
DN_TO_MAIL: Final = frozenset({"manager", "managedby", "secretary"})
"""Attributes holding a person's DN, read as that person's ``mail``."""
GROUP_DNS: Final = frozenset({"memberof", "ismemberof"})
"""Attributes holding group DNs, read as the groups' names."""

_GENERALIZED = re.compile(
    r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)"
)
_SPECIAL = frozenset(',+"\\<>;= #')
_HEX = frozenset(string.hexdigits)
_FILETIME = dates.date_reader("filetime", UTC)


def split_dn(dn: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """The RDNs of a DN (RFC 4514), each a tuple of (attribute, value) pairs: attribute
    names case-folded, values unescaped (``\\,`` and ``\\2C`` alike)."""
    rdns: list[tuple[tuple[str, str], ...]] = []
    pairs: list[tuple[str, str]] = []
    at, end = 0, len(dn)
    while at < end:
        equals = dn.find("=", at)
        attribute = dn[at:equals].strip().casefold() if equals >= 0 else ""
        if not re.fullmatch(r"[a-z][a-z0-9-]*|\d+(?:\.\d+)+", attribute):
            raise ValueError_(f"{dn!r} is not a DN (expected attribute=value at {at})")
        value, at = _value(dn, equals + 1)
        pairs.append((attribute, value))
        if at < end:
            separator, at = dn[at], at + 1
            if at >= end:
                raise ValueError_(f"{dn!r} is not a DN (it ends with {separator!r})")
            if separator == ",":
                rdns.append(tuple(pairs))
                pairs = []
    if pairs:
        rdns.append(tuple(pairs))
    return tuple(rdns)


def _value(dn: str, at: int) -> tuple[str, int]:
    """One unescaped attribute value from ``at``, and where it ends (at a ``,`` or ``+``)."""
    found = bytearray()
    kept = 0  # unescaped trailing spaces are not part of the value
    end = len(dn)
    while at < end and dn[at] not in ",+":
        char = dn[at]
        if char == "\\":
            pair = dn[at + 1 : at + 3]
            if len(pair) == 2 and set(pair) <= _HEX:
                found.append(int(pair, 16))
                at += 3
            elif pair[:1] and pair[0] in _SPECIAL:
                found += pair[0].encode()
                at += 2
            else:
                raise ValueError_(f"{dn!r} is not a DN (a bad escape at {at})")
            kept = len(found)
        else:
            if char != " " or found:
                found += char.encode()
                if char != " ":
                    kept = len(found)
            at += 1
    try:
        return bytes(found[:kept]).decode("utf-8"), at
    except UnicodeDecodeError:
        raise ValueError_(f"{dn!r} is not a DN (an escape that is not UTF-8)") from None


def dn_key(dn: str) -> DnKey:
    """How a DN is compared: attribute names and values case-folded, spaces folded; a DN
    that does not parse is compared as written, case-folded."""
    try:
        rdns = split_dn(dn)
    except ValueError_:
        return ((("", dn.casefold()),),)
    return tuple(
        tuple(sorted((name, " ".join(value.split()).casefold()) for name, value in rdn))
        for rdn in rdns
    )


def group_name(dn: str) -> str:
    """The name of a group, from its DN: the value of its first RDN (``CN=Sales,OU=…``
    gives ``Sales``); a DN that does not parse is the name as written."""
    try:
        rdns = split_dn(dn)
    except ValueError_:
        return dn
    return rdns[0][0][1] if rdns else dn


def generalized_time(value: str) -> datetime | None:
    """A generalized time (RFC 4517: ``YYYYMMDDHH[MM[SS]][.f](Z|±HH[MM])``) as an aware
    UTC datetime; ``None`` when the value is not written that way."""
    match = _GENERALIZED.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute or 0))
        moment += timedelta(seconds=int(second or 0))
        if fraction:
            unit = 1 if second else 60 if minute else 3600
            moment += timedelta(seconds=float(f"0.{fraction}") * unit)
        if zone == "Z":
            return moment.replace(tzinfo=UTC)
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5] or 0))
        moment = moment.replace(tzinfo=timezone(-offset if zone[0] == "-" else offset))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError_(f"{value!r} is not a valid generalized time") from None


def guid(raw: bytes) -> str:
    """An ``objectGUID`` (16 bytes, the first three fields little-endian) in the form
    Windows shows it, lower case: ``a1b2c3d4-…``."""
    if len(raw) != 16:
        raise ValueError_(f"an objectGUID has 16 bytes, this one {len(raw)}")
    return str(uuid.UUID(bytes_le=raw))


def sid(raw: bytes) -> str:
    """An ``objectSid`` (MS-DTYP 2.4.2) as text: ``S-1-5-21-…``."""
    if len(raw) < 8 or len(raw) != 8 + 4 * raw[1]:
        raise ValueError_(f"{raw.hex()!r} is not a security identifier")
    authority = int.from_bytes(raw[2:8], "big")
    shown = str(authority) if authority < 2**32 else f"0x{authority:012X}"
    subs = (int.from_bytes(raw[at : at + 4], "little") for at in range(8, len(raw), 4))
    return "-".join(("S", str(raw[0]), shown, *map(str, subs)))


BINARY: Final[Mapping[str, Callable[[bytes], str]]] = {"objectguid": guid, "objectsid": sid}
"""``flavor: ad``'s binary attributes and how they read as text."""


class Entries:
    """Turns the entries of one pull into raw rows; built once per pull."""

    def __init__(
        self,
        *,
        origin: str,
        flavor: Flavor,
        dated: frozenset[str],
        grouped: frozenset[str],
        service_ous: Sequence[DnKey] = (),
        mail_of: Callable[[str], str | None] | None = None,
    ) -> None:
        """``origin`` is ``ldap://host:port``; ``dated`` and ``grouped`` the (case-folded)
        attributes mapped to date fields and to ``groups``; ``mail_of`` finds the mail of
        a DN (``None``: DNs are left as they are)."""
        self.origin = origin
        self.flavor = flavor
        self.dated = dated | GENERALIZED_TIME_ATTRIBUTES
        self.grouped = grouped
        self.service_ous = tuple(service_ous)
        self.mail_of = mail_of
        self.derived = DEPENDS[flavor]

    def row(self, dn: str, raw: Mapping[str, Sequence[bytes]]) -> RawRow:
        """The raw row of one entry: its DN and its attributes as the server sent them."""
        attributes = {name.casefold(): values for name, values in raw.items() if values}
        location = f"{self.origin}/{dn}"

        def lookup(name: str) -> object:
            key = name.casefold()
            values = attributes.get(key)
            try:
                if key in self.derived:
                    return self.derive(key, dn, attributes)
                return self.read(key, values) if values else None
            except ValueError_ as exc:
                raise DataError(f"{location}: attribute {name!r}: {exc}") from None

        def has(name: str) -> bool:
            key = name.casefold()
            if key in self.derived:
                return key == ACCOUNT_KIND or any(
                    dependency.casefold() in attributes for dependency in self.derived[key]
                )
            return key in attributes

        return RawRow(location, lookup, has)

    def read(self, key: str, values: Sequence[bytes]) -> object:
        """The values of one attribute: one value as itself, several as a list (group
        attributes always as a list, so that a name holding a comma stays whole)."""
        convert = BINARY.get(key) if self.flavor == "ad" else None
        if convert is not None:
            found: list[object] = [convert(bytes(value)) for value in values]
        else:
            texts = [_text(value) for value in values]
            if key in GROUP_DNS:
                return [group_name(text) for text in texts]
            if key in self.grouped:
                return texts
            if self.flavor == "ad" and key in FILETIME_ATTRIBUTES:
                found = [_FILETIME(text) for text in texts]
            elif key in self.dated:
                found = [generalized_time(text) or text for text in texts]
            elif key in DN_TO_MAIL and self.mail_of is not None:
                found = [self.mail_of(text) or text for text in texts]
            else:
                found = list(texts)
        present = [value for value in found if value is not None]
        if len(present) == 1:
            return present[0]
        return present or None

    def derive(self, key: str, dn: str, attributes: Mapping[str, Sequence[bytes]]) -> object:
        """A derived name's value (see ``DEPENDS``)."""
        if key == ACCOUNT_KIND:
            return self.kind(dn, attributes)
        control = attributes.get("useraccountcontrol")
        if not control:
            return None
        text = _text(control[0]).strip()
        try:
            flags = int(text)
        except ValueError:
            raise ValueError_(f"userAccountControl {text!r} is not a number") from None
        enabled = not flags & ACCOUNTDISABLE
        if key == ACCOUNT_STATUS:
            return "active" if enabled else "disabled"
        return enabled

    def kind(self, dn: str, attributes: Mapping[str, Sequence[bytes]]) -> str:
        """``service_account`` for an entry with a ``servicePrincipalName`` (Active
        Directory) or one below a service-account OU; else ``human``."""
        if self.flavor == "ad" and attributes.get("serviceprincipalname"):
            return "service_account"
        if self.service_ous:
            key = dn_key(dn)
            for ou in self.service_ous:
                if len(key) > len(ou) and key[len(key) - len(ou) :] == ou:
                    return "service_account"
        return "human"


def _text(value: bytes) -> str:
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError_(
            f"holds a binary value ({len(value)} bytes), not UTF-8 text: map a text attribute"
        ) from None
