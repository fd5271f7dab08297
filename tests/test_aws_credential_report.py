"""The ``aws-credential-report`` connector: the IAM credential report read as AWS documents
it (IAM User Guide, "Generate credential reports for your AWS account").

``tests/data/aws-credential-report/credential_report.csv`` has the 22 documented columns
and rows as AWS writes them: the ``<root_account>`` row (``not_supported``, an old active
access key), people with and without console passwords, a user with two access keys (one
inactive), a service user with two keys and two signing certificates, a key never used
(``N/A``), a password never used (``no_information``), and a user with no credential at
all. ``hr.csv`` and ``nhi.yaml`` (service users, ``kind: service_account``) are the source;
``users.yaml`` and ``credentials.yaml`` audit it with ``records: users`` and
``records: credentials``. Every date is relative to 2026-11-28 (90 / 90 days).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon.connectors.aws_credential_report import AwsCredentialReportConnector
from nhirecon.connectors.base import ConnectorContext
from nhirecon.connectors.context import ValueOptions
from nhirecon.core.model import Record
from nhirecon.errors import ConfigError, ConnectorError, DataError

from .conftest import DATA, NOW, Run

CASE = DATA / "aws-credential-report"
REPORT = CASE / "credential_report.csv"
ARN = "arn:aws:iam::210987654321"


def shown(name: str) -> str:
    """How messages name a file of the case (relative to the working directory)."""
    return str(ConnectorContext("aws", CASE).resolve(name))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def pull(
    path: Path = REPORT,
    records: str = "users",
    field_map: dict[str, str] | None = None,
    options: ValueOptions | None = None,
) -> dict[str, Record]:
    """Every record the connector reads from ``path``, by id."""
    context = ConnectorContext(
        "aws",
        path.parent,
        field_map or {},
        {},
        key="targets[0]",
        value_options=options or ValueOptions(),
    )
    connector = AwsCredentialReportConnector(context=context, path=path.name, records=records)  # type: ignore[arg-type]
    found: dict[str, Record] = {}
    for record in connector.records():
        assert record.id not in found
        found[record.id] = record
    return found


# records: users ------------------------------------------------------------------------


def test_users_one_account_per_row_root_included() -> None:
    accounts = pull()
    assert sorted(accounts) == sorted(
        [
            "<root_account>",
            "maria.lopez",
            "dev.kumar",
            "tom.berg",
            "svc-reporting",
            "svc-etl",
            "svc-legacy",
            "old.contractor",
            "no-creds-user",
        ]
    )
    for account in accounts.values():
        assert account.username == account.id
        assert account.kind == "human"  # the report says nothing of kinds; the source does


def test_the_root_user_is_an_active_human_account_never_dropped() -> None:
    root = pull()["<root_account>"]
    assert root.active  # not_supported: the root user's password is not reported
    assert root.kind == "human"
    assert root.external_id == f"{ARN}:root"
    assert root.display_name == "AWS account root user (210987654321)"
    assert root.password_enabled is None  # not_supported is no value
    assert root.last_interactive_login_at == at("2026-10-01T09:00:00+00:00")
    assert root.last_login_at == at("2026-11-01T08:00:00+00:00")  # its access key, later
    assert root.credential_rotated_at == at("2021-06-01T12:00:00+00:00")
    assert root.created_at == at("2020-01-10T10:00:00+00:00")


def test_users_last_use_is_the_latest_of_password_and_keys() -> None:
    accounts = pull()
    # dev.kumar: password 2026-11-25, key 1 2026-11-27, key 2 (inactive) 2024-02-01
    assert accounts["dev.kumar"].last_login_at == at("2026-11-27T18:30:00+00:00")
    assert accounts["dev.kumar"].last_interactive_login_at == at("2026-11-25T10:00:00+00:00")
    # svc-etl: no password (N/A), key 2 never used (N/A): key 1
    assert accounts["svc-etl"].last_login_at == at("2026-11-26T23:59:00+00:00")
    assert accounts["svc-etl"].last_interactive_login_at is None
    # maria.lopez: password only
    assert accounts["maria.lopez"].last_login_at == at("2026-11-20T16:42:10+00:00")
    # no_information (password never used) and N/A (no key): never used at all
    assert accounts["old.contractor"].last_login_at is None
    assert accounts["old.contractor"].last_interactive_login_at is None
    assert accounts["svc-legacy"].last_login_at is None


def test_users_credential_age_is_the_oldest_active_key_or_certificate() -> None:
    accounts = pull()
    # dev.kumar's key 2 (2024-01-01) is inactive: only key 1 counts
    assert accounts["dev.kumar"].credential_rotated_at == at("2026-10-01T08:00:00+00:00")
    # svc-etl: key 1 2024-02-01, key 2 2026-10-20, cert 1 2023-05-01 active; cert 2 (2022) not
    assert accounts["svc-etl"].credential_rotated_at == at("2023-05-01T08:00:00+00:00")
    # a fresh second key does not hide an old first one: the oldest wins
    assert accounts["svc-legacy"].credential_rotated_at == at("2025-01-10T08:05:00+00:00")
    assert accounts["maria.lopez"].credential_rotated_at is None


def test_users_active_means_a_password_or_an_active_credential() -> None:
    accounts = pull()
    assert accounts["maria.lopez"].active and accounts["maria.lopez"].password_enabled is True
    assert accounts["svc-etl"].active and accounts["svc-etl"].password_enabled is False
    assert not accounts["no-creds-user"].active


@pytest.mark.parametrize(
    ("password", "active"),
    [("not_supported", True), ("false", False)],
    ids=["password not reported", "credentials removed"],
)
def test_a_root_user_without_keys(tmp_path: Path, password: str, active: bool) -> None:
    """The report never says whether the root user has a password (not_supported): it
    counts as active, keys or not. Centralised root access (AWS Organizations) removes a
    member account's root credentials: its row then says false and holds no key, and that
    root user cannot sign in."""
    lines = REPORT.read_text(encoding="utf-8").splitlines()
    no_keys = "false,N/A,N/A,N/A,N/A"
    lines[1] = (
        f"<root_account>,{ARN}:root,2020-01-10T10:00:00+00:00,{password},N/A,not_supported,"
        f"not_supported,false,{no_keys},{no_keys},false,N/A,false,N/A"
    )
    (tmp_path / "report.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert pull(tmp_path / "report.csv")["<root_account>"].active is active


def test_no_value_words_are_no_value_in_every_column() -> None:
    """N/A, no_information and not_supported, mapped as they are, read as no value."""
    accounts = pull(
        field_map={
            "changed": "password_last_changed",
            "rotation": "password_next_rotation",
            "region": "access_key_1_last_used_region",
        }
    )
    assert accounts["<root_account>"].attributes.get("changed") is None  # not_supported
    assert accounts["tom.berg"].attributes.get("rotation") is None  # N/A
    assert accounts["maria.lopez"].attributes.get("region") is None  # N/A
    assert accounts["dev.kumar"].attributes["region"] == "eu-west-1"


def test_the_report_reads_through_the_file_rails(tmp_path: Path) -> None:
    """The csv connector's reading: a byte-order mark sets the encoding; a folder is
    refused by name."""
    (tmp_path / "utf16.csv").write_text(REPORT.read_text(encoding="utf-8"), encoding="utf-16")
    assert pull(tmp_path / "utf16.csv").keys() == pull().keys()
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ConnectorError, match=r"folder\.csv: is a folder"):
        pull(tmp_path / "folder.csv")


# records: credentials ------------------------------------------------------------------

CREDENTIALS = {
    "<root_account>/access_key_1",
    "dev.kumar/access_key_1",
    "dev.kumar/access_key_2",
    "svc-reporting/access_key_1",
    "svc-etl/access_key_1",
    "svc-etl/access_key_2",
    "svc-etl/cert_1",
    "svc-etl/cert_2",
    "svc-legacy/access_key_1",
}


def test_credentials_one_record_per_key_and_certificate_that_exists() -> None:
    """A slot whose rotation date is N/A holds nothing; an inactive key or certificate
    with a date exists (and is inactive)."""
    keys = pull(records="credentials")
    assert set(keys) == CREDENTIALS
    assert not keys["dev.kumar/access_key_2"].active
    assert not keys["svc-etl/cert_2"].active
    assert keys["svc-etl/cert_1"].active and keys["svc-etl/access_key_2"].active


def test_credentials_each_slot_is_read_from_its_own_columns() -> None:
    keys = pull(records="credentials")
    first, second = keys["svc-etl/access_key_1"], keys["svc-etl/access_key_2"]
    assert first.credential_rotated_at == first.created_at == at("2024-02-01T08:00:00+00:00")
    assert first.last_login_at == at("2026-11-26T23:59:00+00:00")
    assert second.credential_rotated_at == second.created_at == at("2026-10-20T08:00:00+00:00")
    assert second.last_login_at is None  # never used: N/A
    cert = keys["svc-etl/cert_1"]
    assert cert.credential_rotated_at == at("2023-05-01T08:00:00+00:00")
    # The report has no use date for certificates: neither "used" nor "never used"
    assert cert.last_login_at is None and cert.created_at is None
    assert keys["dev.kumar/access_key_2"].credential_rotated_at == at("2024-01-01T08:00:00+00:00")


def test_credentials_carry_their_user() -> None:
    keys = pull(records="credentials")
    key = keys["svc-reporting/access_key_1"]
    assert key.owner == "svc-reporting"
    assert key.username is None and key.label == "svc-reporting/access_key_1"
    assert key.external_id == f"{ARN}:user/service/svc-reporting"
    # the user's console password and sign-in, so that human-use can be found per key
    assert key.password_enabled is True
    assert key.last_interactive_login_at == at("2026-11-15T13:00:00+00:00")
    # no key id in the report: the slot, qualified by the user's ARN (unique per account)
    assert key.credential_id == f"{ARN}:user/service/svc-reporting#access_key_1"
    assert keys["<root_account>/access_key_1"].owner == "<root_account>"
    assert len({k.credential_id for k in keys.values()}) == len(keys)


def test_credentials_expose_where_a_key_was_last_used() -> None:
    keys = pull(
        records="credentials",
        field_map={
            "slot": "nhirecon.credential",
            "service": "nhirecon.last_used_service",
            "mfa": "mfa_active",
        },
    )
    key = keys["dev.kumar/access_key_2"]
    assert dict(key.attributes) == {"slot": "access_key_2", "service": "s3", "mfa": "true"}
    assert keys["svc-etl/access_key_2"].attributes.get("service") is None


# Malformed input -------------------------------------------------------------------------


def test_a_header_that_is_not_the_credential_report_is_refused() -> None:
    with pytest.raises(DataError) as caught:
        pull(CASE / "not_a_report.csv")
    message = str(caught.value)
    assert message.startswith(f"{shown('not_a_report.csv')}: not an IAM credential report")
    assert "user, arn, user_creation_time" in message


def test_a_report_without_the_root_row_is_refused() -> None:
    with pytest.raises(DataError, match=r"no_root\.csv: no <root_account> row"):
        pull(CASE / "no_root.csv")


def test_a_bad_date_names_file_row_column_and_value() -> None:
    with pytest.raises(DataError) as caught:
        pull(CASE / "bad_date.csv")
    assert str(caught.value).startswith(
        f"{shown('bad_date.csv')}:6: column 'access_key_1_last_rotated':"
        " '2026-09-31T08:00:00+00:00' is not"
    )


def test_a_bad_boolean_names_file_row_column_and_value() -> None:
    with pytest.raises(DataError) as caught:
        pull(CASE / "bad_flag.csv", records="credentials")
    assert str(caught.value) == (
        f"{shown('bad_flag.csv')}:4: column 'access_key_1_active': 'yes' is not true or false"
    )


def test_correlating_on_a_field_the_report_lacks_is_a_config_error() -> None:
    """Without `correlate`, the rule is email = email: the report has no email, so every
    user would be an orphan."""
    context = ConnectorContext(
        "aws", CASE, {}, {}, key="targets[0]", correlated=frozenset({"email"})
    )
    with pytest.raises(ConfigError) as caught:
        AwsCredentialReportConnector(context=context, path=REPORT.name)
    assert str(caught.value).startswith("targets[0].correlate: correlates on email")
    mapped = ConnectorContext(
        "aws",
        CASE,
        {"email": "user"},
        {},
        key="targets[0]",
        correlated=frozenset({"email", "owner"}),
    )
    AwsCredentialReportConnector(context=mapped, path=REPORT.name, records="credentials")


# End to end: the installed command -----------------------------------------------------------

Key = tuple[str, str]


def audit(run: Run, tmp_path: Path, config: str, *extra: str) -> dict[str, Any]:
    result = audit_run(run, tmp_path, config, *extra)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    return report


def audit_run(
    run: Run, tmp_path: Path, config: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    if not (tmp_path / "case").exists():
        shutil.copytree(CASE, tmp_path / "case")
    return run(
        "audit",
        "-c",
        f"case/{config}",
        "--now",
        NOW,
        "--no-history",
        "-f",
        "json",
        "-o",
        "report.json",
        *extra,
    )


def found(report: dict[str, Any]) -> set[Key]:
    return {
        (item["kind"], (item["account"] or item["identity"])["id"]) for item in report["findings"]
    }


def test_audit_users(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, "users.yaml")
    assert found(report) == {
        ("orphan", "<root_account>"),  # no person owns it: except it, or link it, by name
        ("stale-credential", "<root_account>"),  # its access key, 2021-06-01
        ("leaver", "tom.berg"),
        ("dormant", "tom.berg"),  # console, 2026-05-01
        ("human-use", "svc-reporting"),  # a service user with a console password
        ("stale-credential", "svc-etl"),  # its active certificate 1, 2023-05-01
        ("stale-credential", "svc-legacy"),
        ("dormant", "svc-legacy"),  # its only key never used, created 2025-01-10
        ("orphan", "old.contractor"),
        ("dormant", "old.contractor"),  # password never used (no_information)
    }
    aws = next(entry for entry in report["targets"] if entry["name"] == "aws")
    assert (aws["accounts"], aws["inactive"], aws["linked"]) == (9, 1, 6)
    human_use = next(f for f in report["findings"] if f["kind"] == "human-use")
    assert human_use["detail"]["kind"] == "service_account"
    assert human_use["detail"]["password_enabled"] is True


def test_audit_credentials(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, "credentials.yaml")
    assert found(report) == {
        ("orphan", "<root_account>/access_key_1"),  # a root access key, owned by no one
        ("stale-credential", "<root_account>/access_key_1"),
        ("human-use", "svc-reporting/access_key_1"),  # its user has a console password
        ("stale-credential", "svc-etl/access_key_1"),
        ("stale-credential", "svc-etl/cert_1"),
        ("stale-credential", "svc-legacy/access_key_1"),
        ("dormant", "svc-legacy/access_key_1"),  # never used, created 2025-01-10
        # three active credentials of one user (CIS AWS 1.13: one active key per user)
        ("duplicate-account", "svc-etl/access_key_1"),
        ("duplicate-account", "svc-etl/access_key_2"),
        ("duplicate-account", "svc-etl/cert_1"),
    }
    keys = next(entry for entry in report["targets"] if entry["name"] == "aws-keys")
    assert (keys["accounts"], keys["inactive"]) == (9, 2)
    assert keys["coverage"]["credential_id"] == 9
    assert not [item for item in keys["not_evaluated"] if item["rule"] == "shared-credential"]


def test_audit_the_root_user_can_be_excepted_or_left_out(run: Run, tmp_path: Path) -> None:
    """The root user is never dropped by the connector: the config says what to do with it."""
    config = (CASE / "users.yaml").read_text(encoding="utf-8")
    shutil.copytree(CASE, tmp_path / "case")
    excepted = config + (
        "exceptions:\n"
        "  - {target: aws, account: '<root_account>', kind: orphan, reason: break-glass,\n"
        "     owner: cloud@example.com, expires: 2027-06-30}\n"
    )
    (tmp_path / "case" / "excepted.yaml").write_text(excepted, encoding="utf-8")
    report = audit(run, tmp_path, "excepted.yaml")
    assert ("orphan", "<root_account>") not in found(report)
    assert ("stale-credential", "<root_account>") in found(report)
    assert [item["account"]["id"] for item in report["excepted"]] == ["<root_account>"]
    left_out = config.replace(
        "    records: users\n", "    records: users\n    where_not: {user: ['<root_account>']}\n"
    )
    (tmp_path / "case" / "left_out.yaml").write_text(left_out, encoding="utf-8")
    report = audit(run, tmp_path, "left_out.yaml")
    assert not {key for key in found(report) if key[1] == "<root_account>"}
    assert next(t for t in report["targets"] if t["name"] == "aws")["accounts"] == 8


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        ("not_a_report.csv", "case/not_a_report.csv: not an IAM credential report"),
        ("bad_date.csv", "case/bad_date.csv:6: column 'access_key_1_last_rotated'"),
        ("no_root.csv", "case/no_root.csv: no <root_account> row"),
    ],
)
def test_audit_refuses_malformed_reports(
    run: Run, tmp_path: Path, report: str, expected: str
) -> None:
    shutil.copytree(CASE, tmp_path / "case")
    config = (CASE / "users.yaml").read_text(encoding="utf-8")
    config = config.replace("path: credential_report.csv", f"path: {report}")
    (tmp_path / "case" / "bad.yaml").write_text(config, encoding="utf-8")
    result = audit_run(run, tmp_path, "bad.yaml")
    assert result.returncode == 3, result.stderr
    assert expected in result.stderr
    assert not (tmp_path / "report.json").exists()


def test_audit_without_correlate_is_a_config_error(run: Run, tmp_path: Path) -> None:
    shutil.copytree(CASE, tmp_path / "case")
    config = (CASE / "users.yaml").read_text(encoding="utf-8")
    config = config.replace("    correlate:\n      - {account: username, identity: username}\n", "")
    (tmp_path / "case" / "default.yaml").write_text(config, encoding="utf-8")
    result = audit_run(run, tmp_path, "default.yaml")
    assert result.returncode == 2, result.stderr
    assert "targets[0].correlate: correlates on email" in result.stderr
