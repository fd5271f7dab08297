"""Search references (RFC 4511 §4.5.3) are never followed: a listing that meets one lacks
the entries the other server holds, so the pull fails unless ``references: skip`` says to
read without them; Active Directory's DNS and configuration partitions, which every search
of a domain's root meets and which hold no account, are skipped with ``flavor: ad``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config
from nhirecon.connectors.ldap_search import _ad_partition
from nhirecon.errors import ConnectorError

from .conftest import Run
from .test_ldap import (
    HR_SOURCE,
    SUFFIX,
    Certificates,
    Server,
    bulk_ldif,
    ldap_target,
    make_certificates,
    serve,
    source_options,
    write_config,
)

CONTRACTORS = f"ldap://contractors.corp.example/OU=Contractors,{SUFFIX}"
ZONES = f"ldap://DomainDnsZones.corp.example/DC=DomainDnsZones,{SUFFIX}"
CONFIGURATION = f"ldap://corp.example/CN=Configuration,{SUFFIX}"


def referral(dn: str, naming: str, uri: str) -> str:
    name, value = naming.split("=", 1)
    return (
        f"dn: {dn}\nobjectClass: referral\nobjectClass: extensibleObject\n"
        f"{name}: {value}\nref: {uri}\n"
    )


def directory(*uris: str) -> str:
    """Twenty people under ``OU=Bulk``, and a referral object for each of ``uris``."""
    entries = [bulk_ldif(20)]
    for uri in uris:
        dn = uri.rsplit("/", 1)[1]
        entries.append(referral(dn, dn.split(",", 1)[0], uri))
    return "\n".join(entries)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="module")
def referring(certificates: Certificates) -> Iterator[Server]:
    yield from serve(certificates, "", directory(CONTRACTORS, ZONES, CONFIGURATION))


@pytest.fixture(scope="module")
def partitions_only(certificates: Certificates) -> Iterator[Server]:
    yield from serve(certificates, "", directory(ZONES, CONFIGURATION))


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NHIRECON_TEST_LDAP_PASSWORD", "reader-secret-1")


PEOPLE = "(objectClass=inetOrgPerson)"
"""The people of :func:`bulk_ldif`, not the account the tests bind as."""


def pull(folder: Path, server: Server, **more: Any) -> list[str]:
    target = ldap_target(server.url, SUFFIX, filter=PEOPLE, **more)
    loaded = config.load(write_config(folder, HR_SOURCE, target))
    return sorted(str(record.id) for record in loaded.targets[0].endpoint.open().records())


@pytest.mark.parametrize("flavor", ["ldap", "ad"])
def test_a_reference_to_another_server_fails_the_pull(
    tmp_path: Path, referring: Server, flavor: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        pull(tmp_path, referring, map={"id": "uid", "username": "uid"}, flavor=flavor)
    message = str(caught.value).casefold()  # slapd writes the DNs its own way, and "??sub"
    assert f"{referring.url}: the search of {SUFFIX!r} was referred to other servers" in str(
        caught.value
    )
    assert f"({3 if flavor == 'ldap' else 1}: {CONTRACTORS.casefold()}??sub" in message
    assert (ZONES.casefold() in message) is (flavor == "ldap")  # AD's hold no account
    assert "set `references: skip`" in message


def test_references_skip_reads_without_them_and_says_so(
    tmp_path: Path, referring: Server, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        ids = pull(tmp_path, referring, map={"id": "uid", "username": "uid"}, references="skip")
    assert ids == [f"u{number:05}" for number in range(20)]
    [warning] = [record.getMessage() for record in caplog.records]
    assert "3 search references to other servers were not followed" in warning


def test_ads_own_partitions_are_no_partial_listing(tmp_path: Path, partitions_only: Server) -> None:
    """A subtree search of an AD domain's root always meets DomainDnsZones, ForestDnsZones
    and Configuration: with ``flavor: ad`` they are read past; with ``ldap`` they are
    references like any other."""
    mapped = {"id": "uid", "username": "uid"}
    with pytest.raises(ConnectorError, match="referred to other servers"):
        pull(tmp_path, partitions_only, map=mapped)
    with pytest.raises(ConnectorError, match=r"none of the 20 entries .* shows userAccountControl"):
        pull(tmp_path, partitions_only, map=mapped, flavor="ad")  # past the references


@pytest.mark.parametrize(
    ("uri", "partition"),
    [
        (ZONES, True),
        ("ldap://x/DC=ForestDnsZones,DC=corp,DC=example", True),
        ("ldap:///cn=configuration,dc=corp,dc=example", True),
        ("ldap://x/CN=Configuration%2CDC=corp,DC=example", True),
        (CONTRACTORS, False),
        ("ldap://x/DC=eu,DC=corp,DC=example", False),
        ("ldap://x/OU=DomainDnsZones Backup,DC=corp,DC=example", False),
        ("ldap://x/", False),
    ],
)
def test_which_references_are_ads_partitions(uri: str, partition: bool) -> None:
    assert _ad_partition(uri) is partition


def test_a_partial_ldap_source_writes_nothing(run: Run, tmp_path: Path, referring: Server) -> None:
    """The source's people under the referred OU would all be missing: their accounts
    would be orphans, disabled by ``--apply``. The pull fails first (exit 3)."""
    source = "  name: people\n" + source_options(
        referring.url, SUFFIX, filter=PEOPLE, map={"id": "uid", "email": "mail"}
    )
    path = write_config(tmp_path, source, "  []")
    done = run("audit", "-c", str(path), "--no-history", "-q")
    assert done.returncode == 3, done.stderr
    assert "was referred to other servers" in done.stderr
    assert done.stdout == ""
