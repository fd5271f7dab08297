"""Where ``audit -o`` may write: never twice to one file, and never over a file the run
itself reads or keeps (its config, an export it audits, its baseline, history or audit
log), which a slip of the shell (``-o hr.csv``) would otherwise replace with a report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nhirecon.config import Config
from nhirecon.errors import UsageError
from nhirecon.state import paths


def own_files(config: Config, baseline: Path | None) -> dict[Path, str]:
    """The files a run reads or keeps, resolved, with what each is to the run."""
    found = {config.path: "the config"}
    for endpoint in (*config.source.inputs, *(target.endpoint for target in config.targets)):
        path = endpoint.options.get("path")
        if isinstance(path, str):
            found.setdefault(endpoint.context.resolve(path), f"{endpoint.key} ({endpoint.name})")
    found.setdefault(config.history or paths.default_history(), "the run history")
    found.setdefault(config.audit_log or paths.default_audit_log(config.path), "the audit log")
    if baseline is not None:
        found.setdefault(baseline, "the baseline")
    return {_resolved(path): what for path, what in found.items()}


def check(outputs: Sequence[Path], own: dict[Path, str]) -> None:
    """Refuse (:class:`UsageError`, exit 2) an ``-o`` given twice or naming a file of
    ``own``; before anything is read or written."""
    seen: dict[Path, Path] = {}
    for output in outputs:
        resolved = _resolved(output)
        if resolved in own:
            raise UsageError(
                f"-o {output}: that is {own[resolved]} of this run; write the report elsewhere"
            )
        if resolved in seen:
            raise UsageError(f"-o {output}: the same file as -o {seen[resolved]}; one report each")
        seen[resolved] = output


def _resolved(path: Path) -> Path:
    """``path`` absolute, its links and ``..`` followed as far as they exist."""
    return path.expanduser().resolve(strict=False)
