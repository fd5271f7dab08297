"""Field cases: exports as real tools write them, audited by the installed command.

Each folder under tests/data/field-cases/ holds a case's input files, copied byte for byte
(UTF-16, Windows-1252, CRLF and all), and the configs a careful user would write for them
(``nhirecon.yaml``, and ``nhirecon.<variant>.yaml`` for the variants). The findings below
were worked out by hand from the files; each test compares the report with them exactly:
the set of (kind, target, account id or identity id), the counts by kind, the excepted
findings. Where a case is about an error, the test checks the exit code, the one error line
(which names the file, row, key or value) and that no report was written. Each test
runs on a copy of its case's folder, in its own temporary folder, without history.

Every case is evaluated at 2026-11-28T00:00:00Z with the default policy (90 days dormant,
90 days credential age) unless its config says otherwise.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from .conftest import DATA, NOW, Run

CASES = DATA / "field-cases"
REPORT = "report.json"
"""Where a run writes its JSON report, in the test's folder."""

Key = tuple[str, str, str]
"""(kind, target, account id) of an account finding; (kind, source, identity id) of a
finding about the source itself."""


# Helpers ------------------------------------------------------------------------------


def audit(run: Run, tmp_path: Path, case: str, name: str = "nhirecon.yaml", *extra: str) -> Any:
    """Audit a case with its config; the JSON report parsed (the run must succeed)."""
    result = audit_run(run, tmp_path, case, name, *extra)
    assert result.returncode in (0, 1), (
        f"exit {result.returncode}; stderr:\n{result.stderr}\nstdout:\n{result.stdout}"
    )
    report_path = tmp_path / REPORT
    assert report_path.is_file(), f"no report written; stderr:\n{result.stderr}"
    return json.loads(report_path.read_text(encoding="utf-8"))


def audit_run(
    run: Run, tmp_path: Path, case: str, name: str = "nhirecon.yaml", *extra: str
) -> subprocess.CompletedProcess[str]:
    return run(
        "audit",
        "-c",
        here(tmp_path, case, name),
        "--now",
        NOW,
        "--no-history",
        "-f",
        "json",
        "-o",
        REPORT,
        *extra,
    )


def here(tmp_path: Path, case: str, name: str) -> str:
    """The case's folder copied to ``tmp_path/case`` (the command runs in ``tmp_path``),
    and the config's path relative to it: messages then name ``case/hr.csv``, and no
    word of a folder or test name can make a check of a message pass by accident."""
    assert (CASES / case / name).is_file(), f"missing config {CASES / case / name}"
    copy = tmp_path / "case"
    if not copy.exists():
        shutil.copytree(CASES / case, copy)
    return f"case/{name}"


def key(finding: dict[str, Any]) -> Key:
    subject = finding["account"] or finding["identity"]
    return (finding["kind"], finding["target"], subject["id"])


def assert_result(
    report: dict[str, Any],
    *,
    findings: set[Key],
    by_kind: dict[str, int],
    excepted: set[Key] | None = None,
    excepted_by_kind: dict[str, int] | None = None,
) -> None:
    """The report holds exactly these findings, counted so in its summary."""
    excepted = excepted or set()
    excepted_by_kind = excepted_by_kind or {}
    found = [key(item) for item in report["findings"]]
    assert len(found) == len(set(found)), f"a finding is reported twice: {sorted(found)}"
    assert set(found) == findings, (
        f"missing: {sorted(findings - set(found))}; unexpected: {sorted(set(found) - findings)}"
    )
    assert {key(item) for item in report["excepted"]} == excepted
    summary = report["summary"]
    assert summary["by_kind"] == by_kind
    assert summary["total"] == sum(by_kind.values())
    assert summary["excepted"] == sum(excepted_by_kind.values())
    assert dict(Counter(item["kind"] for item in report["excepted"])) == excepted_by_kind


def target(report: dict[str, Any], name: str) -> dict[str, Any]:
    found = [entry for entry in report["targets"] if entry["name"] == name]
    assert len(found) == 1, f"target {name!r} in {[t['name'] for t in report['targets']]}"
    return found[0]


def coverage(entry: dict[str, Any]) -> dict[str, int]:
    """Canonical field → how many records have a value (SPEC §3.2)."""
    assert "coverage" in entry, f"{entry['name']}: no `coverage` in the report: {sorted(entry)}"
    counts: dict[str, int] = entry["coverage"]
    return counts


