"""The ``entra`` connector against a stand-in for Microsoft Graph and the Entra sign-in
service on 127.0.0.1, serving payloads shaped as Microsoft documents them
(``tests/data/entra/``, see its README): paging, throttling, errors, sign-in dates,
service principals and applications, certificates, and the CLI end to end."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from nhirecon import config, explain, pipeline
from nhirecon.connectors import registry
from nhirecon.connectors.entra_objects import latest_sign_in
from nhirecon.core.model import Record
from nhirecon.errors import ConfigError, ConnectorError

from .certificates import self_signed
from .conftest import EXAMPLES, NOW, Run

DATA = Path(__file__).parent / "data" / "entra"
GRAPH = "https://graph.microsoft.com"
TENANT = "0f2e4a6c-8b1d-4e3f-a5c7-9e1b3d5f7a90"
CLIENT_ID = "3c1e0f52-8a4b-4d1c-9e2f-6b7a8c9d0e1f"
SECRET = "Xq8~CanarySecret.vH3k_9ZtQw-Lm2Rp7Ys4"
SECRET_ENV = "NHIRECON_TEST_ENTRA_SECRET"
TOKEN_PATH = f"/{TENANT}/oauth2/v2.0/token"
USERS = ("users_page1.json", "users_page2.json", "users_page3.json")
LEGACY = "5b6c7d8e-9f01-4a23-b456-c789d0e1f2a3"
HR_CSV = """\
employee_id,email,full_name,status,department
E1,ana.silva@contoso.com,Ana Silva,active,Finance
E2,bo.chen@contoso.com,Bo Chen,active,Sales
E3,carla.diaz@contoso.com,Carla Diaz,terminated,Sales
E4,dev.patel@contoso.com,Dev Patel,active,Engineering
E5,emma.jones@contoso.com,Emma Jones,active,Marketing
E6,farid.nasser@contoso.com,Farid Nasser,active,Engineering
"""


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class Fault:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeEntra:
    """The sign-in service and Graph on one local port: it answers the token request and
    serves the fixtures by path and ``$skiptoken``, each fixture's Graph URLs pointed here.
    ``fail(name, ...)`` queues answers served instead of fixture ``name``."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.faults: dict[str, list[Fault]] = {}
        self.secret = SECRET
        self.token = json.loads((DATA / "token.json").read_text())["access_token"]
        self.tokens_issued = 0
        self.certificate: Any = None
        """With a certificate set, the token request must carry an assertion it signed."""
        self.assertions: list[str] = []
        owner = self._server()
        self.base = f"http://127.0.0.1:{owner.server_address[1]}"
        self.httpd = owner
        self.pages = self._chain(USERS)
        self.pages.update(self._chain(("legacy_owners_page1.json", "legacy_owners_page2.json")))

    def _server(self) -> ThreadingHTTPServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                form = {key: values[0] for key, values in parse_qs(body).items()}
                seen = Seen(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers), form
                )
                fake.seen.append(seen)
                status, headers, payload = fake.answer(seen)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        return server

    def _chain(self, names: tuple[str, ...]) -> dict[str, str]:
        """``$skiptoken`` → the fixture it leads to, from each page's next link."""
        found = {}
        for name, following in pairwise(names):
            link = json.loads((DATA / name).read_text())["@odata.nextLink"]
            found[parse_qs(urlsplit(link).query)["$skiptoken"][0]] = following
        return found

    def fixture(self, name: str) -> bytes:
        return (DATA / name).read_text().replace(GRAPH, self.base).encode()

    def fail(
        self,
        name: str,
        status: int,
        body: str | bytes,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = body if isinstance(body, bytes) else self.fixture(body)
        self.faults.setdefault(name, []).extend(
            Fault(status, payload, dict(headers or {})) for _ in range(times)
        )

    def replace(self, name: str, document: dict[str, Any]) -> None:
        """Serve ``document`` instead of fixture ``name`` (Graph URLs pointed here)."""
        text = json.dumps(document).replace(GRAPH, self.base)
        self.fail(name, 200, text.encode(), times=1000)

    def answer(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        if seen.path == TOKEN_PATH and seen.method == "POST":
            return self._token(seen)
        if seen.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, self.fixture("graph_401_token.json")
        name = self._route(seen)
        if name is None:
            return 404, {}, b'{"error": {"code": "Request_ResourceNotFound", "message": "no"}}'
        queued = self.faults.get(name)
        if queued:
            fault = queued.pop(0)
            return fault.status, fault.headers, fault.body
        return 200, {}, self._as_asked(self.fixture(name), seen)

    def _as_asked(self, payload: bytes, seen: Seen) -> bytes:
        """A page as Graph answers the request: only the ``$select``-ed properties (and the
        ``$expand``-ed relationships), and a next link that repeats the request's query."""
        document = json.loads(payload)
        if "$select" in seen.query:
            kept = {*seen.query["$select"][0].split(","), *seen.query.get("$expand", [])}
            document["value"] = [
                {key: value for key, value in item.items() if key in kept or key[0] == "@"}
                for item in document["value"]
            ]
        link = document.get("@odata.nextLink")
        if link is not None:
            token = parse_qs(urlsplit(link).query)["$skiptoken"][0]
            query = [
                (k, v) for k, values in seen.query.items() if k != "$skiptoken" for v in values
            ]
            query.append(("$skiptoken", token))
            document["@odata.nextLink"] = f"{self.base}{seen.path}?{urlencode(query)}"
        return json.dumps(document, indent=2).encode()

    def _route(self, seen: Seen) -> str | None:
        token = seen.query.get("$skiptoken", [None])[0]
        routes = {
            "/v1.0/users": USERS[0],
            "/v1.0/servicePrincipals": "service_principals.json",
            "/v1.0/applications": "applications.json",
            f"/v1.0/servicePrincipals/{LEGACY}/owners": "legacy_owners_page1.json",
        }
        if token is not None:
            return self.pages.get(token)
        return routes.get(seen.path)

    def _token(self, seen: Seen) -> tuple[int, dict[str, str], bytes]:
        queued = self.faults.get("token")
        if queued:
            fault = queued.pop(0)
            return fault.status, fault.headers, fault.body
        form = seen.form
        good = form.get("grant_type") == "client_credentials" and form.get("client_id") == CLIENT_ID
        if self.certificate is not None:
            good = good and self._verify(form)
        else:
            good = good and form.get("client_secret") == self.secret
        if not good:
            return 401, {}, self.fixture("token_invalid_client.json")
        self.tokens_issued += 1
        return 200, {}, self.fixture("token.json")

    def _verify(self, form: dict[str, str]) -> bool:
        import jwt

        assertion = form.get("client_assertion", "")
        self.assertions.append(assertion)
        jwt.decode(
            assertion,
            self.certificate.public_key(),
            algorithms=["RS256"],
            audience=f"{self.base}{TOKEN_PATH}",
            issuer=CLIENT_ID,
        )
        return form.get("client_assertion_type") == (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        )

    def requests(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]


@pytest.fixture
def entra() -> Iterator[FakeEntra]:
    fake = FakeEntra()
    thread = threading.Thread(target=fake.httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.httpd.shutdown()
        fake.httpd.server_close()


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def target_yaml(entra: FakeEntra, **options: Any) -> str:
    """The ``entra`` target's options as YAML lines (flow style values)."""
    chosen: dict[str, Any] = {
        "tenant_id": TENANT,
        "client_id": CLIENT_ID,
        "client_secret_env": SECRET_ENV,
        "graph_url": entra.base,
        "login_url": entra.base,
        "backoff": 0,
        **options,
    }
    return "".join(
        f"    {key}: {json.dumps(value)}\n" for key, value in chosen.items() if value is not None
    )


BY_EMAIL = (
    "      - {account: email, identity: email}\n      - {account: username, identity: email}\n"
)
"""Users and service principals are linked by address; an application has none."""
BY_NAME = "      - {account: display_name, identity: display_name}\n"


def write_config(
    tmp_path: Path, entra: FakeEntra, extra: str = "", correlate: str = BY_EMAIL, **options: Any
) -> Path:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source:\n"
        "  name: hr\n"
        "  connector: csv\n"
        "  path: hr.csv\n"
        "  map: {id: employee_id, email: email, display_name: full_name, status: status,"
        " department: department}\n"
        "targets:\n"
        "  - name: entra\n"
        "    connector: entra\n"
        f"{target_yaml(entra, **options)}"
        "    correlate:\n"
        f"{correlate}"
        f"{extra}",
        encoding="utf-8",
    )
    return path


def pull(path: Path) -> list[Record]:
    connector = config.load(path).targets[0].endpoint.open()
    return list(connector.records())


def by_name(records: list[Record]) -> dict[str, Record]:
    return {record.display_name or record.id: record for record in records}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# Users -----------------------------------------------------------------------------------


def test_reads_every_page_of_users_with_one_token(tmp_path: Path, entra: FakeEntra) -> None:
    records = pull(write_config(tmp_path, entra))
    assert [record.display_name for record in records] == [
        "Ana Silva",
        "Bo Chen",
        "Carla Diaz",
        "Dev Patel",
        "Emma Jones",
        "Farid Nasser",
        "Xavier Contractor",
        "Old Admin",
    ]
    pages = entra.requests("/v1.0/users")
    assert len(pages) == 3
    assert "$skiptoken" not in pages[0].query
    assert [page.query.get("$skiptoken") is not None for page in pages[1:]] == [True, True]
    first = pages[0].query
    assert first["$top"] == ["500"]  # the most Graph serves with signInActivity
    assert first["$select"][0].split(",") == [
        "accountEnabled",
        "createdDateTime",
        "department",
        "displayName",
        "employeeId",
        "id",
        "jobTitle",
        "mail",
        "signInActivity",
        "userPrincipalName",
    ]
    assert entra.tokens_issued == 1
    [token] = entra.requests(TOKEN_PATH)
    assert token.form == {
        "client_id": CLIENT_ID,
        "scope": f"{entra.base}/.default",
        "grant_type": "client_credentials",
        "client_secret": SECRET,
    }


def test_maps_users_by_default(tmp_path: Path, entra: FakeEntra) -> None:
    found = by_name(pull(write_config(tmp_path, entra)))
    ana = found["Ana Silva"]
    assert (ana.id, ana.external_id, ana.username, ana.email) == (
        "1aecaf40-dc3a-461f-88a8-d06994e12898",
        "E1",
        "ana.silva@contoso.com",
        "ana.silva@contoso.com",
    )
    assert (ana.department, ana.title, ana.active, ana.status) == (
        "Finance",
        "Analyst",
        True,
        "active",
    )
    assert ana.created_at == at("2023-02-01T10:00:00Z")
    assert ana.location == f"{entra.base}/v1.0/users/1aecaf40-dc3a-461f-88a8-d06994e12898"
    old = found["Old Admin"]
    assert (old.active, old.status, old.email) == (False, "disabled", None)


def test_the_latest_of_interactive_and_non_interactive_sign_in_wins(
    tmp_path: Path, entra: FakeEntra
) -> None:
    found = by_name(pull(write_config(tmp_path, entra)))
    # interactive in March, non-interactive last week: the account is in use
    assert found["Bo Chen"].last_login_at == at("2026-11-25T17:53:42Z")
    assert found["Ana Silva"].last_login_at == at("2026-11-27T06:02:55Z")
    # non-interactive "never" (0001-01-01) beside a real interactive sign-in
    assert found["Carla Diaz"].last_login_at == at("2026-11-21T11:04:19Z")


def test_never_is_no_sign_in(tmp_path: Path, entra: FakeEntra) -> None:
    found = by_name(pull(write_config(tmp_path, entra)))
    assert found["Dev Patel"].last_login_at is None  # both 0001-01-01T00:00:00Z
    assert found["Farid Nasser"].last_login_at is None  # "signInActivity": null


def test_the_sign_in_rule_on_its_own() -> None:
    never = "0001-01-01T00:00:00Z"
    activity = {
        "lastSignInDateTime": never,
        "lastNonInteractiveSignInDateTime": never,
        "lastSuccessfulSignInDateTime": "",
    }
    assert latest_sign_in({"signInActivity": activity}, "here") is None
    activity["lastNonInteractiveSignInDateTime"] = "2026-11-01T10:00:00.1234567Z"
    assert latest_sign_in({"signInActivity": activity}, "here") == at("2026-11-01T10:00:00.123456Z")
    assert latest_sign_in({"signInActivity": None}, "here") is None
    activity["lastSignInDateTime"] = "yesterday"
    with pytest.raises(ConnectorError, match=r"here: signInActivity\.lastSignInDateTime"):
        latest_sign_in({"signInActivity": activity}, "here")


def test_without_sign_in_activity_no_sign_in_dates_are_asked_for(
    tmp_path: Path, entra: FakeEntra
) -> None:
    records = pull(write_config(tmp_path, entra, sign_in_activity=False))
    first = entra.requests("/v1.0/users")[0].query
    assert "signInActivity" not in first["$select"][0].split(",")
    assert first["$top"] == ["999"]
    assert all(record.last_login_at is None for record in records)


def test_select_and_expand_follow_the_map_and_filters(tmp_path: Path, entra: FakeEntra) -> None:
    extra = (
        "    map: {office: officeLocation, manager: manager.mail,"
        " last_login_at: signInActivity.lastSuccessfulSignInDateTime}\n"
        "    where_not: {onPremisesExtensionAttributes.extensionAttribute1: [skip]}\n"
    )
    with pytest.raises(ConnectorError):  # the fixtures hold no extensionAttribute1
        pull(write_config(tmp_path, entra, extra))
    query = entra.requests("/v1.0/users")[0].query
    selected = query["$select"][0].split(",")
    assert {"officeLocation", "onPremisesExtensionAttributes", "signInActivity"} <= set(selected)
    assert "manager" not in selected
    assert query["$expand"] == ["manager"]


def test_where_not_selects_what_it_tests(tmp_path: Path, entra: FakeEntra) -> None:
    extra = "    where_not: {userType: [Guest]}\n"
    names = [r.display_name for r in pull(write_config(tmp_path, entra, extra))]
    assert "Xavier Contractor" not in names and len(names) == 7
    for request in entra.requests("/v1.0/users"):  # the next links repeat the query
        assert "userType" in request.query["$select"][0].split(",")


# Throttling, failures, secrets -----------------------------------------------------------


def test_a_429_with_retry_after_is_waited_out(tmp_path: Path, entra: FakeEntra) -> None:
    entra.fail("users_page2.json", 429, "graph_429.json", headers={"Retry-After": "1"})
    connector = config.load(write_config(tmp_path, entra)).targets[0].endpoint.open()
    waits: list[float] = []
    connector.transport.sleep = waits.append  # type: ignore[attr-defined]
    records = list(connector.records())
    assert len(records) == 8
    assert waits == [1.0]
    assert len(entra.requests("/v1.0/users")) == 4  # page 2 twice


def test_a_page_that_fails_after_retries_fails_the_pull(tmp_path: Path, entra: FakeEntra) -> None:
    entra.fail("users_page2.json", 503, "graph_503.json", times=10)
    with pytest.raises(ConnectorError) as failed:
        pull(write_config(tmp_path, entra, retries=2))
    message = str(failed.value)
    assert "target 'entra' (Entra ID users)" in message
    assert f"GET {entra.base}/v1.0/users?" in message
    assert "HTTP 503 Service Unavailable: serviceNotAvailable" in message
    assert "after 3 attempts" in message
    assert len(entra.requests("/v1.0/users")) == 4  # page 1, then page 2 three times


def test_a_refused_secret_names_the_token_url_and_never_the_secret(
    tmp_path: Path, entra: FakeEntra
) -> None:
    entra.fail("token", 401, "token_expired_secret.json")
    with pytest.raises(ConnectorError) as failed:
        pull(write_config(tmp_path, entra))
    message = str(failed.value)
    assert f"POST {entra.base}{TOKEN_PATH}: HTTP 401 Unauthorized: invalid_client" in message
    assert "AADSTS7000222" in message
    assert "secret or certificate" in message
    assert SECRET not in message and SECRET[:8] not in message
    assert entra.requests("/v1.0/users") == []


@pytest.mark.parametrize("padding", [0, 270])
def test_a_service_echoing_the_secret_never_shows_it(
    tmp_path: Path, entra: FakeEntra, padding: int
) -> None:
    """Whole, or cut short by the message's length limit: scrubbed before the cut."""
    echo = {"error": "invalid_client", "error_description": f"{'x' * padding} bad {SECRET} !"}
    entra.fail("token", 401, json.dumps(echo).encode())
    with pytest.raises(ConnectorError) as failed:
        pull(write_config(tmp_path, entra))
    message = str(failed.value)
    assert SECRET[:5] not in message
    assert "[redac" in message


def test_a_missing_permission_names_it(tmp_path: Path, entra: FakeEntra) -> None:
    entra.fail("users_page1.json", 403, "graph_403_denied.json")
    with pytest.raises(ConnectorError) as failed:
        pull(write_config(tmp_path, entra))
    message = str(failed.value)
    assert "HTTP 403 Forbidden: Authorization_RequestDenied: Insufficient privileges" in message
    assert "User.Read.All" in message and "AuditLog.Read.All" in message


def test_a_tenant_without_premium_is_told_to_turn_sign_ins_off(
    tmp_path: Path, entra: FakeEntra
) -> None:
    entra.fail("users_page1.json", 403, "graph_403_nonpremium.json")
    with pytest.raises(ConnectorError) as failed:
        pull(write_config(tmp_path, entra))
    assert "sign_in_activity: false" in str(failed.value)


def test_an_expired_token_is_renewed_once(tmp_path: Path, entra: FakeEntra) -> None:
    entra.fail("users_page2.json", 401, "graph_401_token.json")
    assert len(pull(write_config(tmp_path, entra))) == 8
    assert entra.tokens_issued == 2


# Listings that cannot be trusted ---------------------------------------------------------


def page(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / name).read_text())
    return document


def test_a_next_link_to_another_host_is_refused(tmp_path: Path, entra: FakeEntra) -> None:
    first = page("users_page1.json")
    first["@odata.nextLink"] = "https://graph.attacker.example/v1.0/users?$skiptoken=abc"
    entra.replace("users_page1.json", first)
    with pytest.raises(ConnectorError, match="leads elsewhere"):
        pull(write_config(tmp_path, entra))


def test_a_next_link_to_another_path_is_refused(tmp_path: Path, entra: FakeEntra) -> None:
    first = page("users_page1.json")
    first["@odata.nextLink"] = first["@odata.nextLink"].replace("/v1.0/users", "/beta/users")
    entra.replace("users_page1.json", first)
    with pytest.raises(ConnectorError, match="leads elsewhere"):
        pull(write_config(tmp_path, entra))


def test_a_next_link_that_loops_is_refused(tmp_path: Path, entra: FakeEntra) -> None:
    first, second = page("users_page1.json"), page("users_page2.json")
    second["@odata.nextLink"] = first["@odata.nextLink"]  # back to page 2 itself
    entra.replace("users_page1.json", first)
    entra.replace("users_page2.json", second)
    with pytest.raises(ConnectorError, match="points back"):
        pull(write_config(tmp_path, entra))
    assert len(entra.requests("/v1.0/users")) == 2


def test_a_page_larger_than_asked_is_refused(tmp_path: Path, entra: FakeEntra) -> None:
    with pytest.raises(ConnectorError, match=r"holds 3 objects but \$top asked for 2"):
        pull(write_config(tmp_path, entra, page_size=2))


def test_an_object_seen_twice_is_refused(tmp_path: Path, entra: FakeEntra) -> None:
    second = page("users_page2.json")
    second["value"].append(page("users_page1.json")["value"][0])
    entra.replace("users_page2.json", second)
    with pytest.raises(ConnectorError, match="came twice"):
        pull(write_config(tmp_path, entra))


def test_max_records_bounds_the_listing(tmp_path: Path, entra: FakeEntra) -> None:
    with pytest.raises(ConnectorError, match=r"past max_records \(5\)"):
        pull(write_config(tmp_path, entra, max_records=5))


def test_an_answer_that_is_not_a_collection_is_refused(tmp_path: Path, entra: FakeEntra) -> None:
    entra.replace("users_page3.json", {"error": None})
    with pytest.raises(ConnectorError, match="not a Graph collection"):
        pull(write_config(tmp_path, entra))


# Service principals and applications -----------------------------------------------------


def test_service_principals_with_owners_credentials_and_kinds(
    tmp_path: Path, entra: FakeEntra
) -> None:
    extra = (
        "    map: {owners: nhirecon.owners}\n"
        "    where_not: {appOwnerOrganizationId: [f8cdef31-a31e-4b4a-93e4-5f571e91255a]}\n"
    )
    found = by_name(pull(write_config(tmp_path, entra, extra, objects="service_principals")))
    assert sorted(found) == ["build-agent", "legacy-reports", "payroll-sync"]  # not Microsoft's
    payroll = found["payroll-sync"]
    assert (payroll.kind, payroll.external_id, payroll.active, payroll.status) == (
        "service_account",
        "2d4f6a8c-0e1b-4d3f-8a5c-7e9b1d3f5a70",
        True,
        "active",
    )
    # people before other owners, then alphabetically: the same one on every run
    assert payroll.owner == "ana.silva@contoso.com"
    assert payroll.values("owners") == (
        "ana.silva@contoso.com",
        "zed.owner@contoso.com",
        "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    )
    # the identity expires with its last credential; it was last rotated when the newest
    # credential started
    assert payroll.expires_at == at("2027-06-01T00:00:00Z")
    assert payroll.credential_rotated_at == at("2026-06-01T09:00:00Z")
    agent = found["build-agent"]
    assert (agent.kind, agent.owner, agent.expires_at, agent.credential_rotated_at) == (
        "workload",
        None,
        None,
        None,
    )
    query = entra.requests("/v1.0/servicePrincipals")[0].query
    assert query["$expand"] == ["owners"]
    assert "appOwnerOrganizationId" in query["$select"][0].split(",")


def test_an_expanded_owner_list_at_its_cap_is_read_whole(tmp_path: Path, entra: FakeEntra) -> None:
    extra = "    map: {owners: nhirecon.owners}\n"
    found = by_name(pull(write_config(tmp_path, entra, extra, objects="service_principals")))
    legacy = found["legacy-reports"]
    assert len(legacy.values("owners")) == 22  # 20 expanded; 21 people and a pipeline in all
    assert legacy.owner == "delegate01@contoso.com"
    assert legacy.expires_at == at("2026-02-01T00:00:00Z")
    owner_pages = entra.requests(f"/v1.0/servicePrincipals/{LEGACY}/owners")
    assert len(owner_pages) == 2
    assert len(entra.requests("/v1.0/servicePrincipals")) == 1  # the others were complete


def test_applications(tmp_path: Path, entra: FakeEntra) -> None:
    found = by_name(pull(write_config(tmp_path, entra, objects="applications")))
    invoice = found["invoice-agent"]
    assert invoice.owner == "ana.silva@contoso.com"
    assert invoice.expires_at == at("2027-01-15T00:00:00Z")
    assert invoice.credential_rotated_at == at("2026-10-20T08:00:00Z")
    assert invoice.created_at == at("2024-03-05T10:20:00Z")
    assert (invoice.kind, invoice.active, invoice.external_id) == (
        "service_account",
        True,
        "96a2745c-6920-4149-a8b0-90339bee74f9",
    )
    bot = found["report-bot"]
    assert (bot.owner, bot.expires_at) == (None, at("2026-06-01T00:00:00Z"))


def _application(name: str, *credentials: tuple[str, str | None]) -> dict[str, Any]:
    return {
        "id": f"id-{name}",
        "appId": f"app-{name}",
        "displayName": name,
        "createdDateTime": "2023-01-01T00:00:00Z",
        "passwordCredentials": [
            {"keyId": f"{name}-{n}", "startDateTime": start, "endDateTime": end}
            for n, (start, end) in enumerate(credentials)
        ],
        "keyCredentials": [],
        "owners": [],
    }


def test_an_old_secret_still_valid_beside_a_new_one_is_a_stale_credential(
    tmp_path: Path, entra: FakeEntra
) -> None:
    """Each secret is valid from its own start to its own end (Graph's passwordCredential):
    adding a secret does not retire an older one, so an application whose 2023 secret still
    works has not rotated it, however new its latest secret is."""
    entra.replace(
        "applications.json",
        {
            "value": [
                _application(
                    "billing-sync",
                    ("2023-01-10T00:00:00Z", "2027-01-10T00:00:00Z"),
                    ("2026-11-01T00:00:00Z", "2028-11-01T00:00:00Z"),
                ),
                _application(
                    "rotated-app",
                    ("2023-01-10T00:00:00Z", "2026-11-10T00:00:00Z"),
                    ("2026-11-01T00:00:00Z", "2028-11-01T00:00:00Z"),
                ),
                _application("open-ended", ("2023-02-01T00:00:00Z", None)),
                _application(
                    "all-ended",
                    ("2023-01-10T00:00:00Z", "2024-01-10T00:00:00Z"),
                    ("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
                ),
            ]
        },
    )
    loaded = config.load(write_config(tmp_path, entra, objects="applications", correlate=BY_NAME))
    endpoint = loaded.targets[0].endpoint
    found = by_name(list(endpoint.open(at("2026-11-28T00:00:00Z")).records()))
    rotated = {name: record.credential_rotated_at for name, record in found.items()}
    assert rotated == {
        "billing-sync": at("2023-01-10T00:00:00Z"),
        "rotated-app": at("2026-11-01T00:00:00Z"),  # the 2023 secret ended on 2026-11-10
        "open-ended": at("2023-02-01T00:00:00Z"),
        "all-ended": at("2024-01-01T00:00:00Z"),
    }

    def stale(now: str) -> list[str]:
        return sorted(
            finding.account.display_name or ""
            for finding in pipeline.audit(loaded, now=at(now)).findings
            if finding.kind.value == "stale-credential" and finding.account is not None
        )

    assert stale("2026-11-28T00:00:00Z") == ["all-ended", "billing-sync", "open-ended"]
    # evaluated at the run's --now, not when it runs: on 2027-01-20 billing-sync's 2023
    # secret has ended, and its newest is 80 days old
    assert stale("2027-01-20T00:00:00Z") == ["all-ended", "open-ended"]

    def explained(now: str) -> list[str]:
        found = explain.explain(loaded, "entra", "id-billing-sync", now=at(now)).findings
        return [finding.kind.value for finding in found]

    assert "stale-credential" in explained("2026-11-28T00:00:00Z")
    assert "stale-credential" not in explained("2027-01-20T00:00:00Z")


def test_the_source_is_read_at_the_runs_instant(
    tmp_path: Path, entra: FakeEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each source input is opened with the instant the run evaluates at, as a target is."""
    loaded = config.load(write_config(tmp_path, entra, objects="applications", correlate=BY_NAME))
    opened: list[datetime | None] = []
    real = registry.pull

    def pull(endpoint: Any, as_of: datetime | None = None) -> Any:
        opened.append(as_of)
        return real(endpoint, as_of)

    monkeypatch.setattr(registry, "pull", pull)
    pipeline.audit(loaded, now=at("2027-01-20T00:00:00Z"), engine="python")
    assert opened == [at("2027-01-20T00:00:00Z")] * 2  # the source's input, the target


# Certificates ----------------------------------------------------------------------------


def certificate_pem() -> tuple[str, Any]:
    """A self-signed RSA certificate and its key, as one PEM text."""
    pytest.importorskip("jwt")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = self_signed(
        key, datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    )
    pem = (
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        + certificate.public_bytes(serialization.Encoding.PEM).decode()
    )
    return pem, certificate


def test_a_certificate_signs_the_client_assertion(
    tmp_path: Path, entra: FakeEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64
    import hashlib

    import jwt
    from cryptography.hazmat.primitives import serialization

    pem, certificate = certificate_pem()
    monkeypatch.setenv("NHIRECON_TEST_ENTRA_CERT", pem)
    entra.certificate = certificate
    path = write_config(
        tmp_path, entra, client_secret_env=None, certificate_env="NHIRECON_TEST_ENTRA_CERT"
    )
    assert len(pull(path)) == 8
    [assertion] = entra.assertions
    header = jwt.get_unverified_header(assertion)
    der = certificate.public_bytes(serialization.Encoding.DER)

    def thumbprint(digest: bytes) -> str:
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    assert header["alg"] == "RS256"
    assert header["x5t#S256"] == thumbprint(hashlib.sha256(der).digest())
    assert header["x5t"] == thumbprint(hashlib.sha1(der).digest())
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert (claims["iss"], claims["sub"]) == (CLIENT_ID, CLIENT_ID)
    assert claims["aud"] == f"{entra.base}{TOKEN_PATH}"
    assert 0 < claims["exp"] - claims["nbf"] <= 600
    [token] = entra.requests(TOKEN_PATH)
    assert "client_secret" not in token.form


def test_a_certificate_without_pyjwt_says_what_to_install(
    tmp_path: Path, entra: FakeEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NHIRECON_TEST_ENTRA_CERT", "-----BEGIN PRIVATE KEY-----\n...")
    monkeypatch.setitem(sys.modules, "jwt", None)  # as if it were not installed
    path = write_config(
        tmp_path, entra, client_secret_env=None, certificate_env="NHIRECON_TEST_ENTRA_CERT"
    )
    with pytest.raises(ConfigError, match=r"pip install 'nhirecon\[entra-cert\]'") as failed:
        pull(path)
    assert "targets[0].certificate_env" in str(failed.value)


def test_a_certificate_that_is_not_one_is_refused_unshown(
    tmp_path: Path, entra: FakeEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("jwt")
    value = "-----BEGIN PRIVATE KEY-----\nTm90QUtleUF0QWxsQnV0U2VjcmV0\n-----END PRIVATE KEY-----\n"
    monkeypatch.setenv("NHIRECON_TEST_ENTRA_CERT", value)
    path = write_config(
        tmp_path, entra, client_secret_env=None, certificate_env="NHIRECON_TEST_ENTRA_CERT"
    )
    with pytest.raises(ConfigError) as failed:
        pull(path)
    assert "Tm90QUtl" not in str(failed.value)


# Configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "key", "problem"),
    [
        ({"certificate_env": "CERT"}, "client_secret_env", "exactly one"),
        ({"client_secret_env": None}, "client_secret_env", "exactly one"),
        ({"graph_url": "https://graph.microsoft.com/v1.0"}, "graph_url", "without /v1.0"),
        ({"login_url": "http://login.example.com"}, "login_url", "plain http"),
        ({"tenant_id": "contoso/../evil"}, "tenant_id", "tenant's id"),
        ({"objects": "groups"}, "objects", "expected"),
        ({"page_size": 1000}, "page_size", "at most 999"),
        ({"objects": "applications", "sign_in_activity": False}, "sign_in_activity", "users"),
        ({"client_secret": "plain"}, "client_secret", "unknown key"),
    ],
)
def test_options_are_checked_when_the_config_is_read(
    tmp_path: Path, entra: FakeEntra, options: dict[str, Any], key: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as failed:
        config.load(write_config(tmp_path, entra, **options))
    assert f"targets[0].{key}" in str(failed.value)
    assert problem in str(failed.value)


def test_an_unset_secret_variable_names_the_option(
    tmp_path: Path, entra: FakeEntra, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(ConfigError, match=rf"targets\[0\].client_secret_env.*{SECRET_ENV}"):
        pull(write_config(tmp_path, entra))


def test_sign_in_paths_need_sign_in_activity(tmp_path: Path, entra: FakeEntra) -> None:
    extra = "    map: {last_login_at: signInActivity.lastSuccessfulSignInDateTime}\n"
    with pytest.raises(ConfigError, match="sign_in_activity is false"):
        pull(write_config(tmp_path, entra, extra, sign_in_activity=False))


# The command, end to end -----------------------------------------------------------------


def test_audit_reports_what_entra_holds_against_hr(
    run: Run, tmp_path: Path, entra: FakeEntra
) -> None:
    path = write_config(tmp_path, entra, "    compare: [department]\n")
    result = run(
        "audit",
        "-c",
        str(path),
        "--now",
        NOW,
        "--no-history",
        "-f",
        "json",
        "-o",
        "r.json",
        "--fail-on",
        "orphan>0",
        env={SECRET_ENV: SECRET},
    )
    assert result.returncode == 1, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    found = sorted((f["kind"], f["account"]["username"]) for f in report["findings"])
    assert found == [
        ("dormant", "farid.nasser@contoso.com"),  # never signed in, created 2025
        ("leaver", "carla.diaz@contoso.com"),
        ("orphan", "x.contractor_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
        ("stale-attribute", "emma.jones@contoso.com"),
    ]
    [target] = report["targets"]
    assert (target["accounts"], target["linked"], target["unmatched"]) == (8, 6, 2)
    assert SECRET[:8] not in result.stdout + result.stderr


def test_audit_with_entra_applications_in_the_source(
    run: Run, tmp_path: Path, entra: FakeEntra
) -> None:
    path = write_config(tmp_path, entra)
    text = path.read_text().replace(
        "targets:\n",
        "  include:\n"
        "    - name: apps\n"
        "      connector: entra\n"
        f"{target_yaml(entra, objects='applications').replace('    ', '      ')}"
        "      map: {id: id}\n"
        "targets:\n",
    )
    path.write_text(text)
    result = run(
        "audit", "-c", str(path), "--now", NOW, "--no-history", "-f", "json", "-o", "r.json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    source = sorted(
        (f["kind"], f["identity"]["display_name"])
        for f in report["findings"]
        if f["target"] == "hr"
    )
    assert source == [("expired", "report-bot"), ("ownerless", "report-bot")]


def test_validate_connect_counts_the_users(run: Run, tmp_path: Path, entra: FakeEntra) -> None:
    result = run("validate", "--connect", "-c", str(write_config(tmp_path, entra)))
    assert result.returncode == 0, result.stderr
    assert "targets[0] entra (entra): 8 records" in result.stdout


def test_a_refused_secret_exits_3_with_no_report(
    run: Run, tmp_path: Path, entra: FakeEntra
) -> None:
    entra.fail("token", 401, "token_invalid_client.json")
    path = write_config(tmp_path, entra)
    result = run("audit", "-c", str(path), "--now", NOW, "-f", "json", "-o", "r.json")
    assert result.returncode == 3
    assert f"{entra.base}{TOKEN_PATH}" in result.stderr
    assert "HTTP 401" in result.stderr and "invalid_client" in result.stderr
    assert "Entra ID" in result.stderr
    assert SECRET[:8] not in result.stdout + result.stderr
    assert not (tmp_path / "r.json").exists()


def test_a_page_failing_after_retries_exits_3_with_no_report(
    run: Run, tmp_path: Path, entra: FakeEntra
) -> None:
    entra.fail("users_page3.json", 503, "graph_503.json", times=10)
    path = write_config(tmp_path, entra, retries=1)
    result = run("audit", "-c", str(path), "--now", NOW, "-f", "json", "-o", "r.json")
    assert result.returncode == 3, result.stderr
    assert "HTTP 503" in result.stderr and "serviceNotAvailable" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_the_example_config_runs(run: Run, tmp_path: Path, entra: FakeEntra) -> None:
    """examples/entra/ as written, pointed at the stand-in for Graph."""
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLES / "entra", folder)
    path = folder / "nhirecon.yaml"
    text = path.read_text()
    for indent in ("      ", "    "):
        text = text.replace(
            f"\n{indent}client_secret_env: ENTRA_CLIENT_SECRET\n",
            f"\n{indent}client_secret_env: ENTRA_CLIENT_SECRET\n"
            f"{indent}graph_url: {entra.base}\n{indent}login_url: {entra.base}\n",
        )
    path.write_text(text)
    result = run("validate", "--connect", "-c", str(path), env={"ENTRA_CLIENT_SECRET": SECRET})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "  source hr (csv): 3 records",
        "  source.include[0] entra-apps (entra): 2 records",
        "  targets[0] entra-users (entra): 7 records",
        "  targets[1] entra-service-principals (entra): 2 records",
    ]
