"""A connector whose optional library (an extra) is not installed says so wherever it is
named: `nhirecon connectors` lists it as unusable, `validate` names every input that uses
it with its file and line, and a run refuses it as the input is opened, so that a run of
other targets goes on."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nhirecon import config
from nhirecon.cli.app import app
from nhirecon.cli.setup_view import connectors_json, connectors_text
from nhirecon.connectors import registry
from nhirecon.errors import ConfigError

from .conftest import NOW

EXTRAS = [
    ("aws-iam", "boto3", "boto3", "aws"),
    ("ldap", "ldap3", "ldap3", "ldap"),
    ("google", "google.auth", "google-auth", "google"),
    ("gcp", "google.auth", "google-auth", "google"),
]


def _uninstall(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """As if ``module`` were not installed: the import system finds nothing for it."""
    for name in [module, *(name for name in sys.modules if name.startswith(module + "."))]:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(("name", "module", "library", "extra"), EXTRAS)
def test_a_connector_without_its_library_is_listed_as_unusable(
    monkeypatch: pytest.MonkeyPatch, name: str, module: str, library: str, extra: str
) -> None:
    connector = registry.BUILTINS[name]
    assert connector.missing() == "", "installed for the tests"
    _uninstall(monkeypatch, module)
    said = f"the {name} connector needs {library}, which is not installed:"
    assert connector.missing() == f"{said} pip install 'nhirecon[{extra}]'"
    listed = {item["name"]: item for item in json.loads(connectors_json(registry.discover()))}
    assert listed[name]["usable"] is False and listed[name]["problem"].startswith(said)
    assert listed["csv"]["usable"] is True and listed["csv"]["problem"] == ""
    assert f"    unusable here: {said}" in connectors_text(registry.discover())


def _config(tmp_path: Path) -> Path:
    (tmp_path / "hr.csv").write_text("id,email,status\nE1,a@corp.example,active\n")
    (tmp_path / "crm.csv").write_text("id,email,active\nu1,a@corp.example,true\n")
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv, map: {id: id}}\n"
        "targets:\n"
        "  - {name: crm, connector: csv, path: crm.csv}\n"
        "  - {name: keys, connector: aws-iam}\n"
        "  - {name: dir, connector: ldap, url: 'ldaps://x.example', base_dn: 'dc=x'}\n",
        encoding="utf-8",
    )
    return path


def test_validate_names_every_input_whose_library_is_missing_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _config(tmp_path)
    _uninstall(monkeypatch, "boto3")
    _uninstall(monkeypatch, "ldap3")
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["validate", "-c", str(path)])
    assert done.exit_code == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert re.search(r"nhirecon\.yaml:5: targets\[1\]\.connector: the aws-iam connector", lines[0])
    assert re.search(r"nhirecon\.yaml:6: targets\[2\]\.connector: the ldap connector", lines[1])
    with pytest.raises(ConfigError, match=r"nhirecon\.yaml:6: targets\[2\]\.connector"):
        config.load(path).targets[2].endpoint.open()


def test_a_run_of_other_targets_is_not_refused_for_a_missing_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner without the extras audits the targets that need none (``--target``)."""
    path = _config(tmp_path)
    _uninstall(monkeypatch, "boto3")
    _uninstall(monkeypatch, "ldap3")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    args = ["audit", "-c", str(path), "--now", NOW, "-f", "json", "--no-history"]
    done = CliRunner().invoke(app, [*args, "--target", "crm"])
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["targets"][0]["name"] == "crm"
    refused = CliRunner().invoke(app, [*args, "--target", "keys"])
    assert refused.exit_code == 2
    assert "targets[1].connector: the aws-iam connector needs boto3" in refused.stderr
