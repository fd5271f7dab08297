"""A connector whose optional library (an extra) is not installed says so wherever it is
named: `nhirecon connectors` lists it as unusable, and a config that uses it is refused
as it is read, every such input at once, each with its file and line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from nhirecon import config
from nhirecon.cli.setup_view import connectors_json, connectors_text
from nhirecon.config.problems import ConfigProblems
from nhirecon.connectors import registry

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


def test_every_input_whose_library_is_missing_is_named_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hr.csv").write_text("id,email,status\nE1,a@corp.example,active\n")
    path = tmp_path / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv}\n"
        "targets:\n"
        "  - {name: keys, connector: aws-iam}\n"
        "  - {name: dir, connector: ldap, url: 'ldaps://x.example', base_dn: 'dc=x'}\n",
        encoding="utf-8",
    )
    _uninstall(monkeypatch, "boto3")
    _uninstall(monkeypatch, "ldap3")
    with pytest.raises(ConfigProblems) as caught:
        config.load(path)
    text = str(caught.value)
    assert re.search(r"nhirecon\.yaml:4: targets\[0\]\.connector: the aws-iam connector", text)
    assert re.search(r"nhirecon\.yaml:5: targets\[1\]\.connector: the ldap connector", text)
