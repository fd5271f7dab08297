"""The shape of the config file, as pydantic models: what :func:`.load.load` checks in one
pass and what ``nhirecon schema`` describes for editors.

The docstring under each key is its description in the JSON Schema. These models say
what the file may hold; :mod:`.endpoints` and :mod:`.load` turn a file that fits them
into the frozen :class:`~nhirecon.config.model.Config`, after the checks that need
meaning (connector options, the fields rules name, the targets exceptions name).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict

from nhirecon.config.base import Keys
from nhirecon.config.inputs import SourceKeys, TargetKeys
from nhirecon.config.model import NOTIFY_WHEN
from nhirecon.config.types import (
    Count,
    Days,
    Expiry,
    GateText,
    Percent,
    Seconds,
    Text,
    Version,
    enum,
    one_of,
)
from nhirecon.core.model import FindingKind
from nhirecon.core.policy import Policy

KINDS = tuple(kind.value for kind in FindingKind)
DEFAULTS = Policy()


class PolicyKeys(Keys):
    """Thresholds of the rules and of the `--apply` rails."""

    dormant_days: Days = DEFAULTS.dormant_days
    """No sign-in or use for longer than this many days is `dormant`."""
    credential_max_age_days: Days = DEFAULTS.credential_max_age_days
    """A credential older than this many days is overdue for rotation."""
    orphan_grace_days: Days = DEFAULTS.orphan_grace_days
    """Orphans created within this many days are not reported."""
    max_actions: Count = DEFAULTS.max_actions
    """Most actions in one run, over all targets, disables and deletes together."""
    max_action_percent: Percent = DEFAULTS.max_action_percent
    """Most actions on one target, in percent of the accounts it returned."""
    max_source_drop_percent: Percent = DEFAULTS.max_source_drop_percent
    """Refuse to act if the source shrank more than this, in percent, since the last run."""


def _kind(value: Any) -> str:
    return f"unknown finding kind {value!r}"


class ExceptionKeys(Keys):
    """An accepted risk, reviewed in code review."""

    target: Text
    """The source or target it applies to."""
    account: Text
    """Matched against the account's id, usernames or emails, exactly but for case."""
    kind: Annotated[str, one_of(KINDS, _kind), enum(KINDS)] | None = None
    """The one finding kind it covers; omit to cover every kind."""
    reason: Text
    """Why the risk is accepted."""
    owner: Text
    """Who accepted it."""
    expires: Expiry
    """The last day (UTC) on which it applies, such as 2027-01-31."""


class ProtectedKeys(Keys):
    """An account never disabled or deleted, whatever the findings."""

    target: Text
    """The target it is in."""
    account: Text
    """Its id, username or email."""


def _when(value: Any) -> str:
    return f"expected one of {', '.join(NOTIFY_WHEN)}, got {value!r}"


class NotifyKeys(Keys):
    """Post a short summary to a chat webhook after `audit`."""

    webhook_url_env: Text
    """The environment variable that holds the webhook URL (a secret: never in the file)."""
    report_link: Text | None = None
    """A link or path to the report, shown as given."""
    when: Annotated[str, one_of(NOTIFY_WHEN, _when), enum(NOTIFY_WHEN)] = "always"
    """always; changes (new or resolved findings); failed (the gate failed)."""
    timeout_seconds: Seconds = 10.0
    """How long to wait for the webhook (0: the default, 10)."""


class ConfigFile(Keys):
    """nhirecon configuration: who should exist (the source) against what exists (the
    targets). Relative paths are relative to this file; secrets never go in it (options
    ending in `_env` name an environment variable)."""

    model_config = ConfigDict(title="nhirecon configuration")

    version: Version
    """The config format: 1."""
    source: SourceKeys
    targets: list[TargetKeys]
    """The apps whose accounts are checked against the source."""
    policy: PolicyKeys | None = None
    exceptions: list[ExceptionKeys] | None = None
    """Accepted risk: findings these cover are listed as excepted, not reported."""
    protected: list[ProtectedKeys] | None = None
    """Accounts never disabled or deleted."""
    gate: list[GateText] | None = None
    """Default `--fail-on` rules, such as `orphan,jit-orphan>0` or `severity:high>=5`."""
    history: Text | None = None
    """The run history (SQLite); default under the user's state directory."""
    audit_log: Text | None = None
    """The log of actions `apply` takes (JSON Lines); default under the user's state
    directory."""
    notify: NotifyKeys | None = None
