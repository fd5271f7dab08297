"""The ``gcp`` connector against a fake IAM API and token endpoint on 127.0.0.1.

Google Cloud cannot run here, so a local ``http.server`` serves payloads shaped as the IAM
API documents them (``tests/data/gcp/``, see its README): ``serviceAccounts.list`` pages
chained by ``nextPageToken``, one ``keys.list`` answer per account, Google's JSON error
bodies, and a token endpoint that checks the RS256 signature of the assertion with the
public half of a key generated for the test, and its claims.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from nhirecon import config
from nhirecon.connectors.gcp import GcpConnector
from nhirecon.core.model import Record
from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.http.google_auth import AUDIENCE, GRANT_TYPE

from .conftest import DATA, NOW, Run

FIXTURES = DATA / "gcp"
KEY_ENV = "NHIRECON_TEST_GCP_KEY"
PROJECT = "acme-prod"
CLIENT_EMAIL = "nhirecon-auditor@acme-prod.iam.gserviceaccount.com"
KEY_ID = "9c1e5d2a7b3f4e6d8c0b1a2f3e4d5c6b7a8f9e0d"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ACCOUNTS = f"/v1/projects/{PROJECT}/serviceAccounts"
PAGES = [json.loads((FIXTURES / f"accounts_page{n}.json").read_text()) for n in (1, 2, 3)]
TOKENS = [page.get("nextPageToken") for page in PAGES]
LOCALS = ["ci-deployer", "billing-export", "legacy-etl", "reporting", "shadow-sa", "web-frontend"]
KEYS = {
    f"{local}@{PROJECT}.iam.gserviceaccount.com": json.loads(
        (FIXTURES / f"keys_{local}.json").read_text()
    )
    for local in LOCALS
}
A, B, C, D, E, F = (
    "3f1c2b7e9d0a4c5b8e6f7a1d2c3b4a5f6e7d8c9b",  # ci-deployer, fresh
    "8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b",  # ci-deployer, old and disabled
    "c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3",  # billing-export, 271 days old
    "d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0",  # legacy-etl (a disabled account)
    "e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6",  # reporting, expires 2027-09-15
    "f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9",  # shadow-sa, expired 2026-11-20
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def email(local: str) -> str:
    return f"{local}@{PROJECT}.iam.gserviceaccount.com"


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
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return Key(private, pem)


@pytest.fixture(scope="module")
def key() -> Key:
    return generate()


def service_account(key: Key) -> str:
    """A service account key file, as the Cloud console downloads it, holding ``key``."""
    data = json.loads(fixture("service_account.template.json"))
    data["private_key"] = key.pem
    return json.dumps(data)


@pytest.fixture(autouse=True)
def _key_in_env(monkeypatch: pytest.MonkeyPatch, key: Key) -> None:
    monkeypatch.setenv(KEY_ENV, service_account(key))


# The fake IAM API -----------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)


Answer = tuple[int, dict[str, str], bytes]
Fault = Callable[[Seen], Answer | None]


def b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def ok(body: object) -> Answer:
    return 200, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(body).encode()


@dataclass
class FakeIam:
    """The token endpoint, ``serviceAccounts.list`` and ``keys.list``, as Google answers."""

    public: rsa.RSAPublicKey
    pages: list[dict[str, Any]] = field(default_factory=lambda: PAGES)
    keys: dict[str, Any] = field(default_factory=lambda: dict(KEYS))
    access_token: str = field(default_factory=lambda: f"ya29.c.{time.time_ns():x}GcpTestToken")
    seen: list[Seen] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def listing_requests(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == ACCOUNTS]

    def keys_requests(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.path.endswith("/keys")]

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
        if seen.headers.get("authorization") != f"Bearer {self.access_token}":
            return 401, {"WWW-Authenticate": "Bearer"}, fixture("error_401.json")
        if seen.path == ACCOUNTS:
            return self.accounts(seen)
        prefix, _, account = seen.path.removesuffix("/keys").rpartition("/")
        if prefix == ACCOUNTS and seen.path.endswith("/keys") and account in self.keys:
            if seen.query.get("keyTypes") != ["USER_MANAGED"]:
                return google_error(400, "Invalid keyTypes", "INVALID_ARGUMENT")
            return ok(self.keys[account])
        return google_error(404, "Requested entity was not found.", "NOT_FOUND")

    def token(self, seen: Seen) -> Answer:
        if seen.form.get("grant_type") != GRANT_TYPE:
            return 400, {}, b'{"error": "unsupported_grant_type"}'
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
        wrong = [
            name
            for name, bad in (
                ("alg", header.get("alg") != "RS256"),
                ("kid", header.get("kid") != KEY_ID),
                ("iss", claims.get("iss") != CLIENT_EMAIL),
                ("sub", "sub" in claims),  # the service account acts as itself
                ("scope", claims.get("scope") != SCOPE),
                ("aud", claims.get("aud") != AUDIENCE),
                ("exp", not 0 < claims["exp"] - claims["iat"] <= 3600),
                ("iat", not abs(claims["iat"] - time.time()) < 300),
            )
            if bad
        ]
        if wrong:
            body = {"error": "invalid_grant", "error_description": f"wrong: {', '.join(wrong)}"}
            return 400, {}, json.dumps(body).encode()
        self.claims.append(claims)
        return ok({"access_token": self.access_token, "expires_in": 3599, "token_type": "Bearer"})

    def accounts(self, seen: Seen) -> Answer:
        token = seen.query.get("pageToken", [None])[-1]
        index = 0 if token is None else TOKENS.index(token) + 1 if token in TOKENS else -1
        if index < 0 or index >= len(self.pages) or "pageSize" not in seen.query:
            return google_error(400, "Invalid page token.", "INVALID_ARGUMENT")
        return ok(self.pages[index])


def google_error(status: int, message: str, reason: str) -> Answer:
    body = {"error": {"code": status, "message": message, "status": reason}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def on_page(index: int, answer: Answer, times: int | None = None) -> Fault:
    """Answers ``answer`` to the request for accounts page ``index`` (0-based), the first
    ``times`` times (always when ``None``)."""
    count = [0]

    def fault(seen: Seen) -> Answer | None:
        if seen.path != ACCOUNTS:
            return None
        if seen.query.get("pageToken", [None])[-1] != (None if index == 0 else TOKENS[index - 1]):
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
            unquote(parts.path),
            parse_qs(parts.query),
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
    fake: FakeIam


@pytest.fixture
def iam(key: Key) -> Iterator[FakeIam]:
    fake = FakeIam(key.public)
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


# Configs --------------------------------------------------------------------------------


def options(fake: FakeIam, indent: str = "    ", **chosen: Any) -> str:
    """The options of a gcp input pointed at the fake, as YAML lines."""
    merged: dict[str, Any] = {
        "project": PROJECT,
        "credentials_env": KEY_ENV,
        "records": "keys",
        "api_url": fake.url,
        "token_url": f"{fake.url}/token",
        "page_size": 2,
        "retries": 2,
        "backoff": 0.01,
        **chosen,
    }
    return "".join(
        f"{indent}{name}: {json.dumps(value)}\n"
        for name, value in merged.items()
        if value is not None
    )


def write_config(folder: Path, fake: FakeIam, **chosen: Any) -> Path:
    """HR and the NHI inventory as the source; the project's keys (by default) as a target,
    linked to the inventory by the service account's email."""
    for name in ("hr.csv", "inventory.yaml"):
        (folder / name).write_bytes(fixture(name))
    path = folder / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source:\n"
        "  name: hr\n"
        "  connector: csv\n"
        "  path: hr.csv\n"
        "  map: {id: employee_id, email: email, display_name: full_name,"
        " status: employment_status}\n"
        "  include:\n"
        "    - {connector: yaml, path: inventory.yaml,"
        " map: {id: id, email: email, kind: kind, owner: owner, status: status}}\n"
        "targets:\n"
        "  - name: gcp\n"
        "    connector: gcp\n"
        f"{options(fake, **chosen)}",
        encoding="utf-8",
    )
    return path


