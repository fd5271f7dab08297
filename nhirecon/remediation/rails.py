"""The rails that can be judged without the network: the thresholds, the source drop, and
the checks that bind a plan file to the config and the targets it was made for. Pure: no
I/O, no clock.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

from nhirecon.config import Config
from nhirecon.core.model import ACCOUNT_KINDS, FindingKind, Record, fingerprint
from nhirecon.core.policy import Policy
from nhirecon.core.values import format_datetime
from nhirecon.errors import UsageError
from nhirecon.pipeline import target_rules
from nhirecon.remediation.plan import Action, Plan, strongest, target_url

FUTURE_SKEW: Final = timedelta(minutes=5)
"""A plan dated further in the future than this is refused (a wrong clock, or an edit)."""
DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def threshold_problems(
    actions: Sequence[Action],
    accounts: Mapping[str, int],
    policy: Policy,
    max_actions: int | None = None,
) -> list[str]:
    """Why the actions exceed the thresholds (empty when they do not).

    ``max_actions`` (``--max-actions``) overrides ``policy.max_actions`` for the run;
    ``max_action_percent`` applies per target, of the accounts that target returned.
    Disables and deletes count together.
    """
    limit = policy.max_actions if max_actions is None else max_actions
    found = []
    if len(actions) > limit:
        found.append(
            f"{len(actions)} actions exceed max_actions {limit}"
            " (raise policy.max_actions or pass --max-actions after review)"
        )
    per_target = Counter(action.target for action in actions)
    for name in sorted(per_target):
        count = per_target[name]
        total = accounts.get(name, 0)
        share = 100.0 * count / total if total else 100.0
        if share > policy.max_action_percent:
            found.append(
                f"target {name}: {count} actions are {share:.1f}% of its {total} accounts,"
                f" over max_action_percent {policy.max_action_percent:g}"
            )
    return found


def parse_duration(text: str) -> timedelta:
    """``90s``, ``30m``, ``24h``, ``2d``, ``1w`` or plain seconds."""
    match = DURATION.match(text)
    if match is None:
        raise UsageError(f"--max-age: expected a duration like 24h, 30m or 2d, got {text!r}")
    try:
        return timedelta(seconds=float(match[1]) * UNITS[match[2].casefold()])
    except OverflowError:
        raise UsageError(f"--max-age: {text!r} is longer than any plan can be old") from None


def binding_problems(plan: Plan, config: Config) -> list[str]:
    """Why a plan does not belong to this config and these targets."""
    found = []
    if plan.config_digest != config.digest:
        found.append(
            f"the plan was made with another config (digest {plan.config_digest[:12]}…,"
            f" now {config.digest[:12]}…); make a new plan"
        )
    names = {target.name for target in config.targets}
    for planned in plan.targets:
        if planned.name not in names:
            found.append(f"the plan's target {planned.name!r} is not in the config")
            continue
        url = target_url(config.target(planned.name))
        if planned.url != url:
            found.append(
                f"target {planned.name}: the plan was made for {planned.url or 'no URL'},"
                f" the config now says {url or 'no URL'}"
            )
    return found


def age_problem(plan: Plan, wall_now: datetime, max_age: timedelta) -> str | None:
    """Why a plan is too old (or dated in the future) to apply, or ``None``."""
    age = wall_now - plan.created_at
    if age < -FUTURE_SKEW:
        return f"the plan is dated {format_datetime(plan.created_at)}, in the future"
    if age > max_age:
        hours = age.total_seconds() / 3600
        return (
            f"the plan was made {hours:.1f} h ago, older than --max-age"
            f" {max_age.total_seconds() / 3600:g} h; make a new plan"
        )
    return None


def consistency_problems(plan: Plan, config: Config) -> list[str]:
    """Actions the config would not take: the sign of an edited plan.

    Each action must name a target the plan covers, findings of kinds the target's
    ``remediate`` maps to a remediation its connector can perform, fingerprints that
    match (kind, target, account), the strongest of those remediations, and no protected
    account.
    """
    found = []
    covered = {target.name for target in plan.targets}
    seen: set[tuple[str, str]] = set()
    for action in plan.actions:
        where = f"action {action.action.value} {action.target}/{action.account_id}"
        if action.key in seen:
            found.append(f"{where}: listed twice")
        seen.add(action.key)
        if action.target not in covered or action.target not in {
            target.name for target in config.targets
        }:
            found.append(f"{where}: target not covered by the plan or the config")
            continue
        rules = target_rules(config, config.target(action.target))
        if not action.findings:
            found.append(f"{where}: no finding calls for it")
            continue
        taken = []
        for reason in action.findings:
            expected = fingerprint(reason.kind, action.target, action.account_id)
            mapped = rules.remediate.get(reason.kind)
            if reason.kind not in ACCOUNT_KINDS or reason.kind is FindingKind.AMBIGUOUS:
                found.append(f"{where}: {reason.kind.value} findings never get an action")
            elif reason.fingerprint != expected:
                found.append(f"{where}: fingerprint of its {reason.kind.value} finding is wrong")
            elif mapped is None or mapped.value not in rules.can_write:
                found.append(
                    f"{where}: the config does not {action.action.value} on {reason.kind.value}"
                )
            else:
                taken.append(mapped)
        if taken and len(taken) == len(action.findings) and strongest(taken) != action.action:
            found.append(f"{where}: the config would {strongest(taken).value} instead")
        probe = Record(
            id=action.account_id,
            location="plan",
            username=action.username,
            email=action.email,
        )
        if rules.is_protected(probe):
            found.append(f"{where}: the account is protected")
    return found
