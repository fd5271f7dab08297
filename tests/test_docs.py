"""The README and docs/ cover every command, connector, format, finding kind and exit code."""

from __future__ import annotations

import re

import pytest
import typer.main

from nhirecon.cli import app
from nhirecon.connectors.registry import BUILTINS
from nhirecon.core.model import FindingKind
from nhirecon.exit_codes import ExitCode
from nhirecon.reporters import FORMATS

from .conftest import ROOT


def documentation() -> str:
    parts = [(ROOT / "README.md").read_text()]
    parts.extend(path.read_text() for path in sorted((ROOT / "docs").glob("*.md")))
    return "\n".join(parts)


def commands() -> list[str]:
    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", commands())
def test_every_command_is_documented(command: str) -> None:
    assert f"nhirecon {command}" in documentation()


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_connector_is_documented(name: str) -> None:
    assert f"`{name}`" in documentation()


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_is_documented(name: str) -> None:
    assert f"`{name}`" in documentation()


@pytest.mark.parametrize("kind", [kind.value for kind in FindingKind])
def test_every_finding_kind_is_documented(kind: str) -> None:
    assert f"`{kind}`" in documentation()


@pytest.mark.parametrize("code", [int(code) for code in ExitCode])
def test_every_exit_code_is_documented(code: int) -> None:
    assert re.search(rf"^\| {code} \|", documentation(), re.MULTILINE)


def test_quick_start_has_exactly_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.DOTALL)
    assert [block.strip() for block in blocks] == [
        "pip install . && nhirecon audit -c config.sample.yaml --now 2026-11-28T00:00:00Z",
        "./scripts/test",
    ]
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "path", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
)
def test_the_documents_stand_alone(path: str) -> None:
    """Users read the README and docs/; nothing there may send them to a text they lack."""
    text = (ROOT / path).read_text(encoding="utf-8")
    assert "SPEC" not in text