def open_target(folder: Path, fake: FakeIam, **chosen: Any) -> GcpConnector:
    connector = config.load(write_config(folder, fake, **chosen)).targets[0].endpoint.open()
    assert isinstance(connector, GcpConnector)
    return connector


def pull(connector: GcpConnector) -> dict[str, Record]:
    return {record.id: record for record in connector.records()}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# Service accounts -----------------------------------------------------------------------


def test_service_accounts_are_read_from_every_page(tmp_path: Path, iam: FakeIam) -> None:
    connector = open_target(tmp_path, iam, records="service_accounts")
    records = pull(connector)

    assert [record.email for record in records.values()] == [email(name) for name in LOCALS]
    ci = records["104372186205817343001"]  # id: the uniqueId, stable where an email is reused
    assert (ci.username, ci.display_name, ci.kind) == (
        email("ci-deployer"),
        "CI deployer",
        "service_account",
    )
    assert ci.active is True and ci.owner is None  # IAM has no owner: a map or an inventory says
    assert ci.location == f"{iam.url}{ACCOUNTS}/104372186205817343001"
    assert [records[f"10437218620581734300{n}"].active for n in range(1, 7)] == [
        True,
        True,
        False,  # legacy-etl: "disabled": true
        True,
        True,
        True,
    ]
    queries = [seen.query for seen in iam.listing_requests()]
    assert [query.get("pageToken") for query in queries] == [None, [TOKENS[0]], [TOKENS[1]]]
    assert {query["pageSize"][0] for query in queries} == {"2"}
    assert not iam.keys_requests()
    assert connector.coverage is not None
    assert {"last_login_at", "credential_rotated_at", "owner"}.isdisjoint(
        connector.coverage.provided
    )


