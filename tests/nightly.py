"""The tiny nightly estate (tests/data/nightly) and reports built from it over several nights."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from nhirecon import config, pipeline
from nhirecon.core.report import Report
from nhirecon.core.values import parse_datetime
from nhirecon.state import baseline, tracking

from .conftest import DATA

ESTATE = DATA / "nightly"
NIGHTS = ("2026-11-26T02:00:00Z", "2026-11-27T02:00:00Z", "2026-11-30T02:00:00Z")
EVE = "c7,eve@example.com,eve,true,2026-11-26,2026-11-26,sso,\n"


def copy_estate(folder: Path) -> Path:
    """A private copy of the estate; its config keeps history in ``history.db`` beside it."""
    shutil.copytree(ESTATE, folder)
    return folder


def set_crm(estate: Path, *, old_admin: bool, eve: bool) -> None:
    """Remove the old-admin orphan and/or add eve, a new JIT orphan, to the CRM export."""
    lines = (ESTATE / "crm.csv").read_text().splitlines(keepends=True)
    kept = [line for line in lines if old_admin or not line.startswith("c5,")]
    if eve:
        kept.append(EVE)
    (estate / "crm.csv").write_text("".join(kept))


def night(
    estate: Path, now: str, *, accepted: baseline.Baseline | None = None, keep_history: bool = True
) -> Report:
    """One audit in process, recorded in the estate's history like ``nhirecon audit``."""
    loaded = config.load(estate / "nhirecon.yaml")
    instant = parse_datetime(now)
    assert instant is not None
    report = pipeline.audit(loaded, now=instant)
    return tracking.track(report, loaded, accepted=accepted, keep_history=keep_history)


def third_night(estate: Path, *, baseline_from_second: bool = False) -> Report:
    """Three nights: old-admin goes and eve arrives on the second, then the reverse.

    With ``baseline_from_second``, the third night is held to a baseline of the second
    night's findings: the JIT orphan mallory is baselined, old-admin's orphan is not, and
    the entry for eve is stale.
    """
    night(estate, NIGHTS[0])
    set_crm(estate, old_admin=False, eve=True)
    second = night(estate, NIGHTS[1])
    accepted = None
    if baseline_from_second:
        built = baseline.build(second, note="accepted on the second night")
        accepted = dataclasses.replace(built, path="baseline.json")
    set_crm(estate, old_admin=True, eve=False)
    return night(estate, NIGHTS[2], accepted=accepted)
