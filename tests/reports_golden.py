"""Golden-file comparison for the report formats of the nightly estate.

Regenerate after an intended change with ``NHIRECON_UPDATE_GOLDEN=1 pytest tests/`` and
review the diff; without the variable a difference fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

from .conftest import GOLDEN

UPDATE = os.environ.get("NHIRECON_UPDATE_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    golden: Path = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing: run with NHIRECON_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if intended, regenerate with NHIRECON_UPDATE_GOLDEN=1"
    )
