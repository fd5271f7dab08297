"""Google Cloud IAM service accounts, or their user-managed keys, read live from the IAM API
(read only).

``GET {api_url}/v1/projects/{project}/serviceAccounts?pageSize=…``, then each
``nextPageToken`` until a page has none (``projects.serviceAccounts.list``: ``accounts[]``,
``nextPageToken``; ``pageSize`` at most 100). With ``records: keys``, then for each account
``GET …/serviceAccounts/{email}/keys?keyTypes=USER_MANAGED`` (``projects.serviceAccounts
.keys.list``: ``keys[]`` in one answer, the method has no paging). A listing is complete or
the pull fails. The service account of ``credentials_env`` signs in as itself (see
:mod:`nhirecon.http.google_auth`), scope ``cloud-platform``: the only scope the IAM API's
discovery document names (the reference adds ``iam``; neither reads only, so what it may do
is what its IAM role grants, ``roles/iam.serviceAccountViewer``). Rate limits are waits (see
:mod:`nhirecon.http.google_errors`).

Google sends proto3 JSON: a ``false`` flag or an empty list is left out, so an account or
key without ``disabled`` is enabled, and an account without user-managed keys answers ``{}``.
A key's ``validBeforeTime`` of ``9999-12-31T23:59:59Z`` means it never expires.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, Literal
from urllib.parse import quote, urlencode

from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.context import range_problems
from nhirecon.connectors.json import row
from nhirecon.connectors.scim_listing import MAX_RECORDS
from nhirecon.errors import ConnectorError, DataError
from nhirecon.http import google_auth
from nhirecon.http.google_errors import GoogleGet, empty_run, next_token
from nhirecon.http.limits import Limits
from nhirecon.http.tls import warn_unverified
from nhirecon.http.urls import url_problem

log = logging.getLogger(__name__)

API_URL: Final = "https://iam.googleapis.com"
SCOPE: Final = "https://www.googleapis.com/auth/cloud-platform"
MAX_PAGE: Final = 100
"""``pageSize`` of ``serviceAccounts.list``: "The default is 20, and the maximum is 100"."""
USER_MANAGED: Final = "USER_MANAGED"
NO_EXPIRY: Final = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
"""The ``validBeforeTime`` of a key that never expires."""
ACTIVE, KIND, KEY_ID, ACCOUNT, KEY_NAME = "active", "kind", "keyId", "accountEmail", "keyName"
"""Names added to each resource as it is read (see :func:`account_view`, :func:`key_view`)."""
POSITIVE: Final = ("timeout", "max_response_mb", "max_records")
HINTS: Final[Mapping[int, str]] = {
    400: "check `project` (the project ID, such as my-project-123)",
    401: "the access token was refused, also once renewed",
    403: (
        "the service account may not list service accounts (iam.serviceAccounts.list) or"
        " their keys (iam.serviceAccountKeys.list) in this project: grant it"
        " roles/iam.serviceAccountViewer there; and the IAM API must be enabled in the"
        " project the key belongs to"
    ),
    404: "check `project` and `api_url`",
}

ACCOUNT_MAP: Final[Mapping[str, str]] = {
    "id": "uniqueId",
    "username": "email",
    "email": "email",
    "display_name": "displayName",
    "active": ACTIVE,
    "kind": KIND,
}
"""``records: service_accounts``: canonical field → path in a ``ServiceAccount``. No owner:
IAM has no owner field; ``map`` one (``owner: description``) or let an inventory say."""
KEY_MAP: Final[Mapping[str, str]] = {
    "id": KEY_ID,
    "credential_id": KEY_ID,
    "username": KEY_NAME,
    "email": ACCOUNT,
    "owner": ACCOUNT,
    "active": ACTIVE,
    "kind": KIND,
    "created_at": "validAfterTime",
    "credential_rotated_at": "validAfterTime",
    "expires_at": "validBeforeTime",
}
"""``records: keys``: canonical field → path in a ``ServiceAccountKey`` (names added)."""


class GcpConnector(Connector):
    name = "gcp"
    requires = (("google.auth", "google-auth", "google"),)
    description = (
        "Service accounts of a Google Cloud project, or their user-managed keys, read live"
        " from the IAM API with a service account key."
    )
    default_map: ClassVar[Mapping[str, str]] = ACCOUNT_MAP

    def __init__(
        self,
        *,
        context: ConnectorContext,
        project: str,
        credentials_env: str,
        records: Literal["service_accounts", "keys"] = "service_accounts",
        api_url: str = API_URL,
        token_url: str | None = None,
        page_size: int = MAX_PAGE,
        timeout: float = 30.0,
        rate_limit_per_minute: int | None = None,
        verify_tls: bool = True,
        ca_bundle: str | None = None,
        allow_http: bool = False,
        retries: int = 5,
        backoff: float = 0.5,
        max_retry_wait: float = 120.0,
        max_response_mb: float = 64.0,
        max_records: int = MAX_RECORDS,
    ) -> None:
        """Options (the keys of a ``connector: gcp`` source or target):

        - ``project``: the project ID whose service accounts are read;
        - ``credentials_env``: the environment variable holding a service account's JSON
          key (the whole file);
        - ``records``: ``service_accounts`` (one record per account) or ``keys`` (one per
          user-managed key);
        - ``api_url``: the IAM API's base URL;
        - ``token_url``: the token endpoint; default: the key's ``token_uri``, else Google's;
        - ``page_size``: ``pageSize``, 1 to 100;
        - ``timeout``, ``rate_limit_per_minute``, ``verify_tls``, ``ca_bundle``,
          ``allow_http``, ``retries``, ``backoff``, ``max_retry_wait``,
          ``max_response_mb``, ``max_records``: as for ``scim``.
        """
        super().__init__(context=context)
        prefix = f"{context.key}." if context.key else ""
        role = "target" if context.key.startswith("targets") else "source"
        self.where = f"{role} {context.name!r} (GCP project {project}, {records})"
        self.project, self.listing, self.page_size = project, records, page_size
        self.max_records = max_records
        self.api_url = api_url.rstrip("/")
        self.accounts_url = f"{self.api_url}/v1/projects/{quote(project, safe='')}/serviceAccounts"
        bundle = context.ca_bundle(ca_bundle)
        if not verify_tls:
            warn_unverified(context.key, self.api_url)
        self.transport = google_auth.service_account_transport(
            credentials_env=credentials_env,
            token_url=token_url,
            scope=SCOPE,
            subject=None,
            service=self.api_url,
            limits=Limits(
                timeout=float(timeout),
                retries=retries,
                backoff=float(backoff),
                max_retry_wait=float(max_retry_wait),
                max_workers=1,
                rate_limit_per_minute=rate_limit_per_minute,
                max_response_mb=float(max_response_mb),
            ),
            allow_http=allow_http,
            verify_tls=verify_tls,
            ca_bundle=str(bundle) if bundle else None,
            prefix=prefix,
        )
        self.reader = GoogleGet(
            self.transport, retries, float(backoff), float(max_retry_wait), HINTS
        )

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        problems = super().check_options(options)
        if problems:
            return problems
        allow_http = bool(options.get("allow_http", False))
        for name in ("api_url", "token_url"):
            if options.get(name) is not None:
                problem = url_problem(str(options[name]), allow_http=allow_http)
                if problem:
                    problems.append((name, problem))
        for name in ("project", "credentials_env"):
            value = options[name]
            if not (value.strip() and value.isprintable()) or "/" in value:
                problems.append((name, f"expected a name on one line, without '/', got {value!r}"))
        page_size = options.get("page_size", MAX_PAGE)
        if not 1 <= page_size <= MAX_PAGE:
            problems.append(("page_size", f"must be 1 to {MAX_PAGE} (pageSize), got {page_size}"))
        problems += range_problems(options, positive=POSITIVE)
        return problems

    def defaults(self) -> Mapping[str, str]:
        return KEY_MAP if self.listing == "keys" else ACCOUNT_MAP

    def rows(self) -> Iterator[RawRow]:
        try:
            keys = 0
            for account, location in self.accounts():
                if self.listing == "service_accounts":
                    yield row(location, account_view(account, location))
                    continue
                for key, where in self.keys(account, location):
                    keys += 1
                    if keys > self.max_records:
                        raise ConnectorError(
                            f"{where}: more than max_records ({self.max_records}) keys; refused"
                        )
                    yield row(where, key_view(key, account, where))
        except ConnectorError as exc:
            raise ConnectorError(f"{self.where}: {exc}") from exc

    def accounts(self) -> Iterator[tuple[Mapping[str, Any], str]]:
        """Every service account of the project with where it was read, page after page
        until one has no ``nextPageToken``; a token seen before, a page with more accounts
        than asked for, or more than ``max_records`` accounts fails the pull."""
        token: str | None = None
        seen: set[str] = set()
        count = empty = 0
        while True:
            query: dict[str, str | int] = {"pageSize": self.page_size}
            if token is not None:
                query["pageToken"] = token
            url = f"{self.accounts_url}?{urlencode(query)}"
            data = self.reader.json(url)
            accounts = _listed(data, "accounts", url)
            if len(accounts) > self.page_size:
                raise ConnectorError(
                    f"GET {url}: {len(accounts)} accounts on a page of at most {self.page_size}"
                    " (pageSize): the listing cannot be trusted to be complete; refused"
                )
            count += len(accounts)
            if count > self.max_records:
                raise ConnectorError(
                    f"GET {url}: more than max_records ({self.max_records}) accounts; refused"
                )
            log.debug("%s: %d service accounts (%d so far)", url, len(accounts), count)
            for index, account in enumerate(accounts):
                for name in ("uniqueId", "email"):
                    if not isinstance(account.get(name), str) or not account[name].strip():
                        raise ConnectorError(f"GET {url}: accounts[{index}] has no `{name}`")
                yield account, f"{self.accounts_url}/{quote(account['uniqueId'], safe='')}"
            token = next_token(data, url)
            empty = empty_run(empty, len(accounts), token, url)
            if token is None:
                return
            if token in seen:
                raise ConnectorError(
                    f"GET {url}: `nextPageToken` repeats an earlier page's: the listing would"
                    " never end; refused"
                )
            seen.add(token)

    def keys(
        self, account: Mapping[str, Any], location: str
    ) -> Iterator[tuple[Mapping[str, Any], str]]:
        """The user-managed keys of one account with where each was read: one answer,
        checked to hold only user-managed keys of that account and no next page."""
        email = account["email"]
        base = f"{self.accounts_url}/{quote(email, safe='@')}/keys"
        url = f"{base}?{urlencode({'keyTypes': USER_MANAGED})}"
        data = self.reader.json(url)
        keys = _listed(data, "keys", url)
        if isinstance(data, dict) and data.get("nextPageToken"):
            raise ConnectorError(
                f"GET {url}: the answer has a `nextPageToken`, but keys.list has no paging:"
                " the keys cannot be trusted to be complete; refused"
            )
        owners = {email.casefold(), account["uniqueId"].casefold()}
        for index, key in enumerate(keys):
            name = key.get("name")
            parts = name.split("/") if isinstance(name, str) else []
            if len(parts) != 6 or parts[2::2] != ["serviceAccounts", "keys"] or not parts[5]:
                raise ConnectorError(f"GET {url}: keys[{index}] has no `name` of a key")
            if parts[3].casefold() not in owners:
                raise ConnectorError(
                    f"GET {url}: keys[{index}] is a key of {parts[3]!r}, not of {email}; refused"
                )
            if key.get("keyType", USER_MANAGED) != USER_MANAGED:
                raise ConnectorError(
                    f"GET {url}: keys[{index}] is {key.get('keyType')!r}, though only"
                    f" {USER_MANAGED} keys were asked for: the service ignored keyTypes; refused"
                )
            yield {**key, KEY_ID: parts[5]}, f"{base}/{quote(parts[5], safe='')}"

    def close(self) -> None:
        self.transport.close()


def account_view(account: Mapping[str, Any], location: str) -> dict[str, Any]:
    """A ``ServiceAccount`` as Google sends it, with ``active`` (not ``disabled``) and
    ``kind`` (``service_account``) added."""
    return {**account, ACTIVE: not _disabled(account, location), KIND: "service_account"}


def key_view(key: Mapping[str, Any], account: Mapping[str, Any], location: str) -> dict[str, Any]:
    """A ``ServiceAccountKey`` as Google sends it, with names added: ``keyId`` (the last
    part of ``name``), ``accountEmail`` (its account's), ``keyName`` (``EMAIL/keys/ID``, how
    reports name it), ``active`` (neither the key nor its account is disabled: a disabled
    account's keys sign nothing in), ``kind`` (``api_key``); and a ``validBeforeTime`` of
    ``9999-12-31T23:59:59Z`` read as no value (the key never expires)."""
    view = dict(key)
    email = account["email"]
    view[ACCOUNT] = email
    view[KEY_NAME] = f"{email}/keys/{key[KEY_ID]}"
    view[ACTIVE] = not (_disabled(key, location) or _disabled(account, location))
    view[KIND] = "api_key"
    if _never_expires(view.get("validBeforeTime")):
        view["validBeforeTime"] = None
    return view


def _disabled(resource: Mapping[str, Any], location: str) -> bool:
    value = resource.get("disabled", False)  # proto3 JSON leaves out a false flag
    if not isinstance(value, bool):
        raise DataError(
            f"{location}: `disabled` is {value!r}, not true or false: cannot tell whether it"
            " is active"
        )
    return value


def _never_expires(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("9999-12-31"):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment == NO_EXPIRY


def _listed(data: object, name: str, url: str) -> list[Mapping[str, Any]]:
    """The objects under ``name`` of one answer (absent when there are none)."""
    if not isinstance(data, dict):
        raise ConnectorError(f"GET {url}: the answer is not a listing (a JSON object)")
    items = data.get(name, [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ConnectorError(f"GET {url}: `{name}` is not a list of objects")
    return items
