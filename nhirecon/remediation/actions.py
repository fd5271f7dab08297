"""One action against a live service: re-check the account, write it, or say why not."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from nhirecon.connectors.scim_writes import AccountState, LiveAccount, WriteResult, same_version
from nhirecon.core.model import Record, Remediation
from nhirecon.core.values import ValueError_, parse_datetime
from nhirecon.errors import ConnectorError, DataError, NhireconError
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


@runtime_checkable
class Remapping(Protocol):
    """A :class:`Writer` that can map an account it reads as its target's pull maps it."""

    def record_of(self, resource: Mapping[str, Any]) -> Record | None: ...


@dataclass(frozen=True)
class ActionResult:
    action: Action
    outcome: Outcome
    status: int | None
    """The HTTP status of the write, or of the read when nothing was written."""
    detail: str
    observed: str = ""
    """What reading the account back showed after the write (``verified inactive``,
    ``verified gone``, ``not applied: still active`` ...); empty when nothing was written."""


@dataclass(frozen=True)
class ApplyResult:
    run_id: str
    results: tuple[ActionResult, ...]
    """The actions attempted, in the order of the tasks."""
    audit_log: Path
    stopped: str = ""
    """Why the run stopped before every action was attempted: the audit log could not be
    written (no action is attempted that no line can record); empty when it did not."""
    unlogged: tuple[ActionResult, ...] = ()
    """Actions attempted whose line the audit log could not take (in flight as it failed)."""

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def exit_code(self) -> ExitCode:
        if self.stopped:
            return ExitCode.SAFETY
        failed = self.count(Outcome.FAILED)
        return ExitCode.ACTIONS_FAILED if failed else ExitCode.OK

    def summary(self) -> str:
        if not self.results:
            return "nothing to apply" if not self.stopped else "no action was attempted"
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


VERIFIED: Final = {Remediation.DISABLE: "verified inactive", Remediation.DELETE: "verified gone"}
"""What reading an account back must show for a write to be ``done`` (SPEC §8)."""


def confirmation(action: Remediation) -> str:
    """How a write of ``action`` is confirmed: what the account must read as afterwards."""
    return "reads gone" if action is Remediation.DELETE else "reads inactive"


def perform(writer: Writer, task: Task) -> ActionResult:
    """Re-check one account live, write it, and read it back; or say why not.

    An action is ``done`` only by its effect: after a write the account is read again, and a
    disable counts only when it reads inactive (or gone), a delete only when it reads gone.
    """
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
    if action.version and live.version is None:
        # A service that gave a version and now gives none (a proxy that drops it, a
        # service that lies) would otherwise be written with no check of what changed.
        return ActionResult(
            action,
            Outcome.FAILED,
            None,
            f"the re-check gave no version (the account was read with {action.version}):"
            " whether it changed since cannot be told; not written",
        )
    if action.version and not same_version(live.version, action.version):
        return ActionResult(
            action,
            Outcome.SKIPPED,
            None,
            f"changed since the plan (version {action.version} → {live.version}); not written",
        )
    try:
        changed = None if action.version else changed_since(writer, action, live)
    except ConnectorError as exc:  # what the re-check needed could not be read
        return ActionResult(action, Outcome.FAILED, _status(exc), f"re-check failed: {exc}")
    if changed:
        return ActionResult(
            action, Outcome.SKIPPED, None, f"changed since it was read ({changed}); not written"
        )
    try:
        if action.action is Remediation.DELETE:
            result = writer.delete(action.account_id, live)
        else:
            result = writer.disable(action.account_id, live)
    except ConnectorError as exc:
        return _after_failure(writer, action, _status(exc), str(exc))
    if result.ok or result.status == NOT_FOUND:
        return _verify(writer, action, result.status)
    if result.status == PRECONDITION_FAILED:
        return _after_failure(
            writer, action, result.status, result.detail, precondition=live.version
        )
    return _after_failure(writer, action, result.status, result.detail or "write refused")


def changed_since(writer: Writer, action: Action, live: LiveAccount) -> str:
    """What changed in an account read without a version since the audit read it, by its
    mapped fields (``""``: nothing, or nothing can be compared); the account as the
    target's pull maps it, read again by a writer that can map it (:class:`Remapping`).

    Raises :class:`ConnectorError` when what the mapping needs cannot be read (a value
    that no longer reads is a change, not a failure)."""
    if action.record is None or live.resource is None or not isinstance(writer, Remapping):
        return ""
    try:
        now = writer.record_of(live.resource)
    except DataError as exc:
        return f"it no longer reads: {exc}"
    if now is None:
        return "the target's filter or where no longer takes it"
    differ = differing(action.record, now)
    return f"{', '.join(differ)} differ" if differ else ""


