"""How the core scales: N identities against N accounts from CSV exports.

Writes a synthetic estate to a temporary folder, runs the audit in-process (pull,
correlate, findings, JSON rendering) and prints records per second and peak memory.

    python bench/core_scale.py 100000 1000000
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from nhirecon import config, pipeline
from nhirecon.reporters.json import JsonReporter

NOW = datetime(2026, 11, 28, tzinfo=UTC)


def write_estate(folder: Path, size: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with (folder / "hr.csv").open("w") as hr:
        hr.write("employee_id,email,login,status,department,title\n")
        for number in range(size):
            status = "terminated" if rng.random() < 0.02 else "active"
            hr.write(f"E{number},p{number}@example.com,p{number},{status},D{number % 40},T\n")
    with (folder / "app.csv").open("w") as app:
        app.write("user_id,email,enabled,created,last_login,via,department,title\n")
        for number in range(size):
            person = number if rng.random() < 0.99 else size + number  # 1% orphans
            login = "2026-11-01T00:00:00Z" if rng.random() < 0.95 else "2026-01-01T00:00:00Z"
            department = f"D{person % 40}" if rng.random() < 0.98 else "Other"
            app.write(
                f"u{number},p{person}@example.com,yes,2025-01-01,{login},scim,{department},T\n"
            )
    path = folder / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv,\n"
        "         map: {id: employee_id, email: email, username: login}}\n"
        "targets:\n"
        "  - {name: app, connector: csv, path: app.csv, compare: [department, title],\n"
        "     map: {id: user_id, active: enabled, created_at: created,\n"
        "           last_login_at: last_login, origin: via}}\n"
    )
    return path


def main(sizes: list[int]) -> None:
    print(f"python {sys.version.split()[0]}, {sys.platform}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = write_estate(Path(folder), size)
            loaded = config.load(path)
            started = time.perf_counter()
            report = pipeline.audit(loaded, now=NOW)
            audited = time.perf_counter() - started
            size_kib = len(JsonReporter().render(report)) / 1024
            total = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{size:>9,} identities x {size:,} accounts: audit {audited:6.1f} s "
            f"({2 * size / audited:,.0f} records/s), with JSON report {total:6.1f} s "
            f"({size_kib:,.0f} KiB); "
            f"{len(report.findings):,} findings; peak RSS {peak:,.0f} MiB"
        )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [100_000])
