"""A `correlate` or `compare` that reads a field no record of an input has is refused
(exit 3) rather than reported: a target exported with `mail` where the default correlation
reads `email` made every account an orphan, silently, and a plan would delete them."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhirecon import config, pipeline
from nhirecon.core.values import parse_datetime
from nhirecon.errors import DataError

from .conftest import Run
from .scim_server import HR_CSV, ScimServer, estate_config

NOW = "2026-11-28T00:00:00Z"
HR = "employee_id,email,status,department\nE1,a@x.com,active,Eng\nE2,b@x.com,active,Ops\n"
APP = "uid,mail,enabled,department\nA1,a@x.com,true,Eng\nA2,b@x.com,true,Ops\n"


def write(folder: Path, target: str, *, hr: str = HR, app: str = APP) -> None:
    (folder / "hr.csv").write_text(hr, encoding="utf-8")
    (folder / "app.csv").write_text(app, encoding="utf-8")
    (folder / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: employee_id}}\n"
        "targets:\n"
        f"  - {{name: app, connector: csv, path: app.csv, {target}}}\n"
        "history: history.db\n",
        encoding="utf-8",
    )


def test_the_default_correlation_on_a_column_the_export_lacks_is_refused(
    tmp_path: Path, run: Run
) -> None:
    write(tmp_path, "map: {id: uid, active: enabled}")
    result = run("audit", "--now", NOW, "-f", "json", "-o", "r.json", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert (
        "targets[0] (app): no correlate rule can link an account: account.email (the target"
        " has none) = identity.email (the source has it); every account would be an orphan"
    ) in result.stderr
    assert "map each field to the column or path that holds it" in result.stderr
    assert not (tmp_path / "r.json").exists()
    assert not (tmp_path / "history.db").exists(), "a refused run is recorded nowhere"
    checked = run("validate", "--connect", cwd=tmp_path)
    assert checked.returncode == 3, "validate --connect reads the inputs: it refuses too"
    assert "every account would be an orphan" in checked.stderr
    write(tmp_path, "map: {id: uid, active: enabled, email: mail}")
    mapped = run("audit", "--now", NOW, "-q", "--fail-on", "orphan>0", cwd=tmp_path)
    assert mapped.returncode == 0, mapped.stderr
    assert run("validate", "--connect", cwd=tmp_path).returncode == 0


def test_a_compared_field_the_target_leaves_empty_is_drift_not_an_error(
    tmp_path: Path, run: Run
) -> None:
    """A service that returns no department for anyone (an API leaves the attribute out
    when it is empty) differs from the source: that is drift to report, not a misread."""
    app = "uid,email,enabled\nA1,a@x.com,true\nA2,b@x.com,true\n"
    write(tmp_path, "map: {id: uid, active: enabled}, compare: [department]", app=app)
    result = run("audit", "--now", NOW, "-q", "--fail-on", "stale-attribute>1", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "stale-attribute>1" in result.stdout


def test_each_rule_needs_both_of_its_fields(tmp_path: Path, run: Run) -> None:
    """The target has usernames, the source emails: neither rule can link anything,
    though each side has a field some rule reads."""
    app = "uid,username,enabled\nA1,a,true\nA2,b,true\n"
    write(
        tmp_path,
        "map: {id: uid, active: enabled},"
        " correlate: [{account: email, identity: email}, {account: username, identity: username}]",
        app=app,
    )
    result = run("audit", "--now", NOW, "-q", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert (
        "account.email (the target has none) = identity.email (the source has it);"
        " account.username (the target has it) = identity.username (the source has none)"
    ) in result.stderr


def test_a_source_without_the_identity_field_is_refused(tmp_path: Path, run: Run) -> None:
    hr = "employee_id,status\nE1,active\nE2,active\n"
    write(tmp_path, "map: {id: uid, active: enabled, email: mail}", hr=hr)
    result = run("audit", "--now", NOW, "-q", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    assert "identity.email (the source has none); every account would be an orphan" in (
        result.stderr
    )


def test_one_rule_that_can_link_is_enough(tmp_path: Path) -> None:
    """The first rule reads a column the export lacks; the second links every account."""
    write(
        tmp_path,
        "map: {id: uid, active: enabled, email: mail},"
        " correlate: [{account: external_id, identity: id}, {account: email, identity: email}]",
    )
    loaded = config.load(tmp_path / "nhirecon.yaml")
    instant = parse_datetime(NOW)
    assert instant is not None
    report = pipeline.audit(loaded, now=instant)
    assert report.targets[0].linked == 2
    assert report.findings == ()


def test_an_empty_export_and_custom_attributes_are_not_judged(tmp_path: Path) -> None:
    """No account: nothing would be misread (the emptied-target guard judges that). A custom
    attribute's presence is not in the evidence, so a rule on one is left as it is."""
    write(tmp_path, "map: {id: uid, active: enabled}", app="uid,mail,enabled\n")
    loaded = config.load(tmp_path / "nhirecon.yaml")
    instant = parse_datetime(NOW)
    assert instant is not None
    assert pipeline.audit(loaded, now=instant).targets[0].accounts == 0
    write(
        tmp_path,
        "map: {id: uid, active: enabled, badge: mail},"
        " correlate: [{account: badge, identity: email}]",
    )
    report = pipeline.audit(config.load(tmp_path / "nhirecon.yaml"), now=instant)
    assert report.targets[0].linked == 2


@pytest.mark.usefixtures("scim_token")
def test_a_scim_service_whose_users_have_no_email_is_refused(
    tmp_path: Path, server: ScimServer
) -> None:
    """The SCIM connector reads `emails` by default: a service that keeps none (only
    `userName`) gives records without any, and the default correlation cannot link."""
    for name in ("alice", "bob"):
        server.add_user(name, nhi={"lastLoginAt": "2026-11-20T00:00:00Z"})
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    (tmp_path / "nhirecon.yaml").write_text(
        estate_config(server)
        .replace("      - {account: external_id, identity: id}\n", "")
        .replace("compare: [department]", "compare: []"),
        encoding="utf-8",
    )
    loaded = config.load(tmp_path / "nhirecon.yaml")
    instant = parse_datetime(NOW)
    assert instant is not None
    with pytest.raises(DataError, match=r"account\.email \(the target has none\)"):
        pipeline.audit(loaded, now=instant)