def test_an_owner_can_be_mapped_from_the_description(tmp_path: Path, iam: FakeIam) -> None:
    mapped = {"owner": "description", "team": "displayName"}
    billing = pull(open_target(tmp_path, iam, records="service_accounts", map=mapped))[
        "104372186205817343002"
    ]
    assert billing.owner == "Nightly export of invoices to the warehouse"
    assert billing.attributes["team"] == "Billing export"


def test_a_disabled_flag_that_is_not_a_boolean_fails_the_pull(tmp_path: Path, iam: FakeIam) -> None:
    page = json.loads(json.dumps(PAGES[1]))
    page["accounts"][0]["disabled"] = "true"
    iam.pages = [PAGES[0], page, PAGES[2]]
    with pytest.raises(ConnectorError, match=r"104372186205817343003: `disabled` is 'true'"):
        pull(open_target(tmp_path, iam, records="service_accounts"))


# Keys -----------------------------------------------------------------------------------


def test_keys_of_every_account_on_every_page(tmp_path: Path, iam: FakeIam) -> None:
    connector = open_target(tmp_path, iam)
    records = pull(connector)

    assert list(records) == [A, B, C, D, E, F]  # web-frontend has none: its answer is {}
    a = records[A]
    assert (a.credential_id, a.owner, a.email) == (A, email("ci-deployer"), email("ci-deployer"))
    assert a.username == f"{email('ci-deployer')}/keys/{A}" and a.kind == "api_key"
    assert a.credential_rotated_at == a.created_at == utc(2026, 10, 1, 9)
    assert a.location == f"{iam.url}{ACCOUNTS}/{email('ci-deployer')}/keys/{A}"
    assert records[C].credential_rotated_at == datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    # Every account of every page was asked for its user-managed keys only, by its email.
    asked = [seen.path.split("/")[-2] for seen in iam.keys_requests()]
    assert asked == [email(name) for name in LOCALS]
    assert {seen.query["keyTypes"][0] for seen in iam.keys_requests()} == {"USER_MANAGED"}
    assert len(iam.token_requests()) == 1


def test_disabled_keys_and_the_keys_of_disabled_accounts_are_not_active(
    tmp_path: Path, iam: FakeIam
) -> None:
    records = pull(open_target(tmp_path, iam))
    assert {key: records[key].active for key in (A, B, C, D, E, F)} == {
        A: True,
        B: False,  # "disabled": true
        C: True,
        D: False,  # its account, legacy-etl, is disabled: the key signs nothing in
        E: True,
        F: True,
    }


