"""Talking to AWS IAM through boto3, and the writer that deactivates and deletes access keys.

boto3 is the ``nhirecon[aws]`` extra, imported on first use: without it the ``aws-iam``
connector is a config error that says how to install it. Credentials come from the standard
AWS chain (a ``profile``, the environment, an instance or task role), never from the
config; ``role_arn`` assumes a role (STS) to reach another account.

Every call is named in its error (``iam:ListAccessKeys for user bob: AccessDenied: …``), and
every listing is read with boto3's paginators to its last page, or not at all.

The writer re-reads a key live before each write (``ListAccessKeys`` of its user), writes
it (``UpdateAccessKey Status=Inactive``, ``DeleteAccessKey``), and leaves the verdict to
reading it back (see :func:`nhirecon.remediation.actions.perform`): IAM is eventually
consistent, so after a write it waits a few seconds for the effect to show before that read.
"""

from __future__ import annotations

import importlib
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, Final

from nhirecon.connectors.scim_writes import AccountState, LiveAccount, WriteResult
from nhirecon.core.values import format_datetime
from nhirecon.errors import ConfigError, ConnectorError

log = logging.getLogger(__name__)

INSTALL: Final = "pip install 'nhirecon[aws]'"
DEFAULT_REGION: Final = "us-east-1"
"""IAM is global; the region only picks the partition and the STS endpoint."""
SESSION_NAME: Final = "nhirecon"
"""The role session name an assumed role shows in CloudTrail."""
RETRIES: Final = {"max_attempts": 5, "mode": "standard"}
"""boto3's standard retry mode: throttling and 5xx back off with jitter, at most 5 tries."""
SETTLE: Final = (0.25, 0.5, 1.0, 1.5, 2.0)
"""Waits, in seconds, for a write's effect to show before it is read back (IAM is
eventually consistent); the read back judges whether it did."""
KEY_ID: Final = re.compile(r"\A[A-Za-z0-9]{16,128}\Z")
"""An access key id as IAM defines it (``accessKeyIdType``: 16 to 128 word characters)."""
NO_SUCH_ENTITY: Final = "NoSuchEntity"


