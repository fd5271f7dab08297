"""The plugin example in the README is real code: it loads, maps and fails as it says."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from nhirecon.connectors.base import Connector, ConnectorContext
from nhirecon.errors import ConnectorError

from .conftest import ROOT


def example() -> type[Connector]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("Third-party connectors") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's Connectors section has a Python example"
    module = ModuleType("nhirecon_okta")
    exec(compile(match.group(1), "README.md", "exec"), module.__dict__)
    found: Any = module.OktaConnector
    assert issubclass(found, Connector)
    return found  # type: ignore[no-any-return]


def test_the_readme_plugin_reads_records_through_the_shared_mapping(tmp_path: Path) -> None:
    plugin = example()
    assert plugin.check_options({"path": "users.tsv"}) == []
    assert [name for name, _ in plugin.check_options({"path": "x", "token": "y"})] == ["token"]
    (tmp_path / "users.tsv").write_text("00u1\tAda@Example.com\n00u2\tbob@example.com\n")
    context = ConnectorContext(name="okta", base_dir=tmp_path, field_map={"id": "id"})
    records = list(plugin(context=context, path="users.tsv").records())
    assert [(record.id, record.email) for record in records] == [
        ("00u1", "Ada@Example.com"),
        ("00u2", "bob@example.com"),
    ]
    assert records[1].location.endswith("users.tsv:2")


def test_the_readme_plugin_fails_naming_the_file(tmp_path: Path) -> None:
    plugin = example()
    context = ConnectorContext(name="okta", base_dir=tmp_path)
    with pytest.raises(ConnectorError, match=r"missing\.tsv: cannot read"):
        list(plugin(context=context, path="missing.tsv").records())
