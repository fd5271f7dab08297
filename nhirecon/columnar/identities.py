"""Which identities of the source the rules must see (see :mod:`nhirecon.columnar.decide`).

An identity is kept when it is not plain; when a kept account could be linked to it under
any correlation rule; and, unless the run explains accounts, when an allowlist entry names
it, it holds a credential id that another row holds too, a non-human identity could name it
as owner, or it may have findings of its own.

Only an active non-human identity has findings of its own
(:func:`~nhirecon.core.source_findings.source_findings`): ``ownerless`` when its owner is
missing, names no other identity, several, or one that is not active; ``expired``; and
``human-use``. A plain one may have none, and is not kept for them, when its owner's key
(case-folded, as the rule compares it) is the id, a username or an email of exactly one
other identity, which is plain and active, its expiry is more than a day away, and it has
no interactive password nor an interactive sign-in within a day of the dormancy limit.
Every identity that a non-human identity, kept or not, could name as owner is kept, so the
rule sees every candidate it counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Final

from nhirecon.columnar.keys import Input, Keys, TargetInput, column
from nhirecon.columnar.rows import Row, active_status, named_by, non_human, used_like_a_person
from nhirecon.columnar.values import day_after
from nhirecon.core.policy import Policy

if TYPE_CHECKING:
    import duckdb

SUBJECT_FIELDS: Final = ("id", "username", "email")
"""The fields an owner can name an identity by (see
:func:`~nhirecon.core.findings.subject_keys`)."""


def want_keys(keyed: Keys, source: Input) -> None:
    """Asks for the key columns :func:`keep_identities` resolves owners with."""
    keyed.want(source, "owner", "casefold")
    if "owner" in source.fields:
        for name in SUBJECT_FIELDS:
            keyed.want(source, name, "casefold")


def keep_identities(
    con: duckdb.DuckDBPyConnection,
    keyed: Keys,
    source: Input,
    targets: Sequence[TargetInput],
    credentials: str,
    named: frozenset[str],
    *,
    now: date,
    policy: Policy,
    statuses: frozenset[str],
) -> None:
    """Makes ``{source}_kept``, the line numbers of the identities kept (see the module).

    ``statuses``: the source's ``active_status``; ``credentials``: the table of the
    credential ids more than one row holds."""
    conditions = ["NOT ok"]
    for target in targets:
        for rule in target.correlate:
            theirs = keyed.key(source, rule.identity, rule.mode)
            ours = keyed.key(target.input, rule.account, rule.mode)
            conditions.append(
                f"{theirs} IN (SELECT {ours} FROM {target.input.table}_v"
                f" WHERE n IN (SELECT n FROM {target.input.table}_kept))"
            )
    if not any(target.sought for target in targets):
        conditions += _with_findings(
            con, keyed, source, credentials, named, now=now, policy=policy, statuses=statuses
        )
    con.execute(
        f"CREATE TABLE {source.table}_kept AS SELECT n FROM {source.table}_v"
        f" WHERE {' OR '.join(conditions)}"
    )


def _with_findings(
    con: duckdb.DuckDBPyConnection,
    keyed: Keys,
    source: Input,
    credentials: str,
    named: frozenset[str],
    *,
    now: date,
    policy: Policy,
    statuses: frozenset[str],
) -> list[str]:
    """SQL conditions on the identities named by an allowlist entry or sharing a credential,
    those that may have findings of their own, and those a non-human identity may name as
    owner."""
    table = source.table
    i = Row(source, table + "_v")
    conditions = [named_by(i, named)]
    if "credential_id" in source.fields:
        conditions.append(f"{i.key('credential_id', 'exact')} IN (SELECT key FROM {credentials})")
    owner_fine = "false"  # no owner: ``ownerless`` (missing)
    if "owner" in source.fields:
        owners = keyed.key(source, "owner", "casefold")
        con.execute(
            f"""
            CREATE TABLE owners AS SELECT DISTINCT {owners} AS key FROM {table}_v
            WHERE {owners} IS NOT NULL AND (NOT ok OR {non_human(i)})
            """
        )
        for name in SUBJECT_FIELDS:
            if name in source.fields:
                conditions.append(f"lower({column('v', name)}) IN (SELECT key FROM owners)")
        _owner_candidates(con, keyed, source, statuses)
        owner_fine = (
            "coalesce((SELECT count(*) = 1 AND bool_and(c.usable) FROM owner_candidates AS c"
            f" WHERE c.key = {owners} AND c.n <> {table}_v.n), false)"
        )
    expiring = f"{i.value('expires_at')} <= {day_after(now, 1)}"
    used = used_like_a_person(i, day_after(now, -1 - policy.dormant_days))
    conditions.append(
        f"({non_human(i)} AND {active_status(i, statuses)}"
        f" AND (NOT {owner_fine} OR {expiring} OR {used}))"
    )
    return conditions


def _owner_candidates(
    con: duckdb.DuckDBPyConnection, keyed: Keys, source: Input, statuses: frozenset[str]
) -> None:
    """``owner_candidates``: for each key in ``owners``, each identity that has it as its
    id, a username or an email (by the exact case-folded keys, plain or not), and whether
    the owner rule could take it as is (``usable``: plain and active)."""
    table = f"{source.table}_v"
    matches = " UNION ".join(  # ``id`` is always mapped
        f"SELECT o.key, {table}.n FROM owners AS o JOIN {table}"
        f" ON {keyed.key(source, name, 'casefold')} = o.key"
        for name in SUBJECT_FIELDS
        if name in source.fields
    )
    usable = f"{table}.ok AND {active_status(Row(source, table), statuses)}"
    con.execute(
        f"""
        CREATE TABLE owner_candidates AS
        SELECT m.key, m.n, {usable} AS usable
        FROM ({matches}) AS m JOIN {table} ON {table}.n = m.n
        """
    )
