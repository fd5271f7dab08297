"""How nhirecon scales, end to end, against the floor of a hand-written join.

For each size N, writes a synthetic estate (see ``bench/estate.py``): an HR export of N
identities and ``--targets`` account exports of N accounts each, as CSV or JSON Lines,
with orphans, JIT orphans, leavers still active, dormant and expired accounts, attribute
drift and service accounts whose owners have gone. Then, in the same run, it times two
subprocesses and takes each one's peak RSS from ``os.wait4``:

- the installed ``nhirecon audit -c CONFIG --now NOW -f json -o REPORT``, with the run
  history on, in its default place (``XDG_STATE_HOME`` and ``XDG_DATA_HOME`` point into
  the run's folder, so the user's own history is left alone);
- a minimal join: this file run with ``--minimal-join``, which reads the same files with
  the csv and json modules, joins each account to a dict of lowercased emails and applies
  the same basic rules crudely, writing its findings as a JSON list.

It prints, per size, the wall time and peak RSS of both, nhirecon's findings (by kind)
and the share of accounts with at least one, the ratio nhirecon / join, and at the end
the growth between consecutive sizes.

    python bench/scale.py [SIZE ...] [--targets 5] [--format csv|jsonl] [--seed 7]
                          [--services SHARE] [--now ISO] [--keep DIR] [--profile]
                          [--runs N]

    python bench/scale.py 100000 1000000       # default size: 100000
    python bench/scale.py 100000 --targets 5   # 100k identities x 5 targets
    python bench/scale.py 1000000 --services 0.8   # a source mostly of service accounts

``--keep DIR`` keeps the estate, the reports and the history under ``DIR``;
``--profile`` runs nhirecon under ``python -m cProfile`` (``profile.out`` beside the
estate) and prints its top 25 entries by cumulative time; ``--runs N`` times each command
N times, alternately, and gives the median (a shared or throttled machine varies by tens
of percent from one run to the next).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import estate

OK_EXITS = {0: "gate passed", 1: "gate failed"}  # README: ran fine; anything else failed
MIB = 1024 * 1024
RSS_UNIT = MIB if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB


@dataclass
class Run:
    """One measured subprocess."""

    seconds: float
    rss_mib: float
    code: int
    stderr: str


@dataclass
class Result:
    """One size's figures."""

    size: int
    audit: Run
    join: Run


def measure(command: list[str], env: dict[str, str], folder: Path, name: str) -> Run:
    """Runs ``command``, stdout and stderr to files in ``folder``; wall time, and the
    peak RSS of that child alone (its rusage, from ``os.wait4``)."""
    with (
        (folder / f"{name}.stdout").open("wb") as out,
        (folder / f"{name}.stderr").open("wb") as err,
    ):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
    stderr = (folder / f"{name}.stderr").read_text(encoding="utf-8", errors="replace")
    return Run(seconds, usage.ru_maxrss / RSS_UNIT, process.returncode, stderr)


def installed_nhirecon() -> Path:
    """The ``nhirecon`` command beside this Python (a virtualenv's), else on PATH."""
    beside = Path(sys.executable).parent / "nhirecon"
    found = beside if beside.exists() else shutil.which("nhirecon")
    if found is None:
        sys.exit("scale.py: no installed `nhirecon` command (pip install -e .)")
    return Path(found)