def test_the_far_future_valid_before_time_means_no_expiry(tmp_path: Path, iam: FakeIam) -> None:
    connector = open_target(tmp_path, iam)
    records = pull(connector)
    assert [records[key].expires_at for key in (A, B, C, D)] == [None] * 4  # 9999-12-31T23:59:59Z
    assert records[E].expires_at == utc(2027, 9, 15, 12)
    assert records[F].expires_at == utc(2026, 11, 20)


def test_only_the_exact_sentinel_is_no_expiry(tmp_path: Path, iam: FakeIam) -> None:
    answer = json.loads(json.dumps(KEYS[email("billing-export")]))
    answer["keys"][0]["validBeforeTime"] = "9999-12-30T00:00:00Z"
    iam.keys[email("billing-export")] = answer
    assert pull(open_target(tmp_path, iam))[C].expires_at == utc(9999, 12, 30)


def test_the_assertion_has_the_cloud_platform_scope_and_no_subject(
    tmp_path: Path, iam: FakeIam
) -> None:
    pull(open_target(tmp_path, iam))
    [claims] = iam.claims  # verified against the public key by the fake
    assert claims["iss"] == CLIENT_EMAIL and claims["scope"] == SCOPE and "sub" not in claims


# Complete listings only -----------------------------------------------------------------


def test_a_page_token_that_comes_back_is_refused(tmp_path: Path, iam: FakeIam) -> None:
    looping = json.loads(json.dumps(PAGES[1]))
    looping["nextPageToken"] = TOKENS[0]
    iam.pages = [PAGES[0], looping, PAGES[2]]
    with pytest.raises(ConnectorError, match="nextPageToken` repeats"):
        pull(open_target(tmp_path, iam, records="service_accounts"))


def test_a_200_answer_that_holds_an_error_is_no_page(tmp_path: Path, iam: FakeIam) -> None:
    """Neither the accounts' listing nor an account's keys may end early on one."""
    _, headers, body = google_error(500, "backend error", "INTERNAL")
    iam.faults.append(on_page(1, (200, headers, body)))
    with pytest.raises(ConnectorError, match=r"GET .*pageToken.*200.*backend error"):
        pull(open_target(tmp_path, iam, records="service_accounts"))
    iam.faults.clear()
    iam.keys[email("ci-deployer")] = {"error": {"code": 500, "message": "backend error"}}
    with pytest.raises(ConnectorError, match=r"GET .*/keys.*200.*backend error"):
        pull(open_target(tmp_path, iam))


def test_empty_pages_that_never_end_are_refused(tmp_path: Path, iam: FakeIam) -> None:
    served = [0]

    def endless(seen: Seen) -> Answer | None:
        if seen.path != ACCOUNTS or seen.query.get("pageToken") is None:
            return None
        served[0] += 1
        page = {"nextPageToken": f"t{served[0]}"}
        return 200, {"Content-Type": "application/json"}, json.dumps(page).encode()

    iam.faults.append(endless)
    with pytest.raises(ConnectorError, match="11 empty pages in a row"):
        pull(open_target(tmp_path, iam, records="service_accounts"))
    assert served[0] == 11


def test_a_page_with_more_accounts_than_asked_for_is_refused(tmp_path: Path, iam: FakeIam) -> None:
    with pytest.raises(ConnectorError, match=r"2 accounts on a page of at most 1"):
        pull(open_target(tmp_path, iam, page_size=1))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda answer: answer.update(nextPageToken="abc"), "keys.list has no paging"),
        (lambda answer: answer["keys"][0].update(keyType="SYSTEM_MANAGED"), "ignored keyTypes"),
        (
            lambda answer: answer["keys"][0].update(
                name=f"projects/{PROJECT}/serviceAccounts/{email('reporting')}/keys/{A}"
            ),
            "is a key of 'reporting@",
        ),
        (lambda answer: answer["keys"][0].pop("name"), r"keys\[0\] has no `name`"),
    ],
)
def test_a_keys_answer_that_cannot_be_trusted_is_refused(
    tmp_path: Path, iam: FakeIam, change: Callable[[dict[str, Any]], object], problem: str
) -> None:
    answer = json.loads(json.dumps(KEYS[email("ci-deployer")]))
    change(answer)
    iam.keys[email("ci-deployer")] = answer
    with pytest.raises(ConnectorError, match=problem):
        pull(open_target(tmp_path, iam))


