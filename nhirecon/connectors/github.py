"""A GitHub organisation, read live from the REST API (GraphQL for SAML identities); read
only. ``records`` says what one target reads:

- ``members``: ``GET /orgs/{org}/members`` with ``role=admin`` then ``role=all`` (two
  listings give every role, not one request per member), each joined by login to its
  SAML/SCIM identity (GraphQL ``externalIdentities``, read first: REST has no listing of
  them, and they hold the corporate email);
- ``outside_collaborators``, ``invitations``: ``GET /orgs/{org}/…``;
- ``credentials``: fine-grained token grants, deploy keys of every repository, and GitHub
  App installations (``credential_types``).

Every listing follows ``Link: <…>; rel="next"`` to its end, complete or the pull fails
(exit 3). Rate limits wait: ``x-ratelimit-remaining: 0`` until ``x-ratelimit-reset`` and
``retry-after`` (the transport), and a secondary limit that says neither at least a
minute, doubling, as GitHub advises.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal
from urllib.parse import quote, urlencode

from nhirecon.connectors import github_records as gh
from nhirecon.connectors.base import Connector, ConnectorContext, RawRow
from nhirecon.connectors.json import row
from nhirecon.connectors.scim_listing import MAX_RECORDS
from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.http import links
from nhirecon.http.answers import DETAIL_LIMIT, HttpError, Response, error_detail
from nhirecon.http.auth import Bearer
from nhirecon.http.limits import Limits, rate_limit_wait, rate_limited
from nhirecon.http.tls import warn_unverified
from nhirecon.http.transport import Transport

log = logging.getLogger(__name__)

SECONDARY: Final = "secondary rate limit"
SHOWN: Final = 200


def github_token(variable: str, key: str) -> Bearer:
    """The token held by the environment variable ``variable`` (never shown)."""
    value = (os.environ.get(variable) or "").strip()
    if not value:
        raise ConfigError(
            f"environment variable {variable} is not set (it should hold a GitHub token:"
            " a fine-grained personal access token or a GitHub App installation token)",
            key=key,
        )
    if not (value.isascii() and value.isprintable()):
        raise ConfigError(
            f"environment variable {variable} holds a line break, a control or a non-ASCII"
            " character, which a token cannot (the value is not shown)",
            key=key,
        )
    return Bearer(value)


class GithubConnector(Connector):
    name = "github"
    description = (
        "A GitHub organisation, read live: members (with their SAML/SCIM identity), outside"
        " collaborators, pending invitations, or credentials (fine-grained token grants,"
        " deploy keys, GitHub App installations)."
    )

    def __init__(
        self,
        *,
        context: ConnectorContext,
        org: str,
        token_env: str,
        records: Literal["members", "outside_collaborators", "invitations", "credentials"] = (
            "members"
        ),
        credential_types: list[str] | None = None,
        saml_identities: bool = True,
        api_url: str = gh.API_URL,
        page_size: int = gh.MAX_PAGE,
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
        """Options: ``org``, ``token_env`` (sent as ``Bearer``), ``records``,
        ``credential_types`` (default all three), ``saml_identities``, ``api_url``
        (``https://HOST/api/v3`` for Enterprise Server), ``page_size`` (``per_page``, 1 to
        100), and the HTTP options of ``scim``; see the README."""
        types = tuple(credential_types or gh.CREDENTIAL_TYPES)
        super().__init__(context=gh.github_context(context, records))
        prefix = f"{context.key}." if context.key else ""
        self.org, self.reading, self.types = org, records, types
        self.saml_identities = saml_identities and records == "members"
        self.api_url = api_url.rstrip("/")
        self.graphql_url = gh.graphql_url(self.api_url)
        self.page_size = page_size
        self.retries = retries
        self.max_retry_wait = float(max_retry_wait)
        self.max_records = max_records
        self.token_env = token_env
        bundle = context.ca_bundle(ca_bundle)
        if not verify_tls and self.api_url.casefold().startswith("https:"):
            warn_unverified(context.key, self.api_url, service="GitHub", receives="the token")
        self.transport = Transport(
            limits=Limits(
                timeout=float(timeout),
                retries=retries,
                backoff=float(backoff),
                max_retry_wait=self.max_retry_wait,
                max_workers=1,
                rate_limit_per_minute=rate_limit_per_minute,
                max_response_mb=float(max_response_mb),
            ),
            credentials=github_token(token_env, f"{prefix}token_env"),
            verify_tls=verify_tls,
            ca_bundle=str(bundle) if bundle else None,
            service=self.api_url,
        )

    def defaults(self) -> Mapping[str, str]:
        return gh.DEFAULT_MAPS[self.reading]

    @classmethod
    def check_options(cls, options: Mapping[str, Any]) -> list[tuple[str, str]]:
        return super().check_options(options) or gh.option_problems(options)

    def rows(self) -> Iterator[RawRow]:
        for count, (location, record) in enumerate(self._read(), start=1):
            if count > self.max_records:
                raise ConnectorError(
                    f"{self.api_url}/orgs/{self.org}: more than max_records ({self.max_records})"
                    f" {self.reading}; refused (raise max_records if the org really holds more)"
                )
            yield row(location, record)

    def _read(self) -> Iterator[tuple[str, dict[str, Any]]]:
        org = f"/orgs/{self.org}"
        base = f"{self.api_url}{org}"
        if self.reading == "members":
            identities = self.identities() if self.saml_identities else {}
            admins = {
                str(user.get("login")).casefold()
                for user in self.listing(f"{org}/members", {"role": "admin"}, need="members")
            }
            for user in self.listing(f"{org}/members", {"role": "all"}, need="members"):
                login = _login(user, base)
                role = "admin" if login.casefold() in admins else "member"
                view = gh.user_view(user, role, identities.get(login.casefold()))
                yield f"{base}/memberships/{login}", view
        elif self.reading == "outside_collaborators":
            need = "outside_collaborators"
            for user in self.listing(f"{org}/outside_collaborators", {}, need=need):
                login = _login(user, base)
                yield f"{self.api_url}/users/{login}", gh.user_view(user, need, None)
        elif self.reading == "invitations":
            for invitation in self.listing(f"{org}/invitations", {}, need="invitations"):
                yield f"{base}/invitations/{invitation['id']}", gh.invitation_view(invitation)
        else:
            yield from self._credentials(org, base)

    def _credentials(self, org: str, base: str) -> Iterator[tuple[str, dict[str, Any]]]:
        if "fine_grained_pats" in self.types:
            path, need = f"{org}/personal-access-tokens", "fine_grained_pats"
            for grant in self.listing(path, {}, need=need):
                where = f"{base}/personal-access-tokens/{grant['id']}"
                yield where, gh.pat_view(grant, where)
        if "deploy_keys" in self.types:
            for repo in self.listing(f"{org}/repos", {"type": "all"}, need="repos"):
                name = repo.get("name")
                if (
                    not isinstance(name, str)
                    or not gh.REPO_NAME.fullmatch(name)
                    or name in (".", "..")
                ):
                    raise ConnectorError(
                        f"GET {base}/repos: repository {repo['id']} has no usable name"
                    )
                path = f"/repos/{quote(self.org)}/{quote(name)}/keys"
                for key in self.listing(path, {}, need="deploy_keys"):
                    where = f"{self.api_url}{path}/{key['id']}"
                    yield where, gh.deploy_key_view(key, f"{self.org}/{name}", where)
        if "app_installations" in self.types:
            path, need = f"{org}/installations", "app_installations"
            for installation in self.listing(path, {}, key="installations", need=need):
                yield (
                    f"{base}/installations/{installation['id']}",
                    gh.installation_view(installation),
                )

    def listing(
        self, path: str, query: Mapping[str, str], *, need: str, key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of one listing, page after page by ``Link: rel="next"``."""
        url: str | None = f"{self.api_url}{path}?{urlencode({**query, 'per_page': self.page_size})}"
        visited: set[str] = set()
        total, count = None, 0
        while url is not None:
            visited.add(url)
            response = self._send("GET", url, need)
            try:
                following = links.next_url(response.headers, url)
            except links.LinkError as exc:
                raise ConnectorError(
                    f"GET {url}: its Link header cannot be read ({exc}), so whether more pages"
                    " follow is unknown; refusing a listing that may be partial"
                ) from None
            items, announced = gh.page_items(response.json(), url, self.page_size, key)
            total = announced if total is None else total
            count += len(items)
            yield from items
            if following is not None:
                self._check_next(url, following, visited, empty=not items)
            url = following
        if key is not None and total != count:
            raise ConnectorError(
                f"GET {self.api_url}{path}: total_count says {total!r} but {count} were read;"
                " refusing a listing that changed during the pull or is incomplete"
            )

    def identities(self) -> dict[str, Mapping[str, Any]]:
        """Every external identity of the org's SAML provider, by login (GraphQL, paged by
        ``pageInfo.endCursor`` while ``hasNextPage``)."""
        nodes: list[Any] = []
        after: str | None = None
        cursors: set[str] = set()
        while True:
            variables = {"org": self.org, "first": self.page_size, "after": after}
            data = self.graphql({"query": gh.IDENTITIES_QUERY, "variables": variables})
            page, after = gh.identities_page(data, self.graphql_url, self.page_size)
            nodes.extend(page)
            if after is None:
                return gh.identity_index(nodes, self.graphql_url)
            if after in cursors or len(nodes) > self.max_records:
                raise ConnectorError(
                    f"POST {self.graphql_url}: externalIdentities repeats a cursor or goes past"
                    f" max_records ({self.max_records}); refused"
                )
            cursors.add(after)

    def graphql(self, body: Mapping[str, Any]) -> Any:
        """The JSON of a GraphQL answer without ``errors``; ``RATE_LIMITED`` waits."""
        waits = 0
        while True:
            response = self._send("POST", self.graphql_url, "members", body)
            data = response.json()
            errors = gh.graphql_errors(data)
            if not errors:
                return data
            if any(kind == "RATE_LIMITED" for kind, _ in errors) and waits < self.retries:
                waits += 1
                self._wait(response, waits)
                continue
            said = "; ".join(f"{kind}: {text}" if kind else text for kind, text in errors)
            raise self._failure(response, f"GraphQL errors: {said}", response.attempts)

    def _send(self, method: str, url: str, need: str, body: Any = None) -> Response:
        """A 200 answer; a secondary rate limit that says nothing of how long waits."""
        headers = {
            **gh.HEADERS,
            **({"Content-Type": "application/json"} if body is not None else {}),
        }
        attempts = waits = 0
        while True:
            response = self.transport.request(method, url, body=body, headers=headers)
            attempts += response.attempts
            if response.status == 200:
                return response
            message = gh.github_message(response)
            if (
                response.status in (403, 429)
                and SECONDARY in message.casefold()
                and not rate_limited(response.headers)  # the transport waited those out
                and waits < self.retries
            ):
                waits += 1
                self._wait(response, waits)
                continue
            raise self._failure(response, message, attempts, need)

    def _wait(self, response: Response, retry: int) -> None:
        told = None
        if rate_limited(response.headers):  # a reset counts only when no request is left
            told = rate_limit_wait(response.headers, time.time(), self.max_retry_wait)
        if told is None:  # "wait for at least one minute", then longer each time
            told = min(self.max_retry_wait, 60.0 * 2 ** (retry - 1))
        log.info("%s: rate limited by GitHub; waiting %.0f s", response.url, told)
        if told > 0:
            self.transport.sleep(told)
        self.transport.limiter.acquire()

    def _failure(
        self, response: Response, message: str, attempts: int, need: str = ""
    ) -> HttpError:
        """The error for an answer GitHub refused: the URL and status, GitHub's message
        (scrubbed of every secret before it is cut short) and a hint."""
        redactor = self.transport.redactor()
        said = error_detail(response, redactor)
        if message:
            flat = " ".join(redactor.scrub_text(message).split())
            said = f"GitHub says: {_cut(flat, DETAIL_LIMIT)}"
        detail = "; ".join(part for part in (said, self._hint(response, message, need)) if part)
        if attempts > 1:
            detail = f"{detail} (after {attempts} attempts)"
        return HttpError(
            response.method, response.url, response.status, redactor.scrub_message(detail)
        )

    def _hint(self, response: Response, message: str, need: str) -> str:
        status = response.status
        if status == 401:
            return (
                f"GitHub refused the token in {self.token_env}: it is invalid, expired or revoked"
            )
        if status in (403, 429) and (
            rate_limited(response.headers) or SECONDARY in message.casefold()
        ):
            return "still rate limited after the retries"
        if status == 403 and response.header("X-GitHub-SSO"):
            return f"the token is not authorized for {self.org}'s SAML single sign-on: authorize it"
        if status == 403:
            return f"the token needs {gh.NEEDS.get(need, 'more permissions')}"
        if status == 404:
            return "check org and api_url (GitHub also answers 404 to a token that may not see it)"
        if status == 200:  # GraphQL
            return (
                "SAML identities need an owner's classic token (read:org) or an app's Members read"
            )
        return ""

    def _check_next(self, url: str, following: str, visited: set[str], *, empty: bool) -> None:
        """Refuse a ``next`` link off the service, back to a page read, or after an empty page."""
        shown = _cut(following, SHOWN)
        if not gh.same_service(following, self.api_url):
            raise ConnectorError(
                f'GET {url}: its rel="next" link points elsewhere ({shown}), not to'
                f" {self.api_url}; refusing to send the token there"
            )
        if following in visited:
            raise ConnectorError(
                f'GET {url}: its rel="next" link leads back to a page already read ({shown})'
            )
        if empty:
            raise ConnectorError(f"GET {url}: an empty page still points to a next one ({shown})")

    def close(self) -> None:
        self.transport.close()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _login(user: Mapping[str, Any], base: str) -> str:
    login = user.get("login")
    if not isinstance(login, str) or not login.strip():
        raise ConnectorError(f"{base}: user {user.get('id')!r} has no login")
    return login
