"""Signing in to Microsoft Entra ID as an application (the OAuth 2.0 client credentials grant).

The token comes from ``POST {login_url}/{tenant_id}/oauth2/v2.0/token`` with
``scope={graph}/.default``. The application proves who it is with a client secret (sent in
the form body, as Microsoft documents it) or with a certificate: a JWT client assertion
signed RS256 with the certificate's private key, whose header names the certificate by its
SHA-1 (``x5t``) and SHA-256 (``x5t#S256``) thumbprints, as the Microsoft identity platform's
"certificate credentials" page describes. Signing needs PyJWT with its crypto extra (``pip
install 'nhirecon[entra-cert]'``), imported only when a certificate is configured.

The secret, the private key, every assertion and every token are registered with the
transport, so no answer, log line or message ever shows them.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

from nhirecon.connectors.graph_paging import graph_detail
from nhirecon.errors import ConfigError
from nhirecon.http.auth import TokenCache, issued_token
from nhirecon.http.transport import HttpError, Transport

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME: Final = 600
"""Seconds a client assertion is valid: Microsoft asks for a short one (5 to 10 minutes)."""
EXTRA: Final = "pip install 'nhirecon[entra-cert]'"
_KEY = re.compile(
    r"-----BEGIN (?P<kind>RSA |ENCRYPTED |EC )?PRIVATE KEY-----(?P<body>.*?)"
    r"-----END (?P=kind)?PRIVATE KEY-----",
    re.DOTALL,
)
_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.DOTALL)
TOKEN_HINTS: Final[Mapping[str, str]] = {
    "invalid_client": (
        "Entra refused the application's credential: check client_id, and that the secret or"
        " certificate is the app registration's current one (AADSTS7000222: it expired)"
    ),
    "unauthorized_client": "check client_id and tenant_id: the application is not in that tenant",
    "invalid_scope": "check scope (default: the Graph URL followed by /.default)",
    "invalid_request": "check tenant_id (a GUID or a domain such as contoso.onmicrosoft.com)",
}


def token_url(login_url: str, tenant_id: str) -> str:
    return f"{login_url}/{tenant_id}/oauth2/v2.0/token"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ClientSecret:
    """A client secret, sent as ``client_secret`` in the token request's form body."""

    value: str = field(repr=False)

    def form(self, url: str, client_id: str) -> dict[str, str]:
        return {"client_secret": self.value}

    def secrets(self) -> Iterable[str]:
        return (self.value,)


