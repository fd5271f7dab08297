"""One action against a live service: re-check the account, write it, or say why not."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

from nhirecon.connectors.scim_protocol import AccountState, LiveAccount, WriteResult
from nhirecon.core.model import Remediation
from nhirecon.errors import ConnectorError, NhireconError
from nhirecon.exit_codes import ExitCode
from nhirecon.remediation.plan import Action

PRECONDITION_FAILED: Final = 412
NOT_FOUND: Final = 404


class Outcome(StrEnum):
    DONE = "done"
    """The account is in the wanted state: written now, or found so."""
    SKIPPED = "skipped"
    """Not written, on purpose: it changed since the plan, or the finding no longer holds."""
    FAILED = "failed"
    """The write (or the read before it) failed."""


@runtime_checkable
class Writer(Protocol):
    """What a connector that can remediate hands out (see ``ScimConnector.writer``)."""

    def read(self, resource_id: str) -> LiveAccount: ...

    def disable(self, resource_id: str, live: LiveAccount) -> WriteResult: ...

    def delete(self, resource_id: str, live: LiveAccount) -> WriteResult: ...


@dataclass(frozen=True)
class ActionResult:
    action: Action
    outcome: Outcome
    status: int | None
    """The HTTP status of the write, or of the read when nothing was written."""
    detail: str


@dataclass(frozen=True)
class ApplyResult:
    run_id: str
    results: tuple[ActionResult, ...]
    audit_log: Path

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def exit_code(self) -> ExitCode:
        failed = self.count(Outcome.FAILED)
        return ExitCode.ACTIONS_FAILED if failed else ExitCode.OK

    def summary(self) -> str:
        if not self.results:
            return "nothing to apply"
        return (
            f"applied {len(self.results)} actions: {self.count(Outcome.DONE)} done,"
            f" {self.count(Outcome.SKIPPED)} skipped, {self.count(Outcome.FAILED)} failed"
            f" (run {self.run_id}; audit log {self.audit_log})"
        )


@dataclass(frozen=True)
class Task:
    """An action to attempt, and why it must not be written (``None``: write it)."""

    action: Action
    hold: str | None = None


def achieved(action: Remediation, live: LiveAccount) -> str | None:
    """Why the account is already as the action wants it, or ``None``."""
    if live.state is AccountState.GONE:
        return "already gone"
    if action is Remediation.DISABLE and live.state is AccountState.DISABLED:
        return "already disabled"
    return None


def perform(writer: Writer, task: Task) -> ActionResult:
    """Re-check one account live, then write it, or say why not."""
    action = task.action
    try:
        live = writer.read(action.account_id)
    except ConnectorError as exc:
        return ActionResult(action, Outcome.FAILED, _status(exc), f"re-check failed: {exc}")
    done = achieved(action.action, live)
    if done:
        return ActionResult(action, Outcome.DONE, None, done)
    if task.hold:
        return ActionResult(action, Outcome.SKIPPED, None, task.hold)
    if action.version and live.version and live.version != action.version:
        return ActionResult(
            action,
            Outcome.SKIPPED,
            None,
            f"changed since the plan (version {action.version} → {live.version}); not written",
        )
    try:
        if action.action is Remediation.DELETE:
            result = writer.delete(action.account_id, live)
        else:
            result = writer.disable(action.account_id, live)
    except ConnectorError as exc:
        return _after_failure(writer, action, _status(exc), str(exc))
    if result.ok:
        return ActionResult(action, Outcome.DONE, result.status, f"{action.action.value}d")
    if result.status == NOT_FOUND:
        return ActionResult(action, Outcome.DONE, result.status, "already gone")
    if result.status == PRECONDITION_FAILED:
        return _after_failure(writer, action, result.status, result.detail, precondition=True)
    return ActionResult(action, Outcome.FAILED, result.status, result.detail or "write refused")


def _after_failure(
    writer: Writer, action: Action, status: int | None, detail: str, *, precondition: bool = False
) -> ActionResult:
    """A write failed or was refused: read again, since an earlier try may have gone through
    (a connection dropped after the service committed, then the retry met ``If-Match``)."""
    try:
        live = writer.read(action.account_id)
    except ConnectorError:
        live = None
    done = achieved(action.action, live) if live is not None else None
    if done:
        return ActionResult(
            action, Outcome.DONE, status, f"{done} (an earlier attempt went through)"
        )
    if precondition:
        return ActionResult(
            action, Outcome.SKIPPED, status, "changed while being applied (If-Match refused)"
        )
    return ActionResult(action, Outcome.FAILED, status, detail)


def _status(exc: NhireconError) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None
