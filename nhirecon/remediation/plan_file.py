"""The plan file: a plan as deterministic JSON, and read back with every key checked."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from nhirecon.connectors import files
from nhirecon.core import strict_json
from nhirecon.core.model import FindingKind, Remediation
from nhirecon.core.values import ValueError_, format_datetime, parse_datetime
from nhirecon.errors import UsageError
from nhirecon.remediation.plan import WRITES, Action, ManualItem, Plan, PlanTarget, Reason

PLAN_VERSION: Final = 1


def to_data(plan: Plan) -> dict[str, Any]:
    return {
        "plan_version": PLAN_VERSION,
        "tool": {"name": "nhirecon", "version": plan.tool_version},
        "created_at": format_datetime(plan.created_at),
        "evaluated_at": format_datetime(plan.evaluated_at),
        "config": {"path": plan.config_path, "digest": plan.config_digest},
        "source": {"name": plan.source, "identities": plan.identities},
        "targets": [
            {
                "name": target.name,
                "connector": target.connector,
                "url": target.url,
                "accounts": target.accounts,
            }
            for target in plan.targets
        ],
        "actions": [
            {
                "target": action.target,
                "account": {
                    "id": action.account_id,
                    "username": action.username,
                    "email": action.email,
                    "version": action.version,
                },
                "action": action.action.value,
                "findings": [
                    {"kind": reason.kind.value, "fingerprint": reason.fingerprint}
                    for reason in action.findings
                ],
            }
            for action in plan.actions
        ],
        "manual": [
            {
                "target": item.target,
                "subject": item.subject,
                "kind": item.kind.value,
                "fingerprint": item.fingerprint,
                "reason": item.reason,
            }
            for item in plan.manual
        ],
    }


def to_json(plan: Plan) -> str:
    """The plan file's text: deterministic JSON."""
    return json.dumps(to_data(plan), indent=2, ensure_ascii=False) + "\n"


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, message: str) -> UsageError:
        return UsageError(f"{self.where}: {key}: {message} (not a plan nhirecon wrote?)")

    def get(self, data: Any, key: str, name: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(data, dict) or name not in data:
            raise self.fail(f"{key}.{name}".lstrip("."), "missing")
        value = data[name]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int,))):
            raise self.fail(f"{key}.{name}".lstrip("."), f"unexpected value {value!r}")
        return value

    def optional_text(self, data: Any, key: str, name: str) -> str | None:
        value = data.get(name) if isinstance(data, dict) else None
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(f"{key}.{name}", f"unexpected value {value!r}")
        return value

    def instant(self, data: Any, name: str) -> datetime:
        text = self.get(data, "", name, str)
        try:
            value = parse_datetime(text)
        except ValueError_ as exc:
            raise self.fail(name, str(exc)) from None
        if value is None:
            raise self.fail(name, "empty")
        return value

    def enum(self, value: Any, key: str, kind: type[FindingKind] | type[Remediation]) -> Any:
        try:
            return kind(value)
        except ValueError:
            raise self.fail(key, f"unknown value {value!r}") from None


def read(path: Path) -> Plan:
    """Read the plan file at ``path``: a regular file (a pipe or a device is refused before
    it is read), UTF-8, written by ``nhirecon plan``; every problem is a usage error naming
    the file."""
    try:
        raw = files.read_whole(path, files.MAX_DOCUMENT_BYTES, "a plan")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the plan: {exc.strerror or exc}") from None
    except files.NotAFile as exc:
        raise UsageError(f"{path}: {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not a plan file (not UTF-8: {exc.reason})") from None
    return from_json(text, str(path))


def from_json(text: str, where: str) -> Plan:
    """Read a plan file; a malformed one is a usage error naming the key."""
    reader = _Reader(where)
    try:
        data = strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not a plan file: invalid JSON ({exc})") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise UsageError(f"{where}: not a plan file: unreadable JSON ({exc})") from None
    except RecursionError:
        raise UsageError(f"{where}: not a plan file: JSON nested too deeply") from None
    version = data.get("plan_version") if isinstance(data, dict) else None
    if type(version) is not int or version != PLAN_VERSION:  # not true, not 1.0
        raise reader.fail("plan_version", f"expected {PLAN_VERSION}")
    config = reader.get(data, "", "config", dict)
    source = reader.get(data, "", "source", dict)
    targets = []
    for index, item in enumerate(reader.get(data, "", "targets", list)):
        key = f"targets[{index}]"
        targets.append(
            PlanTarget(
                name=reader.get(item, key, "name", str),
                connector=reader.get(item, key, "connector", str),
                url=reader.optional_text(item, key, "url"),
                accounts=reader.get(item, key, "accounts", int),
            )
        )
    actions = []
    for index, item in enumerate(reader.get(data, "", "actions", list)):
        key = f"actions[{index}]"
        account = reader.get(item, key, "account", dict)
        reasons = []
        for number, entry in enumerate(reader.get(item, key, "findings", list)):
            entry_key = f"{key}.findings[{number}]"
            reasons.append(
                Reason(
                    kind=reader.enum(
                        reader.get(entry, entry_key, "kind", str), entry_key, FindingKind
                    ),
                    fingerprint=reader.get(entry, entry_key, "fingerprint", str),
                )
            )
        action = reader.enum(reader.get(item, key, "action", str), f"{key}.action", Remediation)
        if action not in WRITES:
            raise reader.fail(f"{key}.action", f"expected disable or delete, got {action.value!r}")
        actions.append(
            Action(
                target=reader.get(item, key, "target", str),
                account_id=reader.get(account, f"{key}.account", "id", str),
                action=action,
                findings=tuple(reasons),
                version=reader.optional_text(account, f"{key}.account", "version"),
                username=reader.optional_text(account, f"{key}.account", "username"),
                email=reader.optional_text(account, f"{key}.account", "email"),
            )
        )
    manual = []
    for index, item in enumerate(data.get("manual") or []):
        key = f"manual[{index}]"
        manual.append(
            ManualItem(
                target=reader.get(item, key, "target", str),
                subject=reader.get(item, key, "subject", str),
                kind=reader.enum(reader.get(item, key, "kind", str), f"{key}.kind", FindingKind),
                fingerprint=reader.get(item, key, "fingerprint", str),
                reason=reader.get(item, key, "reason", str),
            )
        )
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    return Plan(
        created_at=reader.instant(data, "created_at"),
        evaluated_at=reader.instant(data, "evaluated_at"),
        config_path=reader.get(config, "config", "path", str),
        config_digest=reader.get(config, "config", "digest", str),
        source=reader.get(source, "source", "name", str),
        identities=reader.get(source, "source", "identities", int),
        targets=tuple(targets),
        actions=tuple(actions),
        manual=tuple(manual),
        tool_version=str(tool.get("version", "")),
    )
