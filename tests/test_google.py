"""The ``google`` connector against a fake Admin SDK and token endpoint on 127.0.0.1.

Google's services cannot run here, so a local ``http.server`` serves payloads shaped as
Google documents them (``tests/data/google/``, see its README): ``users.list`` pages
chained by ``nextPageToken``, Google's JSON error bodies, and a token endpoint that checks
the RS256 signature of the assertion with the public half of a key generated for the
test, and its claims.
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
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from nhirecon import config
from nhirecon.connectors.google import GoogleConnector
from nhirecon.core.model import Record
from nhirecon.errors import ConfigError, ConnectorError, DataError
from nhirecon.http.google_auth import AUDIENCE, GRANT_TYPE

from .conftest import DATA, NOW, Run

FIXTURES = DATA / "google"
KEY_ENV = "NHIRECON_TEST_GOOGLE_KEY"
CLIENT_EMAIL = "nhirecon-reader@nhirecon-test.iam.gserviceaccount.com"
KEY_ID = "4f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
SUBJECT = "admin@corp.example"
SCOPE = "https://www.googleapis.com/auth/admin.directory.user.readonly"
USERS = "/admin/directory/v1/users"
PAGES = [json.loads((FIXTURES / f"users_page{n}.json").read_text()) for n in (1, 2, 3)]
TOKENS = [page.get("nextPageToken") for page in PAGES]
"""The token that leads from each page to the next (``None`` on the last)."""


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# The key: generated once, its public half given to the fake token endpoint ------------


@dataclass(frozen=True)
class Key:
    private: rsa.RSAPrivateKey
    pem: str

    @property
    def public(self) -> rsa.RSAPublicKey:
        return self.private.public_key()

    @property
    def body(self) -> str:
        """The base64 body of the PEM: what must never be shown."""
        return "".join(line for line in self.pem.splitlines() if not line.startswith("-----"))


def generate() -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return Key(private, pem)


@pytest.fixture(scope="module")
def key() -> Key:
    return generate()


@pytest.fixture(scope="module")
def other_key() -> Key:
    """A key Google does not know (deleted, or another account's)."""
    return generate()


def service_account(key: Key, token_uri: str = "https://oauth2.googleapis.com/token") -> str:
    """A service account key file, as the Cloud console downloads it, holding ``key``."""
    data = json.loads(fixture("service_account.template.json"))
    data.update(private_key=key.pem, token_uri=token_uri)
    return json.dumps(data)


# The fake Google ------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


Answer = tuple[int, dict[str, str], bytes]
Fault = Callable[[Seen], Answer | None]


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class FakeGoogle:
    """The token endpoint and ``users.list``, as Google answers them."""

    public: rsa.RSAPublicKey
    subject: str | None = SUBJECT
    customer: str = "my_customer"
    pages: list[dict[str, Any]] = field(default_factory=lambda: PAGES)
    access_token: str = field(default_factory=lambda: f"ya29.{time.time_ns():x}TestTokenValue")
    seen: list[Seen] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    """The claim sets of the assertions whose signature verified."""
    faults: list[Fault] = field(default_factory=list)
    """Consulted in order before the normal answer; the first that answers wins."""
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def users_requests(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == USERS]

    def token_requests(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == "/token"]

    def answer(self, seen: Seen) -> Answer:
        self.seen.append(seen)
        for fault in self.faults:
            found = fault(seen)
            if found is not None:
                return found
        if seen.path == "/token" and seen.method == "POST":
            return self.token(seen)
        if seen.path == USERS and seen.method == "GET":
            return self.users(seen)
        return 404, {}, b'{"error": {"code": 404, "message": "Not Found"}}'

    def token(self, seen: Seen) -> Answer:
        if seen.form.get("grant_type") != GRANT_TYPE:
            return self.oauth_error("unsupported_grant_type", "Invalid grant_type.")
        try:
            header_part, claims_part, signature = seen.form["assertion"].split(".")
            header = json.loads(b64decode(header_part))
            claims = json.loads(b64decode(claims_part))
            self.public.verify(
                b64decode(signature),
                f"{header_part}.{claims_part}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (KeyError, ValueError, InvalidSignature):
            return 400, {}, fixture("token_invalid_grant.json")
        now = time.time()
        problems = [
            header.get("alg") != "RS256" and "alg",
            header.get("kid") != KEY_ID and "kid",
            claims.get("iss") != CLIENT_EMAIL and "iss",
            claims.get("sub") != self.subject and "sub",
            claims.get("scope") != SCOPE and "scope",
            claims.get("aud") != AUDIENCE and "aud",
            not 0 < claims["exp"] - claims["iat"] <= 3600 and "exp",
            not abs(claims["iat"] - now) < 300 and "iat",
        ]
        wrong = [problem for problem in problems if problem]
        if wrong:
            return self.oauth_error("invalid_grant", f"claims wrong: {', '.join(wrong)}")
        self.claims.append(claims)
        body = {"access_token": self.access_token, "expires_in": 3599, "token_type": "Bearer"}
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def users(self, seen: Seen) -> Answer:
        if seen.headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, {"WWW-Authenticate": "Bearer"}, fixture("error_401.json")
        token = seen.query.get("pageToken")
        index = 0 if token is None else TOKENS.index(token) + 1 if token in TOKENS else -1
        if (
            index < 0
            or index >= len(self.pages)
            or seen.query.get("customer") != self.customer
            or seen.query.get("projection") != "full"
        ):
            return google_error(400, "Invalid Input", "invalid")
        return 200, {"Content-Type": "application/json"}, json.dumps(self.pages[index]).encode()

    @staticmethod
    def oauth_error(code: str, description: str) -> Answer:
        body = {"error": code, "error_description": description}
        return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()


def google_error(status: int, message: str, reason: str) -> Answer:
    body = {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def on_page(index: int, answer: Answer, times: int | None = None) -> Fault:
    """A fault that answers ``answer`` to the request for page ``index`` (0-based), the
    first ``times`` times (always when ``None``)."""
    count = [0]

    def fault(seen: Seen) -> Answer | None:
        if seen.path != USERS:
            return None
        token = seen.query.get("pageToken")
        if token != (None if index == 0 else TOKENS[index - 1]):
            return None
        count[0] += 1
        return answer if times is None or count[0] <= times else None

    return fault


class Handler(BaseHTTPRequestHandler):
    server: Server

    def handle_one(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        seen = Seen(
            self.command,
            parts.path,
            {name: values[-1] for name, values in parse_qs(parts.query).items()},
            {name.lower(): value for name, value in self.headers.items()},
            {name: values[-1] for name, values in parse_qs(body).items()},
        )
        status, headers, payload = self.server.fake.answer(seen)
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = handle_one

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


class Server(ThreadingHTTPServer):
    fake: FakeGoogle


@pytest.fixture
def google(key: Key) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(key.public)
    server = Server(("127.0.0.1", 0), Handler)
    server.fake = fake
    fake.port = server.server_address[1]
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
def _key_in_env(monkeypatch: pytest.MonkeyPatch, key: Key) -> None:
    monkeypatch.setenv(KEY_ENV, service_account(key))


# Configs --------------------------------------------------------------------------------


def target(fake: FakeGoogle, **options: Any) -> str:
    """The options of a google target pointed at the fake, as YAML lines."""
    chosen: dict[str, Any] = {
        "credentials_env": KEY_ENV,
        "subject": SUBJECT,
        "api_url": fake.url,
        "token_url": fake.token_url,
        "page_size": 3,
        "retries": 2,
        "backoff": 0.01,
        **options,
    }
    return "".join(
        f"    {name}: {json.dumps(value)}\n" for name, value in chosen.items() if value is not None
    )


def write_config(folder: Path, fake: FakeGoogle, **options: Any) -> Path:
    (folder / "hr.csv").write_bytes(fixture("hr.csv"))
    path = folder / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source:\n"
        "  name: hr\n"
        "  connector: csv\n"
        "  path: hr.csv\n"
        "  map: {id: employee_id, email: email, display_name: full_name,"
        " status: employment_status, department: department}\n"
        "targets:\n"
        "  - name: workspace\n"
        "    connector: google\n"
        f"{target(fake, **options)}"
        "    compare: [department]\n",
        encoding="utf-8",
    )
    return path


def open_target(folder: Path, fake: FakeGoogle, **options: Any) -> GoogleConnector:
    loaded = config.load(write_config(folder, fake, **options))
    connector = loaded.targets[0].endpoint.open()
    assert isinstance(connector, GoogleConnector)
    return connector


def pull(connector: GoogleConnector) -> dict[str, Record]:
    return {record.email or record.id: record for record in connector.records()}


# Reading --------------------------------------------------------------------------------


def test_reads_every_page_with_the_default_map(tmp_path: Path, google: FakeGoogle) -> None:
    records = pull(open_target(tmp_path, google))

    assert list(records) == [
        "alice@corp.example",
        "bob@corp.example",
        "dana@corp.example",
        "eve@corp.example",
        "frank@corp.example",
        "gina@corp.example",
        "hank@corp.example",
    ]
    alice = records["alice@corp.example"]
    assert alice.id == "104218523879456712341"
    assert alice.username == "alice@corp.example"
    assert alice.display_name == "Alice Archer"
    assert alice.external_id == "E1001"
    assert (alice.department, alice.title) == ("Engineering", "Staff Engineer")
    assert alice.manager == "carol@corp.example"
    assert alice.created_at == datetime(2021, 3, 1, 10, tzinfo=UTC)
    assert alice.last_login_at == datetime(2026, 11, 20, 9, 14, 3, tzinfo=UTC)
    assert alice.active is True
    assert alice.location == f"{google.url}{USERS}/104218523879456712341"
    gina = records["gina@corp.example"]
    assert gina.multi_values["email"] == ("gina@corp.example", "gina.g@corp.example")
    assert [records[name].active for name in ("eve@corp.example", "hank@corp.example")] == [
        False,  # suspended
        False,  # archived: cannot sign in
    ]
    # Every page, in order, each asked for as configured, with one token for them all.
    queries = [seen.query for seen in google.users_requests()]
    assert [query.get("pageToken") for query in queries] == [None, TOKENS[0], TOKENS[1]]
    assert {(q["customer"], q["maxResults"], q["projection"]) for q in queries} == {
        ("my_customer", "3", "full")
    }
    assert len(google.token_requests()) == 1


def test_every_address_of_a_user_is_an_email_the_primary_one_first(
    tmp_path: Path, google: FakeGoogle
) -> None:
    page = json.loads(json.dumps(PAGES[0]))
    alice = page["users"][0]
    alice["emails"] = [
        {"address": "alice.archer@corp.example", "type": "work"},
        {"address": "alice@corp.example", "primary": True},
    ]
    alice["aliases"] = ["a.archer@corp.example"]
    google.pages = [page, PAGES[1], PAGES[2]]
    record = pull(open_target(tmp_path, google))["alice@corp.example"]
    assert record.multi_values["email"] == (
        "alice@corp.example",
        "alice.archer@corp.example",
        "a.archer@corp.example",
        "alice@corp.example.test-google-a.com",  # nonEditableAliases
    )


def test_the_assertion_is_signed_and_carries_the_claims_google_asks_for(
    tmp_path: Path, google: FakeGoogle
) -> None:
    before = int(time.time())
    pull(open_target(tmp_path, google))

    [claims] = google.claims  # verified against the public key by the fake
    assert claims["iss"] == CLIENT_EMAIL
    assert claims["sub"] == SUBJECT
    assert claims["scope"] == SCOPE
    assert claims["aud"] == "https://oauth2.googleapis.com/token"
    assert claims["exp"] - claims["iat"] == 3600
    assert before - 5 <= claims["iat"] <= time.time() + 5
    [request] = google.token_requests()
    assert request.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


def test_without_subject_the_service_account_acts_as_itself(
    tmp_path: Path, google: FakeGoogle
) -> None:
    google.subject = None
    pull(open_target(tmp_path, google, subject=None))
    assert "sub" not in google.claims[0]


def test_the_token_url_defaults_to_the_keys_token_uri(
    tmp_path: Path, google: FakeGoogle, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, service_account(key, token_uri=google.token_url))
    assert len(pull(open_target(tmp_path, google, token_url=None))) == 7
    assert len(google.token_requests()) == 1


def test_never_signed_in_reads_as_no_date_and_the_field_still_exists(
    tmp_path: Path, google: FakeGoogle
) -> None:
    connector = open_target(tmp_path, google)
    dana = pull(connector)["dana@corp.example"]
    assert dana.last_login_at is None  # not 1970-01-01
    assert dana.created_at == datetime(2025, 1, 10, 12, tzinfo=UTC)
    assert connector.coverage is not None
    assert "last_login_at" in connector.coverage.provided


def test_a_value_of_1970_that_is_not_the_epoch_instant_stays_a_date(
    tmp_path: Path, google: FakeGoogle
) -> None:
    page = json.loads(json.dumps(PAGES[0]))
    page["users"][0]["lastLoginTime"] = "1970-01-01T00:00:01.000Z"
    google.pages = [page, PAGES[1], PAGES[2]]
    alice = pull(open_target(tmp_path, google))["alice@corp.example"]
    assert alice.last_login_at == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_several_organizations_without_a_primary_one_are_not_guessed(
    tmp_path: Path, google: FakeGoogle
) -> None:
    page = json.loads(json.dumps(PAGES[0]))
    page["users"][0]["organizations"] = [
        {"department": "Engineering", "title": "Engineer"},
        {"department": "Research", "title": "Fellow"},
    ]
    google.pages = [page, PAGES[1], PAGES[2]]
    with pytest.raises(DataError, match=r"users/104218523879456712341: department"):
        pull(open_target(tmp_path, google))


def test_a_user_whose_suspended_flag_is_not_a_boolean_fails_the_pull(
    tmp_path: Path, google: FakeGoogle
) -> None:
    page = json.loads(json.dumps(PAGES[0]))
    page["users"][1]["suspended"] = "no"
    google.pages = [page, PAGES[1], PAGES[2]]
    with pytest.raises(DataError, match=r"users/104218523879456712342: `suspended` is 'no'"):
        pull(open_target(tmp_path, google))


def test_it_serves_as_a_source_include_too(tmp_path: Path, google: FakeGoogle) -> None:
    (tmp_path / "hr.csv").write_bytes(fixture("hr.csv"))
    options = target(google).replace("    ", "      ")
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source:\n"
        "  name: hr\n"
        "  connector: csv\n"
        "  path: hr.csv\n"
        "  map: {id: employee_id, email: email, status: employment_status}\n"
        "  include:\n"
        "    - name: workspace\n"
        "      connector: google\n"
        f"{options}"
        "      map: {id: id, kind: orgUnitPath}\n"
        "      kind_values: {human: [/Engineering, /Finance, /Support, /Sales, /],"
        " service_account: [/Former employees]}\n"
        "targets:\n"
        "  - {name: crm, connector: csv, path: hr.csv, map: {id: employee_id}}\n",
        encoding="utf-8",
    )
    included = config.load(path).source.inputs[1]
    records = list(included.open().records())
    assert len(records) == 7
    assert {record.kind for record in records} == {"human", "service_account"}
    assert records[0].email == "alice@corp.example"


def test_as_the_source_a_suspended_or_archived_user_is_a_leaver(
    run: Run, tmp_path: Path, google: FakeGoogle
) -> None:
    """Without a status, the source could tell no leaver: eve (suspended) and hank
    (archived) keep active accounts in the CRM, which are leavers'."""
    emails = ["alice", "eve", "hank"]
    crm = "".join(f"c{n},{name}@corp.example,true\n" for n, name in enumerate(emails))
    (tmp_path / "crm.csv").write_text("id,email,active\n" + crm)
    options = target(google).replace("    ", "  ")
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source:\n"
        "  name: workspace\n"
        "  connector: google\n"
        "  map: {id: id}\n"
        f"{options}"
        "targets:\n"
        "  - {name: crm, connector: csv, path: crm.csv,"
        " map: {id: id, email: email, active: active}}\n",
        encoding="utf-8",
    )
    done = run("audit", "--now", NOW, "--no-history", "-f", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    leavers = {f["account"]["email"]: f["identity"]["status"] for f in report["findings"]
               if f["kind"] == "leaver"}  # fmt: skip
    assert leavers == {"eve@corp.example": "suspended", "hank@corp.example": "archived"}


# Complete listings only -----------------------------------------------------------------


def test_a_page_token_that_comes_back_is_refused(tmp_path: Path, google: FakeGoogle) -> None:
    looping = json.loads(json.dumps(PAGES[1]))
    looping["nextPageToken"] = TOKENS[0]  # page 2 points back at itself
    google.pages = [PAGES[0], looping, PAGES[2]]
    with pytest.raises(ConnectorError, match="nextPageToken` repeats"):
        pull(open_target(tmp_path, google))


def test_a_200_answer_that_holds_an_error_is_no_last_page(
    tmp_path: Path, google: FakeGoogle
) -> None:
    """Read as a page, it has no users and no token: the listing would end on page 2 with
    the users of page 1 alone, and their orphans unreported."""
    _, headers, body = google_error(500, "backend error", "backendError")
    google.faults.append(on_page(1, (200, headers, body)))
    with pytest.raises(ConnectorError, match=r"GET .*pageToken.*200.*backend error"):
        pull(open_target(tmp_path, google))


def test_empty_pages_that_never_end_are_refused(tmp_path: Path, google: FakeGoogle) -> None:
    """Each empty page carries a new token, so none repeats: after ten, refused."""
    served = [0]

    def endless(seen: Seen) -> Answer | None:
        if seen.path != USERS or seen.query.get("pageToken") is None:
            return None
        served[0] += 1
        page = {"kind": "admin#directory#users", "nextPageToken": f"t{served[0]}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    google.faults.append(endless)
    with pytest.raises(ConnectorError, match="11 empty pages in a row"):
        pull(open_target(tmp_path, google))
    assert served[0] == 11


def test_a_page_with_more_users_than_asked_for_is_refused(
    tmp_path: Path, google: FakeGoogle
) -> None:
    with pytest.raises(ConnectorError, match=r"3 users on a page of at most 2"):
        pull(open_target(tmp_path, google, page_size=2))


def test_more_users_than_max_records_is_refused(tmp_path: Path, google: FakeGoogle) -> None:
    with pytest.raises(ConnectorError, match=r"more than max_records \(4\)"):
        pull(open_target(tmp_path, google, max_records=4))


# Rate limits and failures ---------------------------------------------------------------


def test_a_403_rate_limit_is_waited_out(tmp_path: Path, google: FakeGoogle) -> None:
    google.faults.append(on_page(1, (403, {}, fixture("error_403_rate_limit.json")), times=1))
    connector = open_target(tmp_path, google, backoff=2.0)
    waits: list[float] = []
    connector.transport.sleep = waits.append

    assert len(pull(connector)) == 7
    assert [seen.query.get("pageToken") for seen in google.users_requests()] == [
        None,
        TOKENS[0],
        TOKENS[0],
        TOKENS[1],
    ]
    assert len(waits) == 1 and 1.0 <= waits[0] <= 2.0  # backed off (jittered), not skipped


def test_a_429_is_retried_as_retry_after_says(tmp_path: Path, google: FakeGoogle) -> None:
    answer = google_error(429, "Resource has been exhausted", "rateLimitExceeded")
    google.faults.append(on_page(0, (429, {"Retry-After": "1"}, answer[2]), times=1))
    connector = open_target(tmp_path, google)
    waits: list[float] = []
    connector.transport.sleep = waits.append
    assert len(pull(connector)) == 7
    assert waits == [1.0]


def test_a_rate_limit_that_outlasts_the_retries_fails_naming_url_and_reason(
    tmp_path: Path, google: FakeGoogle
) -> None:
    google.faults.append(on_page(2, (403, {}, fixture("error_403_user_rate_limit.json"))))
    connector = open_target(tmp_path, google)
    connector.transport.sleep = lambda seconds: None
    with pytest.raises(ConnectorError) as raised:
        pull(connector)
    message = str(raised.value)
    assert f"GET {google.url}{USERS}?" in message and "HTTP 403 Forbidden" in message
    assert "User Rate Limit Exceeded (userRateLimitExceeded)" in message
    assert "(after 3 attempts)" in message
    assert len([s for s in google.users_requests() if s.query.get("pageToken") == TOKENS[1]]) == 3


def test_a_403_that_is_a_refusal_fails_at_once(tmp_path: Path, google: FakeGoogle) -> None:
    google.faults.append(on_page(0, (403, {}, fixture("error_403_forbidden.json"))))
    with pytest.raises(ConnectorError) as raised:
        pull(open_target(tmp_path, google))
    message = str(raised.value)
    assert "HTTP 403 Forbidden: Google says: Not Authorized to access this resource/api" in message
    assert "administrator role" in message
    assert len(google.users_requests()) == 1


def test_an_error_that_echoes_the_access_token_is_scrubbed(
    tmp_path: Path, google: FakeGoogle
) -> None:
    echoed = f"Not Authorized: token {google.access_token} may not read users"
    google.faults.append(on_page(1, google_error(403, echoed, "forbidden")))
    with pytest.raises(ConnectorError) as raised:
        pull(open_target(tmp_path, google))
    assert google.access_token not in str(raised.value)
    assert "Not Authorized: token [redacted] may not read users" in str(raised.value)
    # After padding, so that a cut would fall inside the token: no part of it survives.
    padded = "x" * 290 + f" {google.access_token}"
    google.faults.insert(0, on_page(0, google_error(403, padded, "forbidden")))
    with pytest.raises(ConnectorError) as raised:
        pull(open_target(tmp_path, google))
    assert google.access_token[:12] not in str(raised.value)


def test_a_refused_access_token_is_renewed_once(tmp_path: Path, google: FakeGoogle) -> None:
    google.faults.append(on_page(0, (401, {}, fixture("error_401.json")), times=1))
    assert len(pull(open_target(tmp_path, google))) == 7
    assert len(google.token_requests()) == 2


# Configuration --------------------------------------------------------------------------


def test_a_key_that_is_not_a_service_account_key_is_a_config_error(
    tmp_path: Path, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, '{"type": "authorized_user", "refresh_token": "1//0secret"}')
    with pytest.raises(ConfigError, match=r"targets\[0\]\.credentials_env: .*'authorized_user'"):
        open_target(tmp_path, google)
    monkeypatch.setenv(KEY_ENV, "not json, and secret")
    with pytest.raises(ConfigError, match="does not hold a JSON object") as raised:
        open_target(tmp_path, google)
    assert "secret" not in str(raised.value)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ConfigError, match=f"environment variable {KEY_ENV} is not set"):
        open_target(tmp_path, google)


def test_a_private_key_that_does_not_parse_is_a_config_error_that_shows_nothing(
    tmp_path: Path, google: FakeGoogle, key: Key, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = json.loads(service_account(key))
    broken["private_key"] = broken["private_key"].replace("A", "B")[:400]
    monkeypatch.setenv(KEY_ENV, json.dumps(broken))
    with pytest.raises(ConfigError, match="is not an RSA private key") as raised:
        open_target(tmp_path, google)
    assert key.body[30:60] not in str(raised.value)


def test_without_google_auth_the_error_names_the_extra(
    tmp_path: Path, google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "google.auth.jwt", None)
    with pytest.raises(ConfigError, match=r"pip install 'nhirecon\[google\]'") as raised:
        open_target(tmp_path, google)
    assert raised.value.key == "targets[0].connector"


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("page_size", 501, "must be 1 to 500"),
        ("api_url", "http://admin.example.com", "plain http is refused"),
        ("token_url", "http://oauth.example.com/token", "plain http is refused"),
        ("subject", "", "non-empty line"),
        ("retries", -1, "must not be negative"),
    ],
)
def test_options_are_checked_when_the_config_is_read(
    tmp_path: Path, google: FakeGoogle, option: str, value: Any, problem: str
) -> None:
    with pytest.raises(ConfigError, match=rf"targets\[0\]\.{option}: .*{problem}"):
        config.load(write_config(tmp_path, google, **{option: value}))


# The installed command ------------------------------------------------------------------


def run_env() -> dict[str, str]:
    import os

    return {KEY_ENV: os.environ[KEY_ENV]}


def test_audit_reports_what_the_workspace_holds(
    run: Run, tmp_path: Path, google: FakeGoogle
) -> None:
    path = write_config(tmp_path, google)
    done = run("audit", "-c", str(path), "--now", NOW, "--no-history", "-f", "json", env=run_env())

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    found = sorted((finding["kind"], finding["account"]["email"]) for finding in report["findings"])
    assert found == [
        ("dormant", "dana@corp.example"),  # never signed in (1970), created in 2025-01
        ("leaver", "bob@corp.example"),  # terminated in HR, active in Google
        ("orphan", "frank@corp.example"),  # in no HR record
        ("stale-attribute", "gina@corp.example"),  # linked through her alias; Sales ≠ Marketing
    ]
    [workspace] = report["targets"]
    assert workspace["accounts"] == 7 and workspace["inactive"] == 2  # eve, hank
    assert not any(rule["rule"] == "dormant" for rule in workspace["not_evaluated"])


def test_a_verbose_audit_shows_neither_the_token_nor_the_assertion(
    run: Run, tmp_path: Path, google: FakeGoogle, key: Key
) -> None:
    path = write_config(tmp_path, google)
    done = run("audit", "-c", str(path), "--now", NOW, "--no-history", "-v", env=run_env())
    assert done.returncode == 0, done.stderr
    [request] = google.token_requests()
    output = done.stdout + done.stderr
    assert google.access_token[5:] not in output
    assert request.form["assertion"].rsplit(".", 1)[1][:12] not in output
    assert key.body[40:60] not in output


def test_validate_connect_counts_the_users(run: Run, tmp_path: Path, google: FakeGoogle) -> None:
    path = write_config(tmp_path, google)
    done = run("validate", "-c", str(path), "--connect", "-f", "json", env=run_env())
    assert done.returncode == 0, done.stderr
    counts = {entry["key"]: entry["records"] for entry in json.loads(done.stdout)["targets"]}
    assert counts == {"targets[0]": 7}


def test_a_wrong_key_is_exit_3_naming_the_token_url_and_nothing_secret(
    run: Run, tmp_path: Path, google: FakeGoogle, key: Key, other_key: Key
) -> None:
    google.public = other_key.public  # Google knows another key: the signature fails
    path = write_config(tmp_path, google)
    done = run("audit", "-c", str(path), "--now", NOW, "--no-history", "-v", env=run_env())

    assert done.returncode == 3
    assert done.stdout == ""
    assert f"POST {google.token_url}: HTTP 400 Bad Request" in done.stderr
    assert "Google refused the service account's token request (invalid_grant" in done.stderr
    assert "Invalid JWT Signature." in done.stderr
    output = done.stdout + done.stderr
    windows = {key.body[start : start + 12] for start in range(0, len(key.body) - 12, 12)}
    assert not [window for window in windows if window in output]
    [request] = google.token_requests()
    signature = request.form["assertion"].rsplit(".", 1)[1]
    assert signature[:12] not in output
    assert not google.users_requests()


def test_an_unauthorized_delegation_is_explained(
    run: Run, tmp_path: Path, google: FakeGoogle
) -> None:
    answer: Answer = (400, {}, fixture("token_unauthorized_client.json"))
    google.faults.append(lambda seen: answer if seen.path == "/token" else None)
    path = write_config(tmp_path, google)
    done = run("audit", "-c", str(path), "--now", NOW, "--no-history", env=run_env())
    assert done.returncode == 3
    assert "(unauthorized_client: Client is unauthorized" in done.stderr
    assert "Domain-wide delegation" in done.stderr and SCOPE in done.stderr


def test_a_page_that_fails_after_its_retries_leaves_no_report(
    run: Run, tmp_path: Path, google: FakeGoogle
) -> None:
    google.faults.append(on_page(2, google_error(503, "Service Unavailable", "backendError")))
    path = write_config(tmp_path, google)
    report = tmp_path / "report.json"
    done = run(
        "audit", "-c", str(path), "--now", NOW, "--no-history", "-o", str(report), env=run_env()
    )

    assert done.returncode == 3
    assert done.stdout == "" and not report.exists()
    assert f"GET {google.url}{USERS}?" in done.stderr and "pageToken=" in done.stderr
    assert "HTTP 503 Service Unavailable" in done.stderr
    assert len([s for s in google.users_requests() if s.query.get("pageToken") == TOKENS[1]]) == 3
