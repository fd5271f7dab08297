"""What the rules are told by the config: the policy numbers and the correlation rules.

Plain frozen data, so that the rules in :mod:`nhirecon.core` need nothing from the
config layer; :mod:`nhirecon.config` builds them from the YAML.
"""

from __future__ import annotations

from dataclasses import dataclass

from nhirecon.core.values import comparison_mode


@dataclass(frozen=True)
class CorrelationRule:
    """One ``correlate`` entry: an account field compared with an identity field (SPEC §4)."""

    account: str
    """The canonical field or mapped custom attribute read from the account."""
    identity: str
    """The canonical field or mapped custom attribute read from the identity."""

    @property
    def mode(self) -> str:
        """How values are normalised before comparing (see :func:`comparison_mode`)."""
        return comparison_mode(self.account, self.identity)

    def __str__(self) -> str:
        return f"account.{self.account} = identity.{self.identity}"


@dataclass(frozen=True)
class Policy:
    """The ``policy:`` section: thresholds of the rules and of the ``--apply`` rails."""

    dormant_days: int = 90
    """No sign-in or use for longer than this many days is ``dormant``."""
    credential_max_age_days: int = 90
    """A credential older than this many days is ``stale-credential``."""
    orphan_grace_days: int = 0
    """Orphans created within this many days are not reported."""
    max_actions: int = 25
    """Most actions in one run, over all targets, disables and deletes together."""
    max_action_percent: float = 10.0
    """Most actions on one target, in percent of the accounts it returned."""
    max_source_drop_percent: float = 20.0
    """The most the source may shrink since the last run that passed this check, in percent."""
