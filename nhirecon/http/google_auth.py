"""Google service accounts: an access token for a signed assertion, the JWT bearer grant of
RFC 7523 as Google implements it, with domain-wide delegation (``sub``).

The service account's JSON key comes from an environment variable. The assertion is
signed RS256 by ``google-auth`` (the ``nhirecon[google]`` extra), imported only when a
Google connector is opened, so that nothing else needs it; a missing library is a config
error naming the extra. The token request itself goes to ``token_url`` through the
connector's own :class:`~nhirecon.http.transport.Transport`: the same TLS settings, proxy,
retries and rate limit as every other request, and a local server can stand in for Google.

Google's own description, "Using OAuth 2.0 for Server to Server Applications"
(developers.google.com/identity/protocols/oauth2/service-account), fixes the claims:
``iss`` the service account's email, ``scope`` space-separated, ``aud`` always
``https://oauth2.googleapis.com/token``, ``exp`` at most an hour after ``iat``, and ``sub``
the user to act as.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from nhirecon.errors import ConfigError
from nhirecon.http.answers import HttpError, error_detail
from nhirecon.http.auth import TokenCache, issued_token
from nhirecon.http.limits import Limits
from nhirecon.http.transport import Response, Transport
from nhirecon.http.urls import url_problem

GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URL: Final = "https://oauth2.googleapis.com/token"
"""Where Google's tokens come from, when neither ``token_url`` nor the key says."""
AUDIENCE: Final = GOOGLE_TOKEN_URL
"""Google: "When making an access token request this value is always
https://oauth2.googleapis.com/token", whichever endpoint the request goes to (google-auth
does the same), so a private endpoint or a proxy in ``token_url`` changes nothing."""
LIFETIME: Final = 3600
"""Seconds an assertion is valid: Google's maximum."""
EXTRA: Final = "google"
"""The optional dependencies to install: ``pip install 'nhirecon[google]'``."""

HINTS: Final[Mapping[str, str]] = {
    "invalid_grant": (
        "the key may have been deleted or disabled, `subject` may not be a user of the"
        " domain (or is suspended), or this machine's clock is off by minutes"
    ),
    "unauthorized_client": (
        "the service account's client ID is not authorized for the scope {scope} under"
        " domain-wide delegation (Admin console > Security > Access and data control > API"
        " controls > Domain-wide delegation), or `subject` is set for a service account"
        " that has no delegation"
    ),
    "access_denied": (
        "domain-wide delegation is turned off for this service account, or `subject` may not use it"
    ),
    "admin_policy_enforced": "a policy in the Admin console blocks this service account",
    "invalid_client": "the key does not belong to a service account that exists and is enabled",
    "disabled_client": "the service account is disabled",
    "invalid_scope": "Google does not accept the scope {scope}",
}
"""What Google's token errors usually mean, after its "JWT error codes" table."""


@dataclass(frozen=True)
class ServiceAccountKey:
    """What is used of a service account's JSON key."""

    client_email: str
    """The account's address: the assertion's ``iss``."""
    private_key: str = field(repr=False)
    """The PEM private key that signs the assertion."""
    private_key_id: str | None = None
    """The key's id, sent as the assertion's ``kid``."""
    token_uri: str | None = None
    """The token endpoint the key names."""

    def secrets(self) -> tuple[str, ...]:
        """The key's base64 body, whole and line by line (the PEM armour around it is the
        same in every key, and no secret)."""
        body = [
            line.strip()
            for line in self.private_key.replace("\\n", "\n").splitlines()
            if line.strip() and not line.strip().startswith("-----")
        ]
        return ("".join(body), *body)


def read_key(variable: str, where: str) -> ServiceAccountKey:
    """The service account key held by the environment variable ``variable``; ``where`` is
    the key path of the option that names it. Nothing of the value is ever shown."""
    value = os.environ.get(variable)
    if value is None or not value.strip():
        raise ConfigError(
            f"environment variable {variable} is not set (it should hold the service"
            " account's JSON key)",
            key=where,
        )
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise ConfigError(
            f"environment variable {variable} does not hold a JSON object (the contents of"
            " the service account's key file; the value is not shown)",
            key=where,
        )
    if data.get("type") != "service_account":
        kind = data.get("type")
        shown = repr(kind) if isinstance(kind, str) and len(kind) < 40 else "no type"
        raise ConfigError(
            f"environment variable {variable} holds a key of {shown}, not a service account"
            ' key ("type": "service_account")',
            key=where,
        )
    missing = [
        name
        for name in ("client_email", "private_key")
        if not (isinstance(data.get(name), str) and data[name].strip())
    ]
    if missing:
        raise ConfigError(
            f"environment variable {variable}: the service account key has no"
            f" {' and no '.join(missing)}",
            key=where,
        )
    optional = {
        name: data[name] if isinstance(data.get(name), str) and data[name].strip() else None
        for name in ("private_key_id", "token_uri")
    }
    return ServiceAccountKey(
        client_email=data["client_email"].strip(),
        private_key=data["private_key"],
        private_key_id=optional["private_key_id"],
        token_uri=optional["token_uri"],
    )


Signer = Callable[[Mapping[str, Any]], str]
"""Claims → a signed JWT."""