def not_evaluated(entry: dict[str, Any]) -> dict[str, str]:
    """Rule → why it was skipped (as text), from ``not_evaluated`` (SPEC §3.2), which is a
    mapping of rule to reason or a list of objects naming the rule."""
    assert "not_evaluated" in entry, (
        f"{entry['name']}: no `not_evaluated` in the report: {sorted(entry)}"
    )
    value = entry["not_evaluated"]
    if isinstance(value, dict):
        return {str(rule): json.dumps(why) for rule, why in value.items()}
    return {str(item.get("rule", item.get("kind"))): json.dumps(item) for item in value}


def error_line(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    """The line of stderr that names every one of ``parts``."""
    lines = [line for line in result.stderr.splitlines() if all(part in line for part in parts)]
    assert lines, f"no error line names all of {parts}; stderr:\n{result.stderr}"
    return lines[0]


def assert_refused(
    result: subprocess.CompletedProcess[str], code: int, tmp_path: Path, *parts: str
) -> str:
    """The run stopped with ``code``, wrote no report, and one line of stderr names
    every one of ``parts``; that line is returned."""
    assert result.returncode == code, (
        f"exit {result.returncode}, expected {code}; stderr:\n{result.stderr}"
    )
    assert not (tmp_path / REPORT).exists(), "a report was written"
    assert result.stdout == ""
    return error_line(result, *parts)


# 01 AWS IAM credential report -------------------------------------------------------

AWS = "01-aws-iam-credential-report"


@pytest.mark.parametrize(
    ("name", "connector"),
    [("nhirecon.yaml", "csv"), ("nhirecon.aws-credential-report.yaml", "aws-credential-report")],
    ids=["csv connector", "aws-credential-report connector"],
)
def test_01_aws_credential_report(run: Run, tmp_path: Path, name: str, connector: str) -> None:
    """The right result of expected.md, whether the report is read as a plain CSV with a
    careful `map` or by the connector that knows its columns (no `map` at all)."""
    report = audit(run, tmp_path, AWS, name)
    assert_result(
        report,
        findings={
            ("leaver", "aws", "bo.chen"),
            ("stale-credential", "aws", "bo.chen"),
            ("stale-credential", "aws", "ci-deploy"),
            ("ownerless", "hr", "NHI-2"),
            ("orphan", "aws", "old-migration"),
            ("dormant", "aws", "old-migration"),
            ("stale-credential", "aws", "old-migration"),
            ("orphan", "aws", "temp-contractor"),
            ("dormant", "aws", "temp-contractor"),
        },
        by_kind={"leaver": 1, "orphan": 2, "stale-credential": 3, "dormant": 2, "ownerless": 1},
        excepted={("orphan", "aws", "<root_account>")},
        excepted_by_kind={"orphan": 1},
    )
    aws = target(report, "aws")
    assert aws["accounts"] == 8
    assert aws["connector"] == connector
    # N/A, no_information and not_supported are no value: 6 users have a last use (cara.diaz
    # and temp-contractor never signed in), 4 have an active access key (the oldest one
    # counts: ci-deploy's fresh key 2 does not hide its old key 1).
    counts = coverage(aws)
    assert counts["last_login_at"] == 6
    assert counts["credential_rotated_at"] == 4
    assert "dormant" not in not_evaluated(aws)
    if connector == "aws-credential-report":
        # The connector also reads the console password: 7 users say true or false (the
        # root user's not_supported is no value), 3 signed in to the console.
        assert counts["password_enabled"] == 7
        assert counts["last_interactive_login_at"] == 3
        assert "human-use" not in not_evaluated(aws)


def test_01_aws_credential_report_without_sign_in_columns(run: Run, tmp_path: Path) -> None:
    """No last-use column mapped: no dormant finding, and the report says why."""
    report = audit(run, tmp_path, AWS, "nhirecon.no-sign-in.yaml")
    assert_result(
        report,
        findings={
            ("leaver", "aws", "bo.chen"),
            ("stale-credential", "aws", "bo.chen"),
            ("stale-credential", "aws", "ci-deploy"),
            ("ownerless", "hr", "NHI-2"),
            ("orphan", "aws", "old-migration"),
            ("stale-credential", "aws", "old-migration"),
            ("orphan", "aws", "temp-contractor"),
        },
        by_kind={"leaver": 1, "orphan": 2, "stale-credential": 3, "ownerless": 1},
        excepted={("orphan", "aws", "<root_account>")},
        excepted_by_kind={"orphan": 1},
    )
    aws = target(report, "aws")
    assert coverage(aws).get("last_login_at", 0) == 0
    skipped = not_evaluated(aws)
    assert "dormant" in skipped, f"dormant not listed as not evaluated: {skipped}"
    assert "last_login_at" in skipped["dormant"]


# 02 Active Directory: Get-ADUser | Export-Csv -------------------------------------------

AD = "02-ad-get-aduser-export-csv"


@pytest.mark.parametrize(
    "name",
    ["nhirecon.yaml", "nhirecon.notype.yaml"],
    ids=["ad_users.csv with #TYPE line", "ad_users_notype.csv"],
)
def test_02_ad_get_aduser_export_csv(run: Run, tmp_path: Path, name: str) -> None:
    report = audit(run, tmp_path, AD, name)
    assert_result(
        report,
        findings={
            ("leaver", "ad", "bchen"),
            ("dormant", "ad", "dkumar"),
            ("expired", "ad", "eevans"),
            ("orphan", "ad", "svc-sql"),
            ("dormant", "ad", "svc-sql"),
        },
        by_kind={"leaver": 1, "dormant": 2, "expired": 1, "orphan": 1},
    )
    ad = target(report, "ad")
    assert ad["accounts"] == 7
    counts = coverage(ad)
    assert counts["last_login_at"] == 6  # svc-sql never logged on
    assert counts["expires_at"] == 1  # 0 and 9223372036854775807 mean never
    [expired] = [item for item in report["findings"] if item["kind"] == "expired"]
    assert expired["account"]["expires_at"] == "2026-10-30T23:00:00Z"


# 03 PowerShell Out-File (UTF-16LE) and Export-Csv (ASCII) ------------------------------

UTF16 = "03-powershell-out-file-utf16"


@pytest.mark.parametrize(
    ("name", "findings", "by_kind"),
    [
        (
            "nhirecon.yaml",
            {("leaver", "ad", "jpena"), ("orphan", "ad", "svc-backup")},
            {"leaver": 1, "orphan": 1},
        ),
        (
            "nhirecon.ascii.yaml",
            {
                ("leaver", "ad", "jpena"),
                ("orphan", "ad", "svc-backup"),
                ("stale-attribute", "ad", "zmuller"),
                ("stale-attribute", "ad", "jpena"),
            },
            {"leaver": 1, "orphan": 1, "stale-attribute": 2},
        ),
    ],
    ids=["utf-16le with BOM", "ascii, lossy"],
)
def test_03_powershell_out_file_utf16(
    run: Run, tmp_path: Path, name: str, findings: set[Key], by_kind: dict[str, int]
) -> None:
    report = audit(run, tmp_path, UTF16, name)
    assert_result(report, findings=findings, by_kind=by_kind)
    ad = target(report, "ad")
    assert ad["accounts"] == 4 and ad["inactive"] == 1
    assert "dormant" in not_evaluated(ad), "the export has no sign-in column"


def test_03_utf16_read_as_utf8_names_utf16(run: Run, tmp_path: Path) -> None:
    result = audit_run(run, tmp_path, UTF16, "nhirecon.wrong-encoding.yaml")
    line = assert_refused(result, 3, tmp_path, "ad_users.csv")
    assert "utf-16" in line.lower(), line
    assert "latin-1" not in result.stderr.lower()


# 05 Okta users API, saved as JSON -------------------------------------------------------

OKTA = "05-okta-users-api-json"


def test_05_okta_users_api_json(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, OKTA)
    assert_result(
        report,
        findings={
            ("leaver", "okta", "00u1a2b3c4D5E6F7G002"),  # bo, ACTIVE, terminated
            ("dormant", "okta", "00u1a2b3c4D5E6F7G006"),  # fay, PASSWORD_EXPIRED, June
            ("orphan", "okta", "00u1a2b3c4D5E6F7G008"),  # hal, PROVISIONED, not in HR
        },
        by_kind={"leaver": 1, "dormant": 1, "orphan": 1},
    )
    okta = target(report, "okta")
    assert okta["accounts"] == 9 and okta["inactive"] == 2  # SUSPENDED, DEPROVISIONED
    assert coverage(okta)["last_login_at"] == 7  # lastLogin null for gus and hal


def test_05_okta_misspelt_json_path_is_an_error(run: Run, tmp_path: Path) -> None:
    result = audit_run(run, tmp_path, OKTA, "nhirecon.typo-path.yaml")
    assert_refused(result, 3, tmp_path, "okta_users.json", "profile.emial")


# 07 Slack "Export member list" -----------------------------------------------------------

SLACK = "07-slack-members-csv"


def test_07_slack_members_csv(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, SLACK)
    assert_result(
        report,
        findings={
            ("leaver", "slack", "U01AAAA0002"),  # bchen: billing-inactive, still a Member
            ("orphan", "slack", "U01AAAA0007"),  # plee, the partner's guest
        },
        by_kind={"leaver": 1, "orphan": 1},
    )
    slack = target(report, "slack")
    assert slack["accounts"] == 8 and slack["inactive"] == 1
    assert slack["linked"] == 7  # deploybot through the bot inventory
    assert "dormant" in not_evaluated(slack), "the export has no sign-in column"


# 09 German Excel: sep=; line, ';', Windows-1252, dd.mm.yyyy --------------------------------

EXCEL = "09-excel-de-semicolon-cp1252"


@pytest.mark.parametrize(
    "name", ["nhirecon.yaml", "nhirecon.nosep.yaml"], ids=["with sep= line", "without"]
)
def test_09_excel_de_semicolon_cp1252(run: Run, tmp_path: Path, name: str) -> None:
    report = audit(run, tmp_path, EXCEL, name)
    assert_result(
        report,
        findings={
            ("leaver", "app", "u2"),  # José Peña, ausgetreten
            ("expired", "app", "u4"),  # Anaïs Dubois, left 15.11.2026, still aktiv
        },
        by_kind={"leaver": 1, "expired": 1},
    )
    assert report["source"]["identities"] == 4
    counts = coverage(report["source"])
    assert counts["expires_at"] == 3
    assert counts["display_name"] == 4


def test_09_cp1252_read_as_utf8_names_cp1252(run: Run, tmp_path: Path) -> None:
    result = audit_run(run, tmp_path, EXCEL, "nhirecon.no-encoding.yaml")
    line = assert_refused(result, 3, tmp_path, "hr_export_nosep.csv")
    assert "cp1252" in line.lower(), line
    assert "latin-1" not in result.stderr.lower()


# 11 Microsoft Graph /users, saved as JSON ----------------------------------------------

GRAPH = "11-msgraph-users-json"


def test_11_msgraph_users_json_full_listing(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, GRAPH)
    assert_result(
        report,
        findings={
            ("leaver", "entra", "3f1c0a2e-0000-4000-8000-000000001102"),  # bo.chen
            ("leaver", "entra", "3f1c0a2e-0000-4000-8000-000000001106"),  # eli.evans, page 2
            ("orphan", "entra", "3f1c0a2e-0000-4000-8000-000000001105"),  # svc-reports
            ("dormant", "entra", "3f1c0a2e-0000-4000-8000-000000001105"),
        },
        by_kind={"leaver": 2, "orphan": 1, "dormant": 1},
    )
    entra = target(report, "entra")
    assert entra["accounts"] == 6
    counts = coverage(entra)
    assert counts["last_login_at"] == 5  # signInActivity null for dev.kumar
    assert counts["email"] == 5  # mail null for dev.kumar


def test_11_msgraph_single_page_is_refused(run: Run, tmp_path: Path) -> None:
    result = audit_run(run, tmp_path, GRAPH, "nhirecon.page1.yaml")
    assert_refused(result, 3, tmp_path, "graph_users_page1.json", "nextLink")


# 13 Date spellings ---------------------------------------------------------------------

DATES = "13-date-format-matrix"


def test_13_date_format_matrix(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, DATES)
    # Every account belongs to E1, so each export with several of them also has, as
    # SPEC §5 says since duplicate-account was added, one such finding per account.
    several = {
        (name, row["id"])
        for name in SIGNED_IN
        for rows in [
            list(
                csv.DictReader((CASES / DATES / f"app_{name}.csv").read_text("utf-8").splitlines())
            )
        ]
        if len(rows) > 1
        for row in rows
    }
    assert_result(
        report,
        findings={
            ("dormant", "iso", "graph-min"),
            ("dormant", "iso", "filetime-zero-iso"),
            ("dormant", "google", "google-never"),
            ("dormant", "ad", "filetime-zero"),
            ("dormant", "ad", "filetime-max"),
            ("dormant", "aws", "aws-na"),
            ("dormant", "aws", "aws-noinfo"),
            ("expired", "tz", "tz-local"),
            *(("duplicate-account", name, account) for name, account in several),
        },
        by_kind={"expired": 1, "dormant": 7, "duplicate-account": 17},
    )
    # Every spelling of an instant is read; every "never" word or sentinel is no value.
    signed_in = {name: coverage(target(report, name))["last_login_at"] for name in SIGNED_IN}
    assert signed_in == SIGNED_IN


SIGNED_IN = {
    "iso": 5,
    "ruby": 1,
    "google": 1,
    "atlassian": 1,
    "powershell": 1,
    "excel_de": 1,
    "slack": 1,
    "keycloak": 1,
    "ad": 1,
    "aws": 1,
    "tz": 2,
}
"""Target → accounts with a last sign-in, in case 13."""


@pytest.mark.parametrize(
    ("name", "file", "value"),
    [
        ("powershell", "app_powershell.csv", "11/20/2026 7:41:12 AM"),
        ("excel_de", "app_excel_de.csv", "20.11.2026"),
        ("google", "app_google.csv", "2026/11/20 07:41:12"),
    ],
)
def test_13_ambiguous_date_without_format_is_an_error(
    run: Run, tmp_path: Path, name: str, file: str, value: str
) -> None:
    result = audit_run(run, tmp_path, DATES, "nhirecon.no-date-format.yaml", "--target", name)
    assert_refused(result, 3, tmp_path, f"{file}:2", "last_login", value)


# 14 A typo in `correlate` ------------------------------------------------------------------

TYPO = "14-newcomer-correlate-typo"


def test_14_correlate_by_email(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, TYPO)
    assert_result(
        report,
        findings={("leaver", "ticketing", "T2"), ("orphan", "ticketing", "T4")},
        by_kind={"leaver": 1, "orphan": 1},
    )


@pytest.mark.parametrize(
    ("name", "field"),
    [("nhirecon.typo-identity.yaml", "emial"), ("nhirecon.typo-account.yaml", "mial")],
    ids=["identity: emial", "account: mial"],
)
@pytest.mark.parametrize("command", ["audit", "validate"])
def test_14_correlate_typo_is_a_config_error(
    run: Run, tmp_path: Path, name: str, field: str, command: str
) -> None:
    if command == "audit":
        result = audit_run(run, tmp_path, TYPO, name)
    else:
        result = run("validate", "-c", here(tmp_path, TYPO, name))
    assert_refused(result, 2, tmp_path, name, "correlate", field)


# 15 Main HR export truncated, next to an include -----------------------------------------

TRUNCATED = "15-newcomer-include-main-truncated"


def test_15_source_with_include(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, TRUNCATED)
    assert_result(
        report,
        findings={("leaver", "app", "A3"), ("ownerless", "hr", "NHI-21")},
        by_kind={"leaver": 1, "ownerless": 1},
    )
    assert report["source"]["identities"] == 5


def test_15_main_input_truncated_to_its_header_is_refused(run: Run, tmp_path: Path) -> None:
    result = audit_run(run, tmp_path, TRUNCATED, "nhirecon.truncated.yaml")
    assert_refused(result, 4, tmp_path, "hr_truncated.csv")


# 16 An HR export's own `kind` column ---------------------------------------------------

KIND = "16-newcomer-unmapped-kind-column"


def test_16_kind_values_map_the_exports_own_kinds(run: Run, tmp_path: Path) -> None:
    report = audit(run, tmp_path, KIND)
    assert_result(
        report,
        findings={("leaver", "app", "A3"), ("ownerless", "hr", "S300")},
        by_kind={"leaver": 1, "ownerless": 1},
    )


def test_16_kind_column_without_kind_values_is_an_error(run: Run, tmp_path: Path) -> None:
    result = audit_run(run, tmp_path, KIND, "nhirecon.no-kind-values.yaml")
    assert_refused(result, 3, tmp_path, "hr.csv:2", "employee")
