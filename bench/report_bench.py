"""Writing a large JSON report: the old whole-document path against the streamed one.

Builds a synthetic report of N findings from the real model classes (accounts with every
field, linked identities, the details each kind carries, history and a baseline, some
excepted findings, non-ASCII text and a few lone surrogates), then, each in its own
process so that peak memory is its own, writes it as a JSON file:

- old: ``json.dumps(serialize.report(r), indent=2, ensure_ascii=False)`` written whole
  (what ``JsonReporter.render`` and ``write_all`` did before streaming);
- new: ``write_all([(path, JsonReporter().chunks(r))])``, a batch of findings at a time.

It prints seconds (wall clock, with the fsync; and CPU) and peak RSS (``ru_maxrss``) for
each, with the RSS the report itself took before writing, and checks that the two files
are byte for byte the same.

    python bench/report_bench.py              # N = 10,000 / 100,000 / 300,000
    python bench/report_bench.py 50000
    python bench/report_bench.py --before /tmp/old 300000
    python bench/report_bench.py --format sarif --before /tmp/old 100000

``--before DIR`` runs the old path with DIR first on ``PYTHONPATH``: a copy of an earlier
``nhirecon`` package (``git archive REV nhirecon | tar -x -C DIR``), to measure the code as
it was rather than the old path on today's (faster) serialisation.

``--format sarif``, ``ocsf`` or ``junit`` writes that report instead: the old path is the
reporter's whole text (``render``; with ``--before``, as that code made it), the new one its
pieces (``chunks``; JUnit, made whole, has no pieces). For JUnit the gate fails on
``dormant>0`` and ``severity:high>=1``, so that findings are sorted into failures.
``--format html`` and ``markdown`` are made whole both ways (they are for reading, not
streamed): their figures are what a report of that size costs.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from nhirecon.core.evidence import Evidence
from nhirecon.core.findings import make
from nhirecon.core.gate import evaluate, parse_rule
from nhirecon.core.model import (
    ExceptionRule,
    Finding,
    FindingKind,
    Origin,
    Record,
    Remediation,
)
from nhirecon.core.report import (
    BaselineView,
    HistoryView,
    Report,
    ResolvedFinding,
    RunTrend,
    Seen,
    TargetStats,
)

NOW = datetime(2026, 11, 28, tzinfo=UTC)
SIZES = (10_000, 100_000, 300_000)
TARGETS = ("slack", "crm", "wiki", "aws")
KINDS = (
    (FindingKind.DORMANT, 40),
    (FindingKind.STALE_ATTRIBUTE, 25),
    (FindingKind.ORPHAN, 10),
    (FindingKind.JIT_ORPHAN, 6),
    (FindingKind.LEAVER, 8),
    (FindingKind.EXPIRED, 5),
    (FindingKind.UNMANAGED, 3),
    (FindingKind.AMBIGUOUS, 2),
    (FindingKind.HUMAN_USE, 1),
)


def _moment(rng: random.Random) -> datetime:
    return NOW - timedelta(days=rng.randrange(1, 900), seconds=rng.randrange(86_400))


def _name(rng: random.Random, number: int) -> str:
    """Mostly ASCII; some accented, some CJK, a few with a lone surrogate."""
    roll = rng.random()
    if roll < 0.0005:
        return f"bad\ud800name{number}"
    if roll < 0.05:
        return f"zoë.ßtrøm{number}"
    if roll < 0.08:
        return f"山田{number}"
    return f"user{number}"


def _account(rng: random.Random, number: int, target: str) -> Record:
    name = _name(rng, number)
    return Record(
        id=f"{target}-{number:08d}",
        location=f"{target}.csv:{number + 2}",
        external_id=f"E{number}",
        username=name,
        email=f"{name}@example.com",
        display_name=f"User {number}",
        active=True,
        kind="human" if rng.random() < 0.95 else "service",
        department=f"D{number % 40}",
        title="Engineer",
        created_at=_moment(rng),
        last_login_at=_moment(rng) if rng.random() < 0.9 else None,
        origin=rng.choice((Origin.SCIM, Origin.JIT, Origin.MANUAL)),
    )


def _identity(rng: random.Random, number: int) -> Record:
    return Record(
        id=f"E{number}",
        location=f"hr.csv:{number + 2}",
        username=f"p{number}",
        email=f"p{number}@example.com",
        display_name=f"Person {number}",
        status="active" if rng.random() < 0.9 else "terminated",
        department=f"D{number % 40}",
        title="Engineer",
        manager=f"m{number % 100}@example.com",
        expires_at=_moment(rng) if rng.random() < 0.1 else None,
    )


def _detail(rng: random.Random, kind: FindingKind, account: Record) -> dict[str, Any]:
    if kind is FindingKind.DORMANT:
        return {"last_login_at": "2025-01-02T03:04:05Z", "days": rng.randrange(91, 900)}
    if kind is FindingKind.STALE_ATTRIBUTE:
        return {"fields": [{"field": "department", "source": "D1", "target": "Other"}]}
    if kind is FindingKind.AMBIGUOUS:
        return {"rule": "email -> email", "candidates": ["E1", "E2"]}
    if kind is FindingKind.LEAVER:
        return {"identity_status": "terminated"}
    if kind is FindingKind.EXPIRED:
        return {"expired": "identity", "expires_at": "2026-01-01T00:00:00Z"}
    if kind is FindingKind.HUMAN_USE:
        return {"kind": "service", "password_enabled": True, "last_interactive_login_at": None}
    return {"origin": account.origin.value}


def _finding(rng: random.Random, number: int) -> Finding:
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    target = TARGETS[number % len(TARGETS)]
    account = _account(rng, number, target)
    linked = kind not in (FindingKind.ORPHAN, FindingKind.JIT_ORPHAN, FindingKind.AMBIGUOUS)
    identity = _identity(rng, number) if linked else None
    return make(
        kind,
        target,
        account,
        identity,
        f"{account.label}: {kind.value} (synthetic finding {number})",
        _detail(rng, kind, account),
        (Remediation.DISABLE, "") if rng.random() < 0.5 else (Remediation.NONE, ""),
    )


def synthetic_report(size: int, seed: int = 7) -> Report:
    """A report of ``size`` counted findings (and 1% more excepted), with history."""
    rng = random.Random(seed)
    everything = sorted(
        (_finding(rng, number) for number in range(size + size // 100)),
        key=Finding.sort_key,
    )
    rule = ExceptionRule("slack", "*", None, "accepted for the bench", "sec", date(2099, 1, 1))
    excepted = tuple((item, rule) for item in everything[: size // 100])
    findings = tuple(everything[size // 100 :])
    seen = {
        item.fingerprint: Seen(NOW - timedelta(days=age), age, age == 0)
        for item in everything
        for age in (rng.randrange(0, 400),)
    }
    resolved = tuple(
        ResolvedFinding(
            f"{n:032x}", FindingKind.ORPHAN, "crm", f"gone-{n}", None, f"gone{n}", NOW, NOW
        )
        for n in range(size // 100)
    )
    trend = (RunTrend(NOW, ("hr", *TARGETS), len(findings), len(excepted), {}, 0, 0),)
    accepted = frozenset(item.fingerprint for item in findings[::50])
    return Report(
        tool_version="0.1.0",
        generated_at=NOW,
        source_name="hr",
        source_connector="csv",
        identities=size * 3,
        targets=tuple(
            TargetStats(name, "csv", size, size, 0, 0, 0, evidence=Evidence()) for name in TARGETS
        ),
        findings=findings,
        excepted=excepted,
        gate=evaluate((), findings),
        history=HistoryView(NOW - timedelta(days=1), seen, resolved, trend),
        baseline=BaselineView("baseline.json", len(accepted), accepted, ()),
    )


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one(mode: str, size: int, path: Path, fmt: str = "json") -> dict[str, float]:
    """Build the report, write it in format ``fmt`` the ``mode`` way; seconds (wall clock,
    with the fsync, and CPU) and peak RSS (MiB)."""
    from nhirecon.output import write_all
    from nhirecon.reporters import FORMATS

    report = synthetic_report(size)
    if fmt == "junit":  # a failing gate, so that each kind's findings are sorted into cases
        rules = [parse_rule("dormant>0"), parse_rule("severity:high>=1")]
        report = dataclasses.replace(report, gate=evaluate(rules, report.gated))
    built = _peak_mib()
    started, cpu = time.perf_counter(), _cpu()
    if mode == "old" and fmt == "json":
        from nhirecon.reporters import serialize

        text = json.dumps(serialize.report(report), indent=2, ensure_ascii=False) + "\n"
        write_all([(path, text)])
    elif mode == "old":  # the whole text, as the code in --before made it
        write_all([(path, FORMATS[fmt]().render(report))])
    else:
        write_all([(path, FORMATS[fmt]().chunks(report))])
    return {
        "seconds": time.perf_counter() - started,
        "cpu": _cpu() - cpu,
        "built": built,
        "peak": _peak_mib(),
    }


def _run(mode: str, size: int, path: Path, fmt: str, before: str | None = None) -> dict[str, float]:
    environment = dict(os.environ)
    if before is not None:
        environment["PYTHONPATH"] = os.pathsep.join(
            [before, *filter(None, [environment.get("PYTHONPATH")])]
        )
    done = subprocess.run(
        [sys.executable, __file__, "--one", mode, str(size), str(path), fmt],
        check=True,
        capture_output=True,
        text=True,
        env=environment,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        while block := data.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main(sizes: list[int], before_from: str | None = None, fmt: str = "json") -> None:
    print(f"python {sys.version.split()[0]}, {sys.platform}; -f {fmt}")
    if before_from is not None:
        print(f"old path: the nhirecon package in {before_from}")
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            old, new = Path(folder) / "old.json", Path(folder) / "new.json"
            before = _run("old", size, old, fmt, before_from)
            after = _run("new", size, new, fmt)
            same = "identical" if _digest(old) == _digest(new) else "DIFFERENT"
            megabytes = new.stat().st_size / 2**20
        for name, result in (("old", before), ("new", after)):
            print(
                f"{size:>9,} findings, {name}: {result['seconds']:6.2f} s"
                f" ({result['cpu']:6.2f} s CPU),"
                f" peak RSS {result['peak']:7,.0f} MiB"
                f" (report alone {result['built']:,.0f} MiB,"
                f" writing +{result['peak'] - result['built']:,.0f} MiB)"
            )
        print(
            f"{size:>9,} findings: {megabytes:,.0f} MiB of {fmt}, files {same};"
            f" {before['cpu'] / after['cpu']:.1f}x less CPU"
        )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--one"]:  # one measured run, in its own process
        print(json.dumps(one(arguments[1], int(arguments[2]), Path(arguments[3]), arguments[4])))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("sizes", nargs="*", type=int, help=f"findings (default {SIZES})")
        parser.add_argument("--before", metavar="DIR", help="a copy of the code to compare with")
        parser.add_argument(
            "--format",
            choices=("json", "sarif", "ocsf", "junit", "html", "markdown"),
            default="json",
            help="the report written (default json)",
        )
        options = parser.parse_args(arguments)
        main(options.sizes or list(SIZES), options.before, options.format)
