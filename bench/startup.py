"""How fast the command starts: what ``nhirecon --version`` imports, and how long the
commands that do no work take from the shell.

Prints (a) the imports with the largest cumulative time under ``python -X importtime``
for ``nhirecon --version``, and (b) the median and spread of whole-process wall times
over ``--runs`` runs (default 20) of ``nhirecon --version``, ``nhirecon --help`` and
``nhirecon audit --help``, taken in turn so that a busy moment of the machine falls on
all three alike, with the machine's CPU and Python version. The installed ``nhirecon``
command is timed, as a user starts it; ``--command`` times another one (an older
checkout, for a before-and-after), and the imports are then those of the ``nhirecon``
package this Python finds (set ``PYTHONPATH`` to the same checkout).

    python bench/startup.py [--runs 20] [--top 15] [--command PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (("--version",), ("--help",), ("audit", "--help"))


def cpu() -> str:
    """The CPU model and the number of cores this process may use."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


def command() -> list[str]:
    found = shutil.which("nhirecon")
    if found is None:
        sys.exit("bench/startup.py: the nhirecon command is not installed (pip install -e .)")
    return [found]


def top_imports(count: int) -> list[tuple[int, int, str]]:
    """(cumulative µs, self µs, module) of the slowest imports of ``nhirecon --version``,
    run as the installed entry point runs it."""
    code = "import sys; from nhirecon.cli import main; sys.argv = ['nhirecon', '--version']; main()"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        rows.append((int(cumulative), int(own), name))
    return sorted(rows, reverse=True)[:count]


def wall_times(nhirecon: list[str], runs: int) -> dict[tuple[str, ...], list[float]]:
    """Seconds from start to exit of each run of each of :data:`COMMANDS`, taken in turn
    (after one untimed warm-up run of each)."""
    environment = {**os.environ, "COLUMNS": "100"}
    times: dict[tuple[str, ...], list[float]] = {args: [] for args in COMMANDS}
    for args in COMMANDS:
        subprocess.run([*nhirecon, *args], capture_output=True, env=environment, check=True)
    for _ in range(runs):
        for args in COMMANDS:
            started = time.perf_counter()
            subprocess.run([*nhirecon, *args], capture_output=True, env=environment, check=True)
            times[args].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per command")
    parser.add_argument("--top", type=int, default=15, help="how many imports to list")
    parser.add_argument("--command", help="the nhirecon to time (default: the installed one)")
    options = parser.parse_args()
    nhirecon = [options.command] if options.command else command()
    print(f"machine: {cpu()}; Python {platform.python_version()} ({sys.executable})")
    print(f"timed: {nhirecon[0]}")
    print(f"\n(a) slowest imports of `nhirecon --version` (-X importtime), top {options.top}")
    print(f"{'cumulative':>12} {'self':>10}  module")
    for cumulative, own, name in top_imports(options.top):
        print(f"{cumulative / 1000:>10.1f}ms {own / 1000:>8.1f}ms  {name}")
    print(f"\n(b) whole process, {options.runs} runs each (after one warm-up)")
    print(f"{'command':<24} {'median':>8} {'min':>8} {'max':>8}")
    for args, times in wall_times(nhirecon, options.runs).items():
        label = " ".join(["nhirecon", *args])
        print(
            f"{label:<24} {statistics.median(times):>7.3f}s {min(times):>7.3f}s {max(times):>7.3f}s"
        )


if __name__ == "__main__":
    main()