def differing(seen: Record, now: Record) -> list[str]:
    """The fields (and custom attributes) of two readings of one account that differ.

    Not compared: where it was read from; its version, which one reading may lack (a
    listing that gives none, a read of the one account that does); its groups, which a
    listing and a read of one account may take from different places (SCIM's own
    ``groups`` or ``/Groups``); its manager, which SCIM reads from the manager's own
    resource (as an address), so that it changes when the manager's resource does
    (deleted by the same run, its address changed) though the account did not; and the
    order of several values: RFC 7643 §2.4 gives a multi-valued attribute none, so a field
    with several values (emails) is compared as the set of them. A custom attribute's text
    is compared by what it says: the same instant or the same number spelt two ways (``Z``
    and ``+00:00``, ``1.0`` and ``1``) is no change."""
    differ = []
    for name in (field.name for field in fields(Record)):
        if name in _UNCOMPARED:
            continue
        if name == "attributes":
            keys = sorted({*seen.attributes, *now.attributes})
            differ += [key for key in keys if _said(seen.values(key)) != _said(now.values(key))]
        elif name in seen.multi_values or name in now.multi_values:
            if set(seen.values(name)) != set(now.values(name)):
                differ.append(name)
        elif getattr(seen, name) != getattr(now, name):
            differ.append(name)
    return differ


_UNCOMPARED: Final = frozenset({"location", "version", "groups", "manager", "multi_values"})
"""The fields :func:`differing` leaves out (``multi_values`` through the fields it holds)."""


def _said(values: tuple[str, ...]) -> set[object]:
    """What the texts of a custom attribute say: an instant or a number where the text
    reads as one (ISO 8601, a decimal number), else the text itself."""
    said: set[object] = set()
    for text in values:
        try:
            said.add(Decimal(text) if _NUMBER.fullmatch(text) else parse_datetime(text))
        except (ValueError_, ValueError, ArithmeticError):
            said.add(text)
    return said


_NUMBER: Final = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
"""A JSON number's spelling (RFC 8259 §6), read as a :class:`~decimal.Decimal`."""


def _verify(writer: Writer, action: Action, status: int) -> ActionResult:
    """Read the account back after a write the service accepted: done only by effect."""
    try:
        after = writer.read(action.account_id)
    except ConnectorError as exc:
        return ActionResult(
            action,
            Outcome.FAILED,
            status,
            f"the write answered {status} but reading the account back failed: {exc}",
            "not verified",
        )
    if achieved(action.action, after):
        gone = after.state is AccountState.GONE
        verified = "verified gone" if gone else VERIFIED[action.action]
        detail = "already gone" if status == NOT_FOUND else f"{action.action.value}d"
        return ActionResult(action, Outcome.DONE, status, detail, verified)
    still = "still active" if after.state is AccountState.ACTIVE else f"still {after.state.value}"
    return ActionResult(
        action,
        Outcome.FAILED,
        status,
        f"the service answered {status} but the account reads {after.state.value}",
        f"not applied: {still}",
    )


def _after_failure(
    writer: Writer,
    action: Action,
    status: int | None,
    detail: str,
    *,
    precondition: str | None = None,
) -> ActionResult:
    """A write failed or was refused: read again, since an earlier try may have gone through
    (a connection dropped after the service committed, then the retry met ``If-Match``).

    ``precondition`` is the version sent in ``If-Match`` when the service answered 412: if
    the account still has that version (RFC 9110 §8.8.3.2 weak comparison), the service
    refused a version it had itself given, and the action failed; if the version moved,
    the account changed while being applied and the action is skipped.
    """
    try:
        live: LiveAccount | None = writer.read(action.account_id)
    except ConnectorError:
        live = None
    done = achieved(action.action, live) if live is not None else None
    if done:
        return ActionResult(
            action, Outcome.DONE, status, f"{done} (an earlier attempt went through)", done
        )
    observed = f"not applied: still {live.state.value}" if live is not None else "not verified"
    if status == PRECONDITION_FAILED and live is not None:
        if precondition is None or same_version(live.version, precondition):
            return ActionResult(
                action,
                Outcome.FAILED,
                status,
                f"412 with unchanged version {precondition or '(none sent)'}: the service"
                " refused the version it gave",
                "failed: 412 with unchanged version",
            )
        return ActionResult(
            action,
            Outcome.SKIPPED,
            status,
            f"changed while being applied (version {precondition} → {live.version})",
            observed,
        )
    return ActionResult(action, Outcome.FAILED, status, detail, observed)


def _status(exc: NhireconError) -> int | None:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else None
