"""The ``github`` connector against a local stand-in for GitHub's REST and GraphQL APIs.

GitHub cannot run here, so a small ``http.server`` on 127.0.0.1 serves the organisation in
``tests/data/github/`` the way GitHub documents it (see that folder's README): listings paged
by ``page`` and ``per_page`` with ``Link: <…>; rel="next"`` headers that point, as GitHub's
do, at ``/organizations/{id}/…`` and ``/repositories/{id}/…``; the GraphQL
``externalIdentities`` connection paged by ``endCursor``; the ``x-ratelimit-*`` headers on
every answer; and GitHub's error bodies. Faults (rate limits, 5xx, bad links, pages that
lie) are injected per request.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from nhirecon import config
from nhirecon.connectors import registry
from nhirecon.connectors.github import GithubConnector
from nhirecon.connectors.github_records import graphql_url, same_service
from nhirecon.core.model import Origin, Record
from nhirecon.errors import ConfigError, ConnectorError, DataError

from .conftest import DATA, NOW, ROOT, Run

GITHUB = DATA / "github"
ORG, ORG_ID = "acme-corp", 9919
TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
"""The installation token the stand-in accepts; tests check it never shows up anywhere."""
TOKEN_ENV = "NHIRECON_TEST_GITHUB_TOKEN"
ADMINS = {"alice-dev", "erin-ops"}
FINGERPRINTS = {
    "deploy-web-prod": "SHA256:2eoKHZhUXTnxLbBAxuFBrMNvCauZwmPcZOcwxLHsFUc",
    "legacy-ci": "SHA256:ct4qOAOZQgxJfbqBIuGN0cUjdoRXcvL9q62jjGJ1mdU",
    "docs-bot": "SHA256:jiClMOX7oS6ejaUeEOc90kBDDvPSm2OqJdsJJJwV6+k",
}
"""What ``ssh-keygen -lf`` printed for each fixture key when it was generated."""


def load(name: str) -> Any:
    return json.loads((GITHUB / name).read_text("utf-8"))


# --- the stand-in --------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class Fault:
    """An answer given instead of the real one to the requests ``when`` picks, ``times``
    times (-1: always)."""

    when: Callable[[Seen], bool]
    status: int
    body: Any
    headers: list[tuple[str, str]] = field(default_factory=list)
    times: int = 1


@dataclass
class FakeGitHub:
    url: str = ""
    members: list[dict[str, Any]] = field(default_factory=lambda: load("members.json"))
    identities: list[dict[str, Any]] = field(
        default_factory=lambda: load("external-identities.json")
    )
    collaborators: list[dict[str, Any]] = field(
        default_factory=lambda: load("outside-collaborators.json")
    )
    invitations: list[dict[str, Any]] = field(default_factory=lambda: load("invitations.json"))
    pats: list[dict[str, Any]] = field(default_factory=lambda: load("personal-access-tokens.json"))
    repos: list[dict[str, Any]] = field(default_factory=lambda: load("repos.json"))
    keys: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: load("deploy-keys.json"))
    installations: list[dict[str, Any]] = field(default_factory=lambda: load("installations.json"))
    saml: bool = True
    requests: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    links: Callable[[Seen, list[tuple[str, str]]], list[tuple[str, str]]] | None = None
    """Rewrites the Link headers of a listing page."""
    total_count: int | None = None
    """What ``/installations`` announces instead of the truth."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def listing(self, seen: Seen) -> tuple[list[dict[str, Any]], str, str | None] | None:
        """The records of the listing a path names, its GitHub-style canonical path (for
        next links), and the key a wrapped listing holds them under."""
        parts = seen.path.strip("/").split("/")
        if parts[:2] in (["orgs", ORG], ["organizations", str(ORG_ID)]) and len(parts) == 3:
            canonical = f"/organizations/{ORG_ID}/{parts[2]}"
            role = seen.query.get("role", "all")
            chosen: dict[str, tuple[list[dict[str, Any]], str | None]] = {
                "members": (
                    [
                        m
                        for m in self.members
                        if role == "all" or (m["login"] in ADMINS) == (role == "admin")
                    ],
                    None,
                ),
                "outside_collaborators": (self.collaborators, None),
                "invitations": (self.invitations, None),
                "personal-access-tokens": (self.pats, None),
                "repos": (self.repos, None),
                "installations": (self.installations, "installations"),
            }
            if parts[2] in chosen:
                items, key = chosen[parts[2]]
                return items, canonical, key
        repo = self.repo_of(parts)
        if repo is not None and parts[-1] == "keys":
            return self.keys[repo["name"]], f"/repositories/{repo['id']}/keys", None
        return None

    def repo_of(self, parts: list[str]) -> dict[str, Any] | None:
        for repo in self.repos:
            if parts[:3] == ["repos", ORG, repo["name"]] or parts[:2] == [
                "repositories",
                str(repo["id"]),
            ]:
                return repo
        return None

    def page(self, seen: Seen) -> tuple[int, Any, list[tuple[str, str]]]:
        found = self.listing(seen)
        if found is None:
            return (
                404,
                {
                    "message": "Not Found",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "404",
                },
                [],
            )
        items, canonical, key = found
        size = int(seen.query.get("per_page", "30"))
        number = int(seen.query.get("page", "1"))
        chunk = items[(number - 1) * size : number * size]
        last = max(1, -(-len(items) // size))
        query = {k: v for k, v in seen.query.items() if k != "page"}

        def link(page: int, rel: str) -> str:
            return f'<{self.url}{canonical}?{urlencode({**query, "page": page})}>; rel="{rel}"'

        links = []
        if number < last:
            links += [link(number + 1, "next"), link(last, "last")]
        if number > 1:
            links += [link(1, "first"), link(number - 1, "prev")]
        headers = [("Link", ", ".join(links))] if links else []
        if self.links is not None:
            headers = self.links(seen, headers)
        if key is None:
            return 200, chunk, headers
        total = len(items) if self.total_count is None else self.total_count
        return 200, {"total_count": total, key: chunk}, headers

    def graphql(self, seen: Seen) -> tuple[int, Any, list[tuple[str, str]]]:
        variables = seen.body["variables"]
        if variables["org"] != ORG:
            error = {
                "type": "NOT_FOUND",
                "path": ["organization"],
                "locations": [{"line": 1, "column": 54}],
                "message": "Could not resolve to an Organization with the login of"
                f" '{variables['org']}'.",
            }
            return 200, {"data": {"organization": None}, "errors": [error]}, []
        if not self.saml:
            return 200, {"data": {"organization": {"samlIdentityProvider": None}}}, []
        first = int(variables["first"])
        after = variables.get("after")
        start = int(base64.b64decode(after).decode().split(":")[1]) if after else 0
        nodes = self.identities[start : start + first]
        end = start + len(nodes)
        cursor = base64.b64encode(f"cursor:{end}".encode()).decode()
        connection = {
            "pageInfo": {
                "hasNextPage": end < len(self.identities),
                "endCursor": cursor if nodes else None,
            },
            "edges": [{"node": node} for node in nodes],
        }
        data = {"organization": {"samlIdentityProvider": {"externalIdentities": connection}}}
        return 200, {"data": data}, []


def handler_for(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
            names = {name.casefold() for name, _ in headers}
            defaults = [
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "4999"),
                ("x-ratelimit-reset", str(int(time.time()) + 3600)),
                ("x-ratelimit-used", "1"),
                ("x-ratelimit-resource", "graphql" if self.path == "/graphql" else "core"),
            ]
            for name, value in [*[d for d in defaults if d[0] not in names], *headers]:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def handle_one(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            headers = {name.casefold(): value for name, value in self.headers.items()}
            seen = Seen(method, parts.path, dict(parse_qsl(parts.query)), headers, body)
            with github.lock:
                github.requests.append(seen)
                fault = next((f for f in github.faults if f.times != 0 and f.when(seen)), None)
                if fault is not None:
                    fault.times -= 1
            if fault is not None:
                self.answer(fault.status, fault.body, fault.headers)
            elif headers.get("authorization") != f"Bearer {TOKEN}":
                reset = str(int(time.time()) + 3600)
                limits = [
                    ("x-ratelimit-limit", "0"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", reset),
                ]
                self.answer(401, load("error-401-bad-credentials.json"), limits)
            elif method == "POST" and seen.path == "/graphql":
                self.answer(*github.graphql(seen))
            else:
                self.answer(*github.page(seen))

        def do_GET(self) -> None:
            self.handle_one("GET")

        def do_POST(self) -> None:
            self.handle_one("POST")

    return Handler


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


def is_page(path: str, page: int = 1, method: str = "GET") -> Callable[[Seen], bool]:
    """The request for one page of the listing at ``path`` (either spelling of its URL)."""

    def matches(seen: Seen) -> bool:
        spelled = {path, path.replace(f"/orgs/{ORG}/", f"/organizations/{ORG_ID}/")}
        return (
            seen.method == method
            and seen.path in spelled
            and int(seen.query.get("page", "1")) == page
        )

    return matches


def listing_requests(github: FakeGitHub, path: str) -> list[Seen]:
    spelled = {path, path.replace(f"/orgs/{ORG}/", f"/organizations/{ORG_ID}/")}
    return [seen for seen in github.requests if seen.path in spelled]


BY_NAME = "\ncorrelate: [{account: username, identity: username}]"
TARGETS = {
    "members": "records: members\nremediate: {leaver: disable, orphan: disable}",
    "outside": f"records: outside_collaborators{BY_NAME}",
    "invitations": "records: invitations",
    "credentials": f"records: credentials{BY_NAME}",
}


def write_config(
    folder: Path, github: FakeGitHub, targets: dict[str, str], options: str = ""
) -> Path:
    (folder / "hr.csv").write_bytes((GITHUB / "hr.csv").read_bytes())
    lines = [
        "version: 1",
        "source:",
        "  name: hr",
        "  connector: csv",
        "  path: hr.csv",
        "  map: {id: employee_id, email: email, display_name: full_name, status: status,",
        "        kind: kind, owner: owner, username: username}",
        "targets:",
    ]
    given = [line for line in options.splitlines() if line.strip()]
    defaults = {"org": ORG, "token_env": TOKEN_ENV, "api_url": github.url}
    defaults.update({"page_size": "2", "retries": "2", "backoff": "0.01"})
    kept = [
        f"{key}: {value}"
        for key, value in defaults.items()
        if not any(g.startswith(f"{key}:") for g in given)
    ]
    for name, body in targets.items():
        lines += [f"  - name: github-{name}", "    connector: github"]
        lines += [f"    {line}" for line in [*kept, *given, *body.splitlines()]]
    path = folder / "nhirecon.yaml"
    path.write_text("\n".join([*lines, ""]), encoding="utf-8")
    return path


def connector(
    folder: Path, github: FakeGitHub, records: str = "members", options: str = ""
) -> GithubConnector:
    target = TARGETS.get(records, f"records: {records}")
    path = write_config(folder, github, {records: target}, options)
    opened = config.load(path).targets[0].endpoint.open()
    assert isinstance(opened, GithubConnector)
    return opened


def pull(
    folder: Path, github: FakeGitHub, records: str = "members", options: str = ""
) -> dict[str, Record]:
    return {
        record.label: record for record in connector(folder, github, records, options).records()
    }


# --- members, their roles and their SAML identities ------------------------------------


def test_members_are_read_across_pages_with_role_and_saml_identity(
    github: FakeGitHub, tmp_path: Path
) -> None:
    records = pull(tmp_path, github)
    assert list(records) == [
        "alice-dev",
        "bob-gh",
        "carol-codes",
        "dave-x",
        "erin-ops",
        "frank-temp",
    ]
    pages = listing_requests(github, f"/orgs/{ORG}/members")
    assert [(seen.query["role"], seen.query.get("page", "1")) for seen in pages] == [
        ("admin", "1"),
        ("all", "1"),
        ("all", "2"),
        ("all", "3"),
    ]
    assert {seen.query["per_page"] for seen in pages} == {"2"}
    assert [seen.path for seen in pages[2:]] == [f"/organizations/{ORG_ID}/members"] * 2
    graphql = [seen for seen in github.requests if seen.path == "/graphql"]
    assert [seen.body["variables"]["first"] for seen in graphql] == [2, 2, 2]
    assert graphql[0].body["variables"]["after"] is None
    alice, carol, dave = records["alice-dev"], records["carol-codes"], records["dave-x"]
    assert (alice.id, alice.email, alice.origin) == ("1001", "alice@corp.example", Origin.SCIM)
    assert carol.email == "carol@corp.example"  # from samlIdentity.emails: the nameId is opaque
    assert (dave.email, dave.origin) == (None, Origin.UNKNOWN)  # no identity linked
    assert records["bob-gh"].origin is Origin.UNKNOWN  # SAML only: nothing says who added him
    for seen in github.requests:
        assert seen.headers["authorization"] == f"Bearer {TOKEN}"
        assert seen.headers["accept"] == "application/vnd.github+json"
        assert seen.headers["x-github-api-version"] == "2022-11-28"


def test_role_and_identity_fields_can_be_mapped(github: FakeGitHub, tmp_path: Path) -> None:
    options = (
        "map: {title: nhirecon.role, external_id: nhirecon.external_identity.samlIdentity.nameId}"
    )
    records = pull(tmp_path, github, options=options)
    assert {label: record.title for label, record in records.items()} == {
        "alice-dev": "admin",
        "bob-gh": "member",
        "carol-codes": "member",
        "dave-x": "member",
        "erin-ops": "admin",
        "frank-temp": "member",
    }
    assert records["carol-codes"].external_id == "00u1carol0000000003"


def test_without_a_saml_provider_the_pull_fails_and_says_what_to_do(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.saml = False
    with pytest.raises(ConnectorError, match=r"no SAML identity provider.*saml_identities: false"):
        pull(tmp_path, github)
    records = pull(tmp_path, github, options="saml_identities: false")
    assert len(records) == 6 and all(record.email is None for record in records.values())


def test_graphql_errors_fail_the_pull(github: FakeGitHub, tmp_path: Path) -> None:
    errors = [
        {
            "type": "FORBIDDEN",
            "path": ["organization", "samlIdentityProvider"],
            "message": "Resource not accessible by integration",
        }
    ]
    github.faults.append(
        Fault(
            lambda seen: seen.path == "/graphql",
            200,
            {"data": {"organization": None}, "errors": errors},
        )
    )
    with pytest.raises(
        ConnectorError,
        match=r"POST .*/graphql: HTTP 200 OK: GitHub says: GraphQL errors: FORBIDDEN: Resource not",
    ):
        pull(tmp_path, github)


def test_a_graphql_rate_limit_waits_until_the_reset(github: FakeGitHub, tmp_path: Path) -> None:
    reset = int(time.time()) + 40
    limited = {
        "errors": [
            {
                "type": "RATE_LIMITED",
                "message": "API rate limit exceeded for installation ID 41999.",
            }
        ]
    }
    headers = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", str(reset))]
    github.faults.append(Fault(lambda seen: seen.path == "/graphql", 200, limited, headers))
    opened = connector(tmp_path, github)
    waits: list[float] = []
    opened.transport.sleep = waits.append
    assert len(list(opened.records())) == 6
    assert len(waits) == 1 and 35 <= waits[0] <= 40


def test_outside_collaborators(github: FakeGitHub, tmp_path: Path) -> None:
    records = pull(tmp_path, github, "outside_collaborators")
    gina = records["gina-ext"]
    assert (gina.id, gina.email, gina.location) == ("2001", None, f"{github.url}/users/gina-ext")
    assert not any(seen.path == "/graphql" for seen in github.requests)


def test_pending_invitations(github: FakeGitHub, tmp_path: Path) -> None:
    opened = connector(tmp_path, github, "invitations")
    records = {record.id: record for record in opened.records()}
    hire, friend = records["7001"], records["7002"]
    assert (hire.username, hire.email, hire.origin) == (None, "new.hire@corp.example", Origin.SCIM)
    assert (friend.username, friend.origin) == ("old-friend", Origin.MANUAL)  # sent by a person
    assert (
        friend.created_at is not None
        and friend.created_at.isoformat() == "2026-03-02T18:00:00+00:00"
    )
    assert friend.last_login_at is None
    assert opened.coverage is not None and "last_login_at" in opened.coverage.provided


# --- credentials ---------------------------------------------------------------------------


def test_fine_grained_token_grants(github: FakeGitHub, tmp_path: Path) -> None:
    opened = connector(tmp_path, github, "credentials", "credential_types: [fine_grained_pats]")
    records = {record.label: record for record in opened.records()}
    assert list(records) == ["ci-release-token", "old-laptop", "never-used"]
    old = records["old-laptop"]
    assert (old.id, old.kind, old.owner, old.credential_id) == (
        "fine_grained_pat/25382",
        "api_key",
        "bob-gh",
        "github-pat:98717",
    )
    assert old.active is True  # the grant stands until revoked; the token may be regenerated
    assert old.expires_at is not None and old.expires_at.isoformat() == "2026-09-01T17:00:00+00:00"
    assert (
        old.last_login_at is not None
        and old.last_login_at.isoformat() == "2026-08-15T23:20:00+00:00"
    )
    assert old.created_at is not None and old.created_at.isoformat() == "2025-09-01T17:00:00+00:00"
    never = records["never-used"]
    assert (never.expires_at, never.last_login_at, never.credential_rotated_at) == (
        None,
        None,
        None,
    )
    assert opened.coverage is not None and "last_login_at" in opened.coverage.provided
    assert {seen.path for seen in github.requests} == {
        f"/orgs/{ORG}/personal-access-tokens",
        f"/organizations/{ORG_ID}/personal-access-tokens",
    }


def test_an_expired_token_without_an_expiry_date_is_refused(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.pats[2]["token_expired"] = True
    with pytest.raises(DataError, match="personal-access-tokens/25383: token_expired is true"):
        pull(tmp_path, github, "credentials", "credential_types: [fine_grained_pats]")


def test_deploy_keys_of_every_repository(github: FakeGitHub, tmp_path: Path) -> None:
    records = pull(tmp_path, github, "credentials", "credential_types: [deploy_keys]")
    assert {label: record.credential_id for label, record in records.items()} == FINGERPRINTS
    legacy, docs = records["legacy-ci"], records["docs-bot"]
    assert legacy.id == "deploy_key/acme-corp/web/302"
    assert legacy.location == f"{github.url}/repos/{ORG}/web/keys/302"
    assert (legacy.owner, legacy.kind, legacy.active) == ("bob-gh", "api_key", True)
    assert legacy.credential_rotated_at == legacy.created_at  # a deploy key cannot be changed
    assert docs.active is False  # disabled by the organisation's deploy key policy
    keys = [seen.path for seen in github.requests if seen.path.endswith("/keys")]
    assert keys == [f"/repos/{ORG}/web/keys", f"/repos/{ORG}/api/keys", f"/repos/{ORG}/docs/keys"]
    repos = listing_requests(github, f"/orgs/{ORG}/repos")
    assert [seen.query.get("page", "1") for seen in repos] == ["1", "2"]
    assert {seen.query["type"] for seen in repos} == {"all"}


def test_a_key_that_is_not_an_openssh_public_key_is_refused(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.keys["web"][0]["key"] = "ssh-rsa AAA..."
    with pytest.raises(DataError, match=r"keys/301: `key` is not an OpenSSH public key"):
        pull(tmp_path, github, "credentials", "credential_types: [deploy_keys]")


def test_app_installations(github: FakeGitHub, tmp_path: Path) -> None:
    records = pull(tmp_path, github, "credentials", "credential_types: [app_installations]")
    assert {label: (record.kind, record.active) for label, record in records.items()} == {
        "renovate": ("bot", True),
        "sketchy-app": ("bot", True),
        "old-ci-app": ("bot", False),  # suspended
    }
    assert records["renovate"].created_at is None  # no use is known: not "never used"


def test_installations_beside_keys_never_read_as_unused(
    github: FakeGitHub, tmp_path: Path, run: Run
) -> None:
    github.keys = {"web": [], "api": [], "docs": []}  # no key: no record says when it was used
    body = f"records: credentials\ncredential_types: [deploy_keys, app_installations]{BY_NAME}"
    write_config(tmp_path, github, {"credentials": body})
    result = run("audit", "--now", NOW, "--no-history", "-f", "json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert findings_of(report) == {("orphan", "github-credentials", "sketchy-app")}


def test_a_deploy_key_without_last_used_never_reads_as_never_used(
    github: FakeGitHub, tmp_path: Path, run: Run
) -> None:
    """GitHub Enterprise Server releases without ``last_used`` leave the key out: its use is
    unknown, not "never", though a token grant beside it makes ``dormant`` evaluated."""
    del github.keys["web"][1]["last_used"]  # legacy-ci, added in 2024
    body = f"records: credentials\ncredential_types: [deploy_keys, fine_grained_pats]{BY_NAME}"
    write_config(tmp_path, github, {"credentials": body})
    result = run("audit", "--now", NOW, "--no-history", "-f", "json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    found = findings_of(json.loads(result.stdout))
    assert ("dormant", "github-credentials", "never-used") in found  # a grant: null is never
    assert ("stale-credential", "github-credentials", "legacy-ci") in found  # its age is known
    assert ("dormant", "github-credentials", "legacy-ci") not in found
    records = pull(tmp_path, github, "credentials", "credential_types: [deploy_keys]")
    assert records["legacy-ci"].created_at is None
    assert records["legacy-ci"].credential_rotated_at == datetime(2024, 1, 10, 9, 30, tzinfo=UTC)


def test_an_enterprise_server_without_last_used_is_read_whole(
    github: FakeGitHub, tmp_path: Path, run: Run
) -> None:
    """No key says ``last_used`` (nor is there a token grant or an installation): the
    pull is read, and no key is dormant, rather than the default path failing it."""
    for keys in github.keys.values():
        for key in keys:
            del key["last_used"]
    github.pats.clear()
    github.installations.clear()
    write_config(tmp_path, github, {"credentials": f"records: credentials{BY_NAME}"})
    result = run("audit", "--now", NOW, "--no-history", "-f", "json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    found = findings_of(json.loads(result.stdout))
    assert ("stale-credential", "github-credentials", "legacy-ci") in found
    assert not {kind for kind, _, _ in found} & {"dormant"}


def test_an_installation_count_that_differs_from_what_was_read_fails(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.total_count = 4
    with pytest.raises(ConnectorError, match="total_count says 4 but 3 were read"):
        pull(tmp_path, github, "credentials", "credential_types: [app_installations]")


# --- complete listings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rewrite", "message"),
    [
        (
            lambda links: [(n, v.replace("127.0.0.1", "api.attacker.example")) for n, v in links],
            r"points elsewhere \(http://api\.attacker\.example.*refusing to send the token there",
        ),
        (
            lambda links: [(n, v.replace("page=3", "page=2")) for n, v in links],
            r"leads back to a page already read",
        ),
        (
            lambda links: [("Link", '<no closing bracket; rel="next"')],
            r"Link header cannot be read",
        ),
    ],
    ids=["other host", "loop", "malformed"],
)
def test_a_next_link_that_cannot_be_followed_fails_the_pull(
    github: FakeGitHub,
    tmp_path: Path,
    rewrite: Callable[[list[tuple[str, str]]], list[tuple[str, str]]],
    message: str,
) -> None:
    github.links = lambda seen, links: rewrite(links) if seen.query.get("page") == "2" else links
    with pytest.raises(ConnectorError, match=message):
        pull(tmp_path, github, options="saml_identities: false")
    assert not any("attacker" in seen.path for seen in github.requests)


def test_an_empty_page_that_points_further_fails_the_pull(
    github: FakeGitHub, tmp_path: Path
) -> None:
    following = (
        f'<{github.url}/organizations/{ORG_ID}/members?role=all&per_page=2&page=3>; rel="next"'
    )
    github.faults.append(Fault(is_page(f"/orgs/{ORG}/members", 2), 200, [], [("Link", following)]))
    with pytest.raises(ConnectorError, match="an empty page still points to a next one"):
        pull(tmp_path, github, options="saml_identities: false")


def test_a_page_larger_than_asked_fails_the_pull(github: FakeGitHub, tmp_path: Path) -> None:
    github.faults.append(
        Fault(lambda seen: seen.query.get("role") == "all", 200, github.members[:3])
    )
    with pytest.raises(ConnectorError, match="3 records on a page of at most 2"):
        pull(tmp_path, github, options="saml_identities: false")


def test_a_member_read_twice_fails_the_pull(github: FakeGitHub, tmp_path: Path) -> None:
    github.members.insert(3, github.members[0])
    with pytest.raises(DataError, match="id '1001' already read"):
        pull(tmp_path, github, options="saml_identities: false")


# --- rate limits, retries, errors ----------------------------------------------------------


def test_a_403_with_no_requests_left_waits_until_the_reset(
    github: FakeGitHub, tmp_path: Path
) -> None:
    reset = int(time.time()) + 30
    headers = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", str(reset))]
    github.faults.append(
        Fault(is_page(f"/orgs/{ORG}/members", 2), 403, load("error-403-rate-limit.json"), headers)
    )
    opened = connector(tmp_path, github)
    waits: list[float] = []
    opened.transport.sleep = waits.append  # no test sleeps as long as GitHub asks
    assert len(list(opened.records())) == 6
    assert len(waits) == 1 and 25 <= waits[0] <= 30
    assert sum(1 for seen in github.requests if is_page(f"/orgs/{ORG}/members", 2)(seen)) == 2


@pytest.mark.parametrize(
    ("headers", "wait"), [([], 60.0), ([("retry-after", "7")], 7.0)], ids=["silent", "retry-after"]
)
def test_a_secondary_rate_limit_waits(
    github: FakeGitHub, tmp_path: Path, headers: list[tuple[str, str]], wait: float
) -> None:
    body = load("error-403-secondary-rate-limit.json")
    github.faults.append(
        Fault(
            is_page(f"/orgs/{ORG}/members", 1),
            403,
            body,
            [("x-ratelimit-remaining", "4990"), *headers],
        )
    )
    opened = connector(tmp_path, github, options="saml_identities: false")
    waits: list[float] = []
    opened.transport.sleep = waits.append
    assert len(list(opened.records())) == 6
    assert waits == [wait]


def test_a_refusal_with_rate_limit_headers_is_not_waited_on(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.faults.append(
        Fault(
            lambda seen: "personal-access-tokens" in seen.path,
            403,
            load("error-403-forbidden.json"),
            times=-1,
        )
    )
    opened = connector(tmp_path, github, "credentials")
    opened.transport.sleep = lambda seconds: pytest.fail("a refusal must not be waited on")
    with pytest.raises(ConnectorError) as failed:
        list(opened.records())
    assert "HTTP 403 Forbidden: GitHub says: Resource not accessible by integration" in str(
        failed.value
    )
    assert 'a GitHub App\'s, with "Personal access tokens" (read)' in str(failed.value)


def test_a_token_not_authorized_for_saml_sso_says_so(github: FakeGitHub, tmp_path: Path) -> None:
    body = {
        "message": "Resource protected by organization SAML enforcement. You must grant your"
        " Personal Access token access to this organization.",
        "documentation_url": "https://docs.github.com/articles/"
        "authenticating-to-a-github-organization-with-saml-single-sign-on/",
        "status": "403",
    }
    sso = (
        "X-GitHub-SSO",
        f"required; url=https://github.com/orgs/{ORG}/sso?authorization_request=AZ",
    )
    github.faults.append(Fault(lambda seen: seen.method == "GET", 403, body, [sso], times=-1))
    with pytest.raises(ConnectorError, match="not authorized for acme-corp's SAML single sign-on"):
        pull(tmp_path, github, options="saml_identities: false")


def test_bad_credentials_name_github_the_url_and_the_status(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "github_pat_11AAAAAAA0wrongwrongwrongwrongwrong"
    monkeypatch.setenv(TOKEN_ENV, wrong)
    with pytest.raises(ConnectorError) as failed:
        pull(tmp_path, github, options="saml_identities: false")
    message = str(failed.value)
    assert message.startswith(
        f"GET {github.url}/orgs/{ORG}/members?role=admin&per_page=2: HTTP 401 Unauthorized"
    )
    assert "GitHub says: Bad credentials" in message and f"token in {TOKEN_ENV}" in message
    assert wrong not in message and wrong[:12] not in message
    assert len(github.requests) == 1, "a refused token is not retried (nor waited on)"


def test_a_page_that_fails_after_its_retries_fails_the_pull(
    github: FakeGitHub, tmp_path: Path
) -> None:
    github.faults.append(
        Fault(is_page(f"/orgs/{ORG}/members", 2), 502, load("error-502.json"), times=-1)
    )
    opened = connector(tmp_path, github, options="saml_identities: false")
    opened.transport.sleep = lambda seconds: None
    with pytest.raises(ConnectorError) as failed:
        list(opened.records())
    assert "HTTP 502 Bad Gateway: GitHub says: Server Error (after 3 attempts)" in str(failed.value)


def test_a_token_echoed_in_an_error_is_scrubbed(github: FakeGitHub, tmp_path: Path) -> None:
    body = {"message": f"Bad credentials for Bearer {TOKEN}", "status": "401"}
    github.faults.append(Fault(lambda seen: True, 401, body, times=-1))
    with pytest.raises(ConnectorError) as failed:
        pull(tmp_path, github, options="saml_identities: false")
    assert TOKEN not in str(failed.value) and TOKEN[:10] not in str(failed.value)
    assert "[redacted]" in str(failed.value)


def test_a_listing_past_max_records_fails_the_pull(github: FakeGitHub, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"more than max_records \(5\) members"):
        pull(tmp_path, github, options="saml_identities: false\nmax_records: 5")


# --- options -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("org: acme/../../users", "org: expected an organisation login"),
        ("credential_types: [deploy_keys]", "credential_types: only with records: credentials"),
        ("page_size: 101", "page_size: must be 1 to 100"),
        ("api_url: http://github.example.com", "plain http is refused"),
        ("records: teams", "records: expected 'members' | 'outside_collaborators'"),
    ],
    ids=["org", "types", "page", "http", "records"],
)
def test_options_are_checked_when_the_config_is_read(
    github: FakeGitHub, tmp_path: Path, options: str, message: str
) -> None:
    path = write_config(tmp_path, github, {"members": ""}, options)
    with pytest.raises(ConfigError, match=message):
        config.load(path)


def test_saml_identities_is_for_members_only(github: FakeGitHub, tmp_path: Path) -> None:
    path = write_config(
        tmp_path, github, {"credentials": "records: credentials\nsaml_identities: false"}
    )
    with pytest.raises(ConfigError, match="saml_identities: only with records: members"):
        config.load(path)


def test_a_missing_token_variable_names_the_option(
    github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    loaded = config.load(write_config(tmp_path, github, {"members": ""}))
    with pytest.raises(ConfigError, match=rf"targets\[0\]\.token_env: .*{TOKEN_ENV} is not set"):
        loaded.targets[0].endpoint.open()


def test_enterprise_server_urls() -> None:
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example.com/api/v3") == "https://ghe.example.com/api/graphql"
    ghe = "https://ghe.example.com/api/v3"
    assert same_service("https://ghe.example.com:443/api/v3/organizations/1/members?page=2", ghe)
    assert not same_service("https://ghe.example.com/other/organizations/1/members", ghe)
    assert not same_service("https://ghe.example.com.evil.example/api/v3/x", ghe)
    assert not same_service("http://ghe.example.com/api/v3/x", ghe)


def test_github_is_a_built_in_connector() -> None:
    assert registry.lookup("github") is GithubConnector
    assert {"org", "token_env", "records", "api_url", "credential_types"} <= set(
        GithubConnector.options()
    )


# --- end to end, through the installed command ---------------------------------------------


def findings_of(report: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {
        (f["kind"], f["target"], f["account"]["username"] or f["account"]["id"])
        for f in report["findings"]
    }


EXPECTED = {
    ("leaver", "github-members", "bob-gh"),
    ("orphan", "github-members", "dave-x"),  # no SAML identity: nobody to link him to
    ("orphan", "github-members", "frank-temp"),  # a SAML identity unknown to HR
    ("orphan", "github-outside", "gina-ext"),
    ("orphan", "github-invitations", "old-friend"),
    ("dormant", "github-invitations", "old-friend"),  # pending since March
    ("orphan", "github-credentials", "old-laptop"),
    ("expired", "github-credentials", "old-laptop"),
    ("dormant", "github-credentials", "old-laptop"),  # last used 2026-08-15
    ("orphan", "github-credentials", "never-used"),
    ("dormant", "github-credentials", "never-used"),  # never used since granted in March
    ("orphan", "github-credentials", "legacy-ci"),
    ("stale-credential", "github-credentials", "legacy-ci"),  # a deploy key from 2024
    ("orphan", "github-credentials", "sketchy-app"),
}


def test_an_audit_of_a_github_org_finds_what_drifted(
    github: FakeGitHub, tmp_path: Path, run: Run
) -> None:
    write_config(tmp_path, github, TARGETS)
    result = run("audit", "--now", NOW, "--no-history", "-f", "json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert findings_of(report) == EXPECTED
    remedies = {
        (f["account"]["username"], f["remediation"], f["remediation_reason"])
        for f in report["findings"]
        if f["target"] == "github-members"
    }
    assert remedies == {
        (login, "manual", "disable by hand: the github connector cannot write")
        for login in ("bob-gh", "dave-x", "frank-temp")
    }
    targets = {target["name"]: target for target in report["targets"]}
    assert [targets[name]["accounts"] for name in targets] == [6, 1, 2, 9]
    assert targets["github-members"]["linked"] == 4  # alice, bob, carol (by a SAML email), erin
    assert any(item["rule"] == "dormant" for item in targets["github-members"]["not_evaluated"])
    assert not any(
        item["rule"] == "dormant" for item in targets["github-credentials"]["not_evaluated"]
    )
    assert TOKEN not in result.stdout + result.stderr


def test_an_audit_with_a_bad_token_fails_with_exit_3(
    github: FakeGitHub, tmp_path: Path, run: Run
) -> None:
    write_config(tmp_path, github, {"members": TARGETS["members"]})
    wrong = "github_pat_11ABCDEF0expired0token0value0000"
    result = run("audit", "--now", NOW, "--no-history", "-o", "report.json", env={TOKEN_ENV: wrong})
    assert result.returncode == 3, result.stderr
    assert f"{github.url}/graphql" in result.stderr
    assert "HTTP 401 Unauthorized: GitHub says: Bad credentials" in result.stderr
    assert wrong not in result.stdout + result.stderr and wrong[:14] not in result.stderr
    assert not (tmp_path / "report.json").exists()


def test_a_page_failing_after_retries_leaves_no_report(
    github: FakeGitHub, tmp_path: Path, run: Run
) -> None:
    github.faults.append(
        Fault(
            is_page(f"/orgs/{ORG}/personal-access-tokens", 2), 503, load("error-502.json"), times=-1
        )
    )
    write_config(tmp_path, github, TARGETS)
    result = run("audit", "--now", NOW, "--no-history", "-o", "report.json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 3, result.stderr
    assert "personal-access-tokens" in result.stderr and "HTTP 503" in result.stderr
    assert "(after 3 attempts)" in result.stderr
    assert not (tmp_path / "report.json").exists() and result.stdout == ""


def test_validate_connect_counts_the_records(github: FakeGitHub, tmp_path: Path, run: Run) -> None:
    write_config(tmp_path, github, TARGETS)
    result = run("validate", "--connect", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    for index, (name, count) in enumerate(
        [("members", 6), ("outside", 1), ("invitations", 2), ("credentials", 9)]
    ):
        noun = "record" if count == 1 else "records"
        assert f"targets[{index}] github-{name} (github): {count} {noun}\n" in result.stdout
    assert "source hr (csv): 8 records" in result.stdout


def test_the_example_config_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    example = ROOT / "examples" / "github"
    monkeypatch.setenv("GITHUB_ORG_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_APP_TOKEN", TOKEN)
    loaded = config.load(example / "nhirecon.yaml")
    opened = [target.endpoint.open() for target in loaded.targets]
    assert all(isinstance(item, GithubConnector) for item in opened)
    assert {item.reading for item in opened if isinstance(item, GithubConnector)} == {
        "members",
        "credentials",
    }
    sample = json.loads((example / "personal-access-tokens.json").read_text("utf-8"))
    assert set(sample[0]) == set(load("personal-access-tokens.json")[0])
