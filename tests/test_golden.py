"""Every report format on the example estate, byte for byte, through the installed command.

Regenerate after an intended change with ``NHIRECON_UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import GOLDEN, NOW, ROOT, Run

UPDATE = os.environ.get("NHIRECON_UPDATE_GOLDEN") == "1"
FORMATS = {
    "table": "example.txt",
    "json": "example.json",
    "csv": "example.csv",
    "markdown": "example.md",
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_report_matches_golden_file(run: Run, tmp_path: Path, name: str) -> None:
    out = tmp_path / FORMATS[name]
    sample = str(ROOT / "config.sample.yaml")
    gate = ("--fail-on", "orphan,jit-orphan>0")
    result = run("audit", "-c", sample, "--now", NOW, *gate, "-f", name, "-o", str(out))
    assert result.returncode == 1, result.stderr  # the example estate has orphans
    assert result.stdout == ""
    golden = GOLDEN / FORMATS[name]
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(out.read_bytes())
    assert out.read_bytes() == golden.read_bytes()


def test_same_input_and_now_give_the_same_bytes(run: Run, tmp_path: Path) -> None:
    args = ["audit", "-c", str(ROOT / "config.sample.yaml"), "--now", NOW, "-f", "json"]
    first, second = run(*args), run(*args)
    assert first.stdout == second.stdout and first.stdout.startswith("{")


def test_markdown_keeps_hostile_text_inert() -> None:
    from nhirecon.reporters.markdown import _escape

    assert _escape("<img src=x onerror=alert(1)>|a\nb") == (
        "&lt;img src=x onerror=alert(1)&gt;\\|a b"
    )