def provenance(command: Path) -> str:
    """Where the installed package's code comes from: its folder and, in a Git checkout
    (an editable install), the commit and whether the package differs from it."""
    asked = [interpreter(command), "-c", "import nhirecon; print(nhirecon.__file__)"]
    where = subprocess.run(asked, capture_output=True, text=True).stdout.strip()
    if not where:
        return "package not found"
    package = Path(where).parent
    git = ["git", "-C", str(package)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return str(package)
    dirty = subprocess.run([*git, "diff", "--quiet", "HEAD", "--", "."], capture_output=True)
    changed = " + uncommitted changes" if dirty.returncode else ""
    return f"{package} at {head.stdout.strip()}{changed}"


def interpreter(script: Path) -> str:
    """The Python a console script runs under (its ``#!`` line), for ``--profile``."""
    with script.open("rb") as handle:
        first = handle.readline().decode("utf-8", "replace").strip()
    shebang = first[2:].split()[0] if first.startswith("#!") and len(first) > 2 else ""
    return shebang if Path(shebang).name.startswith("python") else sys.executable


def describe(path: Path) -> str:
    return f"{path.name} {path.stat().st_size / MIB:,.1f} MiB"


def bench_size(size: int, args: argparse.Namespace, base: Path, command: Path) -> Result:
    suffix = "" if args.services == estate.SERVICES else f"-{args.services:g}svc"
    folder = base / f"{size}-{args.targets}x{args.format}{suffix}"
    if folder.exists():
        shutil.rmtree(folder)  # a kept folder from an earlier run: start with no history
    folder.mkdir(parents=True)
    started = time.perf_counter()
    config, source, targets = estate.write_estate(
        folder,
        size,
        seed=args.seed,
        targets=args.targets,
        fmt=args.format,
        now=args.now,
        services=args.services,
    )
    written = time.perf_counter() - started
    print(
        f"{size:,} identities ({args.services:.0%} service accounts) x {args.targets}"
        f" target(s) of {size:,} accounts ({args.format}): "
        f"estate written in {written:.1f} s ({describe(source)}, {describe(targets[0])} each); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    check = subprocess.run(
        [str(command), "validate", "-c", str(config)], capture_output=True, text=True
    )
    if check.returncode != 0:
        sys.exit(f"scale.py: nhirecon validate failed ({check.returncode}):\n{check.stderr}")
    print(f"  nhirecon validate: {check.stdout.strip().splitlines()[0]}")
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(folder / "state"),
        "XDG_DATA_HOME": str(folder / "data"),
    }
    env.pop("NHIRECON_CONFIG", None)
    report = folder / "report.json"
    audit = [str(command), "audit", "-c", str(config), "--now", args.now]
    audit += ["-f", "json", "-o", str(report), "--engine", args.engine]
    if args.profile:
        profile = ["-m", "cProfile", "-o", str(folder / "profile.out"), "-m", "nhirecon"]
        audit = [interpreter(command), *profile, *audit[1:]]
    found = folder / "join.json"
    join_command = [sys.executable, str(Path(__file__).resolve()), "--minimal-join"]
    join_command += [args.now, str(found), str(source), *map(str, targets)]
    audits: list[Run] = []
    joins: list[Run] = []
    for number in range(1, args.runs + 1):
        for kept in (folder / "state", folder / "data"):  # each run starts with no history
            shutil.rmtree(kept, ignore_errors=True)
        report.unlink(missing_ok=True)
        audits.append(measure(audit, env, folder, "nhirecon"))
        ran = audits[-1]
        if ran.code not in OK_EXITS or not report.exists():  # cProfile exits 0 regardless
            sys.exit(f"scale.py: nhirecon audit exited {ran.code}:\n{ran.stderr}")
        joins.append(measure(join_command, env, folder, "join"))
        if joins[-1].code != 0:
            sys.exit(f"scale.py: the minimal join exited {joins[-1].code}:\n{joins[-1].stderr}")
        if args.runs > 1:
            print(
                f"  run {number}: nhirecon {ran.seconds:.2f} s, join {joins[-1].seconds:.2f} s"
                f" ({ran.seconds / joins[-1].seconds:.2f}x)"
            )
    ran, join = typical(audits), typical(joins)
    print_size(size, args, folder, ran, join, report, found)
    if args.profile:
        print(f"  top 25 by cumulative time ({folder / 'profile.out'}):")
        stats = pstats.Stats(str(folder / "profile.out"), stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(25)
    return Result(size, ran, join)


def typical(runs: list[Run]) -> Run:
    """Several runs of one command as one: the median wall time, the highest peak RSS,
    the last run's exit code and stderr."""
    last = runs[-1]
    return Run(
        statistics.median(run.seconds for run in runs),
        max(run.rss_mib for run in runs),
        last.code,
        last.stderr,
    )


def print_size(
    size: int,
    args: argparse.Namespace,
    folder: Path,
    ran: Run,
    join: Run,
    report: Path,
    found: Path,
) -> None:
    data = json.loads(report.read_text(encoding="utf-8"))
    summary = data["summary"]
    accounts = sum(target["accounts"] for target in data["targets"])
    flagged = {(f["target"], f["account"]["id"]) for f in data["findings"] if f["account"]}
    joined = Counter(item["kind"] for item in json.loads(found.read_text(encoding="utf-8")))
    history = folder / "state" / "nhirecon" / "history.db"
    kept = f"history {history.stat().st_size / MIB:,.1f} MiB" if history.exists() else "NO history"
    label = "nhirecon audit" + (" (cProfile)" if args.profile else "")
    exited = f"exit {ran.code} ({OK_EXITS[ran.code]})"
    if args.profile:
        exited = "exit code lost to cProfile"  # profile._Utils swallows SystemExit
    print(f"  {label:<25}{ran.seconds:8.2f} s {ran.rss_mib:8.1f} MiB peak   {exited}, {kept}")
    print(f"  {'minimal join':<25}{join.seconds:8.2f} s {join.rss_mib:8.1f} MiB peak")
    print(
        f"  {'nhirecon / join':<25}{ran.seconds / join.seconds:8.1f}x  "
        f"{ran.rss_mib / join.rss_mib:8.1f}x"
    )
    print(
        f"  findings: {summary['total']:,} by nhirecon ({len(flagged):,} of {accounts:,} accounts"
        f" have one: {len(flagged) / accounts:.1%}), {sum(joined.values()):,} by the join"
    )
    by_kind = summary["by_kind"]
    print("  by kind: " + ", ".join(f"{kind} {count:,}" for kind, count in by_kind.items()))
    differ = {kind for kind in by_kind.keys() | joined.keys() if by_kind.get(kind) != joined[kind]}
    if differ:
        print(
            "  the join differs: "
            + ", ".join(f"{k} {by_kind.get(k, 0):,} vs {joined[k]:,}" for k in sorted(differ))
        )
    else:
        print("  the join agrees with nhirecon, kind by kind")
    gate = ", ".join(f"{rule['rule']}: {rule['count']:,}" for rule in data["gate"]["rules"])
    print(f"  gate {'passed' if data['gate']['passed'] else 'failed'} ({gate})")
    if ran.stderr.strip():
        lines = ran.stderr.strip().splitlines()
        print(f"  nhirecon stderr ({len(lines)} lines):")
        for line in lines[:10]:
            print(f"    {line}")


def print_growth(results: list[Result]) -> None:
    if len(results) < 2:
        return
    print("growth between sizes (time, peak RSS):")
    for before, after in itertools.pairwise(results):
        print(
            f"  {before.size:,} -> {after.size:,} ({after.size / before.size:.1f}x): "
            f"nhirecon {after.audit.seconds / before.audit.seconds:.2f}x, "
            f"{after.audit.rss_mib / before.audit.rss_mib:.2f}x; "
            f"join {after.join.seconds / before.join.seconds:.2f}x, "
            f"{after.join.rss_mib / before.join.rss_mib:.2f}x"
        )


# The minimal join: the floor, in as little Python as does the job. ---------------------

ACTIVE_STATUS = {"active", "leave"}
NOBODY = ("", "", "", "", "", "")
IDENTITY_COLUMNS = ("employee_id", "status", "department", "title", "end_date", "owner")


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def accounts(path: Path) -> Iterator[list[Any]]:
    """Each account as [id, email, enabled, created, last_login, expires, origin,
    department, title], from CSV or JSON Lines."""
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix == ".csv":
            for row in csv.DictReader(handle):
                yield (
                    [row["user_id"], row["email"], row["enabled"] == "true"]
                    + [
                        row[name] or None
                        for name in ("created", "last_login", "expires", "created_by")
                    ]
                    + [row["department"], row["title"]]
                )
            return
        for line in handle:
            item = json.loads(line)
            profile = item["profile"]
            yield (
                [item["user_id"], item["email"], item["enabled"] is True]
                + [item[name] for name in ("created", "last_login", "expires", "created_by")]
                + [profile["department"], profile["title"]]
            )


def minimal_join(argv: list[str]) -> None:
    """``--minimal-join NOW OUT SOURCE TARGET...``: the findings, crudely, as a JSON list."""
    now_text, out, source, *targets = argv
    now = instant(now_text)
    limit = now - timedelta(days=90)
    people: dict[str, tuple[str, ...]] = {}  # lowercased email -> identity
    names: dict[str, str] = {}  # id, email, login -> status (for owners)
    services: list[tuple[str, ...]] = []
    with open(source, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            identity = tuple(row[name] for name in IDENTITY_COLUMNS)
            people[row["email"].lower()] = identity
            for key in (row["employee_id"], row["email"].lower(), row["login"].lower()):
                names[key] = row["status"]
            if row["kind"] == "service" and row["status"] in ACTIVE_STATUS:
                services.append(identity)
    found: list[dict[str, str | None]] = []

    def add(kind: str, target: str, account: str | None, identity: str | None) -> None:
        found.append({"kind": kind, "target": target, "account": account, "identity": identity})

    for ident, _, _, _, end, owner in services:
        if names.get(owner.strip().lower()) not in ACTIVE_STATUS:
            add("ownerless", "hr", None, ident)
        if end and instant(end) < now:
            add("expired", "hr", None, ident)
    for path in map(Path, targets):
        target = path.stem
        for user, email, enabled, created, last, expires, origin, dept, title in accounts(path):
            if not enabled:
                continue
            linked = people.get(email.lower())
            ident, status, source_dept, source_title, end, _ = linked or NOBODY
            leaver = linked is not None and status not in ACTIVE_STATUS
            if linked is None:
                add("jit-orphan" if origin == "sso-jit" else "orphan", target, user, None)
            else:
                if leaver:
                    add("leaver", target, user, ident)
                if fold(dept) != fold(source_dept) or fold(title) != fold(source_title):
                    add("stale-attribute", target, user, ident)
                if origin == "sso-jit":
                    add("unmanaged", target, user, ident)
            if not leaver and (
                (expires and instant(expires) < now) or (end and instant(end) < now)
            ):
                add("expired", target, user, ident or None)
            if (last and instant(last) < limit) or (
                not last and created and instant(created) < limit
            ):
                add("dormant", target, user, ident or None)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(found, handle)


def main() -> None:
    if sys.argv[1:2] == ["--minimal-join"]:
        minimal_join(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000], metavar="SIZE")
    parser.add_argument("--targets", type=int, default=1, help="target exports (default 1)")
    parser.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    parser.add_argument(
        "--services",
        type=float,
        default=estate.SERVICES,
        metavar="SHARE",
        help=f"the share of identities that are service accounts (default {estate.SERVICES})",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", default=estate.NOW, help=f"evaluate as of (default {estate.NOW})")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="keep the estate and outputs")
    parser.add_argument("--profile", action="store_true", help="run nhirecon under cProfile")
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="run nhirecon and the join this many times each, alternately; the figures are"
        " the median times and the highest peaks (default 1)",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "columnar", "python"),
        default="auto",
        help="nhirecon audit --engine (default auto)",
    )
    args = parser.parse_args()
    if any(size < 1000 for size in args.sizes):
        parser.error("sizes start at 1000")
    if args.targets < 1 or args.runs < 1:
        parser.error("--targets and --runs start at 1")
    if not 0 <= args.services <= 1:
        parser.error("--services is a share, from 0 to 1")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # each line as it is known, even in a pipe
    command = installed_nhirecon()
    version = subprocess.run([str(command), "--version"], capture_output=True, text=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{version.stdout.strip()} ({command}); Python {platform.python_version()} on "
        f"{sys.platform}, {cores} cores; --now {args.now}, seed {args.seed},"
        f" --engine {args.engine}"
    )
    print(f"code: {provenance(command)}")
    results: list[Result] = []
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        results = [bench_size(size, args, args.keep, command) for size in args.sizes]
    else:
        with tempfile.TemporaryDirectory(prefix="nhirecon-scale-") as base:
            results = [bench_size(size, args, Path(base), command) for size in args.sizes]
    print_growth(results)


if __name__ == "__main__":
    main()
