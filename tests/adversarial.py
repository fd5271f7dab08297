"""Tools for the adversarial tests: an HTTPS front for the test SCIM server, a server of
prepared pages for large estates, seeded faults, servers that echo credentials back, and a
search for secrets in everything a run leaves behind.

The fault actions plug into :class:`tests.scim_server.Faults`, like the ones defined there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import socketserver
import ssl
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from waitress.server import create_server

from .scim_server import TOKEN, USER, App, Faults, Rule, ScimServer, StartResponse, answer

Action = Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


# --- rules placed ahead of the others -----------------------------------------------------


def first(
    faults: Faults, action: Action, *, method: str | None = None, path: str = "", times: int | None
) -> Rule:
    """Put a rule in front of every rule already there; returns it, for :func:`drop`."""
    rule = Rule(method, re.compile(path), action, times)
    with faults.lock:
        faults.rules.insert(0, rule)
    return rule


def drop(faults: Faults, rule: Rule) -> None:
    with faults.lock:
        faults.rules.remove(rule)


# --- credentials, accepted or echoed back -------------------------------------------------


def basic(username: str, password: str) -> str:
    """The value of an HTTP Basic ``Authorization`` header."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def echo(status: int) -> Action:
    """Answer ``status`` with a SCIM error whose detail quotes the request's credentials, as
    careless services do; whatever the client shows of it must be scrubbed."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> Iterable[bytes]:
        header = environ.get("HTTP_AUTHORIZATION", "(none)")
        detail = f"request with Authorization: {header} was not accepted"
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": detail}
        return answer(status, body=body)(environ, start_response, app)

    return action


def only(expected: str) -> Action:
    """Let through requests whose ``Authorization`` is ``expected`` (as the server's own bearer
    token); answer anything else 401, echoing the credentials that were sent."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != expected:
            return echo(401)(environ, start_response, app)
        environ["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
        return list(app(environ, start_response))

    return action


def token_endpoint(client_id: str, client_secret: str, access_token: str) -> Action:
    """An OAuth 2.0 token endpoint (client credentials, client authenticated by HTTP Basic)
    that echoes the credentials it was sent when it refuses them."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> Iterable[bytes]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(size).decode())
        header = environ.get("HTTP_AUTHORIZATION", "(none)")
        if header != basic(client_id, client_secret) or form.get("grant_type") != [
            "client_credentials"
        ]:
            body = {"error": "invalid_client", "error_description": f"refused {header}"}
            return answer(401, body=body)(environ, start_response, app)
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 3600}
        return answer(200, body=body)(environ, start_response, app)

    return action


# --- secrets in what a run leaves ---------------------------------------------------------


def leaks(secrets: Iterable[str], texts: Sequence[tuple[str, str]], root: Path) -> list[str]:
    """Where any of ``secrets`` (or its middle, in case it was cut) appears: in the named
    texts, or in the bytes of any file under ``root``."""
    needles: set[str] = set()
    for secret in secrets:
        needles.add(secret)
        if len(secret) >= 16:
            needles.add(secret[4:-4])
    found = []
    for name, text in texts:
        found += [f"{name}: {needle!r}" for needle in needles if needle in text]
    for path in sorted(item for item in root.rglob("*") if item.is_file()):
        data = path.read_bytes()
        found += [f"{path}: {needle!r}" for needle in needles if needle.encode() in data]
    return found


# --- TLS ----------------------------------------------------------------------------------


def self_signed(folder: Path, *names: str) -> tuple[Path, Path]:
    """A new key and self-signed certificate for ``names`` (DNS names or IP addresses), made
    with the ``openssl`` command; returns (certificate, key)."""
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command is needed to make test certificates")
    folder.mkdir(parents=True, exist_ok=True)
    certificate, key = folder / "cert.pem", folder / "key.pem"
    alt = ",".join(
        f"IP:{name}" if re.fullmatch(r"[\d.]+|[\da-fA-F:]+:[\da-fA-F:]*", name) else f"DNS:{name}"
        for name in names
    )
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2"
    options = ["-keyout", key, "-out", certificate, "-subj", f"/CN={names[0]}"]
    extension = ["-addext", f"subjectAltName={alt}"]
    subprocess.run([*command.split(), *options, *extension], check=True, capture_output=True)
    return certificate, key


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def https(app: App, certificate: Path, key: Path) -> Iterator[int]:
    """Serve ``app`` over HTTPS on 127.0.0.1 with this certificate; yields the port.

    A client that rejects the certificate fails the handshake, so the app never sees its
    request (nor its credentials).
    """
    server = make_server(
        "127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


# --- a large estate: prepared pages -------------------------------------------------------


def user_id(number: int, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{number}".encode()).hexdigest()[:20]


def ids_digest(ids: Iterable[str]) -> str:
    """One digest of a set of ids, whatever their order."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


class PreparedUsers:
    """A SCIM service that only lists users: ``/ServiceProviderConfig`` and pages of
    ``/Users``, served from resources encoded once (scim2-server lists too slowly for
    100,000 users). Pages hold at most 1000 resources, as scim2-server's do."""

    def __init__(self, count: int, seed: int) -> None:
        self.ids = [user_id(number, seed) for number in range(count)]
        self.encoded = [
            json.dumps(
                {
                    "schemas": [USER],
                    "id": identifier,
                    "userName": f"user{number:06}",
                    "active": True,
                    "emails": [{"value": f"user{number:06}@example.com", "primary": True}],
                    "meta": {"resourceType": "User", "version": 'W/"1"'},
                }
            ).encode()
            for number, identifier in enumerate(self.ids)
        ]

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.endswith("/ServiceProviderConfig"):
            body = {"patch": {"supported": True}, "etag": {"supported": True}}
            return self._send(start_response, "200 OK", json.dumps(body).encode())
        if not path.endswith("/Users") or environ["REQUEST_METHOD"] != "GET":
            return self._send(start_response, "404 Not Found", b'{"status": "404"}')
        query = parse_qs(environ.get("QUERY_STRING", ""))
        start = max(1, int(query.get("startIndex", ["1"])[0]))
        count = max(0, min(int(query.get("count", ["100"])[0]), 1000))
        chunk = self.encoded[start - 1 : start - 1 + count]
        head = {
            "schemas": [LIST],
            "totalResults": len(self.encoded),
            "startIndex": start,
            "itemsPerPage": len(chunk),
        }
        data = json.dumps(head).encode()[:-1] + b', "Resources": [' + b",".join(chunk) + b"]}"
        return self._send(start_response, "200 OK", data)

    @staticmethod
    def _send(start_response: StartResponse, status: str, data: bytes) -> list[bytes]:
        start_response(
            status, [("Content-Type", "application/scim+json"), ("Content-Length", str(len(data)))]
        )
        return [data]


class SeededFaults:
    """A fault action for every request: each try of each URL draws from a hash of the
    seed, the URL and the try's number, so the same requests fail whatever the order the
    workers send them in. Failures answer 500, or 429 with ``Retry-After: 0``."""

    def __init__(self, seed: int, *, percent_500: float, percent_429: float) -> None:
        self.seed = seed
        self.percent_500 = percent_500
        self.percent_429 = percent_429
        self.tries: Counter[str] = Counter()
        self.injected: Counter[int] = Counter()
        self.lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse, app: App
    ) -> Iterable[bytes]:
        url = (
            f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO')}?{environ.get('QUERY_STRING')}"
        )
        with self.lock:
            self.tries[url] += 1
            attempt = self.tries[url]
        digest = hashlib.sha256(f"{self.seed}|{url}|{attempt}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2**64 * 100
        status = 0
        if draw < self.percent_500:
            status = 500
        elif draw < self.percent_500 + self.percent_429:
            status = 429
        if not status:
            return list(app(environ, start_response))
        with self.lock:
            self.injected[status] += 1
        return answer(status, {"Retry-After": "0"} if status == 429 else None)(
            environ, start_response, app
        )


@contextmanager
def serving(app: App, *, threads: int = 4) -> Iterator[str]:
    """Serve ``app`` with waitress on 127.0.0.1; yields the base URL (``…/v2``)."""
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    stopping = threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}/v2"
    finally:
        stopping.set()
        thread.join(timeout=5)
        server.close()


def committed_writes(server: ScimServer) -> Counter[str]:
    """Writes the service carried out (2xx), per account id."""
    with server.faults.lock:
        return Counter(
            seen.path.rsplit("/", 1)[1]
            for seen in server.faults.seen
            if seen.method in ("PATCH", "PUT", "DELETE") and 200 <= seen.status < 300
        )
