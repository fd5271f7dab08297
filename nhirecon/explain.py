"""``explain``: how one account was correlated, and what was found about it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from nhirecon.columnar.engine import MIN_BYTES, triage
from nhirecon.config import Config, Target
from nhirecon.connectors import registry
from nhirecon.core.allowlist import entry_key, names
from nhirecon.core.correlate import Correlator, IdentityIndex, Link, Step
from nhirecon.core.duplicates import Duplicates
from nhirecon.core.exceptions import Exceptions
from nhirecon.core.findings import Clock, account_findings
from nhirecon.core.model import ExceptionRule, Finding, FindingKind, Record
from nhirecon.core.values import key_for
from nhirecon.errors import UsageError
from nhirecon.pipeline import (
    Engine,
    allowlist_tally,
    bulk,
    pull_source,
    quiet,
    target_accounts,
    target_rules,
)
from nhirecon.sources import triaged_source


def _names(account: Record, wanted: str | None, exact: bool) -> bool:
    """Whether one of the account's usernames or emails is ``wanted``: case-insensitively
    but otherwise exactly (as an allowlist entry names it), or, not ``exact``, after
    compatibility folding too (a look-alike)."""
    if exact:
        return wanted in names(account)
    values = (*account.values("username"), *account.values("email"))
    return wanted in {key_for(value, "casefold") for value in values}


def _not_one(target: str, query: str, exact: list[Record], folded: list[Record]) -> str:
    """Why ``explain`` found no one account; look-alikes are listed, never taken for it."""
    if len(exact) > 1:
        ids = ", ".join(sorted(account.id for account in exact))
        return (
            f"target {target!r} has {len(exact)} accounts named {query!r} ({ids}): name one by id"
        )
    message = f"target {target!r} has no account {query!r}"
    if folded:
        ids = ", ".join(sorted(f"{account.id} ({account.label!r})" for account in folded))
        message = f"{message}; look-alikes, named only after Unicode folding: {ids}"
    return message


@dataclass(frozen=True)
class Explanation:
    """How one account was correlated, and what was found about it."""

    target: str
    account: Record
    trail: tuple[Step, ...]
    link: Link
    findings: tuple[Finding, ...]
    excepted: tuple[tuple[Finding, ExceptionRule], ...]

    @property
    def not_replayed(self) -> tuple[FindingKind, ...]:
        """The kinds that may concern the account but are not replayed here: whether its
        credential is also held elsewhere (``shared-credential``) takes the source and
        every target, and ``explain`` reads one target."""
        holds = self.account.credential_id and self.account.active  # disabled: holds none
        return (FindingKind.SHARED_CREDENTIAL,) if holds else ()


def explain(
    config: Config, target_name: str, query: str, *, now: datetime, engine: Engine = "auto"
) -> Explanation:
    """Find one account (by id, or any of its usernames or emails) and replay its
    correlation, every value of a multi-valued field included. The whole target is read,
    as in an audit, so that findings about several accounts (``duplicate-account``, an
    exception naming several) are the audit's.

    ``engine`` as for :func:`~nhirecon.pipeline.audit`: the columnar engine keeps every
    account ``query`` could name, as is or folded, and the rows their correlation depends
    on, rather than the rows the finding rules need (see
    :attr:`~nhirecon.columnar.keys.TargetInput.sought`); the explanation is the same.

    Raises :class:`~nhirecon.errors.UsageError` when no one account is named, and what
    reading the inputs raises. Correlation rules that can link nothing, which an audit
    refuses (see :func:`~nhirecon.pipeline.check_readable`), are explained rather than
    refused: seeing each rule find nothing is how they are mended."""
    with bulk():
        return _explain(config, config.target(target_name), query, now=now, engine=engine)


def _explain(
    config: Config, target: Target, query: str, *, now: datetime, engine: Engine
) -> Explanation:
    named_as, folded_as = entry_key(query), key_for(query, "casefold")
    triaged = None
    if engine != "python":
        keys = frozenset(key for key in (named_as, folded_as) if key)
        minimum = 0 if engine == "columnar" else MIN_BYTES
        triaged = triage(
            config, [target], now, quiet, min_bytes=minimum, sought={target.name: keys}
        )
    if triaged is None:
        source = pull_source(config.source, as_of=now)
        pulled = registry.pull(target.endpoint, now)
        accounts: Iterable[Record] = target_accounts(pulled, target, quiet)
    else:
        source = triaged_source(config, triaged.source)
        accounts = triaged.targets[target.name]
    correlator = Correlator(IdentityIndex(source.identities), target.correlate)
    named = allowlist_tally(config, target.name)
    duplicates = Duplicates()
    by_id, exact, folded = None, [], []
    for candidate in accounts:
        named.see(candidate)
        duplicates.see(candidate, correlator.link(candidate))
        if candidate.id == query:
            by_id = candidate
        elif _names(candidate, named_as, exact=True):
            exact.append(candidate)
        elif _names(candidate, folded_as, exact=False):
            folded.append(candidate)
    account = by_id or (exact[0] if len(exact) == 1 else None)
    if account is None:
        raise UsageError(_not_one(target.name, query, exact, folded))
    trail: list[Step] = []
    link = correlator.link(account, trail)
    rules = target_rules(config, target)
    found = account_findings(
        rules, account, link, source.name, Clock(now, config.policy), config.source.active_status
    )
    found.extend(
        finding
        for finding in duplicates.findings(rules)
        if finding.account is not None and finding.account.id == account.id
    )
    counted, excepted = Exceptions(config.exceptions, now, named.broad()).split(found)
    return Explanation(target.name, account, tuple(trail), link, tuple(counted), tuple(excepted))
