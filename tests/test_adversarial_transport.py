"""Nobody is let in: TLS is verified by default against a real HTTPS front of the test SCIM
server (a self-signed certificate made at test time), turned off only by an explicit
``verify_tls: false`` that is warned about, plain http goes nowhere but this machine, and
redirects are never followed with the credentials."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from nhirecon import config
from nhirecon.errors import ConfigError

from .adversarial import https, self_signed
from .conftest import Run
from .scim_server import (
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    answer,
    estate_config,
    rewrite_list,
    running,
    seed_estate,
)

UNVERIFIED = "certificate could not be verified"


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running() as started:
        seed_estate(started)
        yield started


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path / "tls", "localhost", "127.0.0.1")


@pytest.fixture
def front(server: ScimServer, certificate: tuple[Path, Path]) -> Iterator[str]:
    """The test SCIM server over HTTPS, with the self-signed certificate."""
    with https(server.faults, *certificate) as port:
        yield f"https://127.0.0.1:{port}/v2"


Configure = Callable[..., None]


@pytest.fixture
def configure(server: ScimServer, tmp_path: Path) -> Configure:
    def writer(url: str, options: str = "") -> None:
        (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
        text = estate_config(server, target_options=f"retries: 1\n{options}")
        (tmp_path / "nhirecon.yaml").write_text(text.replace(server.url, url), encoding="utf-8")

    return writer


@pytest.fixture
def nhirecon(run: Run) -> Run:
    def runner(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return run(*args, env={TOKEN_ENV: TOKEN, **(env or {})}, **kwargs)

    return runner


def test_an_untrusted_certificate_is_refused_by_default_and_no_request_is_sent(
    server: ScimServer, front: str, configure: Configure, nhirecon: Run, tmp_path: Path
) -> None:
    configure(front)
    # Variables that turn verification off for other tools must not do so here.
    lax = {"PYTHONHTTPSVERIFY": "0", "CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": ""}
    for command in (["validate", "--connect"], ["plan", "--now", NOW, "-o", "plan.json"]):
        result = nhirecon(*command, env=lax)
        assert result.returncode == 3, result.stderr
        assert f"GET {front}/Users?" in result.stderr
        assert UNVERIFIED in result.stderr
        assert "self-signed certificate" in result.stderr
        assert "ca_bundle" in result.stderr, "the message says how to trust a private CA"
        assert result.stderr.count("\n") == 1, "one line, no traceback"
    assert not (tmp_path / "plan.json").exists()
    assert server.faults.seen == [], "the handshake failed: no request, no token, went out"


def test_ca_bundle_trusts_the_certificate(
    server: ScimServer, front: str, configure: Configure, nhirecon: Run
) -> None:
    configure(front, "ca_bundle: tls/cert.pem")  # relative to the config's folder
    result = nhirecon("validate", "--connect")
    assert result.returncode == 0, result.stderr
    assert "app (scim): 11 records" in result.stdout
    applied = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-q")
    assert applied.returncode == 0, applied.stderr
    assert server.users()["bob"]["active"] is False, "writes go over the verified connection"
    assert "verification is off" not in result.stderr + applied.stderr


def test_a_trusted_certificate_for_another_name_is_refused(
    server: ScimServer, configure: Configure, nhirecon: Run, tmp_path: Path
) -> None:
    other = self_signed(tmp_path / "tls", "scim.other.example")
    with https(server.faults, *other) as port:
        url = f"https://127.0.0.1:{port}/v2"
        configure(url, "ca_bundle: tls/cert.pem")
        result = nhirecon("validate", "--connect")
    assert result.returncode == 3
    assert f"GET {url}/Users?" in result.stderr
    assert UNVERIFIED in result.stderr
    assert "127.0.0.1" in result.stderr.split(UNVERIFIED)[1], "says the name does not match"
    assert server.faults.seen == []


def test_verify_tls_false_works_only_as_a_yaml_false_and_is_warned_about(
    server: ScimServer, front: str, configure: Configure, nhirecon: Run, tmp_path: Path
) -> None:
    for value in ('"false"', "0", "off-please", "null"):
        configure(front, f"verify_tls: {value}")
        with pytest.raises(ConfigError, match=r"targets\[0\]\.verify_tls: expected") as raised:
            config.load(tmp_path / "nhirecon.yaml")
        assert raised.value.exit_code == 2, value

    configure(front, "verify_tls: false")
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-f", "json", "-o", "r.json")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "verification is off" in line]
    assert len(warnings) == 1, result.stderr  # once, though the run opens the target twice
    assert "WARNING" in warnings[0] and front in warnings[0] and "targets[0]" in warnings[0]
    assert "InsecureRequestWarning" not in result.stderr
    assert server.users()["bob"]["active"] is False


def test_a_missing_ca_bundle_is_a_config_error(
    front: str, configure: Configure, nhirecon: Run
) -> None:
    configure(front, "ca_bundle: tls/missing.pem")
    result = nhirecon("validate")
    assert result.returncode == 2
    assert "targets[0].ca_bundle" in result.stderr and "missing.pem" in result.stderr


# --- plain http ---------------------------------------------------------------------------


def test_plain_http_to_another_host_is_refused_unless_allowed(
    configure: Configure, nhirecon: Run, tmp_path: Path
) -> None:
    configure("http://scim.example.com/v2")
    result = nhirecon("validate")
    assert result.returncode == 2
    assert "targets[0].url" in result.stderr and "plain http is refused" in result.stderr
    configure("http://scim.example.com/v2", "allow_http: true")
    assert config.load(tmp_path / "nhirecon.yaml").targets[0].name == "app"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1.nip.io/v2",
        "http://localhost.attacker.example/v2",
        "http://127.0.0.1@attacker.example/v2",
        "http://attacker.example#@127.0.0.1/v2",
        "http://attacker.example?@127.0.0.1/v2",
        "http://attacker.example\\@127.0.0.1/v2",
        "http://0.0.0.0/v2",
        "http://127.1/v2",
        "http://2130706433/v2",
        "http://[::ffff:10.0.0.1]/v2",
        "HTTP://attacker.example/v2",
        "http://attacker.example:80/v2",
    ],
)
def test_urls_that_look_local_but_are_not_are_refused(tmp_path: Path, url: str) -> None:
    (tmp_path / "hr.csv").write_text(HR_CSV)
    for key in ("url", "token_url"):
        scim_url = url if key == "url" else "https://scim.example.com/v2"
        auth = (
            f"{{type: oauth2, token_url: '{url}', client_id: c, client_secret_env: S}}"
            if key == "token_url"
            else "{type: none}"
        )
        (tmp_path / "c.yaml").write_text(
            "version: 1\n"
            "source: {name: hr, connector: csv, path: hr.csv, map: {id: employee_id}}\n"
            f"targets:\n  - {{name: app, connector: scim, url: '{scim_url}', auth: {auth}}}\n"
        )
        with pytest.raises(ConfigError) as raised:
            config.load(tmp_path / "c.yaml")
        where = "targets[0].url" if key == "url" else "targets[0].auth.token_url"
        assert where in str(raised.value), str(raised.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/v2", "http://[::1]:9/v2", "http://localhost:9"]
)
def test_plain_http_to_this_machine_is_allowed(tmp_path: Path, url: str) -> None:
    (tmp_path / "hr.csv").write_text(HR_CSV)
    (tmp_path / "c.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: employee_id}}\n"
        f"targets:\n  - {{name: app, connector: scim, url: '{url}'}}\n"
    )
    assert config.load(tmp_path / "c.yaml").targets[0].name == "app"


# --- redirects ----------------------------------------------------------------------------


class _Trap(BaseHTTPRequestHandler):
    """Records every request it gets, with its Authorization header."""

    caught: ClassVar[list[tuple[str, str | None]]] = []
    lock = threading.Lock()

    def do_GET(self) -> None:
        with self.lock:
            self.caught.append((self.path, self.headers.get("Authorization")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_is_not_followed_and_the_token_stays_home(
    server: ScimServer, configure: Configure, nhirecon: Run, status: int
) -> None:
    trap = ThreadingHTTPServer(("127.0.0.1", 0), _Trap)
    threading.Thread(target=trap.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    _Trap.caught = []
    try:
        elsewhere = f"http://127.0.0.1:{trap.server_port}/v2/Users"
        server.faults.add(answer(status, {"Location": elsewhere}), path="/Users", times=None)
        configure(server.url)
        result = nhirecon("plan", "--now", NOW, "-o", "plan.json")
    finally:
        trap.shutdown()
        trap.server_close()
    assert result.returncode == 3
    assert f"HTTP {status}" in result.stderr and f"{server.url}/Users" in result.stderr
    assert _Trap.caught == [], "nothing, and no token, went to where the redirect pointed"


# --- a hostile service --------------------------------------------------------------------


def test_a_version_that_would_inject_a_header_fails_that_action_only(
    server: ScimServer, configure: Configure, nhirecon: Run, tmp_path: Path
) -> None:
    """A service whose ``meta.version`` holds a line break cannot make ``If-Match`` carry a
    header of its choosing: that one write is not sent and fails; the others go through."""
    bob = server.users()["bob"]["id"]
    hostile = 'W/"1"\r\nX-Injected: yes'

    def poison(body: dict[str, Any]) -> None:
        for resource in body.get("Resources", [body]):
            if resource.get("id") == bob:
                resource["meta"]["version"] = hostile

    server.faults.add(rewrite_list(poison), method="GET", path="/Users", times=None)
    configure(server.url)
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-q")
    assert result.returncode == 5, result.stderr
    assert "Traceback" not in result.stderr
    assert "failed: disable app/bob" in result.stderr and "not sent" in result.stderr
    assert not [seen for seen in server.faults.seen if seen.method == "PATCH" and bob in seen.path]
    assert not [seen for seen in server.faults.seen if "X-Injected" in seen.headers]
    users = server.users()
    assert users["bob"]["active"] is True
    assert users["erin"]["active"] is False and "olivia" not in users
