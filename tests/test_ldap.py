"""The ldap connector against a real OpenLDAP slapd: paged pulls, the server's size limit,
Active Directory's conventions, binds, TLS, ``validate --connect`` and audits end to end.

OpenLDAP has no Active Directory schema: ``data/ldap/ad-schema.ldif`` defines the AD
attributes the connector reads (Microsoft's names, OIDs and syntaxes: objectGUID and
objectSid binary, FILETIMEs as integers, whenCreated as a generalized time), and
``data/ldap/estate.ldif`` holds AD-shaped entries, loaded with slapadd before the server
starts. The tests bind as a plain reader, never as the admin, so the server's size limits
apply as they would to a service account.
"""

from __future__ import annotations

import atexit
import ipaddress
import json
import os
import re
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import slapd
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from nhirecon import config
from nhirecon.connectors import ldap, ldap_ad
from nhirecon.connectors.ldap_search import PAGED_RESULTS, next_cookie
from nhirecon.core.model import Record
from nhirecon.core.values import ValueError_
from nhirecon.errors import ConfigError, ConnectorError, DataError

from .conftest import DATA, EXAMPLES, NOW, Run

LDAP_DATA = DATA / "ldap"
EXAMPLE = EXAMPLES / "ldap"
SUFFIX = "DC=corp,DC=example"
READER = f"CN=reader,{SUFFIX}"
PASSWORD = "reader-secret-1"
PASSWORD_ENV = "NHIRECON_TEST_LDAP_PASSWORD"
SCHEMAS = ("core.ldif", "cosine.ldif", "inetorgperson.ldif", str(LDAP_DATA / "ad-schema.ldif"))
PAGING_LIMITS = "olcLimits: users size.soft=500 size.hard=500 size.prtotal=unlimited\n"
"""A search that does not page stops at 500 entries; a paged one reads them all."""
TIGHT_LIMIT = "olcSizeLimit: 50\n"
"""Every search stops at 50 entries, paged or not."""
SIDS = "S-1-5-21-1004336348-1177238915-682003330"
PEOPLE = f"OU=People,{SUFFIX}"
SERVICE_OU = f"OU=Service Accounts,{SUFFIX}"

_SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
MISSING = [
    name for name in ("slapd", "slapadd", "ldapwhoami") if not shutil.which(name, path=_SBIN)
]


def guid(number: int) -> str:
    """The objectGUID of the estate's entry ``number``, as Windows shows it."""
    return f"6f1c2a4e-{number:04x}-4b7d-9c3e-{number:012x}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# A throwaway OpenLDAP server ---------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca: Path
    """The CA that signed the server's certificate (valid for IP 127.0.0.1 only)."""
    other_ca: Path
    """A CA that signed nothing here."""
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_certificates(folder: Path) -> Certificates:
    now = datetime.now(UTC)
    paths = {}
    ca_keys = {}
    for label in ("ca", "other_ca"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"nhirecon test {label}"))
            .issuer_name(_name(f"nhirecon test {label}"))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        ca_keys[label] = (key, cert)
        paths[label] = folder / f"{label}.pem"
        paths[label].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    ca_key, ca_cert = ca_keys["ca"]
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificates(paths["ca"], paths["other_ca"], cert_path, key_path)


