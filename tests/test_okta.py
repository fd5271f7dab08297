"""The ``okta`` connector against a local stand-in for Okta's Users API.

Okta cannot run here, so a small ``http.server`` on 127.0.0.1 serves the org in
``tests/data/okta/org-users.json`` the way Okta documents it (see that folder's README):
``GET /api/v1/users`` paged by ``limit`` and ``after`` with ``Link: <…>; rel="next"``, the
plain listing without ``DEPROVISIONED`` users, ``filter=status eq "DEPROVISIONED"`` with
only them, ``SSWS`` tokens, ``X-Rate-Limit-*`` headers, and Okta's error objects. Faults
(429, 5xx, bad links, pages that lie) are injected per request.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from nhirecon import config
from nhirecon.connectors import registry
from nhirecon.connectors.okta import OktaConnector
from nhirecon.core.model import Origin, Record
from nhirecon.errors import ConfigError, ConnectorError, DataError

from .conftest import DATA, NOW, Run

OKTA = DATA / "okta"
TOKEN = "00QCjAl4MlV-WPXM-t0k3n-9f8e7d6c5b4a"
"""The API token the stand-in accepts; tests check it never shows up anywhere."""
TOKEN_ENV = "NHIRECON_TEST_OKTA_TOKEN"
ACCESS_TOKEN = "eyJraWQiOiJ0ZXN0In0.access-7b1c2d3e4f"
ACCESS_ENV = "NHIRECON_TEST_OKTA_ACCESS"
CLIENT_ID = "0oa1service0app00001"
CLIENT_SECRET = "s3cr3t-client-value-1234"
SECRET_ENV = "NHIRECON_TEST_OKTA_SECRET"
USERS = "/api/v1/users"
DEPROVISIONED = 'status eq "DEPROVISIONED"'


def org() -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = json.loads((OKTA / "org-users.json").read_text("utf-8"))
    return users


def error_body(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((OKTA / f"error-{name}.json").read_text("utf-8"))
    return body


# --- the stand-in --------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    authorization: str | None


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
class FakeOkta:
    users: list[dict[str, Any]]
    url: str = ""
    requests: list[Seen] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    trailing_empty: bool = False
    """Send a next link after a full last page too (to an empty page), as some pagers do."""
    ignore_filter: bool = False
    links: Callable[[str, list[tuple[str, str]]], list[tuple[str, str]]] | None = None
    """Rewrites the Link headers of a listing page (``self.url``-relative path, links)."""

    def __post_init__(self) -> None:
        self.users = sorted(self.users, key=lambda user: str(user["id"]))
        self.lock = threading.Lock()

    def listing(self, seen: Seen) -> tuple[int, Any, list[tuple[str, str]]]:
        wanted = seen.query.get("filter")
        if self.ignore_filter:
            pool = self.users
        elif wanted is None:
            pool = [user for user in self.users if user["status"] != "DEPROVISIONED"]
        elif wanted == DEPROVISIONED:
            pool = [user for user in self.users if user["status"] == "DEPROVISIONED"]
        else:
            return 400, {"errorCode": "E0000031", "errorSummary": "Invalid search criteria."}, []
        limit = int(seen.query.get("limit", "200"))
        after = seen.query.get("after")
        start = 0
        if after is not None:
            start = next((i + 1 for i, user in enumerate(pool) if user["id"] == after), len(pool))
        page = pool[start : start + limit]
        query = {key: value for key, value in seen.query.items() if key != "after"}
        headers = [("Link", f'<{self.url}{USERS}?{urlencode(seen.query)}>; rel="self"')]
        more = start + limit < len(pool) or (self.trailing_empty and page and len(page) == limit)
        if more and page:
            following = urlencode({"after": page[-1]["id"], **query})
            headers.append(("Link", f'<{self.url}{USERS}?{following}>; rel="next"'))
        if self.links is not None:
            headers = self.links(f"{seen.path}?{urlencode(seen.query)}", headers)
        return 200, page, headers

    def token(self, body: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {basic}" or body.get("grant_type") != "client_credentials":
            return 401, {"error": "invalid_client", "error_description": "bad client"}
        return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": ACCESS_TOKEN}


def handler_for(okta: FakeOkta) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Rate-Limit-Limit", "600")
            if not any(name.casefold() == "x-rate-limit-remaining" for name, _ in headers):
                self.send_header("X-Rate-Limit-Remaining", "599")
                self.send_header("X-Rate-Limit-Reset", str(int(time.time()) + 60))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def seen(self, method: str) -> Seen:
            parts = urlsplit(self.path)
            seen = Seen(
                method, parts.path, dict(parse_qsl(parts.query)), self.headers["Authorization"]
            )
            with okta.lock:
                okta.requests.append(seen)
                for fault in okta.faults:
                    if fault.times != 0 and fault.when(seen):
                        fault.times -= 1
                        self.answer(fault.status, fault.body, fault.headers)
                        return seen
            seen.method = ""  # not answered yet
            return seen

        def do_GET(self) -> None:
            seen = self.seen("GET")
            if not seen.method:
                seen.method = "GET"
                if seen.authorization not in (f"SSWS {TOKEN}", f"Bearer {ACCESS_TOKEN}"):
                    self.answer(401, error_body("401-invalid-token"), [])
                elif seen.path != USERS:
                    self.answer(404, {"errorCode": "E0000007", "errorSummary": "Not found"}, [])
                else:
                    self.answer(*okta.listing(seen))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            seen = self.seen("POST")
            if not seen.method:
                seen.method = "POST"
                self.answer(*okta.token(form, seen.authorization), [])

    return Handler


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    fake = FakeOkta(org())
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
    monkeypatch.setenv(ACCESS_ENV, ACCESS_TOKEN)
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)


def listing_requests(okta: FakeOkta) -> list[Seen]:
    return [seen for seen in okta.requests if seen.path == USERS]


def is_page(after: str | None = None, *, deprovisioned: bool = False) -> Callable[[Seen], bool]:
    def matches(seen: Seen) -> bool:
        return (
            seen.path == USERS
            and seen.query.get("after") == after
            and (seen.query.get("filter") == DEPROVISIONED) == deprovisioned
        )

    return matches


def write_config(
    folder: Path, okta: FakeOkta, options: str = "", *, credentials: str | None = None
) -> Path:
    (folder / "hr.csv").write_bytes((OKTA / "hr.csv").read_bytes())
    lines = [f"    {line}" for line in (credentials or f"token_env: {TOKEN_ENV}").splitlines()]
    extra = [f"    {line}" for line in options.splitlines() if line.strip()]
    defaults = [
        f"    {line}"
        for line in ("page_size: 3", "retries: 2", "backoff: 0.01")
        if line.split(":")[0] not in options
    ]
    text = "\n".join(
        [
            "version: 1",
            "source:",
            "  name: hr",
            "  connector: csv",
            "  path: hr.csv",
            "  map: {id: employee_id, email: email, display_name: full_name,",
            "        status: employment_status, department: department}",
            "targets:",
            "  - name: okta",
            "    connector: okta",
            f"    url: {okta.url}",
            *lines,
            *defaults,
            *extra,
            "    correlate: [{account: email, identity: email}]",
            "",
        ]
    )
    path = folder / "nhirecon.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def connector(folder: Path, okta: FakeOkta, options: str = "", **kw: Any) -> OktaConnector:
    opened = config.load(write_config(folder, okta, options, **kw)).targets[0].endpoint.open()
    assert isinstance(opened, OktaConnector)
    return opened


def pull(folder: Path, okta: FakeOkta, options: str = "", **kw: Any) -> dict[str, Record]:
    records = list(connector(folder, okta, options, **kw).records())
    return {record.username or record.id: record for record in records}


def by_login(records: dict[str, Record], login: str) -> Record:
    return records[f"{login}@corp.example" if "@" not in login else login]


# --- paging and completeness ---------------------------------------------------------------


def test_every_user_is_read_across_pages_deprovisioned_included(
    okta: FakeOkta, tmp_path: Path
) -> None:
    records = pull(tmp_path, okta)
    assert sorted(record.id for record in records.values()) == sorted(u["id"] for u in org())
    pages = listing_requests(okta)
    assert [seen.query.get("filter") for seen in pages] == [DEPROVISIONED] + [None] * 4
    assert [seen.query.get("after") for seen in pages[1:]] == [
        None,
        "00u1ca7o100000000003",
        "00u1g1na000000000007",
        "00u1k1m0000000000011",
    ]
    assert {seen.query["limit"] for seen in pages} == {"3"}
    assert {seen.authorization for seen in pages} == {f"SSWS {TOKEN}"}


def test_a_next_link_to_an_empty_last_page_ends_the_listing(okta: FakeOkta, tmp_path: Path) -> None:
    okta.trailing_empty = True
    records = pull(tmp_path, okta, "page_size: 2")
    assert len(records) == len(org())
    assert len(listing_requests(okta)) == 1 + 1 + 5 + 1  # empty deprovisioned tail, then 5+1


@pytest.mark.parametrize(
    ("rewrite", "message"),
    [
        (
            lambda links: [(n, v.replace("127.0.0.1", "okta.attacker.example")) for n, v in links],
            r"points elsewhere \(http://okta\.attacker\.example.*refusing to send the credentials",
        ),
        (
            lambda links: [(n, v.replace("/api/v1/users?", "/api/v1/groups?")) for n, v in links],
            r"points elsewhere .*/api/v1/groups",
        ),
        (
            lambda links: [(n, v.replace("after=00u1ca7o100000000003&", "")) for n, v in links],
            r"leads back to a page already read",
        ),
        (
            lambda links: [("Link", '<no closing bracket; rel="next"')],
            r"Link header cannot be read",
        ),
        (
            lambda links: [*links, ("Link", '</api/v1/users?after=zzz&limit=3>; rel="next"')],
            r"Link header cannot be read \(2 different rel=\"next\" links\)",
        ),
    ],
    ids=["other host", "other path", "loop", "malformed", "two next links"],
)
def test_a_next_link_that_cannot_be_followed_fails_the_pull(
    okta: FakeOkta,
    tmp_path: Path,
    rewrite: Callable[[list[tuple[str, str]]], list[tuple[str, str]]],
    message: str,
) -> None:
    okta.links = lambda where, links: rewrite(links) if "filter" not in where else links
    with pytest.raises(ConnectorError, match=message):
        pull(tmp_path, okta)
    assert all(seen.path == USERS for seen in okta.requests)


def test_an_empty_page_that_points_further_fails_the_pull(okta: FakeOkta, tmp_path: Path) -> None:
    okta.faults.append(
        Fault(
            is_page("00u1ca7o100000000003"),
            200,
            [],
            [("Link", f'<{okta.url}{USERS}?after=00u1dave000000000004&limit=3>; rel="next"')],
        )
    )
    with pytest.raises(ConnectorError, match="an empty page still points to a next one"):
        pull(tmp_path, okta)


def test_a_page_larger_than_asked_fails_the_pull(okta: FakeOkta, tmp_path: Path) -> None:
    okta.faults.append(Fault(is_page(), 200, org()[:4]))
    with pytest.raises(ConnectorError, match="holds 4 users, more than the 3 asked for"):
        pull(tmp_path, okta)


def test_a_deprovisioned_listing_that_ignored_its_filter_fails_the_pull(
    okta: FakeOkta, tmp_path: Path
) -> None:
    okta.ignore_filter = True
    with pytest.raises(ConnectorError, match="Okta ignored or misapplied the filter"):
        pull(tmp_path, okta)


def test_a_user_that_changed_status_during_the_pull_fails_it(
    okta: FakeOkta, tmp_path: Path
) -> None:
    reactivated = {**org()[4], "status": "ACTIVE"}  # erin, deprovisioned, then reactivated
    okta.faults.append(Fault(is_page(), 200, [org()[0], reactivated]))
    with pytest.raises(ConnectorError, match=r"user '00u1er1n000000000005' came twice"):
        pull(tmp_path, okta)


def test_a_user_twice_in_one_listing_fails_the_pull(okta: FakeOkta, tmp_path: Path) -> None:
    okta.faults.append(Fault(is_page(), 200, [org()[0], org()[0]]))
    with pytest.raises(ConnectorError, match=r"came twice \(in the users that are not depro"):
        pull(tmp_path, okta)


def test_a_listing_past_max_records_fails_the_pull(okta: FakeOkta, tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match=r"goes past max_records \(5\)"):
        pull(tmp_path, okta, "max_records: 5")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"errorCode": "E0000001"}, "not a JSON array of users"),
        ([{"status": "ACTIVE"}], "item 0 is not a user with an id"),
        (b"<html>", "the answer is not JSON"),
    ],
    ids=["object", "no id", "html"],
)
def test_a_page_that_is_not_users_fails_the_pull(
    okta: FakeOkta, tmp_path: Path, body: Any, message: str
) -> None:
    okta.faults.append(Fault(is_page(deprovisioned=True), 200, body))
    with pytest.raises(ConnectorError, match=message):
        pull(tmp_path, okta)


# --- rate limits, retries, errors ----------------------------------------------------------


def test_a_429_waits_until_x_rate_limit_reset_then_goes_on(okta: FakeOkta, tmp_path: Path) -> None:
    reset = int(time.time()) + 30
    headers = [("X-Rate-Limit-Remaining", "0"), ("X-Rate-Limit-Reset", str(reset))]
    okta.faults.append(
        Fault(is_page("00u1ca7o100000000003"), 429, error_body("429-rate-limit"), headers)
    )
    opened = connector(tmp_path, okta)
    waits: list[float] = []
    opened.transport.sleep = waits.append  # no test sleeps as long as Okta asks
    assert len(list(opened.records())) == len(org())
    assert len(waits) == 1 and 25 <= waits[0] <= 30
    statuses = [seen.query.get("after") for seen in listing_requests(okta)]
    assert statuses.count("00u1ca7o100000000003") == 2


def test_a_page_that_fails_after_its_retries_fails_the_pull(okta: FakeOkta, tmp_path: Path) -> None:
    okta.faults.append(
        Fault(is_page("00u1g1na000000000007"), 500, error_body("500-internal"), times=-1)
    )
    opened = connector(tmp_path, okta, "retries: 2")
    opened.transport.sleep = lambda seconds: None
    with pytest.raises(ConnectorError) as failed:
        list(opened.records())
    message = str(failed.value)
    assert f"GET {okta.url}{USERS}?after=00u1g1na000000000007&limit=3" in message
    assert "HTTP 500 Internal Server Error: Okta E0000009 Internal Server Error" in message
    assert message.endswith("(after 3 attempts)")


@pytest.mark.parametrize(
    ("name", "status", "hint"),
    [
        ("401-invalid-token", 401, "invalid, expired or revoked"),
        ("403-forbidden", 403, "okta.users.read"),
    ],
)
def test_an_auth_failure_names_okta_the_url_and_the_status(
    okta: FakeOkta, tmp_path: Path, name: str, status: int, hint: str
) -> None:
    okta.faults.append(Fault(lambda seen: seen.path == USERS, status, error_body(name), times=-1))
    with pytest.raises(ConnectorError) as failed:
        pull(tmp_path, okta)
    message = str(failed.value)
    assert message.startswith(f"GET {okta.url}{USERS}?limit=3&filter=status+eq")
    assert f"HTTP {status}" in message and f"Okta {error_body(name)['errorCode']}" in message
    assert hint in message
    assert len(listing_requests(okta)) == 1, "an auth failure is not retried"


def test_a_token_echoed_in_an_error_is_scrubbed(okta: FakeOkta, tmp_path: Path) -> None:
    body = {**error_body("401-invalid-token"), "errorSummary": f"Invalid token: SSWS {TOKEN}"}
    okta.faults.append(Fault(lambda seen: True, 401, body, times=-1))
    with pytest.raises(ConnectorError) as failed:
        pull(tmp_path, okta)
    assert TOKEN not in str(failed.value) and TOKEN[:8] not in str(failed.value)
    assert "[redacted]" in str(failed.value)


# --- the fields of a user ------------------------------------------------------------------

STATUS_ACTIVE = {
    "STAGED": True,
    "PROVISIONED": True,
    "ACTIVE": True,
    "RECOVERY": True,
    "PASSWORD_EXPIRED": True,
    "LOCKED_OUT": True,
    "SUSPENDED": False,
    "DEPROVISIONED": False,
}


def test_every_okta_status_maps_to_active_or_not(okta: FakeOkta, tmp_path: Path) -> None:
    records = pull(tmp_path, okta).values()
    found = {record.status: record.active for record in records}
    assert found == STATUS_ACTIVE


def test_active_values_can_override_a_status(okta: FakeOkta, tmp_path: Path) -> None:
    records = pull(tmp_path, okta, "active_values: {inactive: [STAGED]}")
    assert by_login(records, "dave").active is False
    assert by_login(records, "alice").active is True


def test_a_status_okta_does_not_document_is_an_error_naming_the_user(
    okta: FakeOkta, tmp_path: Path
) -> None:
    okta.users[0]["status"] = "ON_HOLD"
    with pytest.raises(DataError, match=r"/api/v1/users/00u1a1ice00000000001: active.*'ON_HOLD'"):
        pull(tmp_path, okta)


def test_fields_are_read_from_the_user_object(okta: FakeOkta, tmp_path: Path) -> None:
    alice = by_login(pull(tmp_path, okta), "alice")
    assert alice.id == "00u1a1ice00000000001"
    assert alice.location == f"{okta.url}{USERS}/00u1a1ice00000000001"
    assert (alice.email, alice.external_id) == ("alice@corp.example", "E1001")
    assert (alice.department, alice.title, alice.manager) == ("Engineering", "Engineer", "Mona Lee")
    assert (
        alice.created_at is not None and alice.created_at.isoformat() == "2024-03-01T09:00:00+00:00"
    )
    assert alice.last_login_at is not None
    assert alice.last_login_at.isoformat() == "2026-11-20T14:05:00+00:00"


def test_a_null_or_absent_last_login_means_never_signed_in(okta: FakeOkta, tmp_path: Path) -> None:
    for user in okta.users:
        user["lastLogin"] = None
    del okta.users[-1]["lastLogin"]
    opened = connector(tmp_path, okta)
    records = list(opened.records())
    assert all(record.last_login_at is None for record in records)
    assert opened.coverage is not None and "last_login_at" in opened.coverage.provided


PROVIDER_ORIGIN = {
    "alice": Origin.UNKNOWN,  # OKTA
    "bob": Origin.SCIM,  # ACTIVE_DIRECTORY
    "frank@partner.example": Origin.JIT,  # FEDERATION
    "hank": Origin.SCIM,  # LDAP
    "kim": Origin.JIT,  # SOCIAL
    "leo": Origin.MANUAL,  # IMPORT
}


def test_origin_comes_from_the_credentials_provider_type(okta: FakeOkta, tmp_path: Path) -> None:
    records = pull(tmp_path, okta)
    assert {login: by_login(records, login).origin for login in PROVIDER_ORIGIN} == PROVIDER_ORIGIN


def test_origin_values_override_the_provider_words(okta: FakeOkta, tmp_path: Path) -> None:
    records = pull(tmp_path, okta, "origin_values: {scim: [FEDERATION], manual: [okta]}")
    assert by_login(records, "frank@partner.example").origin is Origin.SCIM
    assert by_login(records, "alice").origin is Origin.MANUAL
    assert by_login(records, "kim").origin is Origin.JIT


def test_an_unknown_provider_type_is_an_error_naming_the_user(
    okta: FakeOkta, tmp_path: Path
) -> None:
    okta.users[0]["credentials"]["provider"]["type"] = "PASSKEY_HUB"
    with pytest.raises(DataError, match=r"00u1a1ice00000000001: origin.*'PASSKEY_HUB'"):
        pull(tmp_path, okta)


def test_profile_paths_can_be_mapped(okta: FakeOkta, tmp_path: Path) -> None:
    records = pull(
        tmp_path,
        okta,
        "map: {kind: profile.userType, idp: credentials.provider.name}\n"
        "kind_values: {human: [Employee]}",
    )
    bob = by_login(records, "bob")
    assert bob.kind == "human" and bob.attributes["idp"] == "corp.example"


# --- authentication ------------------------------------------------------------------------


def test_a_bearer_access_token_is_sent_as_bearer(okta: FakeOkta, tmp_path: Path) -> None:
    records = pull(tmp_path, okta, credentials=f"auth: {{type: bearer, token_env: {ACCESS_ENV}}}")
    assert len(records) == len(org())
    assert {seen.authorization for seen in listing_requests(okta)} == {f"Bearer {ACCESS_TOKEN}"}


def test_oauth2_client_credentials_fetch_an_access_token(okta: FakeOkta, tmp_path: Path) -> None:
    auth = (
        f"auth: {{type: oauth2, token_url: {okta.url}/oauth2/v1/token, client_id: {CLIENT_ID},"
        f" client_secret_env: {SECRET_ENV}, scope: okta.users.read}}"
    )
    records = pull(tmp_path, okta, credentials=auth)
    assert len(records) == len(org())
    assert okta.requests[0].path == "/oauth2/v1/token"
    assert {seen.authorization for seen in listing_requests(okta)} == {f"Bearer {ACCESS_TOKEN}"}


@pytest.mark.parametrize(
    ("credentials", "options", "message"),
    [
        (f"token_env: {TOKEN_ENV}\nauth: {{type: bearer, token_env: X}}", "", "exactly one of"),
        ("timeout: 5", "", "token_env: give exactly one of token_env"),
        (f"token_env: {TOKEN_ENV}", "page_size: 500", "page_size: at most 200"),
        ("auth: {type: basic, username: u, password_env: P}", "", "auth.type: expected bearer"),
        (f"token_env: {TOKEN_ENV}", "timeout: 0", "timeout: must be positive"),
    ],
    ids=["both", "neither", "page too large", "basic auth", "timeout"],
)
def test_options_are_checked_when_the_config_is_read(
    okta: FakeOkta, tmp_path: Path, credentials: str, options: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(write_config(tmp_path, okta, options, credentials=credentials))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://acme.okta.com/api/v1", "without the API path"),
        ("http://acme.okta.com", "plain http is refused"),
        ("https://acme.okta.com?x=1", "must not hold a query"),
    ],
)
def test_the_org_url_is_checked(okta: FakeOkta, tmp_path: Path, url: str, message: str) -> None:
    okta.url = url
    with pytest.raises(ConfigError, match=message):
        config.load(write_config(tmp_path, okta))


def test_a_missing_token_variable_names_the_option(
    okta: FakeOkta, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    loaded = config.load(write_config(tmp_path, okta))
    with pytest.raises(ConfigError, match=rf"targets\[0\]\.token_env: .*{TOKEN_ENV} is not set"):
        loaded.targets[0].endpoint.open()


def test_okta_is_a_built_in_connector() -> None:
    assert registry.lookup("okta") is OktaConnector
    assert {"url", "token_env", "auth", "page_size"} <= set(OktaConnector.options())


# --- end to end, through the installed command ---------------------------------------------


def findings_of(report: dict[str, Any]) -> set[tuple[str, str]]:
    return {(finding["kind"], finding["account"]["username"]) for finding in report["findings"]}


def test_an_audit_with_an_okta_target_finds_what_drifted(
    okta: FakeOkta, tmp_path: Path, run: Run
) -> None:
    write_config(tmp_path, okta)
    result = run("audit", "--now", NOW, "--no-history", "-f", "json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert findings_of(report) == {
        ("leaver", "bob@corp.example"),
        ("dormant", "carol@corp.example"),  # LOCKED_OUT, last sign-in in May
        ("dormant", "dave@corp.example"),  # STAGED, never signed in, created 2025
        ("jit-orphan", "frank@partner.example"),  # FEDERATION
        ("orphan", "gina@corp.example"),  # OKTA: origin unknown
        ("orphan", "hank@corp.example"),  # LDAP: origin scim
        ("unmanaged", "kim@corp.example"),  # SOCIAL, linked
    }
    origins = {f["account"]["username"]: f["account"]["origin"] for f in report["findings"]}
    assert (origins["frank@partner.example"], origins["hank@corp.example"]) == ("jit", "scim")
    (target,) = report["targets"]
    assert target["accounts"] == len(org())
    assert not any(item["rule"] == "dormant" for item in target["not_evaluated"])
    assert TOKEN not in result.stdout + result.stderr


def test_an_audit_waits_out_a_429_and_reports(okta: FakeOkta, tmp_path: Path, run: Run) -> None:
    headers = [("X-Rate-Limit-Remaining", "0"), ("X-Rate-Limit-Reset", str(int(time.time())))]
    okta.faults.append(Fault(is_page(), 429, error_body("429-rate-limit"), headers, times=2))
    write_config(tmp_path, okta)
    result = run("audit", "--now", NOW, "--no-history", "-f", "json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["findings"]) == 7
    assert sum(1 for seen in listing_requests(okta) if is_page()(seen)) == 3


def test_an_invalid_token_fails_the_audit_with_exit_3(
    okta: FakeOkta, tmp_path: Path, run: Run
) -> None:
    write_config(tmp_path, okta)
    wrong = "00Qwrong-token-value-0000000000000"
    result = run("audit", "--now", NOW, "--no-history", "-o", "report.json", env={TOKEN_ENV: wrong})
    assert result.returncode == 3, result.stderr
    assert f"{okta.url}{USERS}?limit=3" in result.stderr
    assert "HTTP 401 Unauthorized: Okta E0000011 Invalid token provided" in result.stderr
    assert wrong not in result.stdout + result.stderr and wrong[:8] not in result.stderr
    assert not (tmp_path / "report.json").exists()


def test_a_page_failing_after_retries_leaves_no_report(
    okta: FakeOkta, tmp_path: Path, run: Run
) -> None:
    okta.faults.append(
        Fault(is_page("00u1g1na000000000007"), 503, error_body("500-internal"), times=-1)
    )
    # Okta sends X-Rate-Limit-Reset on every answer, and a 503 waits for it: keep it short
    write_config(tmp_path, okta, "max_retry_wait: 0.2")
    result = run("audit", "--now", NOW, "--no-history", "-o", "report.json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 3, result.stderr
    assert "after=00u1g1na000000000007" in result.stderr and "HTTP 503" in result.stderr
    assert "(after 3 attempts)" in result.stderr
    assert not (tmp_path / "report.json").exists()
    assert result.stdout == ""


def test_validate_connect_counts_the_okta_users(okta: FakeOkta, tmp_path: Path, run: Run) -> None:
    write_config(tmp_path, okta)
    result = run("validate", "--connect", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    assert f"targets[0] okta (okta): {len(org())} records" in result.stdout
    assert "source hr (csv): 8 records" in result.stdout


def test_okta_as_the_source_of_truth(okta: FakeOkta, tmp_path: Path, run: Run) -> None:
    (tmp_path / "app.csv").write_text(
        "user_id,email,enabled\nu1,alice@corp.example,true\nu2,erin@corp.example,true\n",
        encoding="utf-8",
    )
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source:\n"
        "  name: okta\n"
        "  connector: okta\n"
        f"  url: {okta.url}\n"
        f"  token_env: {TOKEN_ENV}\n"
        "  map: {id: id}\n"
        "  active_status: [ACTIVE, PASSWORD_EXPIRED, LOCKED_OUT, RECOVERY]\n"
        "targets:\n"
        "  - name: app\n"
        "    connector: csv\n"
        "    path: app.csv\n"
        "    map: {id: user_id, active: enabled}\n",
        encoding="utf-8",
    )
    result = run("audit", "--now", NOW, "--no-history", "-f", "json", env={TOKEN_ENV: TOKEN})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["source"]["identities"] == len(org())
    assert {(f["kind"], f["account"]["id"]) for f in report["findings"]} == {("leaver", "u2")}


def test_the_example_config_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKTA_API_TOKEN", TOKEN)
    example = Path(__file__).resolve().parent.parent / "examples" / "okta"
    loaded = config.load(example / "nhirecon.yaml")
    opened = loaded.targets[0].endpoint.open()
    assert isinstance(opened, OktaConnector) and opened.url == "https://acme.okta.com"
    page = json.loads((example / "users-page.json").read_text("utf-8"))
    assert page == [user for user in org() if user["id"] in {u["id"] for u in page}]
    assert [user["status"] for user in page] == ["ACTIVE", "STAGED", "ACTIVE"]