class AwsCallError(ConnectorError):
    """An IAM or STS call that AWS refused; ``code`` is AWS's error code."""

    def __init__(self, message: str, *, code: str, status: int | None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.detail = message


@dataclass(frozen=True)
class Settings:
    """Where and as whom to call AWS: the connector's options."""

    key: str
    """The target's place in the config (``targets[1]``), for messages."""
    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None


def library(key: str) -> tuple[Any, Any, Any]:
    """boto3, ``botocore.exceptions`` and ``botocore.config``; a config error without them."""
    try:
        boto3 = importlib.import_module("boto3")
        exceptions = importlib.import_module("botocore.exceptions")
        config = importlib.import_module("botocore.config")
    except ImportError:
        raise ConfigError(
            f"the aws-iam connector needs boto3, which is not installed: {INSTALL}",
            key=f"{key}.connector" if key else "connector",
        ) from None
    return boto3, exceptions, config


class Iam:
    """One target's IAM client (and STS, to learn the account or assume a role).

    Nothing is sent until the first call; boto3 clients are thread-safe, so one client
    serves the pull's workers and the writer's."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._boto3, self._errors, config = library(settings.key)
        prefix = f"{settings.key}." if settings.key else ""
        try:
            self._session = self._boto3.session.Session(
                profile_name=settings.profile, region_name=settings.region
            )
        except self._errors.ProfileNotFound as exc:
            raise ConfigError(
                f"AWS profile not found in the AWS config files ({exc})", key=f"{prefix}profile"
            ) from None
        self.region = settings.region or self._session.region_name or DEFAULT_REGION
        self._config = config.Config(
            retries=dict(RETRIES), connect_timeout=10, read_timeout=60, user_agent_extra="nhirecon"
        )
        self._client: Any = None
        self._sts: Any = None
        self._lock = threading.Lock()

    def _make(self, session: Any, service: str) -> Any:
        return session.client(
            service,
            region_name=self.region,
            endpoint_url=self.settings.endpoint_url,
            config=self._config,
        )

    def _connect(self) -> Any:
        """The IAM client, made on first use: as the credential chain's identity, or as the
        role ``role_arn`` names once it has been assumed."""
        with self._lock:
            if self._client is None:
                session = self._session
                role = self.settings.role_arn
                if role:
                    sts = self._make(session, "sts")
                    answer = self._send(
                        sts,
                        "sts",
                        "AssumeRole",
                        f" of {role}",
                        RoleArn=role,
                        RoleSessionName=SESSION_NAME,
                    )
                    granted = answer["Credentials"]
                    session = self._boto3.session.Session(
                        aws_access_key_id=granted["AccessKeyId"],
                        aws_secret_access_key=granted["SecretAccessKey"],
                        aws_session_token=granted["SessionToken"],
                        region_name=self.region,
                    )
                self._sts = self._make(session, "sts")
                self._client = self._make(session, "iam")
            return self._client

    def account(self) -> str:
        """The account the calls reach (``sts:GetCallerIdentity``, which needs no grant)."""
        self._connect()
        answer = self._send(self._sts, "sts", "GetCallerIdentity", "")
        account = answer.get("Account")
        if not isinstance(account, str) or not account:
            raise ConnectorError(f"{self._where()}: sts:GetCallerIdentity named no account")
        return account

    def call(self, operation: str, about: str, **params: Any) -> Mapping[str, Any]:
        """One IAM call (``about`` says on what, for messages): its answer, or an error that
        names the call."""
        answer = self._send(self._connect(), "iam", operation, about, **params)
        if not isinstance(answer, Mapping):
            raise ConnectorError(f"{self._where()}: iam:{operation}{about}: no answer to read")
        return answer

    def pages(self, operation: str, items: str, about: str, **params: Any) -> Iterator[Any]:
        """Every item of a listing, through boto3's paginator, to the last page. A page
        that says it is truncated but gives no marker, or a failure on any page, fails
        the listing: it is never cut short silently."""
        client = self._connect()
        name = _snake(operation)
        try:
            for page in client.get_paginator(name).paginate(**params):
                if page.get("IsTruncated") and not page.get("Marker"):
                    raise ConnectorError(
                        f"{self._where()}: iam:{operation}{about}: a page says more follow"
                        " but gives no marker; the listing cannot be completed"
                    )
                yield from page.get(items) or []
        except self._errors.ClientError as exc:
            raise self._refused("iam", operation, about, exc) from exc
        except self._errors.BotoCoreError as exc:
            raise self._failed("iam", operation, about, exc) from exc

    def _send(self, client: Any, service: str, operation: str, about: str, **params: Any) -> Any:
        try:
            return getattr(client, _snake(operation))(**params)
        except self._errors.ClientError as exc:
            raise self._refused(service, operation, about, exc) from exc
        except self._errors.BotoCoreError as exc:
            raise self._failed(service, operation, about, exc) from exc

    def _where(self) -> str:
        endpoint = self.settings.endpoint_url
        place = f"aws-iam at {endpoint}" if endpoint else "aws-iam"
        return f"{self.settings.key} ({place})" if self.settings.key else place

    def _refused(self, service: str, operation: str, about: str, exc: Any) -> AwsCallError:
        error = exc.response.get("Error", {}) if isinstance(exc.response, Mapping) else {}
        meta = exc.response.get("ResponseMetadata", {}) if isinstance(exc.response, Mapping) else {}
        code = str(error.get("Code") or "Unknown")
        status = meta.get("HTTPStatusCode")
        said = " ".join(str(error.get("Message") or "").split())[:500]
        shown = f" (HTTP {status})" if isinstance(status, int) else ""
        return AwsCallError(
            f"{self._where()}: {service}:{operation}{about} failed: {code}: {said}{shown}",
            code=code,
            status=status if isinstance(status, int) else None,
        )

    def _failed(self, service: str, operation: str, about: str, exc: Exception) -> Exception:
        if isinstance(exc, (self._errors.NoCredentialsError, self._errors.PartialCredentialsError)):
            key = f"{self.settings.key}.profile" if self.settings.key else "profile"
            return ConfigError(
                f"no AWS credentials for {service}:{operation}: name a `profile`, or set"
                " AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, in the"
                " environment (credentials never go in the config)",
                key=key,
            )
        return ConnectorError(
            f"{self._where()}: {service}:{operation}{about} failed: {type(exc).__name__}: {exc}"
        )

    def close(self) -> None:
        with self._lock:
            for client in (self._client, self._sts):
                closing = getattr(client, "close", None)
                if callable(closing):
                    closing()
            self._client = self._sts = None


def _snake(operation: str) -> str:
    """``ListAccessKeys`` → ``list_access_keys``, ``ListSSHPublicKeys`` →
    ``list_ssh_public_keys``: boto3's method name for an operation (botocore's own
    ``xform_name``; botocore comes with boto3, which every caller has)."""
    return str(importlib.import_module("botocore").xform_name(operation))


def key_state(status: object) -> AccountState:
    """``Active`` keys sign requests; ``Inactive`` and ``Expired`` ones do not."""
    return AccountState.ACTIVE if status == "Active" else AccountState.DISABLED


def key_version(status: object, created: object) -> str:
    """What a plan records of a key to see, before writing it, that it changed since: its
    status and creation time (a key id is never reused, and its status is all that IAM
    lets change)."""
    when = format_datetime(created) if isinstance(created, datetime) else str(created)
    return f"{status} {when}"


def key_problem(key_id: str) -> str | None:
    """Why ``key_id`` cannot name an access key (nothing is read or written for it)."""
    if KEY_ID.match(key_id):
        return None
    return f"{key_id!r} is not an access key id (16 to 128 letters and digits)"


class AccessKeyWriter:
    """Reads, deactivates and deletes single access keys of one account, live.

    A key is found through its user: ``GetAccessKeyLastUsed`` names the user, and the
    user's ``ListAccessKeys`` says whether the key is there and its status. Where the first
    call is refused (AWS does not say what it answers for a deleted key), every user's keys
    are listed once instead. A user found for a key is remembered, so the read after a
    delete does not depend on AWS still knowing the deleted key."""

    def __init__(self, iam: Iam) -> None:
        self.iam = iam
        self._users: dict[str, str] = {}
        self._listing: dict[str, str] | None = None
        self._lock = threading.Lock()

    def read(self, resource_id: str) -> LiveAccount:
        problem = key_problem(resource_id)
        if problem:
            raise ConnectorError(f"refusing to read or write an access key: {problem}")
        user = self._user_of(resource_id)
        if user is None:
            return LiveAccount(AccountState.GONE)
        found = self._key_of(user, resource_id)
        if found is None:
            return LiveAccount(AccountState.GONE)
        with self._lock:
            self._users[resource_id] = str(found["UserName"])
        return LiveAccount(
            key_state(found.get("Status")),
            key_version(found.get("Status"), found.get("CreateDate")),
            found,
        )

    def _user_of(self, key_id: str) -> str | None:
        with self._lock:
            known = self._users.get(key_id)
        if known is not None:
            return known
        try:
            answer = self.iam.call(
                "GetAccessKeyLastUsed", f" for access key {key_id}", AccessKeyId=key_id
            )
            named = answer.get("UserName")
        except AwsCallError as exc:
            log.debug("%s; looking for the key in every user's keys", exc)
            named = None
        return str(named) if named else self._listed().get(key_id)

    def _key_of(self, user: str, key_id: str) -> dict[str, Any] | None:
        """The key among ``user``'s keys now; ``None`` when it, or the user, is gone."""
        try:
            for key in self.iam.pages(
                "ListAccessKeys", "AccessKeyMetadata", f" for user {user}", UserName=user
            ):
                if key.get("AccessKeyId") == key_id:
                    return {**key, "UserName": key.get("UserName") or user}
        except AwsCallError as exc:
            if exc.code == NO_SUCH_ENTITY:
                return None
            raise
        return None

    def _listed(self) -> dict[str, str]:
        """Every key id of the account → its user, listed once per run."""
        with self._lock:
            if self._listing is None:
                found: dict[str, str] = {}
                for user in self.iam.pages("ListUsers", "Users", ""):
                    name = str(user["UserName"])
                    try:
                        for key in self.iam.pages(
                            "ListAccessKeys", "AccessKeyMetadata", f" for user {name}",
                            UserName=name,
                        ):  # fmt: skip
                            found[str(key["AccessKeyId"])] = name
                    except AwsCallError as exc:
                        if exc.code != NO_SUCH_ENTITY:  # deleted since it was listed
                            raise
                self._listing = found
            return self._listing

    def disable(self, resource_id: str, live: LiveAccount) -> WriteResult:
        """``UpdateAccessKey Status=Inactive``."""
        return self._write("UpdateAccessKey", resource_id, live, Status="Inactive")

    def delete(self, resource_id: str, live: LiveAccount) -> WriteResult:
        """``DeleteAccessKey``."""
        return self._write("DeleteAccessKey", resource_id, live)

    def _write(self, operation: str, key_id: str, live: LiveAccount, **params: Any) -> WriteResult:
        user = live.resource.get("UserName") if live.resource else self._user_of(key_id)
        if not user:
            return WriteResult(HTTPStatus.NOT_FOUND, False, "the key's user is not known")
        about = f" of access key {key_id} (user {user})"
        try:
            answer = self.iam.call(operation, about, UserName=user, AccessKeyId=key_id, **params)
        except AwsCallError as exc:
            status = HTTPStatus.NOT_FOUND if exc.code == NO_SUCH_ENTITY else exc.status
            return WriteResult(status or 0, False, exc.detail)
        meta = answer.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode", HTTPStatus.OK) if isinstance(meta, Mapping) else 200
        self._settle(key_id, deleted=operation == "DeleteAccessKey")
        return WriteResult(int(status), True)

    def _settle(self, key_id: str, *, deleted: bool) -> None:
        """Wait (a few seconds at most) until the key reads as the write wants: gone after
        a delete, disabled (or gone) after a disable. Whether it does is judged by the read
        that follows, not here."""
        for wait in SETTLE:
            try:
                state = self.read(key_id).state
            except ConnectorError:
                return
            if state is AccountState.GONE or (not deleted and state is AccountState.DISABLED):
                return
            time.sleep(wait)
