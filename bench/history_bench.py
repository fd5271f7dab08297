"""How long recording a run in the history takes, for N synthetic findings.

Builds a report with N findings (spread over four targets and the source, 2% of them
excepted) and times ``history.record`` on a fresh database, then on a second run a day
later in which 2% of the findings are gone, 2% are new and the rest seen before, then
on a third run like the second. Prints seconds for each (wall clock and CPU time), and
the database's size.

    python bench/history_bench.py 10000 100000 300000

To compare with another version of the history store, put its checkout first on the
path: ``PYTHONPATH=/path/to/checkout python bench/history_bench.py ...``.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nhirecon
from nhirecon.core.model import (
    KIND_INFO,
    ExceptionRule,
    Finding,
    FindingKind,
    GateResult,
    Record,
    Remediation,
    fingerprint,
)
from nhirecon.core.report import Report, TargetStats
from nhirecon.state import history

START = datetime(2026, 11, 1, 2, tzinfo=UTC)
SOURCE = "hr"
TARGETS = ("crm", "wiki", "erp", "vpn")
KINDS = (FindingKind.ORPHAN, FindingKind.DORMANT, FindingKind.LEAVER, FindingKind.JIT_ORPHAN)
EXCEPTION = ExceptionRule(
    target="crm",
    account="*",
    kind=None,
    reason="bench",
    owner="bench",
    expires=datetime(2099, 1, 1).date(),
)


def finding(number: int) -> Finding:
    """Finding ``number``: one in ten is about the source, the rest about an account."""
    if number % 10 == 0:
        kind, target = FindingKind.OWNERLESS, SOURCE
        account = None
        identity: Record | None = Record(id=f"E{number}", location=f"hr.csv:{number}")
        subject = f"E{number}"
    else:
        kind, target = KINDS[number % len(KINDS)], TARGETS[number % len(TARGETS)]
        account = Record(
            id=f"u{number}",
            location=f"{target}.csv:{number}",
            username=f"user{number}",
            email=f"user{number}@example.com",
        )
        identity = None
        subject = f"u{number}"
    return Finding(
        kind=kind,
        severity=KIND_INFO[kind].severity,
        target=target,
        account=account,
        identity=identity,
        message=f"synthetic finding {number}",
        detail={},
        remediation=Remediation.MANUAL,
        remediation_reason="",
        fingerprint=fingerprint(kind, target, subject),
    )


def report(at: datetime, numbers: range) -> Report:
    """A run at ``at`` with these findings; every fiftieth one excepted."""
    found = [(number, finding(number)) for number in numbers]
    return Report(
        tool_version=nhirecon.__version__,
        generated_at=at,
        source_name=SOURCE,
        source_connector="csv",
        identities=len(found),
        targets=tuple(
            TargetStats(
                name=name,
                connector="csv",
                accounts=len(found),
                linked=0,
                unmatched=0,
                ambiguous=0,
                inactive=0,
            )
            for name in TARGETS
        ),
        findings=tuple(item for number, item in found if number % 50),
        excepted=tuple((item, EXCEPTION) for number, item in found if not number % 50),
        gate=GateResult(outcomes=()),
    )


def timed(path: Path, run: Report) -> str:
    """Record ``run``: the seconds it took (wall clock, and this process's CPU time, which a
    busy machine disturbs less), how many of its findings were new, how many resolved."""
    started, cpu = time.perf_counter(), time.process_time()
    view = history.record(path, run)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    new = sum(seen.new for seen in view.seen.values())
    return f"{seconds:6.2f} s (CPU {cpu:5.2f} s; {new:,} new, {len(view.resolved):,} resolved)"


def bench(size: int) -> None:
    churn = max(size // 50, 1)
    runs = [
        report(START, range(size)),
        report(START + timedelta(days=1), range(churn, size + churn)),
        report(START + timedelta(days=2), range(2 * churn, size + 2 * churn)),
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.db"
        figures = []
        for label, run in zip(("fresh", "second", "third"), runs, strict=True):
            figures.append(f"{label} {timed(path, run)}")
        mib = path.stat().st_size / 2**20
    print(f"{size:>9,} findings: " + "; ".join(figures) + f"; file {mib:,.1f} MiB", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000, 300_000])
    arguments = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {sys.platform};"
        f" history from {Path(history.__file__).parent}"
    )
    for size in arguments.sizes:
        bench(size)


if __name__ == "__main__":
    main(sys.argv[1:])
