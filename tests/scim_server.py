"""A real SCIM 2.0 service provider for tests: scim2-server, served by waitress on 127.0.0.1.

In front of it sits :class:`Faults`, a WSGI middleware that records every request and can
answer 429 or 5xx, delay, drop the connection after the server committed, or lie about
``totalResults`` on chosen requests.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_schemas, load_json_resource
from waitress.server import create_server

TOKEN = "tok-3c1f9e7a52d84b06"
"""The bearer token the server accepts; tests check it never shows up anywhere."""
TOKEN_ENV = "NHIRECON_TEST_SCIM_TOKEN"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
NHI = "urn:example:params:scim:schemas:extension:nhi:2.0:User"
"""A custom extension schema with the fields non-human identities need."""

logging.getLogger("waitress").setLevel(logging.CRITICAL)
logging.getLogger("scim2_server").setLevel(logging.CRITICAL)

StartResponse = Callable[..., Any]
App = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _attribute(name: str, kind: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "multiValued": False,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }


NHI_SCHEMA = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "id": NHI,
    "name": "NonHumanIdentity",
    "description": "Owner, expiry and usage of an account",
    "attributes": [
        _attribute("owner"),
        _attribute("lastLoginAt", "dateTime"),
        _attribute("expiresAt", "dateTime"),
        _attribute("credentialRotatedAt", "dateTime"),
        _attribute("costCode"),
    ],
}


@functools.cache
def build_provider(*, patch: bool = True, etag: bool = True) -> ScimProvider:
    """The service's description (schemas, resource types, features); built once, shared."""
    schemas = [*load_default_schemas().values(), Schema.model_validate(NHI_SCHEMA)]
    types = load_json_resource("default-resource-types.json")
    types[0]["schemaExtensions"].append({"schema": NHI, "required": False})
    config = load_json_resource("default-service-provider-config.json")
    config["patch"]["supported"] = patch
    config["etag"]["supported"] = etag
    return ScimProvider.from_discovery(
        schemas,
        [ResourceType.model_validate(item) for item in types],
        config=ServiceProviderConfig.model_validate(config),
    )


@dataclass
class Seen:
    """One request the server received (``status`` is 0 until it is answered)."""

    method: str
    path: str
    query: str
    status: int
    at: float
    """``time.monotonic()`` when it arrived."""
    headers: Mapping[str, str]


@dataclass
class Rule:
    """Answer matching requests differently, ``times`` times (``None``: always)."""

    method: str | None
    path: re.Pattern[str]
    action: Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]
    times: int | None = 1

    def matches(self, environ: Mapping[str, Any]) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method and environ["REQUEST_METHOD"] != self.method:
            return False
        target = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
        return bool(self.path.search(target))


@dataclass
class Faults:
    """The middleware: records requests, applies the first matching rule."""

    app: App
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    peak: int = 0
    """The most requests that were being served at once."""

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.monotonic()
        rule = None
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            for candidate in self.rules:
                if candidate.matches(environ):
                    rule = candidate
                    if rule.times is not None:
                        rule.times -= 1
                    break
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        seen = Seen(
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            0,
            arrived,
            headers,
        )
        with self.lock:
            self.seen.append(seen)

        def recording(status_line: str, headers: Any, exc_info: Any = None) -> Any:
            seen.status = int(status_line.split()[0])
            return start_response(status_line, headers, exc_info)

        try:
            if rule is None:
                return list(self.app(environ, recording))
            return rule.action(environ, recording, self.app)
        finally:
            with self.lock:
                self.in_flight -= 1

    def add(
        self,
        action: Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]],
        *,
        method: str | None = None,
        path: str = "",
        times: int | None = 1,
    ) -> None:
        with self.lock:
            self.rules.append(Rule(method, re.compile(path), action, times))

    def methods(self) -> Counter[str]:
        with self.lock:
            return Counter(seen.method for seen in self.seen)


# --- fault actions ------------------------------------------------------------------------


