"""Where ``audit -o`` (and ``plan -o``, ``baseline -o``) may write: never twice to one
file, and never over a file the run itself reads or keeps (its config, an export it
audits, a CA bundle it trusts, its baseline, history or audit log), which a slip of the
shell (``-o hr.csv``) would otherwise replace with a report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nhirecon.config import Config
from nhirecon.errors import UsageError
from nhirecon.state import paths
from nhirecon.state.history_db import JOURNALS


def own_files(config: Config, baseline: Path | None) -> dict[Path, str]:
    """The files a run reads or keeps, resolved, with what each is to the run (``this
    run's config``, ``the export target 'crm' reads``)."""
    found = {config.path: "this run's config"}
    for endpoint in (*config.source.inputs, *(target.endpoint for target in config.targets)):
        role = "target" if endpoint.key.startswith("targets") else "source"
        path, bundle = endpoint.options.get("path"), endpoint.options.get("ca_bundle")
        if isinstance(path, str):
            found.setdefault(
                endpoint.context.resolve(path), f"the export {role} {endpoint.name!r} reads"
            )
        if isinstance(bundle, str):
            found.setdefault(
                endpoint.context.resolve(bundle), f"the CA bundle {role} {endpoint.name!r} trusts"
            )
    history = config.history or paths.default_history()
    found.setdefault(history, "this run's history")
    for side in JOURNALS:  # SQLite deletes its journal as the run commits: the report too
        found.setdefault(history.with_name(history.name + side), "a journal of this run's history")
    audit_log = config.audit_log or paths.default_audit_log(config.path)
    found.setdefault(audit_log, "the audit log of this config")
    if baseline is not None:
        found.setdefault(baseline, "this run's baseline")
    return {_resolved(path): what for path, what in found.items()}


def check(outputs: Sequence[Path], own: dict[Path, str], written: str = "report") -> None:
    """Refuse (:class:`UsageError`, exit 2) an ``-o`` given twice or naming a file of
    ``own``; before anything is read or written. ``written``: what ``-o`` writes."""
    seen: dict[Path, Path] = {}
    for output in outputs:
        not_a_dash(output, "a format without -o goes to stdout; leave -o out for it")
        resolved = _resolved(output)
        if resolved in own:
            raise UsageError(f"-o {output}: that is {own[resolved]}; write the {written} elsewhere")
        if resolved in seen:
            raise UsageError(f"-o {output}: the same file as -o {seen[resolved]}; one report each")
        seen[resolved] = output


def _resolved(path: Path) -> Path:
    """``path`` absolute, its links and ``..`` followed as far as they exist."""
    return path.expanduser().resolve(strict=False)


def not_a_dash(output: Path, instead: str) -> None:
    """Refuse ``-o -`` (:class:`UsageError`): many tools' name for stdout, it would be
    written here as a file named ``-``; ``instead`` says what to do."""
    if str(output) == "-":
        raise UsageError(
            f"-o -: {instead} (a file named - is written when its folder is given too: $PWD/-)"
        )