def rs256_signer(key: ServiceAccountKey, *, variable: str, where: str) -> Signer:
    """Signs claims RS256 with the key, through google-auth (imported here, on first use)."""
    try:
        crypt: Any = importlib.import_module("google.auth.crypt")
        jwt: Any = importlib.import_module("google.auth.jwt")
    except ImportError:
        raise ConfigError(
            "the google connector needs the google-auth library, which is not installed:"
            f" pip install 'nhirecon[{EXTRA}]'",
            key=where.rpartition(".")[0] + ".connector" if "." in where else "connector",
        ) from None
    try:
        signer = crypt.RSASigner.from_string(key.private_key, key.private_key_id)
    except Exception as exc:  # any failure means the same: the key cannot sign
        raise ConfigError(
            f"environment variable {variable}: the service account key's private_key is not"
            f" an RSA private key in PEM form ({type(exc).__name__}; the value is not shown)",
            key=where,
        ) from None

    def sign(claims: Mapping[str, Any]) -> str:
        signed = jwt.encode(signer, dict(claims))
        return signed.decode("ascii") if isinstance(signed, bytes) else str(signed)

    return sign


@dataclass
class JwtBearer:
    """Transport credentials: a Google access token for a service account, fetched with a
    signed assertion and cached until shortly before it expires."""

    key: ServiceAccountKey
    token_url: str
    scopes: tuple[str, ...]
    sign: Signer = field(repr=False)
    subject: str | None = None
    """The user to act as (domain-wide delegation); ``None``: the service account itself."""
    clock: Callable[[], float] = field(default=time.time, repr=False)
    _assertion: str | None = field(default=None, repr=False)
    _cache: TokenCache = field(default_factory=TokenCache, repr=False)

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    def claims(self, now: int) -> dict[str, Any]:
        """The assertion's claim set, issued at ``now`` (seconds since the epoch)."""
        claims: dict[str, Any] = {
            "iss": self.key.client_email,
            "scope": self.scope,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + LIFETIME,
        }
        if self.subject:
            claims["sub"] = self.subject
        return claims

    def headers(self, transport: Transport) -> Mapping[str, str]:
        return self._cache.headers(lambda: self._fetch(transport))

    def refresh(self, transport: Transport) -> bool:
        return self._cache.drop()

    def secrets(self) -> Iterable[str]:
        found = (*self.key.secrets(), self._cache.token, self._assertion)
        return tuple(value for value in found if value)

    def _fetch(self, transport: Transport) -> tuple[str, float]:
        self._assertion = self.sign(self.claims(int(self.clock())))
        response = transport.request(
            "POST",
            self.token_url,
            form={"grant_type": GRANT_TYPE, "assertion": self._assertion},
            headers={"Accept": "application/json"},
            authenticate=False,
            scrub=False,  # it hands over the token it issues
        )
        if response.status != 200:
            raise token_failure(transport, response, self.scope)
        return issued_token(response.json(), self.token_url, float(LIFETIME))


def token_failure(transport: Transport, response: Response, scope: str) -> HttpError:
    """The error for a refused token request: the URL and status, Google's error code and
    description (scrubbed of every secret before it is cut short), and what it usually
    means."""
    redactor = transport.redactor()
    code = _error_code(response)
    detail = error_detail(response, redactor)
    parts = [f"Google refused the service account's token request ({code or 'no error code'}"]
    if detail and detail != code:
        parts.append(f": {detail}")
    parts.append(")")
    hint = HINTS.get(code or "")
    if hint:
        parts.append(f"; {hint.format(scope=scope)}")
    if response.attempts > 1:
        parts.append(f" (after {response.attempts} attempts)")
    text = redactor.scrub_message("".join(parts))
    return HttpError(response.method, response.url, response.status, text)


def _error_code(response: Response) -> str | None:
    """The OAuth ``error`` of a token endpoint's answer (RFC 6749 §5.2), if it has one."""
    try:
        data = json.loads(response.body) if response.body.strip() else None
    except (ValueError, RecursionError):
        return None
    code = data.get("error") if isinstance(data, dict) else None
    return code if isinstance(code, str) and code.isascii() and len(code) < 64 else None


def service_account_transport(
    *,
    credentials_env: str,
    token_url: str | None,
    scope: str,
    subject: str | None,
    service: str,
    limits: Limits,
    allow_http: bool,
    verify_tls: bool,
    ca_bundle: str | None,
    prefix: str,
) -> Transport:
    """The transport of a Google API read as a service account: the key from the
    environment variable ``credentials_env``, the token from ``token_url`` (else the key's
    ``token_uri``, else Google's), sent through the same transport as the API. ``prefix`` is
    the option's key path (``targets[0].``) for config errors, which this raises for a key
    that cannot be used or a token URL that :func:`~nhirecon.http.urls.url_problem`
    refuses."""
    where = f"{prefix}credentials_env"
    key = read_key(credentials_env, where)
    sign = rs256_signer(key, variable=credentials_env, where=where)
    endpoint = token_url or key.token_uri or GOOGLE_TOKEN_URL
    problem = url_problem(endpoint, allow_http=allow_http)
    if problem:
        named = "token_url" if token_url else "credentials_env"
        origin = "" if token_url else f" (the token_uri of the key in {credentials_env})"
        raise ConfigError(f"{endpoint}{origin}: {problem}", key=f"{prefix}{named}")
    return Transport(
        limits=limits,
        credentials=JwtBearer(
            key=key, token_url=endpoint, scopes=(scope,), sign=sign, subject=subject
        ),
        verify_tls=verify_tls,
        ca_bundle=ca_bundle,
        service=service,
    )
