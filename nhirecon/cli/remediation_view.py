"""Plans and apply results as text for people: pure, deterministic."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from nhirecon.core.text import inert
from nhirecon.core.values import format_datetime
from nhirecon.remediation.actions import ActionResult, ApplyResult, confirmation
from nhirecon.remediation.plan import Action, Plan


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns of text; values from other systems are shown inert (SPEC §6)."""
    if not rows:
        return []
    cells = [[inert(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(cells[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def actions_text(actions: Sequence[Action]) -> str:
    """One line per action: what, where, whom, why, and what will confirm it."""
    rows = [("ACTION", "TARGET", "ACCOUNT", "ID", "FINDINGS", "DONE WHEN THE ACCOUNT")]
    rows += [
        (
            action.action.value,
            action.target,
            action.label,
            action.account_id,
            action.kinds,
            confirmation(action.action),
        )
        for action in actions
    ]
    return "\n".join(_table(rows)) + "\n"


def plan_text(plan: Plan, path: str) -> str:
    counts = Counter(action.action.value for action in plan.actions)
    lines = [
        f"plan {path}: {len(plan.actions)} actions"
        f" ({counts['disable']} disable, {counts['delete']} delete),"
        f" made {format_datetime(plan.created_at)}",
        "",
    ]
    if plan.actions:
        lines.append(actions_text(plan.actions))
    if plan.manual:
        lines.append(f"{len(plan.manual)} findings need a person (manual):")
        rows = [(item.kind.value, item.target, item.subject, item.reason) for item in plan.manual]
        lines.extend("  " + line for line in _table(rows))
        lines.append("")
    lines.append(f"review it, then: nhirecon apply {path}")
    return "\n".join(lines) + "\n"


def result_line(result: ActionResult) -> str:
    action = result.action
    status = f" (HTTP {result.status})" if result.status else ""
    observed = f" [{result.observed}]" if result.observed else ""
    return inert(
        f"{result.outcome.value}: {action.action.value} {action.target}/{action.label}"
        f" [{action.account_id}]{status}: {result.detail}{observed}"
    )


def results_text(result: ApplyResult) -> str:
    lines = [result_line(item) for item in result.results]
    lines.append(result.summary())
    return "\n".join(lines) + "\n"