class Server(slapd.Slapd):  # type: ignore[misc]
    """slapd on 127.0.0.1 with an ``ldap://`` (StartTLS) and an ``ldaps://`` listener, its
    data folder under the system's temporary folder (not the working directory)."""

    TMPDIR = tempfile.gettempdir()
    BIN_PATH = os.pathsep.join([os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin"])
    """Where slapadd and ldapwhoami are looked for: Debian puts slapadd in /usr/sbin,
    which a non-login PATH may lack."""

    def __init__(self, certificates: Certificates, limits: str, suffix: str = SUFFIX) -> None:
        super().__init__(
            suffix=suffix,
            schemas=SCHEMAS,
            host="127.0.0.1",
            configuration_template=slapd.SLAPD_CONF_TEMPLATE + limits,
            datadir_prefix="nhirecon-ldap",
        )
        self.cafile = str(certificates.ca)
        self.servercert = str(certificates.cert)
        self.serverkey = str(certificates.key)
        self.ldaps_port = self._avail_tcpport()

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start_with(self, ldif: str) -> None:
        """Load ``ldif`` with slapadd, then start: far faster than adding over LDAP."""
        atexit.register(self.stop)
        self._cleanup_rundir()
        self._setup_rundir()
        self._write_config()
        self._test_config()
        self.slapadd(ldif, ["-n1", "-q"])
        self._start_slapd()

    def _start_slapd(self) -> None:
        plain = self.ldap_uri  # slapd -h takes a list of URLs separated by spaces
        self.ldap_uri = f"{plain} {self.ldaps_url}/"
        try:
            super()._start_slapd()
        finally:
            self.ldap_uri = plain


def bulk_ldif(count: int) -> str:
    """The suffix, the reader and ``count`` people under ``OU=Bulk``."""
    lines = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: Corp\n",
        f"dn: {READER}\nobjectClass: person\ncn: reader\nsn: reader\nuserPassword: {PASSWORD}\n",
        f"dn: OU=Bulk,{SUFFIX}\nobjectClass: organizationalUnit\nou: Bulk\n",
    ]
    lines += [
        f"dn: uid=u{number:05},OU=Bulk,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: u{number:05}\n"
        f"cn: User {number}\nsn: User\nmail: u{number:05}@corp.example\n"
        for number in range(count)
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certificates"))


def serve(
    certificates: Certificates, limits: str, ldif: str, suffix: str = SUFFIX
) -> Iterator[Server]:
    if MISSING:
        pytest.skip(
            f"OpenLDAP is not installed ({', '.join(MISSING)} not found);"
            " install it with: apt-get install slapd ldap-utils"
        )
    server = Server(certificates, limits, suffix)
    server.start_with(ldif)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def estate(certificates: Certificates) -> Iterator[Server]:
    yield from serve(certificates, PAGING_LIMITS, (LDAP_DATA / "estate.ldif").read_text())


@pytest.fixture(scope="module")
def bulk(certificates: Certificates) -> Iterator[Server]:
    yield from serve(certificates, PAGING_LIMITS, bulk_ldif(10_000))


@pytest.fixture(scope="module")
def tight(certificates: Certificates) -> Iterator[Server]:
    yield from serve(certificates, TIGHT_LIMIT, bulk_ldif(120))


@pytest.fixture(scope="module")
def example(certificates: Certificates) -> Iterator[Server]:
    ldif = (EXAMPLE / "directory.ldif").read_text()
    yield from serve(certificates, "", ldif, suffix="dc=example,dc=org")


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


# Configs ------------------------------------------------------------------------------------


def options(url: str, base: str, *, indent: int = 4, item: bool = False, **more: Any) -> str:
    """The YAML lines of an ldap input's options, at ``indent``; ``item``: as a list item."""
    given = {
        "connector": "ldap",
        "url": url,
        "bind_dn": READER,
        "password_env": PASSWORD_ENV,
        "base_dn": base,
        **more,
    }
    lines = [f"{' ' * indent}{key}: {json.dumps(value)}" for key, value in given.items()]
    if item:
        lines[0] = f"{' ' * (indent - 2)}- {lines[0].lstrip()}"
    return "\n".join(lines)


def write_config(folder: Path, source: str, targets: str) -> Path:
    for name in ("hr.csv", "app_users.csv"):
        shutil.copy(LDAP_DATA / name, folder / name)
    path = folder / "nhirecon.yaml"
    path.write_text(f"version: 1\nsource:\n{source}\ntargets:\n{targets}\n", encoding="utf-8")
    return path


HR_SOURCE = """\
  name: hr
  connector: csv
  path: hr.csv
  map: {id: employee_id, email: email, status: status, department: department}"""


def ldap_target(url: str, base: str, **more: Any) -> str:
    return "  - name: directory\n" + options(url, base, **more)


def source_options(url: str, base: str, **more: Any) -> str:
    return options(url, base, indent=2, **more)


def pull_target(folder: Path, url: str, base: str, **more: Any) -> dict[str, Record]:
    """The accounts of an ldap target, by username."""
    loaded = config.load(write_config(folder, HR_SOURCE, ldap_target(url, base, **more)))
    records = list(loaded.targets[0].endpoint.open().records())
    by_name = {str(record.username): record for record in records}
    assert len(by_name) == len(records)
    return by_name


# Pure parts: paging outcomes, DNs, binary values, dates, options -----------------------------


def paged(cookie: bytes, code: int = 0, description: str = "success") -> dict[str, Any]:
    control = {PAGED_RESULTS: {"value": {"size": 0, "cookie": cookie}}}
    return {"result": code, "description": description, "message": "", "controls": control}


def test_a_listing_ends_only_on_success_with_an_empty_cookie() -> None:
    assert next_cookie(paged(b"\x01"), None) == b"\x01"
    assert next_cookie(paged(b"\x02"), b"\x01") == b"\x02"
    assert next_cookie(paged(b""), b"\x02") is None
    # a server that ignores the (non-critical) control sends everything with success
    assert next_cookie({"result": 0, "description": "success", "controls": None}, None) is None
    with pytest.raises(ValueError_, match="size limit"):
        next_cookie({"result": 4, "description": "sizeLimitExceeded"}, b"\x01")
    with pytest.raises(ValueError_, match=r"timeLimitExceeded \(3\)"):
        next_cookie(paged(b"\x03", 3, "timeLimitExceeded"), b"\x02")
    with pytest.raises(ValueError_, match="dropped the paging control"):
        next_cookie({"result": 0, "description": "success", "controls": {}}, b"\x02")
    with pytest.raises(ValueError_, match="same paging cookie twice"):
        next_cookie(paged(b"\x02"), b"\x02")


def test_dns_are_split_unescaped_and_compared_loosely() -> None:
    assert ldap_ad.split_dn(r"CN=Smith\, John,OU=People , DC=corp") == (
        (("cn", "Smith, John"),),
        (("ou", "People"),),
        (("dc", "corp"),),
    )
    assert ldap_ad.split_dn(r"cn=a\2Cb+uid=x\20,dc=x") == (
        (("cn", "a,b"), ("uid", "x ")),
        (("dc", "x"),),
    )
    assert ldap_ad.group_name(r"CN=Sales\, EMEA,OU=Groups,DC=corp") == "Sales, EMEA"
    assert ldap_ad.group_name("not a dn") == "not a dn"
    assert ldap_ad.dn_key("CN=Bob  Baker,OU=People,DC=corp") == ldap_ad.dn_key(
        "cn=bob baker, ou=people, dc=CORP"
    )
    for bad in ("garbage", "cn=a,", r"cn=a\zz"):
        with pytest.raises(ValueError_):
            ldap_ad.split_dn(bad)


def test_binary_active_directory_values_read_as_windows_shows_them() -> None:
    raw = bytes.fromhex("4e2a1c6f01007d4b9c3e000000000001")
    assert ldap_ad.guid(raw) == guid(1)
    sid = bytes.fromhex("010500000000000515000000dcf4dc3b833d2b46828ba62850040000")
    assert ldap_ad.sid(sid) == f"{SIDS}-1104"
    assert ldap_ad.sid(bytes.fromhex("010100000000000512000000")) == "S-1-5-18"
    with pytest.raises(ValueError_):
        ldap_ad.guid(raw[:15])
    with pytest.raises(ValueError_):
        ldap_ad.sid(sid[:-1])


def test_generalized_times_read_in_utc() -> None:
    assert ldap_ad.generalized_time("20240611084000Z") == at("2024-06-11T08:40:00")
    assert ldap_ad.generalized_time("20240611084000.5Z") == at("2024-06-11T08:40:00.5")
    assert ldap_ad.generalized_time("202406110840+0200") == at("2024-06-11T06:40:00")
    assert ldap_ad.generalized_time("2024061108Z") == at("2024-06-11T08:00:00")
    assert ldap_ad.generalized_time("2024-06-11") is None
    with pytest.raises(ValueError_):
        ldap_ad.generalized_time("20241311084000Z")


def test_an_entry_reads_filetime_never_as_no_value_but_present() -> None:
    """FILETIME 0 and 9223372036854775807 are "never": no date, but the attribute is there
    (so a mapped ``lastLogonTimestamp`` of 0 means never signed in, not a misspelt name)."""
    entries = ldap_ad.Entries(
        origin="ldaps://dc1:636",
        flavor="ad",
        dated=frozenset(),
        grouped=frozenset(),
        service_ous=[ldap_ad.dn_key(SERVICE_OU)],
    )
    row = entries.row(
        f"CN=svc-x,{SERVICE_OU}",
        {
            "accountExpires": [b"0"],
            "lastLogonTimestamp": [b"9223372036854775807"],
            "pwdLastSet": [b"133801632000000000"],
            "userAccountControl": [b"66050"],
            "whenCreated": [b"20240611084000.0Z"],
            "lockoutTime": [b"soon"],
        },
    )
    odd = entries.row("CN=odd", {"userAccountControl": [b"enabled"]})
    with pytest.raises(DataError, match=r"CN=odd: attribute 'accountEnabled': userAccountCo"):
        odd.lookup("accountEnabled")
    assert row.lookup("accountExpires") is None and row.has is not None
    assert row.has("accountexpires") and row.has("lastLogonTimestamp")
    assert row.lookup("lastLogonTimestamp") is None
    assert row.lookup("pwdLastSet") == at("2025-01-01T00:00:00")
    assert row.lookup("whenCreated") == at("2024-06-11T08:40:00")
    assert (row.lookup("accountEnabled"), row.lookup("accountStatus")) == (False, "disabled")
    assert row.lookup("accountKind") == "service_account"  # by its OU
    assert not row.has("mail") and row.lookup("mail") is None
    with pytest.raises(DataError, match=r"svc-x.*'lockoutTime'.*'soon' is not a FILETIME"):
        row.lookup("lockoutTime")


@pytest.mark.parametrize(
    ("given", "option", "problem"),
    [
        ({"url": "ldap://ldap.corp.example"}, "url", "plain ldap:// is refused"),
        ({"url": "ldaps://ldap.corp.example/dc=corp"}, "url", "only the server"),
        ({"url": "ldaps://user:pw@ldap.corp.example"}, "url", "credentials"),
        ({"url": "https://ldap.corp.example"}, "url", "ldap:// or ldaps://"),
        ({"url": "ldaps://ldap.corp.example", "start_tls": True}, "start_tls", "ldaps://"),
        ({"url": "ldap://127.0.0.1", "ca_bundle": "ca.pem"}, "ca_bundle", "only with"),
        ({"url": "ldaps://x.example", "bind_dn": "cn=a"}, "bind_dn", "needs password_env"),
        ({"url": "ldaps://x.example", "password_env": "P"}, "password_env", "needs bind_dn"),
        ({"url": "ldaps://x.example", "page_size": 0}, "page_size", "positive"),
        ({"url": "ldaps://x.example", "scope": "subtree"}, "scope", "'sub' | 'one' | 'base'"),
        ({"url": "ldaps://x.example", "flavor": "openldap"}, "flavor", "'ldap' | 'ad'"),
    ],
)
def test_options_are_checked_when_the_config_is_read(
    given: dict[str, Any], option: str, problem: str
) -> None:
    problems = ldap.LdapConnector.check_options({"base_dn": "dc=corp", **given})
    assert any(name == option and problem in message for name, message in problems), problems


def test_plain_ldap_is_allowed_to_this_machine_with_starttls_or_when_asked() -> None:
    for given in (
        {"url": "ldap://127.0.0.1:3389"},
        {"url": "ldap://localhost"},
        {"url": "ldap://ldap.corp.example", "start_tls": True},
        {"url": "ldap://ldap.corp.example", "allow_plain": True},
        {"url": "ldaps://ldap.corp.example:636/"},
    ):
        assert ldap.LdapConnector.check_options({"base_dn": "dc=corp", **given}) == []


def test_a_missing_ldap3_library_is_a_config_error_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in {"ldap3", *(name for name in sys.modules if name.startswith("ldap3."))}:
        monkeypatch.setitem(sys.modules, name, None)  # as if the extra were not installed
    path = write_config(tmp_path, HR_SOURCE, ldap_target("ldaps://x.example", SUFFIX))
    loaded = config.load(path)
    with pytest.raises(ConfigError, match=re.escape("pip install 'nhirecon[ldap]'")) as caught:
        loaded.targets[0].endpoint.open()
    assert caught.value.key == "targets[0].connector"
    assert re.search(
        r"nhirecon\.yaml:\d+: targets\[0\]\.connector: the ldap connector", str(caught.value)
    )


@pytest.mark.parametrize(
    ("more", "problem"),
    [
        ({"base_dn": "not a dn"}, r":\d+: targets\[0\]\.base_dn: 'not a dn' is not a DN"),
        ({"service_account_ous": ["ou=a", "x"]}, r"service_account_ous\[1\]: 'x' is not a DN"),
        ({"filter": "(objectClass=person"}, r":\d+: targets\[0\]\.filter: not an LDAP filter"),
    ],
)
def test_a_bad_dn_or_filter_is_a_config_error_naming_the_line(
    tmp_path: Path, more: dict[str, Any], problem: str
) -> None:
    base = more.pop("base_dn", SUFFIX)
    path = write_config(tmp_path, HR_SOURCE, ldap_target("ldaps://x.example", base, **more))
    with pytest.raises(ConfigError, match=problem):
        config.load(path)


def test_a_filter_that_ldap3_cannot_parse_is_a_config_error(tmp_path: Path, password: None) -> None:
    target = ldap_target("ldaps://x.example", SUFFIX, filter="(&(objectClass=user)(mail))")
    loaded = config.load(write_config(tmp_path, HR_SOURCE, target))
    with pytest.raises(ConfigError, match=r"targets\[0\]\.filter: not a valid LDAP filter"):
        loaded.targets[0].endpoint.open()


# Against the server ---------------------------------------------------------------------------


def test_a_paged_pull_reads_every_entry_of_a_large_directory(
    bulk: Server, tmp_path: Path, password: None, caplog: pytest.LogCaptureFixture
) -> None:
    """10,000 entries, 500 a page, from a server that cuts a search that does not page at
    500: only a pull that follows every cookie to the end gets them all."""
    caplog.set_level("INFO", logger="nhirecon.connectors.ldap_search")
    accounts = pull_target(tmp_path, bulk.url, f"OU=Bulk,{SUFFIX}", page_size=500)
    assert set(accounts) == {f"u{number:05}" for number in range(10_000)}
    assert len({account.id for account in accounts.values()}) == 10_000
    pages = re.search(r"10000 entries in (\d+) pages", caplog.text)
    assert pages is not None and int(pages.group(1)) >= 20


def test_a_server_that_stops_at_its_size_limit_fails_the_pull(
    tight: Server, tmp_path: Path, password: None
) -> None:
    with pytest.raises(ConnectorError) as caught:
        pull_target(tmp_path, tight.url, f"OU=Bulk,{SUFFIX}", page_size=20)
    message = str(caught.value)
    assert message.startswith(f"{tight.url}: the search of 'OU=Bulk,{SUFFIX}' is incomplete")
    assert "sizeLimitExceeded" in message and "no partial directory is used" in message


def test_an_audit_on_a_truncated_directory_exits_3_and_writes_no_report(
    tight: Server, tmp_path: Path, run: Run
) -> None:
    source = "  name: people\n" + source_options(tight.url, f"OU=Bulk,{SUFFIX}", map={"id": "uid"})
    target = "  - {name: app, connector: csv, path: app_users.csv, map: {id: id}}"
    path = write_config(tmp_path, source, target)
    result = run(
        "audit", "-c", str(path), "-f", "json", "-o", "report.json",
        env={PASSWORD_ENV: PASSWORD},
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "sizeLimitExceeded" in result.stderr
    assert not (tmp_path / "report.json").exists()


def test_active_directory_entries_read_by_its_conventions(
    estate: Server, tmp_path: Path, password: None
) -> None:
    accounts = pull_target(
        tmp_path,
        estate.url,
        SUFFIX,
        flavor="ad",
        service_account_ous=[SERVICE_OU],
        map={"manager": "manager", "owner": "manager", "credential_rotated_at": "pwdLastSet"},
    )
    # users only: not the computer WS01$, the groups, the reader or the inetOrgPersons
    assert set(accounts) == {
        "alice", "bob", "carol", "dave", "erin", "frank", "svc-legacy", "dana",
        "svc-backup", "svc-report",
    }  # fmt: skip
    alice = accounts["alice"]
    assert alice.id == guid(1)
    assert alice.external_id == f"{SIDS}-1104"
    assert (alice.email, alice.display_name) == ("alice@corp.example", "Alice Archer")
    assert (alice.department, alice.title) == ("Engineering", "Engineer")
    assert (alice.active, alice.status, alice.kind) == (True, "active", "human")
    assert alice.manager == "bob@corp.example"
    assert alice.groups == ("Engineering", "Sales, EMEA")
    assert alice.created_at == at("2024-06-11T08:40:00")
    assert alice.last_login_at == at("2026-11-20T09:30:00")
    assert alice.expires_at is None  # accountExpires 0: never
    assert alice.credential_rotated_at == at("2026-10-01T12:00:00")
    # the DN as the server spells it (OpenLDAP writes attribute names in lower case)
    assert alice.location.casefold() == f"{estate.url}/CN=Alice Archer,{PEOPLE}".casefold()
    assert accounts["bob"].active is True  # 66048: enabled, the password never expires
    assert accounts["bob"].manager == "dana@corp.example"
    carol = accounts["carol"]
    assert (carol.active, carol.status) == (False, "disabled")  # 514: ACCOUNTDISABLE
    assert carol.expires_at is None  # 9223372036854775807: never
    assert accounts["dave"].expires_at == at("2026-01-01T00:00:00")
    assert accounts["erin"].expires_at is None  # no accountExpires at all
    assert accounts["frank"].last_login_at is None  # lastLogonTimestamp 0: never
    assert accounts["frank"].created_at == at("2025-01-10T00:00:00")
    assert accounts["svc-legacy"].kind == "service_account"  # by its SPN, outside the OU
    backup, report = accounts["svc-backup"], accounts["svc-report"]
    assert (backup.kind, backup.owner) == ("service_account", "bob@corp.example")
    assert backup.credential_rotated_at == at("2025-01-15T00:00:00")
    assert (report.kind, report.owner) == ("service_account", "carol@corp.example")  # by OU
    assert accounts["dana"].kind == "human"


def test_a_manager_outside_the_search_is_looked_up(
    estate: Server, tmp_path: Path, password: None
) -> None:
    accounts = pull_target(tmp_path, estate.url, PEOPLE, flavor="ad", map={"manager": "manager"})
    assert "dana" not in accounts
    assert accounts["bob"].manager == "dana@corp.example"
    assert accounts["alice"].manager == "bob@corp.example"


def test_plain_ldap_reads_inetorgperson_entries(
    estate: Server, tmp_path: Path, password: None
) -> None:
    accounts = pull_target(tmp_path, estate.url, f"OU=Staff,{SUFFIX}", map={"manager": "manager"})
    gina = accounts["gina"]
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", str(gina.id))  # entryUUID
    assert (gina.email, gina.external_id, gina.display_name) == (
        "gina@corp.example",
        "1001",
        "Gina Green",
    )
    assert (gina.department, gina.title, gina.kind) == ("42", "Analyst", "human")
    assert gina.manager == "hank@corp.example"
    assert gina.groups == ("Engineering", "VPN Users")
    assert gina.created_at is not None  # createTimestamp, set by the server
    assert gina.active is True  # no attribute says otherwise
    assert not accounts["hank"].groups


def test_active_directory_entries_without_useraccountcontrol_fail_the_pull(
    estate: Server, tmp_path: Path, password: None
) -> None:
    """Without it every account would read as enabled: a disabled person, no leaver."""
    with pytest.raises(ConnectorError, match=r"none of the 2 entries .* userAccountControl"):
        pull_target(tmp_path, estate.url, f"OU=Staff,{SUFFIX}", flavor="ad",
                    filter="(objectClass=person)", map={"id": "entryUUID"})  # fmt: skip


def test_a_mapped_attribute_that_no_entry_has_is_an_error(
    estate: Server, tmp_path: Path, password: None
) -> None:
    with pytest.raises(DataError, match=r"'lastLogonTimestampp' \(targets\[0\]\.map\."):
        pull_target(tmp_path, estate.url, PEOPLE, flavor="ad",
                    map={"last_login_at": "lastLogonTimestampp"})  # fmt: skip


def test_a_binary_attribute_mapped_as_text_is_an_error_naming_the_entry(
    estate: Server, tmp_path: Path, password: None
) -> None:
    with pytest.raises(DataError, match=r"(?i)cn=Alice Archer.*'objectGUID'.*binary value"):
        pull_target(tmp_path, estate.url, PEOPLE, map={"id": "objectGUID"})


def test_ldaps_and_starttls_verify_the_certificate_against_ca_bundle(
    estate: Server, certificates: Certificates, tmp_path: Path, password: None
) -> None:
    people = {"alice", "bob", "carol", "dave", "erin", "frank", "svc-legacy"}
    ca = str(certificates.ca)
    ldaps = pull_target(tmp_path, estate.ldaps_url, PEOPLE, flavor="ad", ca_bundle=ca)
    assert set(ldaps) == people
    assert ldaps["alice"].location.casefold().startswith(f"{estate.ldaps_url}/cn=alice")
    starttls = pull_target(tmp_path, estate.url, PEOPLE, flavor="ad", start_tls=True, ca_bundle=ca)
    assert set(starttls) == people


@pytest.mark.parametrize(
    ("scheme", "more", "problem"),
    [
        ("ldaps", {}, "CERTIFICATE_VERIFY_FAILED"),  # the system's CAs do not know ours
        ("ldaps", {"ca_bundle": "other"}, "CERTIFICATE_VERIFY_FAILED"),
        ("starttls", {}, "CERTIFICATE_VERIFY_FAILED"),
        ("localhost", {"ca_bundle": "ca"}, "doesn't match"),  # issued to 127.0.0.1 only
    ],
)
def test_a_certificate_that_cannot_be_verified_stops_the_pull(
    estate: Server,
    certificates: Certificates,
    tmp_path: Path,
    password: None,
    scheme: str,
    more: dict[str, Any],
    problem: str,
) -> None:
    bundles = {"ca": str(certificates.ca), "other": str(certificates.other_ca)}
    given = {key: bundles[value] for key, value in more.items()}
    url = {
        "ldaps": estate.ldaps_url,
        "starttls": estate.url,
        "localhost": f"ldaps://localhost:{estate.ldaps_port}",
    }[scheme]
    if scheme == "starttls":
        given["start_tls"] = True
    with pytest.raises(ConnectorError, match=problem) as caught:
        pull_target(tmp_path, url, PEOPLE, flavor="ad", **given)
    assert str(caught.value).startswith(url)
    hint = "use that name in url" if scheme == "localhost" else "set ca_bundle to it"
    assert hint in str(caught.value)


def test_a_wrong_password_exits_3_naming_the_url_and_never_the_password(
    estate: Server, tmp_path: Path, run: Run
) -> None:
    wrong = "Wr0ng-Passw0rd-7f3a"
    path = write_config(tmp_path, HR_SOURCE, ldap_target(estate.url, PEOPLE, flavor="ad"))
    result = run("validate", "--connect", "-v", "-c", str(path), env={PASSWORD_ENV: wrong})
    assert result.returncode == 3, result.stderr
    assert f"{estate.url}: bind as '{READER}' refused: invalidCredentials" in result.stderr
    assert wrong not in result.stdout + result.stderr


def test_a_missing_password_variable_is_a_config_error(
    estate: Server, tmp_path: Path, run: Run
) -> None:
    path = write_config(tmp_path, HR_SOURCE, ldap_target(estate.url, PEOPLE, flavor="ad"))
    result = run("validate", "-c", str(path), env={PASSWORD_ENV: ""})
    assert result.returncode == 2, result.stderr
    assert f"targets[0].password_env: environment variable {PASSWORD_ENV} is not set" in (
        result.stderr
    )


def test_an_unreachable_server_exits_3_naming_the_url(tmp_path: Path, run: Run) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"ldap://127.0.0.1:{port}"
    path = write_config(tmp_path, HR_SOURCE, ldap_target(url, PEOPLE, timeout=5))
    result = run("validate", "--connect", "-c", str(path), env={PASSWORD_ENV: PASSWORD})
    assert result.returncode == 3, result.stderr
    assert f"{url}: cannot connect" in result.stderr


def test_validate_connect_counts_the_entries(estate: Server, tmp_path: Path, run: Run) -> None:
    mapped = {"id": "objectGUID"}  # a source names its id
    source = "  name: people\n" + source_options(estate.url, PEOPLE, flavor="ad", map=mapped)
    target = ldap_target(estate.url, SERVICE_OU, flavor="ad")
    path = write_config(tmp_path, source, target)
    result = run("validate", "--connect", "-c", str(path), env={PASSWORD_ENV: PASSWORD})
    assert result.returncode == 0, result.stderr
    assert "  source people (ldap): 7 records\n" in result.stdout
    assert "  targets[0] directory (ldap): 2 records\n" in result.stdout


def findings(result: Any) -> set[tuple[str, str]]:
    report = json.loads(result.stdout)
    return {
        (finding["kind"], (finding["account"] or finding["identity"])["id"])
        for finding in report["findings"]
    }


def test_an_audit_of_an_active_directory_source_against_an_export(
    estate: Server, tmp_path: Path, run: Run
) -> None:
    """People and (as an include) service accounts from the directory; an app's CSV."""
    mapped = {"id": "objectGUID", "owner": "manager"}
    source = "\n".join(
        [
            "  name: ad",
            source_options(estate.url, PEOPLE, flavor="ad", map=mapped),
            "  include:",
            options(estate.url, SERVICE_OU, item=True, flavor="ad", map=mapped,
                    service_account_ous=[SERVICE_OU]),
        ]
    )  # fmt: skip
    target = (
        "  - name: app\n    connector: csv\n    path: app_users.csv\n"
        "    map: {id: id, email: email, active: active, department: department}\n"
        "    compare: [department]"
    )
    path = write_config(tmp_path, source, target)
    result = run("audit", "-c", str(path), "--now", NOW, "-f", "json",
                 env={PASSWORD_ENV: PASSWORD})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert findings(result) == {
        ("leaver", "app-2"),  # carol is disabled in the directory
        ("expired", "app-3"),  # dave's directory account expired on 2026-01-01
        ("stale-attribute", "app-4"),  # erin: Sales in the directory, Marketing in the app
        ("orphan", "app-5"),  # mallory is not in the directory
        ("ownerless", guid(10)),  # svc-report: its owner (manager) carol is disabled
        ("ownerless", guid(7)),  # svc-legacy: a service account by its SPN, no manager
    }


def test_an_audit_of_an_active_directory_target(estate: Server, tmp_path: Path, run: Run) -> None:
    target = ldap_target(estate.url, PEOPLE, flavor="ad", remediate={"leaver": "disable"})
    path = write_config(tmp_path, HR_SOURCE, target)
    result = run("audit", "-c", str(path), "--now", NOW, "-f", "json",
                 env={PASSWORD_ENV: PASSWORD})  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert findings(result) == {
        ("leaver", guid(5)),  # erin left; her directory account is enabled
        ("dormant", guid(6)),  # frank never signed in (lastLogonTimestamp 0), created 2025
        ("expired", guid(4)),  # dave's accountExpires is 2026-01-01
        ("orphan", guid(7)),  # svc-legacy is nobody in HR
    }  # carol left too, but her account is disabled: no access, no finding
    report = json.loads(result.stdout)
    leaver = next(finding for finding in report["findings"] if finding["kind"] == "leaver")
    assert leaver["remediation"] == "manual"
    assert "the ldap connector cannot write" in leaver["remediation_reason"]


def test_the_example_audits_as_its_readme_says(example: Server, tmp_path: Path, run: Run) -> None:
    for name in ("hr.csv", "nhi.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    text = (EXAMPLE / "nhirecon.yaml").read_text()
    assert "ldap://127.0.0.1:3389" in text
    (tmp_path / "nhirecon.yaml").write_text(text.replace("ldap://127.0.0.1:3389", example.url))
    result = run("audit", "-c", "nhirecon.yaml", "--now", NOW, "-f", "json",
                 env={"NHIRECON_LDAP_PASSWORD": "example-only-password"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {(found["kind"], found["account"]["username"]) for found in report["findings"]} == {
        ("leaver", "ben"),
        ("orphan", "cleo"),
        ("orphan", "svc-old"),
        ("stale-attribute", "dan"),
    }
    directory = next(target for target in report["targets"] if target["name"] == "directory")
    assert (directory["accounts"], directory["linked"]) == (7, 5)


def test_the_active_directory_example_is_a_valid_config() -> None:
    loaded = config.load(EXAMPLE / "active-directory.yaml")
    (target,) = loaded.targets
    assert target.endpoint.options["flavor"] == "ad"
