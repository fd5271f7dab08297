"""AWS IAM, read live: its users, or their access keys one record each (``records``).

The listing is ``ListUsers``, then for each user ``ListUserTags``, ``GetLoginProfile``,
``ListAccessKeys`` and, for each key, ``GetAccessKeyLastUsed``, on a few workers; every
list call goes through boto3's paginator to its last page. A call that fails (after
boto3's retries of throttling and 5xx) fails the pull: no estate is reported from part of
an account.

- ``records: users``: one record per IAM user, id ``UserId`` (stable across a rename;
  ``UserName`` is the username). Read only: a console password is never changed, so
  every finding that would disable or delete one is ``manual``.
- ``records: access_keys``: one record per access key, id and ``credential_id`` the
  ``AccessKeyId``, with its user's name, tags and console password. These can be
  deactivated (``disable``) and deleted (``delete``) with ``--apply``
  (see :mod:`nhirecon.connectors.aws_iam_writer`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal

from nhirecon.connectors.aws_iam_writer import (
    NO_SUCH_ENTITY,
    AccessKeyWriter,
    AwsCallError,
    Iam,
    Settings,
    key_version,
)
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.json import row
from nhirecon.core.model import CANONICAL_FIELDS
from nhirecon.core.values import format_datetime
from nhirecon.errors import ConnectorError
from nhirecon.http.urls import url_problem

log = logging.getLogger(__name__)

WORKERS: Final = 4
"""Users whose details (tags, password, keys) are read at once."""
ROLE_ARN: Final = re.compile(r"\Aarn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+\Z")
REGION: Final = re.compile(r"\A[a-z]{2}(-[a-z]+)+-\d+\Z")
Records = Literal["users", "access_keys"]

_SAME: Final = {name: name for name in (*CANONICAL_FIELDS, "version")}
USERS_MAP: Final[Mapping[str, str]] = MappingProxyType(
    {
        **_SAME,
        "id": "UserId",
        "username": "UserName",
        "created_at": "CreateDate",
        "last_interactive_login_at": "PasswordLastUsed",
    }
)
"""``records: users``: canonical field → name in the record the connector builds; the
names that equal the field (``owner``, ``kind``, ``active``, ``password_enabled``,
``last_login_at``, ``credential_rotated_at``) are worked out from several calls."""
KEYS_MAP: Final[Mapping[str, str]] = MappingProxyType(
    {
        **_SAME,
        "id": "AccessKeyId",
        "credential_id": "AccessKeyId",
        "username": "UserName",
        "status": "Status",
        "created_at": "CreateDate",
        "credential_rotated_at": "CreateDate",
        "last_login_at": "LastUsedDate",
        "last_interactive_login_at": "PasswordLastUsed",
    }
)
"""``records: access_keys``: canonical field → name in the record the connector builds."""


@dataclass(frozen=True)
class Key:
    """One access key, with when it was last used (``None``: never)."""

    metadata: Mapping[str, Any]
    last_used: Mapping[str, Any]

    @property
    def id(self) -> str:
        return str(self.metadata["AccessKeyId"])

    @property
    def active(self) -> bool:
        return self.metadata.get("Status") == "Active"

    @property
    def used(self) -> datetime | None:
        used = self.last_used.get("LastUsedDate")
        return used if isinstance(used, datetime) else None


@dataclass(frozen=True)
class Details:
    """What is read of one user besides ``ListUsers``."""

    tags: Mapping[str, str]
    password: bool
    keys: tuple[Key, ...]
    others: tuple[Mapping[str, Any], ...] = ()
    """Its SSH public keys and signing certificates (``records: users`` only), each with
    its ``Status`` and ``UploadDate``: an active one signs in too."""


OTHER_CREDENTIALS: Final = (
    ("ListSSHPublicKeys", "SSHPublicKeys"),
    ("ListSigningCertificates", "Certificates"),
)
"""The user's credentials besides the console password and access keys that are read: an
SSH public key "can be used for authentication with a CodeCommit repository" while
``Active`` (IAM API Reference, UpdateSSHPublicKey), and an active signing certificate signs
requests (ListSigningCertificates). Each listing is paginated to its end."""


class AwsIamConnector(Connector):
    name = "aws-iam"
    requires = (("boto3", "boto3", "aws"),)
    description = (
        "AWS IAM users, or their access keys one record each, read live through boto3"
        " (pip install 'nhirecon[aws]'); deactivates and deletes access keys."
    )
    can_write: ClassVar[frozenset[str]] = frozenset({"disable", "delete"})
    """With ``records: access_keys`` only (:meth:`writes`)."""
    default_map: ClassVar[Mapping[str, str]] = KEYS_MAP

    def __init__(
        self,
        *,
        context: ConnectorContext,
        records: Records = "users",
        profile: str | None = None,
        region: str | None = None,
        role_arn: str | None = None,
        endpoint_url: str | None = None,
        owner_tag: str = "owner",
        kind_tag: str = "kind",
    ) -> None:
        """Options (the keys of a ``connector: aws-iam`` source or target):

        - ``records``: ``users`` (one record per IAM user) or ``access_keys`` (one per key);
        - ``profile``: a named profile of the AWS config files; without it, the standard
          credential chain (environment, ``AWS_PROFILE``, an instance or task role);
        - ``region``: picks the partition and the STS endpoint (IAM is global); default
          the profile's or the environment's, else ``us-east-1``;
        - ``role_arn``: a role to assume (STS) first, to read another account;
        - ``endpoint_url``: where IAM and STS calls go instead of AWS (a stand-in such as
          moto or LocalStack, or a proxy); ``http://`` only to this machine;
        - ``owner_tag``: the user tag that names the user's ``owner`` (``records: users``;
          an access key's ``owner`` is its user);
        - ``kind_tag``: the user tag that gives ``kind`` (untagged: ``human``).
        """
        super().__init__(context=_never_used(context, records))
        self.listing: Records = records
        self.owner_tag = owner_tag
        self.kind_tag = kind_tag
        self.iam = Iam(_settings(context.key, profile, region, role_arn, endpoint_url))

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if problems:
            return problems
        endpoint = options.get("endpoint_url")
        if endpoint is not None:
            problem = url_problem(str(endpoint), allow_http=False)
            if problem:
                problems.append(("endpoint_url", problem))
        role = options.get("role_arn")
        if role is not None and not ROLE_ARN.match(role):
            problems.append(
                ("role_arn", f"expected a role ARN (arn:aws:iam::123456789012:role/NAME), {role!r}")
            )
        region = options.get("region")
        if region is not None and not REGION.match(region):
            problems.append(("region", f"expected a region such as eu-west-1, got {region!r}"))
        for name in ("profile", "owner_tag", "kind_tag"):
            value = options.get(name)
            if value is not None and not (value.strip() and value.isprintable()):
                problems.append((name, f"expected a non-empty line of text, got {value!r}"))
        return problems

    @classmethod
    def writes(cls, options: Mapping[str, Any]) -> frozenset[str]:
        """Access keys can be deactivated and deleted; users never are (their console
        password is never changed), so their findings are ``manual``."""
        return cls.can_write if options.get("records") == "access_keys" else frozenset()

    @classmethod
    def locate(cls, options: Mapping[str, Any], context: ConnectorContext) -> str | None:
        """``aws-iam://ACCOUNT``: the account the credentials reach now (asked of STS), so
        that ``apply`` refuses a plan made against another account."""
        iam = Iam(
            _settings(
                context.key,
                options.get("profile"),
                options.get("region"),
                options.get("role_arn"),
                options.get("endpoint_url"),
            )
        )
        try:
            return _place(iam.account(), iam.settings.endpoint_url)
        finally:
            iam.close()

    def defaults(self) -> Mapping[str, str]:
        return USERS_MAP if self.listing == "users" else KEYS_MAP

    def rows(self) -> Iterator[RawRow]:
        place = _place(self.iam.account(), None)
        users = list(self.iam.pages("ListUsers", "Users", ""))
        log.info("%s: %d IAM users in %s", self.context.name, len(users), place)
        pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="nhirecon-aws-iam")
        try:
            for user, details in zip(users, pool.map(self._details, users), strict=True):
                name = _required(user, "UserName", "ListUsers")
                if self.listing == "users":
                    yield row(f"{place}/users/{name}", self.user_record(user, details))
                    continue
                for key in details.keys:
                    location = f"{place}/users/{name}/access-keys/{key.id}"
                    yield row(location, self.key_record(user, details, key))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _details(self, user: Mapping[str, Any]) -> Details:
        """A user's tags, whether it has a console password, and its keys with their last
        use."""
        name = _required(user, "UserName", "ListUsers")
        about = f" for user {name}"
        tags = {
            str(tag.get("Key")): str(tag.get("Value") or "")
            for tag in self.iam.pages("ListUserTags", "Tags", about, UserName=name)
        }
        try:
            self.iam.call("GetLoginProfile", about, UserName=name)
            password = True
        except AwsCallError as exc:
            if exc.code != NO_SUCH_ENTITY:
                raise
            password = False
        keys = []
        for metadata in self.iam.pages("ListAccessKeys", "AccessKeyMetadata", about, UserName=name):
            key_id = _required(metadata, "AccessKeyId", "ListAccessKeys")
            answer = self.iam.call(
                "GetAccessKeyLastUsed", f" for access key {key_id}", AccessKeyId=key_id
            )
            used = answer.get("AccessKeyLastUsed")
            keys.append(Key(metadata, used if isinstance(used, Mapping) else {}))
        others: list[Mapping[str, Any]] = []
        if self.listing == "users":
            for operation, items in OTHER_CREDENTIALS:
                for item in self.iam.pages(operation, items, about, UserName=name):
                    _required(item, "Status", operation)
                    others.append(item)
        return Details(tags, password, tuple(keys), tuple(others))

    def _tag(self, tags: Mapping[str, str], name: str) -> str | None:
        """A tag's value; IAM user tag keys are case-insensitive (case is kept as written)."""
        if name in tags:
            return tags[name] or None
        wanted = name.casefold()
        return next(
            (value or None for key, value in tags.items() if key.casefold() == wanted), None
        )

    def _user_fields(self, user: Mapping[str, Any], details: Details) -> dict[str, Any]:
        """What a user record and its keys' records share."""
        return {
            "UserName": user.get("UserName"),
            "UserId": user.get("UserId"),
            "Arn": user.get("Arn"),
            "Path": user.get("Path"),
            "PasswordLastUsed": _date(user.get("PasswordLastUsed")),
            "password_enabled": details.password,
            "tags": dict(details.tags),
            "kind": self._tag(details.tags, self.kind_tag),
        }

    def user_record(self, user: Mapping[str, Any], details: Details) -> dict[str, Any]:
        """One IAM user: active while it has a console password or any active credential
        (an access key, an SSH public key, a signing certificate); last used at the latest
        of its console sign-in and every key's last use; its credential as old as its
        oldest active one."""
        _required(user, "UserId", "ListUsers")
        active_keys = [key for key in details.keys if key.active]
        active_others = [item for item in details.others if item.get("Status") == "Active"]
        password_used = user.get("PasswordLastUsed")
        uses = [key.used for key in details.keys if key.used is not None]
        if isinstance(password_used, datetime):
            uses.append(password_used)
        created = [key.metadata.get("CreateDate") for key in active_keys]
        created += [item.get("UploadDate") for item in active_others]
        oldest = min((when for when in created if isinstance(when, datetime)), default=None)
        return {
            **self._user_fields(user, details),
            "CreateDate": _date(user.get("CreateDate")),
            "owner": self._tag(details.tags, self.owner_tag),
            "active": details.password or bool(active_keys) or bool(active_others),
            "last_login_at": _date(max(uses, default=None)),
            "credential_rotated_at": _date(oldest),
            "access_keys": [_key_fields(key) for key in details.keys],
            "active_access_keys": len(active_keys),
            "active_other_credentials": len(active_others),
        }

    def key_record(self, user: Mapping[str, Any], details: Details, key: Key) -> dict[str, Any]:
        """One access key: its own status, age and last use, its user's name (as
        ``username`` and ``owner``), tags and console password."""
        status = _required(key.metadata, "Status", "ListAccessKeys")
        created = key.metadata.get("CreateDate")
        return {
            **self._user_fields(user, details),
            **_key_fields(key),
            "UserCreateDate": _date(user.get("CreateDate")),
            "owner": user.get("UserName"),
            "active": key.active,
            "version": key_version(status, created),
        }

    def writer(self) -> AccessKeyWriter | None:
        """What deactivates and deletes this target's access keys; ``None`` for users."""
        return AccessKeyWriter(self.iam) if self.listing == "access_keys" else None

    def close(self) -> None:
        self.iam.close()