def test_more_keys_than_max_records_is_refused(tmp_path: Path, iam: FakeIam) -> None:
    with pytest.raises(ConnectorError, match=r"more than max_records \(4\) keys"):
        pull(open_target(tmp_path, iam, max_records=4))


# Rate limits and failures ---------------------------------------------------------------


def test_a_429_is_retried_as_retry_after_says(tmp_path: Path, iam: FakeIam) -> None:
    iam.faults.append(on_page(1, (429, {"Retry-After": "1"}, fixture("error_429_quota.json")), 1))
    connector = open_target(tmp_path, iam)
    waits: list[float] = []
    connector.transport.sleep = waits.append

    assert len(pull(connector)) == 6
    assert waits == [1.0]
    assert [seen.query.get("pageToken") for seen in iam.listing_requests()] == [
        None,
        [TOKENS[0]],
        [TOKENS[0]],
        [TOKENS[1]],
    ]


def test_a_403_rate_limit_is_waited_out(tmp_path: Path, iam: FakeIam) -> None:
    iam.faults.append(on_page(0, (403, {}, fixture("error_403_rate_limit.json")), times=1))
    connector = open_target(tmp_path, iam, backoff=2.0)
    waits: list[float] = []
    connector.transport.sleep = waits.append
    assert len(pull(connector)) == 6
    assert len(waits) == 1 and 1.0 <= waits[0] <= 2.0  # backed off (jittered), not skipped


def test_a_refusal_names_gcp_the_url_the_status_and_the_role_to_grant(
    tmp_path: Path, iam: FakeIam
) -> None:
    iam.faults.append(on_page(0, (403, {}, fixture("error_403_permission_denied.json"))))
    with pytest.raises(ConnectorError) as raised:
        pull(open_target(tmp_path, iam))
    message = str(raised.value)
    assert message.startswith("target 'gcp' (GCP project acme-prod, keys): GET ")
    assert f"{iam.url}{ACCOUNTS}?pageSize=2: HTTP 403 Forbidden" in message
    assert "Permission 'iam.serviceAccounts.list' denied" in message
    assert "(IAM_PERMISSION_DENIED)" in message and "roles/iam.serviceAccountViewer" in message
    assert len(iam.listing_requests()) == 1


def test_an_error_that_echoes_the_access_token_is_scrubbed(tmp_path: Path, iam: FakeIam) -> None:
    echoed = f"token {iam.access_token} may not list keys"
    iam.faults.append(
        lambda seen: (
            google_error(403, echoed, "PERMISSION_DENIED") if seen.path.endswith("/keys") else None
        )
    )
    with pytest.raises(ConnectorError) as raised:
        pull(open_target(tmp_path, iam))
    assert iam.access_token not in str(raised.value)
    assert "token [redacted] may not list keys" in str(raised.value)


# Configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("page_size", 101, "must be 1 to 100"),
        ("records", "users", "expected 'service_accounts' | 'keys'"),
        ("project", "acme/prod", "without '/'"),
        ("api_url", "http://iam.example.com", "plain http is refused"),
        ("retries", -1, "must not be negative"),
    ],
)
def test_options_are_checked_when_the_config_is_read(
    tmp_path: Path, iam: FakeIam, option: str, value: Any, problem: str
) -> None:
    with pytest.raises(ConfigError, match=rf"targets\[0\]\.{option}: .*{problem}"):
        config.load(write_config(tmp_path, iam, **{option: value}))


# The installed command ------------------------------------------------------------------


def run_env() -> dict[str, str]:
    return {KEY_ENV: os.environ[KEY_ENV]}


