"""Where nhirecon keeps its state when the config does not say: the user's state
directory, as :mod:`platformdirs` finds it (``$XDG_STATE_HOME/nhirecon``, else
``~/.local/state/nhirecon`` on Linux; ``~/Library/Application Support/nhirecon`` on macOS).

Not next to the config: a config usually lives in Git, and the history and the audit log
hold account ids and names that do not belong in a repository.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import platformdirs

APP = "nhirecon"


def state_dir() -> Path:
    """The folder for the history and the audit logs (not created here)."""
    return platformdirs.user_state_path(APP, appauthor=False)


def default_history() -> Path:
    """``STATE/history.db``: one history for every config, kept apart by source and target."""
    return state_dir() / "history.db"


def default_audit_log(config_path: Path) -> Path:
    """``STATE/audit/<config name>-<12 hex digits>.jsonl``: one audit log per config file,
    told apart by a hash of its absolute path, so that two configs never share one and a
    re-run of the same config finds what its earlier runs did."""
    full = config_path.resolve()
    digest = hashlib.sha256(str(full).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return state_dir() / "audit" / f"{full.stem}-{digest}.jsonl"
