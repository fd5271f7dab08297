"""Self-signed certificates for tests that need one (Entra's certificate credential, an
IAM signing certificate)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def self_signed(key: Any, valid_from: datetime, valid_to: datetime) -> Any:
    """A certificate for ``key`` (a ``cryptography`` private key) signed by itself, named
    ``nhirecon-test``, valid from ``valid_from`` to ``valid_to``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nhirecon-test")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .sign(key, hashes.SHA256())
    )