def answer(
    status: int, headers: Mapping[str, str] | None = None, body: Any = None
) -> Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]:
    """Answer without reaching the server."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> list[bytes]:
        payload = json.dumps(body if body is not None else {"detail": f"injected {status}"})
        data = payload.encode()
        start_response(
            f"{status} Injected",
            [
                ("Content-Type", "application/scim+json"),
                ("Content-Length", str(len(data))),
                *(headers or {}).items(),
            ],
        )
        return [data]

    return action


def page(status: int, html: str) -> Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]:
    """Answer with an HTML page, as a proxy or gateway in front of the service does."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> list[bytes]:
        data = html.encode()
        start_response(
            f"{status} Injected",
            [("Content-Type", "text/html"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return action


def delay(seconds: float) -> Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]:
    """Let the server answer, ``seconds`` late."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> list[bytes]:
        time.sleep(seconds)
        return list(app(environ, start_response))

    return action


def drop_after_commit() -> Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]:
    """Let the server do the work, then break the connection mid-answer."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> Iterator[bytes]:
        list(app(environ, lambda status, headers, exc_info=None: None))
        # A status whose answer has a body (204 has none), so the client must read it.
        start_response("200 OK", [("Content-Length", "500"), ("Content-Type", "text/plain")])

        def broken() -> Iterator[bytes]:
            yield b"partial"
            raise ConnectionAbortedError("injected: connection dropped after commit")

        return broken()

    return action


def rewrite_list(
    change: Callable[[dict[str, Any]], None],
) -> Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]:
    """Let the server answer a listing, then change the ListResponse (a lying server)."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> list[bytes]:
        captured: list[Any] = []

        def keep(status: str, headers: Any, exc_info: Any = None) -> None:
            captured.append((status, headers))

        body = json.loads(b"".join(app(environ, keep)))
        change(body)
        data = json.dumps(body).encode()
        status, headers = captured[0]
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(data)))])
        return [data]

    return action


def token_endpoint(
    client_id: str, client_secret: str, token: str = TOKEN
) -> Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]:
    """An OAuth 2.0 token endpoint (client credentials, client auth by HTTP Basic)."""
    import base64
    from urllib.parse import parse_qs

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> list[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(size).decode())
        expected = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        good = environ.get("HTTP_AUTHORIZATION") == f"Basic {expected}"
        if not good or form.get("grant_type") != ["client_credentials"]:
            return answer(401, body={"error": "invalid_client"})(environ, start_response, app)
        return answer(
            200, body={"access_token": token, "token_type": "Bearer", "expires_in": 3600}
        )(environ, start_response, app)

    return action


def basic_to_bearer(
    username: str, password: str
) -> Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]:
    """Accept HTTP Basic credentials in front of a server that only knows bearer tokens."""
    import base64

    expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> list[bytes]:
        if environ.get("HTTP_AUTHORIZATION") == expected:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
        else:
            environ.pop("HTTP_AUTHORIZATION", None)
        return list(app(environ, start_response))

    return action


# --- the server ---------------------------------------------------------------------------


class ScimServer:
    """scim2-server with its storage at hand, served on 127.0.0.1 in a daemon thread."""

    def __init__(self, *, patch: bool = True, etag: bool = True, threads: int = 8) -> None:
        self.provider = build_provider(patch=patch, etag=etag)
        self.storage = InMemoryStorage()
        scim = BearerTokenApplication(
            self.storage, self.provider, ScimService(self.provider), bearer_tokens=[TOKEN]
        )
        self.faults = Faults(scim)
        self.server = create_server(self.faults, host="127.0.0.1", port=0, threads=threads)
        self._stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.types = {rt.name: rt for rt in self.provider.resource_types}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.effective_port}/v2"

    def _create(self, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        with self.provider:
            model = self.provider.model_for(kind)
            assert model is not None
            created = self.storage.create(self.types[kind], model.model_validate(dict(data)))
            dumped: dict[str, Any] = json.loads(created.model_dump_json(by_alias=True))
            return dumped

    def add_user(
        self,
        user_name: str,
        *,
        email: str | None = None,
        external_id: str | None = None,
        active: bool = True,
        enterprise: Mapping[str, Any] | None = None,
        nhi: Mapping[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"schemas": [USER], "userName": user_name, "active": active}
        if email:
            data["emails"] = [{"value": email, "primary": True, "type": "work"}]
        if external_id:
            data["externalId"] = external_id
        if enterprise:
            data["schemas"].append(ENTERPRISE)
            data[ENTERPRISE] = dict(enterprise)
        if nhi:
            data["schemas"].append(NHI)
            data[NHI] = dict(nhi)
        data.update(extra)
        return self._create("User", data)

    def add_group(self, name: str, members: Iterable[str]) -> dict[str, Any]:
        return self._create(
            "Group",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": [{"value": member} for member in members],
            },
        )

    def change_user(self, user_id: str, **changes: Any) -> dict[str, Any]:
        """Change a user behind nhirecon's back, as an administrator would (new version)."""
        with self.provider:
            kind = self.types["User"]
            data = json.loads(self.storage.get(kind, user_id).model_dump_json(by_alias=True))
            data.update(changes)
            data.pop("meta", None)
            model = self.provider.model_for("User")
            assert model is not None
            updated = self.storage.update(kind, model.model_validate(data))
            result: dict[str, Any] = json.loads(updated.model_dump_json(by_alias=True))
            return result

    def delete_user(self, user_id: str) -> None:
        with self.provider:
            self.storage.delete(self.types["User"], user_id)

    def users(self) -> dict[str, dict[str, Any]]:
        """Every user now stored, by userName."""
        with self.provider:
            found = {}
            for resource in self.storage.resources:
                data = json.loads(resource.model_dump_json(by_alias=True))
                if "userName" in data:
                    found[data["userName"]] = data
            return found

    def _serve(self) -> None:
        while not self._stopping.is_set():
            self.server.asyncore.loop(timeout=0.05, map=self.server._map, count=1)

    def close(self) -> None:
        self._stopping.set()
        self.thread.join(timeout=5)
        self.server.close()


@contextmanager
def running(**options: Any) -> Iterator[ScimServer]:
    server = ScimServer(**options)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def server() -> Iterator[ScimServer]:
    """A running server, stopped after the test (imported by the modules that use it)."""
    with running() as started:
        yield started


@pytest.fixture
def scim_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bearer token the server takes, where the configs of these tests look for it."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


# --- an estate that exercises the finding kinds ------------------------------------------

NOW = "2026-11-28T00:00:00Z"
HR_CSV = """\
employee_id,work_email,login,full_name,employment_status,department,end_date
E1,alice@example.com,alice,Alice Archer,active,Engineering,
E2,bob@example.com,bob,Bob Baker,terminated,Engineering,
E3,carol@example.com,carol,Carol Cole,active,Sales,
E4,dave@example.com,dave,Dave Dunn,active,Engineering,
E5,erin@example.com,erin,Erin Eve,active,Finance,2026-01-31
E6,grace@example.com,grace,Grace Gale,active,Engineering,
E7,sam@example.com,sam,Sam One,active,Support,
E8,sam@example.com,sam2,Sam Two,active,Support,
"""
EXPECTED_ACTIONS = {"bob": "disable", "erin": "disable", "mallory": "disable", "olivia": "delete"}
"""What the estate's config remediates: leaver, expired, jit-orphan (disable), orphan
(delete). Everyone else must be left as they are."""


def seed_estate(server: ScimServer) -> dict[str, dict[str, Any]]:
    """Users planted with drift; returns them by userName."""
    eng = {"department": "Engineering"}
    old_login = {"lastLoginAt": "2025-01-01T00:00:00Z"}
    users = [
        server.add_user("alice", email="alice@example.com", external_id="E1", enterprise=eng),
        server.add_user("bob", email="bob@example.com", external_id="E2", enterprise=eng),
        server.add_user(
            "carol",
            email="carol@example.com",
            external_id="E3",
            enterprise={"department": "Marketing"},
        ),
        server.add_user("dave", email="dave@example.com", enterprise=eng),
        server.add_user(
            "erin",
            email="erin@example.com",
            external_id="E5",
            enterprise={"department": "Finance"},
        ),
        server.add_user(
            "grace", email="grace@example.com", external_id="E6", enterprise=eng, nhi=old_login
        ),
        server.add_user("sam", email="sam@example.com"),
        server.add_user("mallory", email="mallory@example.com"),
        server.add_user("olivia", email="olivia@example.com", external_id="X9"),
        server.add_user("breakglass", email="breakglass@example.com", external_id="BG1"),
        server.add_user("frank", email="frank@example.com", active=False),
    ]
    return {user["userName"]: user for user in users}


def estate_config(
    server: ScimServer,
    *,
    policy: str = "max_action_percent: 50",
    target_options: str = "",
    remediate: str = "{jit-orphan: disable, orphan: delete, leaver: disable, expired: disable}",
    compare: str = "[department]",
    extra_map: str = "",
    extra: str = "",
) -> str:
    """The YAML of a config auditing the estate: an HR CSV and the SCIM server."""
    return f"""\
version: 1
source:
  name: hr
  connector: csv
  path: hr.csv
  map: {{id: employee_id, email: work_email, username: login, display_name: full_name,
        status: employment_status, department: department, expires_at: end_date}}
targets:
  - name: app
    connector: scim
    url: {server.url}
    auth: {{type: bearer, token_env: {TOKEN_ENV}}}
    backoff: 0.01
    map:
      last_login_at: "{NHI}:lastLoginAt"
{_indent(extra_map, 6)}
    correlate:
      - {{account: external_id, identity: id}}
      - {{account: email, identity: email}}
    compare: {compare}
    remediate: {remediate}
{_indent(target_options, 4)}
protected:
  - {{target: app, account: breakglass}}
policy:
  {policy}
history: history.db
{extra}
"""


def _indent(text: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())
