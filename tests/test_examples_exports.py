"""The example configs for real exports (examples/exports/) run as written.

Each example is a folder with a vendor's export, a small HR file and ``nhirecon.yaml``:
``validate --connect`` reads every input, and a full audit exits 0 (gate passed) or 1
(findings over the gate), never with an error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import EXAMPLES, NOW, Run

EXPORTS = EXAMPLES / "exports"
REQUIRED = (
    "aws-credential-report",
    "ad-export-csv",
    "okta-users-json",
    "msgraph-users-json",
    "google-workspace-users-csv",
)
"""Examples that must exist, whatever else is added beside them."""
FOUND = sorted(path.parent.name for path in EXPORTS.glob("*/nhirecon.yaml"))


def test_the_required_examples_exist_and_the_readme_lists_every_one() -> None:
    assert set(REQUIRED) <= set(FOUND), f"missing: {sorted(set(REQUIRED) - set(FOUND))}"
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in FOUND:
        assert f"exports/{name}/" in readme, f"examples/README.md does not list {name}"


@pytest.fixture
def example(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A copy of one example's folder in the test's folder; the config's relative path."""
    name: str = request.param
    shutil.copytree(EXPORTS / name, tmp_path / name)
    return f"{name}/nhirecon.yaml"


@pytest.mark.parametrize("example", FOUND, indirect=True)
def test_example_validates_with_connect(run: Run, example: str) -> None:
    result = run("validate", "--connect", "-c", example)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
    assert "valid" in result.stdout


@pytest.mark.parametrize("example", FOUND, indirect=True)
def test_example_audits_without_error(run: Run, tmp_path: Path, example: str) -> None:
    result = run(
        "audit", "-c", example, "--now", NOW, "--no-history", "-f", "json", "-o", "report.json"
    )
    assert result.returncode in (0, 1), f"exit {result.returncode}: {result.stderr}"
    assert "error" not in result.stderr.lower(), result.stderr
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["schema_version"] == 1
    assert report["source"]["identities"] > 0
    assert all(target["accounts"] > 0 for target in report["targets"])
