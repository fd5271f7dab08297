"""Process exit codes: the contract scripts and CI jobs rely on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Why ``nhirecon`` stopped. When several apply, the lowest code above 1 wins."""

    OK = 0
    """Ran; the gate passed (and every action, if any, succeeded)."""
    GATE_FAILED = 1
    """Ran; the gate failed."""
    USAGE = 2
    """Usage or configuration error."""
    CONNECTOR = 3
    """A connector failed: missing or unreadable file, parse error, HTTP or auth failure."""
    SAFETY = 4
    """Refused for safety: an integrity guard or threshold tripped, a stale plan, ..."""
    ACTIONS_FAILED = 5
    """Some remediation actions failed; the others went through."""
    INTERNAL = 70
    """Internal error: a bug or an unexpected exception (``EX_SOFTWARE`` of sysexits.h)."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C)."""


def combine(*codes: ExitCode) -> ExitCode:
    """The code to exit with when several outcomes apply: the lowest failure above 1
    (internal errors and interruptions included) wins; 1 only when nothing else went wrong."""
    failures = [code for code in codes if code > ExitCode.GATE_FAILED]
    if failures:
        return min(failures)
    return max(codes, default=ExitCode.OK)