def test_audit_of_the_keys_against_the_nhi_inventory(
    run: Run, tmp_path: Path, iam: FakeIam
) -> None:
    path = write_config(tmp_path, iam)
    done = run(
        "audit", "-c", str(path), "--now", NOW, "--no-history", "-v", "-f", "json", env=run_env()
    )

    assert done.returncode == 0, done.stderr
    assert iam.access_token[8:] not in done.stdout + done.stderr
    report = json.loads(done.stdout)
    found = sorted(
        (finding["kind"], (finding["account"] or {}).get("id") or finding["identity"]["id"])
        for finding in report["findings"]
    )
    assert found == [
        ("expired", F),  # shadow-sa's uploaded key: validBeforeTime 2026-11-20
        ("leaver", E),  # reporting is retired in the inventory; its key is enabled
        ("orphan", F),  # shadow-sa is in no inventory
        ("ownerless", "sa-web-frontend"),  # its owner, bob, has left
        ("stale-credential", C),  # billing-export's key: created 2026-03-02, 271 days
    ]
    [gcp] = report["targets"]
    assert gcp["accounts"] == 6 and gcp["inactive"] == 2  # B disabled, D's account disabled
    rules = {rule["rule"]: rule["reason"] for rule in gcp["not_evaluated"]}
    assert "dormant" in rules and "last_login_at" in rules["dormant"]  # no key last-use here


def test_two_enabled_keys_of_one_account_are_each_a_duplicate_account(
    run: Run, tmp_path: Path, iam: FakeIam
) -> None:
    answer = json.loads(json.dumps(KEYS[email("ci-deployer")]))
    del answer["keys"][1]["disabled"]  # B, created 2025-02-10, enabled again
    iam.keys[email("ci-deployer")] = answer
    path = write_config(tmp_path, iam)
    done = run("audit", "-c", str(path), "--now", NOW, "--no-history", "-f", "json", env=run_env())
    assert done.returncode == 0, done.stderr
    found = {
        (finding["kind"], finding["account"]["id"])
        for finding in json.loads(done.stdout)["findings"]
        if finding["account"] and finding["account"]["id"] in (A, B)
    }
    assert found == {("duplicate-account", A), ("duplicate-account", B), ("stale-credential", B)}


def test_validate_connect_counts_the_keys(run: Run, tmp_path: Path, iam: FakeIam) -> None:
    path = write_config(tmp_path, iam)
    done = run("validate", "-c", str(path), "--connect", "-f", "json", env=run_env())
    assert done.returncode == 0, done.stderr
    counts = {entry["key"]: entry["records"] for entry in json.loads(done.stdout)["targets"]}
    assert counts == {"targets[0]": 6}


def test_a_wrong_credential_is_exit_3_naming_gcp_the_url_and_nothing_secret(
    run: Run, tmp_path: Path, iam: FakeIam, key: Key
) -> None:
    iam.public = generate().public  # Google knows another key: the signature fails
    path = write_config(tmp_path, iam)
    done = run("audit", "-c", str(path), "--now", NOW, "--no-history", "-v", env=run_env())

    assert done.returncode == 3
    assert done.stdout == ""
    assert "target 'gcp' (GCP project acme-prod, keys)" in done.stderr
    assert f"POST {iam.url}/token: HTTP 400 Bad Request" in done.stderr
    assert "(invalid_grant: Invalid JWT Signature.)" in done.stderr
    output = done.stdout + done.stderr
    windows = {key.body[start : start + 12] for start in range(0, len(key.body) - 12, 12)}
    assert not [window for window in windows if window in output]
    [request] = iam.token_requests()
    assert request.form["assertion"].rsplit(".", 1)[1][:12] not in output
    assert not iam.listing_requests()


def test_a_page_that_fails_after_its_retries_leaves_no_report(
    run: Run, tmp_path: Path, iam: FakeIam
) -> None:
    iam.faults.append(on_page(2, (503, {}, fixture("error_503.json"))))
    path = write_config(tmp_path, iam)
    report = tmp_path / "report.json"
    done = run(
        "audit", "-c", str(path), "--now", NOW, "--no-history", "-o", str(report), env=run_env()
    )

    assert done.returncode == 3
    assert done.stdout == "" and not report.exists()
    assert "GCP project acme-prod" in done.stderr and "HTTP 503 Service Unavailable" in done.stderr
    assert f"GET {iam.url}{ACCOUNTS}?pageSize=2&pageToken=" in done.stderr
    assert len([s for s in iam.listing_requests() if s.query.get("pageToken") == [TOKENS[1]]]) == 3
