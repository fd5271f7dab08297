"""Authentication for live connectors: bearer tokens, basic auth, OAuth 2.0 client credentials.

The ``auth`` option is checked in two steps. Its shape (type, keys) is checked when the
config is read, so mistakes name the key path and line. Secrets are read from environment
variables only when the connector is opened; a missing variable is a config error naming
the key path that names it. No secret is ever put in a message.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.http.transport import Anonymous, Credentials, Transport
from nhirecon.http.urls import url_problem

REQUIRED: Final[Mapping[str, frozenset[str]]] = {
    "none": frozenset(),
    "bearer": frozenset({"token_env"}),
    "basic": frozenset({"password_env"}),
    "oauth2": frozenset({"token_url", "client_secret_env"}),
}
ALLOWED: Final[Mapping[str, frozenset[str]]] = {
    "none": frozenset({"type"}),
    "bearer": frozenset({"type", "token_env"}),
    "basic": frozenset({"type", "username", "username_env", "password_env"}),
    "oauth2": frozenset(
        {"type", "token_url", "client_id", "client_id_env", "client_secret_env", "scope"}
    ),
}
ONE_OF: Final[Mapping[str, tuple[str, str]]] = {
    "basic": ("username", "username_env"),
    "oauth2": ("client_id", "client_id_env"),
}
EXPIRY_MARGIN: Final = 60.0
"""Seconds before an OAuth token's announced expiry at which it is renewed."""


def problems(auth: Mapping[str, Any], *, allow_http: bool) -> list[tuple[str, str]]:
    """Problems with an ``auth`` mapping, as (key relative to ``auth``, message)."""
    kind = auth.get("type")
    if not isinstance(kind, str) or kind not in ALLOWED:
        return [("type", f"expected one of {', '.join(sorted(ALLOWED))}, got {kind!r}")]
    found: list[tuple[str, str]] = []
    for key in sorted(set(auth) - ALLOWED[kind]):
        hint = " (secrets come from environment variables: use a *_env key)" * (
            key in ("token", "password", "client_secret")
        )
        found.append(
            (
                key,
                f"unknown key for {kind} auth (allowed: {', '.join(sorted(ALLOWED[kind]))}){hint}",
            )
        )
    for key in sorted(REQUIRED[kind] - set(auth)):
        found.append((key, f"required by {kind} auth"))
    if kind in ONE_OF:
        plain, env = ONE_OF[kind]
        if (plain in auth) == (env in auth):
            found.append((env, f"give exactly one of {plain} and {env}"))
    for key, value in auth.items():
        if key != "type" and not (isinstance(value, str) and value.strip()):
            found.append((key, f"expected a non-empty string, got {value!r}"))
    token_url = auth.get("token_url")
    if isinstance(token_url, str):
        problem = url_problem(token_url, allow_http=allow_http)
        if problem:
            found.append(("token_url", problem))
    return found


def _env(auth: Mapping[str, Any], key: str, where: str) -> str:
    name = str(auth[key])
    value = os.environ.get(name)
    if value is None or not value.strip():
        raise ConfigError(
            f"environment variable {name} is not set (it should hold the secret)",
            key=f"{where}.{key}",
        )
    return value.strip()


def credentials(auth: Mapping[str, Any] | None, where: str) -> Credentials:
    """The credentials an ``auth`` mapping describes, with secrets read from the environment.

    ``where`` is the key path of the ``auth`` mapping, for messages.
    """
    if auth is None or auth.get("type") == "none":
        return Anonymous()
    kind = auth["type"]
    if kind == "bearer":
        token = _env(auth, "token_env", where)
        if not (token.isascii() and token.isprintable()):
            raise ConfigError(
                f"environment variable {auth['token_env']} holds a line break, a control or a"
                " non-ASCII character, which a bearer token cannot (the value is not shown)",
                key=f"{where}.token_env",
            )
        return Bearer(token)
    if kind == "basic":
        username = _env(auth, "username_env", where) if "username_env" in auth else auth["username"]
        return Basic(str(username), _env(auth, "password_env", where))
    client_id = _env(auth, "client_id_env", where) if "client_id_env" in auth else auth["client_id"]
    return ClientCredentials(
        token_url=str(auth["token_url"]),
        client_id=str(client_id),
        client_secret=_env(auth, "client_secret_env", where),
        scope=str(auth["scope"]) if auth.get("scope") else None,
    )


@dataclass(frozen=True)
class Bearer:
    token: str = field(repr=False)

    def headers(self, transport: Transport) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def refresh(self, transport: Transport) -> bool:
        return False

    def secrets(self) -> Iterable[str]:
        return (self.token,)


@dataclass(frozen=True)
class Basic:
    username: str
    password: str = field(repr=False)

    @property
    def _encoded(self) -> str:
        return base64.b64encode(f"{self.username}:{self.password}".encode()).decode()

    def headers(self, transport: Transport) -> Mapping[str, str]:
        return {"Authorization": f"Basic {self._encoded}"}

    def refresh(self, transport: Transport) -> bool:
        return False

    def secrets(self) -> Iterable[str]:
        return (self.password, self._encoded)


class TokenCache:
    """A bearer token held until shortly before it expires (``EXPIRY_MARGIN``), fetched
    when missing, one fetch at a time however many workers ask."""

    def __init__(self) -> None:
        self.token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def headers(self, fetch: Callable[[], tuple[str, float]]) -> Mapping[str, str]:
        """The ``Authorization`` header; ``fetch`` gives a new token and its lifetime in
        seconds when there is none or it is about to expire."""
        with self._lock:
            if self.token is None or time.monotonic() >= self._expires:
                token, seconds = fetch()
                self.token = token
                self._expires = time.monotonic() + max(0.0, seconds - EXPIRY_MARGIN)
            return {"Authorization": f"Bearer {self.token}"}

    def drop(self) -> bool:
        """Forget the token (the service refused it); whether there was one."""
        with self._lock:
            had = self.token is not None
            self.token = None
            return had


def issued_token(data: object, url: str, lifetime: float = 3600.0) -> tuple[str, float]:
    """The access token of a token endpoint's JSON answer (RFC 6749 §5.1) and its
    lifetime in seconds: ``expires_in``, as a number or as digits (Microsoft's v1
    endpoint), else ``lifetime``. A missing token is a :class:`ConnectorError` naming
    ``url``. (A token holding a line break or a control character is refused by the
    transport when it would be sent, as every header value is, and never shown.)"""
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectorError(f"POST {url}: the answer holds no access_token")
    expires_in = data.get("expires_in") if isinstance(data, dict) else None
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    seconds = float(expires_in) if isinstance(expires_in, int | float) else lifetime
    return token, seconds


@dataclass
class ClientCredentials:
    """OAuth 2.0 client credentials grant (RFC 6749 §4.4), token cached until near expiry."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    _cache: TokenCache = field(default_factory=TokenCache, repr=False)

    def headers(self, transport: Transport) -> Mapping[str, str]:
        return self._cache.headers(lambda: self._fetch(transport))

    def refresh(self, transport: Transport) -> bool:
        return self._cache.drop()

    def secrets(self) -> Iterable[str]:
        return tuple(value for value in (self.client_secret, self._cache.token) if value)

    def _fetch(self, transport: Transport) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        transport.extra_secrets.add(basic)
        response = transport.request(
            "POST",
            self.token_url,
            form=form,
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            authenticate=False,
            scrub=False,  # it hands over the token it issues, which may be the one in use
        )
        if response.status != 200:
            raise transport.fail(response, "200 with an access token")
        token, seconds = issued_token(response.json(), self.token_url)
        transport.extra_secrets.add(token)
        return token, seconds