@dataclass
class ClientCertificate:
    """A certificate and its private key: each token request carries a fresh assertion."""

    key: Any = field(repr=False)
    thumbprint_sha1: str
    thumbprint_sha256: str
    jwt: ModuleType = field(repr=False)
    hidden: tuple[str, ...] = field(default=(), repr=False)
    """The private key's PEM text, its base64 body and each of its lines."""
    issued: list[str] = field(default_factory=list, repr=False)

    def assertion(self, url: str, client_id: str) -> str:
        now = int(time.time())
        claims = {
            "aud": url,
            "iss": client_id,
            "sub": client_id,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        headers = {"x5t": self.thumbprint_sha1, "x5t#S256": self.thumbprint_sha256}
        signed = str(self.jwt.encode(claims, self.key, algorithm="RS256", headers=headers))
        self.issued.append(signed)
        return signed

    def form(self, url: str, client_id: str) -> dict[str, str]:
        return {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.assertion(url, client_id),
        }

    def secrets(self) -> Iterable[str]:
        return (*self.hidden, *self.issued)


def load_certificate(pem: str, key: str) -> ClientCertificate:
    """The certificate credential a PEM text holds (an unencrypted RSA private key and the
    certificate that goes with it); ``key`` is the option's key path, for messages. The
    text is never shown."""
    try:
        jwt = importlib.import_module("jwt")
        algorithms = importlib.import_module("jwt.algorithms")
        serialization = importlib.import_module("cryptography.hazmat.primitives.serialization")
        rsa = importlib.import_module("cryptography.hazmat.primitives.asymmetric.rsa")
        x509 = importlib.import_module("cryptography.x509")
    except ImportError:
        raise ConfigError(
            f"a certificate credential needs PyJWT with its crypto extra: {EXTRA}", key=key
        ) from None
    if not getattr(algorithms, "has_crypto", False):
        raise ConfigError(f"PyJWT is installed without its crypto extra: {EXTRA}", key=key)
    text = pem.replace("\\n", "\n") if "\n" not in pem.strip() else pem
    found_key = _KEY.search(text)
    found_certificate = _CERTIFICATE.search(text)
    if found_key is None or found_certificate is None:
        raise ConfigError(
            "the environment variable must hold a PEM private key and its certificate"
            " (-----BEGIN PRIVATE KEY----- and -----BEGIN CERTIFICATE-----; the value is"
            " not shown)",
            key=key,
        )
    lines = [line.strip() for line in found_key.group("body").split("\n") if line.strip()]
    hidden = (found_key.group(), "".join(lines), *lines)
    try:
        private = serialization.load_pem_private_key(found_key.group().encode(), password=None)
        certificate = x509.load_pem_x509_certificate(found_certificate.group().encode())
    except (ValueError, TypeError) as exc:
        problem = "is encrypted" if isinstance(exc, TypeError) else "cannot be read"
        raise ConfigError(
            f"the PEM private key or certificate {problem} (an unencrypted key is needed;"
            " the value is not shown)",
            key=key,
        ) from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ConfigError("the private key must be an RSA key (Entra signs with RS256)", key=key)
    if private.public_key().public_numbers() != certificate.public_key().public_numbers():
        raise ConfigError("the certificate does not belong to the private key", key=key)
    der = certificate.public_bytes(serialization.Encoding.DER)
    return ClientCertificate(
        key=private,
        thumbprint_sha1=_b64url(hashlib.sha1(der, usedforsecurity=False).digest()),
        thumbprint_sha256=_b64url(hashlib.sha256(der).digest()),
        jwt=jwt,
        hidden=hidden,
    )


@dataclass
class EntraCredentials:
    """An application's token for Graph, fetched when first needed and renewed near its
    expiry or after a 401 (the :class:`~nhirecon.http.transport.Credentials` protocol)."""

    url: str
    """The token endpoint."""
    client_id: str
    scope: str
    proof: ClientSecret | ClientCertificate
    _cache: TokenCache = field(default_factory=TokenCache, repr=False)

    def headers(self, transport: Transport) -> Mapping[str, str]:
        return self._cache.headers(lambda: self._fetch(transport))

    def refresh(self, transport: Transport) -> bool:
        return self._cache.drop()

    def secrets(self) -> Iterable[str]:
        token = (self._cache.token,) if self._cache.token else ()
        return (*self.proof.secrets(), *token)

    def _fetch(self, transport: Transport) -> tuple[str, float]:
        form = {
            "client_id": self.client_id,
            "scope": self.scope,
            "grant_type": "client_credentials",
            **self.proof.form(self.url, self.client_id),
        }
        transport.extra_secrets.update(self.proof.secrets())
        response = transport.request(
            "POST",
            self.url,
            form=form,
            headers={"Accept": "application/json"},
            authenticate=False,
            scrub=False,  # it hands over the token it issues
        )
        if response.status != 200:
            redactor = transport.redactor()
            code, detail = graph_detail(response, redactor)
            hint = TOKEN_HINTS.get(code, "")
            parts = (detail, "expected 200 with an access token", hint)
            text = "; ".join(part for part in parts if part)
            raise HttpError("POST", self.url, response.status, redactor.scrub_message(text))
        token, seconds = issued_token(response.json(), self.url)
        transport.extra_secrets.add(token)
        return token, seconds
