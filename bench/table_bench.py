"""How long the ``table`` report takes to render N findings: the default limit, and all.

Builds a synthetic report in memory from the real model classes (every kind, three
targets, messages long enough to wrap, 1% excepted), then renders it as the command does
on stdout: with the table's default limit (``nhirecon audit``) and with every row
(``--limit 0``, and what ``-o report.txt`` writes).

    python bench/table_bench.py                 # 1,000, 10,000 and 100,000 findings
    python bench/table_bench.py 250000          # other sizes
    python bench/table_bench.py --profile 100000  # cProfile of rendering every row
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from datetime import UTC, date, datetime

from nhirecon.core.findings import make
from nhirecon.core.gate import evaluate, parse_rule
from nhirecon.core.model import ExceptionRule, Finding, FindingKind, Record, Remediation
from nhirecon.core.report import Report, TargetStats
from nhirecon.reporters.table import DEFAULT_LIMIT, TableReporter

NOW = datetime(2026, 11, 28, tzinfo=UTC)
TARGETS = ("crm", "github-enterprise", "payroll")
KINDS = tuple(FindingKind)
REMEDIES = tuple(Remediation)
SIZES = (1_000, 10_000, 100_000)


def _finding(number: int) -> Finding:
    kind = KINDS[number % len(KINDS)]
    target = TARGETS[number % len(TARGETS)]
    subject = Record(
        id=f"A{number:07d}",
        location=f"{target}.csv:{number + 2}",
        username=f"svc-{number}",
        email=f"user.{number}@example.com",
    )
    message = (
        f"user.{number}@example.com: owned by no active identity in hr (status"
        f" 'terminated' since 2026-0{1 + number % 9}-1{number % 10}); last login"
        f" {10 + number % 300} days ago, credential rotated {number % 900} days ago"
    )
    remedy = REMEDIES[number % len(REMEDIES)]
    return make(kind, target, subject, None, message, {}, (remedy, ""))


def synthetic_report(size: int) -> Report:
    """``size`` findings in the report's order, and one more in a hundred excepted."""
    findings = tuple(sorted((_finding(n) for n in range(size)), key=Finding.sort_key))
    rule = ExceptionRule("crm", "*", None, "accepted risk", "ann@example.com", date(2027, 1, 31))
    excepted = tuple((_finding(size + n), rule) for n in range(size // 100))
    per_target = size // len(TARGETS)
    return Report(
        tool_version="0.1.0",
        generated_at=NOW,
        source_name="hr",
        source_connector="csv",
        identities=size,
        targets=tuple(
            TargetStats(name, "csv", per_target, per_target // 2, per_target // 2, 0, 0)
            for name in TARGETS
        ),
        findings=findings,
        excepted=excepted,
        gate=evaluate([parse_rule("orphan>0"), parse_rule("severity:critical>=10")], findings),
    )


def _timed(reporter: TableReporter, report: Report) -> tuple[float, int]:
    started = time.perf_counter()
    text = reporter.render(report)
    return time.perf_counter() - started, text.count("\n")


def main(sizes: list[int]) -> None:
    print(f"python {sys.version.split()[0]}, {sys.platform}; table at 100 columns")
    for size in sizes:
        started = time.perf_counter()
        report = synthetic_report(size)
        built = time.perf_counter() - started
        limited, limited_lines = _timed(TableReporter(limit=DEFAULT_LIMIT), report)
        every, every_lines = _timed(TableReporter(limit=0), report)
        print(
            f"{size:>9,} findings (built in {built:5.2f} s):"
            f" limit {DEFAULT_LIMIT} {limited:7.3f} s ({limited_lines:,} lines),"
            f" --limit 0 {every:7.3f} s ({every_lines:,} lines,"
            f" {size / every:,.0f} findings/s)"
        )


def profile(size: int) -> None:
    report = synthetic_report(size)
    profiler = cProfile.Profile()
    profiler.runcall(TableReporter(limit=0).render, report)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, help=f"findings (default {SIZES})")
    parser.add_argument("--profile", metavar="N", type=int, help="profile rendering N rows")
    options = parser.parse_args()
    if options.profile:
        profile(options.profile)
    else:
        main(options.sizes or list(SIZES))