def _settings(key: str, profile: Any, region: Any, role_arn: Any, endpoint_url: Any) -> Settings:
    def text(value: Any) -> str | None:
        return str(value) if value is not None else None

    return Settings(key, text(profile), text(region), text(role_arn), text(endpoint_url))


def _place(account: str, endpoint_url: str | None) -> str:
    """``aws-iam://ACCOUNT``, and the endpoint when calls go elsewhere than AWS."""
    where = f"aws-iam://{account}"
    return f"{where}?endpoint_url={endpoint_url.rstrip('/')}" if endpoint_url else where


def _date(value: object) -> str | None:
    return format_datetime(value) if isinstance(value, datetime) else None


def _key_fields(key: Key) -> dict[str, Any]:
    used = key.last_used
    return {
        "AccessKeyId": key.id,
        "Status": key.metadata.get("Status"),
        "CreateDate": _date(key.metadata.get("CreateDate")),
        "LastUsedDate": _date(key.used),
        "LastUsedService": used.get("ServiceName") if key.used else None,
        "LastUsedRegion": used.get("Region") if key.used else None,
    }


def _never_used(context: ConnectorContext, records: Records) -> ConnectorContext:
    """``context`` with the dates of use named as paths every record has (``null``: never
    used), so that an account where nothing was ever used still gets ``dormant``."""
    defaults = USERS_MAP if records == "users" else KEYS_MAP
    dates = ("last_login_at", "last_interactive_login_at")
    named = {name: defaults[name] for name in dates if name not in context.field_map}
    return replace(context, field_map=MappingProxyType({**context.field_map, **named}))


def _required(item: Mapping[str, Any], name: str, operation: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise ConnectorError(f"aws-iam: iam:{operation} answered an item without {name}")
    return value
