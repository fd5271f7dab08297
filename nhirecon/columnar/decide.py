"""Which rows the rules must see: correlation as joins, and a conservative test of every
finding rule, over the plain values of :mod:`nhirecon.columnar.values`.

A row is *quiet* when the engine can show that the audit learns nothing from it but
counts: every cell of it is plain, and

- an account is linked, if at all, to an identity whose cells are plain too (a link made
  through a value that is not plain may be a look-alike, which is counted even for an
  inactive account); and it is inactive, or no rule can fire on it: the identity is
  active; no compared field differs once case and runs of spaces are forgiven, as
  ``compare`` forgives them; it was not created at sign-in; no date of it or its identity
  comes within a day of a limit; and if either is a non-human identity, the account has
  no interactive password and no interactive sign-in within a day of the dormancy limit
  (``human-use``);
- an identity has no findings of its own: it is human or not active, or its owner is
  exactly one other identity, plain and active, its expiry is more than a day away, and
  it has no interactive password nor an interactive sign-in within a day of the dormancy
  limit (see :mod:`nhirecon.columnar.identities`);
- no other row depends on it: it shares no credential id, no allowlist entry names it, its
  identity has no other account that may be active, and (for an identity) no account that
  is read the usual way could find it under any correlation rule, and no non-human
  identity could name it as owner.

Every other row is *kept*: read by the connector's mapping and given to the rules, which
then see every record that could change their result. Correlation keys are exact for every
row, plain or not (a cell that is not plain is keyed by :func:`~nhirecon.core.values.key_for`
in Python), so a quiet account's link is the link the rules would make.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final

from nhirecon.columnar.export import Unsupported
from nhirecon.columnar.identities import keep_identities, want_keys
from nhirecon.columnar.keys import Input, Keys, TargetInput, column
from nhirecon.columnar.quiet import Quiet, quiet_accounts, quiet_values
from nhirecon.columnar.rows import Row, named_by, non_human, used_like_a_person
from nhirecon.columnar.rows import active_status as active_status_of
from nhirecon.columnar.threads import at_once
from nhirecon.columnar.values import TEXT, compared, day_after
from nhirecon.core.model import CANONICAL_FIELDS, TEXT_FIELDS
from nhirecon.core.policy import Policy

if TYPE_CHECKING:
    import duckdb

TEXT_LIKE: Final = frozenset(TEXT_FIELDS) - {"kind"}
"""Canonical fields whose value is their text, with no default: those correlation and
``compare`` may use here (custom attributes too)."""


@dataclass(frozen=True)
class Decision:
    """For each target (by table), the counts of its quiet accounts; for each input, how
    many quiet rows hold each field. Table ``{table}_kept`` holds the line numbers ``n``
    of the kept rows."""

    quiet: Mapping[str, Quiet]
    values: Mapping[str, Mapping[str, int]]


def supported(name: str, inputs: Iterable[Input]) -> bool:
    """Whether correlation or ``compare`` on ``name`` can be decided here: a text field."""
    if name in CANONICAL_FIELDS and name not in TEXT_LIKE:
        return False
    return all(name not in one.fields or one.fields[name].kind in (TEXT, "id") for one in inputs)


def decide(
    con: duckdb.DuckDBPyConnection,
    source: Input,
    targets: Sequence[TargetInput],
    *,
    now: date,
    policy: Policy,
    active_status: frozenset[str],
    source_named: frozenset[str],
) -> Decision:
    """Splits every row into kept and quiet (see the module).

    Raises :class:`~nhirecon.columnar.export.Unsupported` for a repeated id (the connector
    names it) or a field this engine does not decide on."""
    everyone = [source, *(target.input for target in targets)]
    for target in targets:
        for rule in target.correlate:
            if not supported(rule.account, [target.input]) or not supported(
                rule.identity, [source]
            ):
                raise Unsupported(f"correlation on {rule}")
        for name in target.compare:
            if not supported(name, [target.input, source]):
                raise Unsupported(f"compare on {name}")
    keyed = Keys()
    for target in targets:
        for rule in target.correlate:
            keyed.want(source, rule.identity, rule.mode)
            keyed.want(target.input, rule.account, rule.mode)
    for one in everyone:
        keyed.want(one, "credential_id", "exact")
    want_keys(keyed, source)
    at_once(con, [functools.partial(_prepared, one=one, keyed=keyed) for one in everyone])
    credentials = _shared_credentials(con, keyed, everyone)
    decided = functools.partial(
        _decided,
        keyed=keyed,
        source=source,
        credentials=credentials,
        now=now,
        policy=policy,
        active_status=active_status,
    )
    quiet = at_once(con, [functools.partial(decided, target=target) for target in targets])
    keep_identities(
        con,
        keyed,
        source,
        targets,
        credentials,
        source_named,
        now=now,
        policy=policy,
        statuses=active_status,
    )
    counts = at_once(con, [functools.partial(quiet_values, one=one) for one in everyone])
    return Decision(
        {target.input.table: each for target, each in zip(targets, quiet, strict=True)},
        {one.table: each for one, each in zip(everyone, counts, strict=True)},
    )


def _prepared(con: duckdb.DuckDBPyConnection, one: Input, keyed: Keys) -> None:
    _values(con, one, keyed)
    _distinct_ids(con, one)


def _decided(
    con: duckdb.DuckDBPyConnection,
    keyed: Keys,
    source: Input,
    target: TargetInput,
    credentials: str,
    *,
    now: date,
    policy: Policy,
    active_status: frozenset[str],
) -> Quiet:
    """A target's links, its kept accounts, and what its quiet ones add to its counts."""
    _links(con, keyed, source, target)
    _keep_accounts(
        con, target, source, credentials, now=now, policy=policy, active_status=active_status
    )
    return quiet_accounts(con, target)


def _values(con: duckdb.DuckDBPyConnection, one: Input, keyed: Keys) -> None:
    """``{table}_v``: every row's line, plainness, the value of each field (each field's
    plainness computed once, and the row's from those), and the key columns wanted."""
    columns = [f"({field.plain}) AS {column('p', name)}" for name, field in one.fields.items()]
    columns += [f"({field.value}) AS {column('v', name)}" for name, field in one.fields.items()]
    columns += [f"{field.cell} AS {column('c', name)}" for name, field in one.fields.items()]
    plain = " AND ".join(column("p", name) for name in one.fields) or "true"
    keys, joins = keyed.columns(con, one, "r")
    cells = ", ".join(column("c", name) for name in one.fields)
    con.execute(
        f"""
        CREATE TABLE {one.table}_v AS
        SELECT r.n, NOT r.quoted AND {plain} AS ok, r.* EXCLUDE (n, quoted, {cells})
               {"".join(", " + key for key in keys)}
        FROM (SELECT n, quoted, {", ".join(columns)} FROM {one.table}) AS r {joins}
        """
    )


def _distinct_ids(con: duckdb.DuckDBPyConnection, one: Input) -> None:
    id_cell = one.fields["id"].cell
    (repeated,) = con.execute(
        f"SELECT count(*) FROM (SELECT {id_cell} FROM {one.table} GROUP BY 1 HAVING count(*) > 1)"
    ).fetchone() or (0,)
    if repeated:
        raise Unsupported(f"{one.export.path}: a repeated id")


def _shared_credentials(
    con: duckdb.DuckDBPyConnection, keyed: Keys, everyone: Sequence[Input]
) -> str:
    """A table of the credential ids that more than one row holds (any row, active or not)."""
    parts = [
        f"SELECT {keyed.key(one, 'credential_id', 'exact')} AS key FROM {one.table}_v"
        for one in everyone
        if "credential_id" in one.fields
    ]
    con.execute(
        "CREATE TABLE shared_credentials AS "
        + (
            f"SELECT key FROM ({' UNION ALL '.join(parts)}) WHERE key IS NOT NULL"
            " GROUP BY key HAVING count(*) > 1"
            if parts
            else "SELECT NULL::VARCHAR AS key WHERE false"
        )
    )
    return "shared_credentials"


def _links(con: duckdb.DuckDBPyConnection, keyed: Keys, source: Input, target: TargetInput) -> None:
    """``{table}_link``: each account's link by the target's rules, in order (SPEC §4): the
    first rule under which its key finds identities decides (``rule``, its index); one
    links (``identity``, its row), several are ambiguous, none at all leaves it
    unmatched."""
    table = target.input.table
    joins = []
    status = []
    identity = []
    deciding = []
    for number, rule in enumerate(target.correlate):
        theirs = keyed.key(source, rule.identity, rule.mode)
        ours = keyed.key(target.input, rule.account, rule.mode)
        con.execute(
            f"""
            CREATE TABLE {table}_r{number} AS
            SELECT key, count(*) AS matches, min(n) AS n
            FROM (SELECT n, {theirs} AS key FROM {source.table}_v) WHERE key IS NOT NULL
            GROUP BY key
            """
        )
        joins.append(f"LEFT JOIN {table}_r{number} AS r{number} ON r{number}.key = {ours}")
        status.append(
            f"WHEN r{number}.matches = 1 THEN 'linked' WHEN r{number}.matches > 1 THEN 'ambiguous'"
        )
        identity.append(
            f"WHEN r{number}.matches IS NOT NULL THEN"
            f" (CASE WHEN r{number}.matches = 1 THEN r{number}.n END)"
        )
        deciding.append(f"WHEN r{number}.matches IS NOT NULL THEN {number}")
    con.execute(
        f"""
        CREATE TABLE {table}_link AS
        SELECT {table}_v.n AS n,
               CASE {" ".join(status)} ELSE 'unmatched' END AS status,
               CASE {" ".join(identity)} END AS identity,
               CASE {" ".join(deciding)} END AS rule
        FROM {table}_v {" ".join(joins)}
        """
    )


def _keep_accounts(
    con: duckdb.DuckDBPyConnection,
    target: TargetInput,
    source: Input,
    credentials: str,
    *,
    now: date,
    policy: Policy,
    active_status: frozenset[str],
) -> None:
    table = target.input.table
    a = Row(target.input, "a")
    i = Row(source, "i")
    expiry = day_after(now, 1)
    dormant = day_after(now, 1 - policy.dormant_days)
    stale = day_after(now, 1 - policy.credential_max_age_days)
    recent = day_after(now, -1 - policy.dormant_days)
    drift = [
        f"({i.value(name)} IS NOT NULL AND {a.value(name)} IS DISTINCT FROM {i.value(name)}"
        f" AND {compared(a.value(name))} IS DISTINCT FROM {compared(i.value(name))})"
        for name in target.compare
    ]
    either_non_human = f"({non_human(a)} OR {non_human(i)})"
    active = f"coalesce({a.value('active')}, true)"
    may_fire = " OR ".join(
        [
            "l.status <> 'linked'",
            f"NOT {active_status_of(i, active_status)}",
            *drift,
            f"{a.value('origin')} = 'jit'",
            f"{a.value('expires_at')} <= {expiry}",
            f"{i.value('expires_at')} <= {expiry}",
            f"{a.value('last_login_at')} <= {dormant}",
            f"({a.value('last_login_at')} IS NULL AND {a.value('created_at')} <= {dormant})",
            f"{a.value('credential_rotated_at')} <= {stale}",
            f"({either_non_human} AND {used_like_a_person(a, recent)})",
        ]
    )
    credential = (
        f"{a.key('credential_id', 'exact')} IN (SELECT key FROM {credentials})"
        if "credential_id" in target.input.fields
        else "false"
    )
    needed = f"{credential} OR ({active} AND ({may_fire}))"
    if target.sought:  # explain: the accounts sought, not those the rules need
        needed = named_by(a, target.sought, addresses=False)
    con.execute(
        f"""
        CREATE TABLE {table}_many AS
        SELECT l.identity FROM {table}_v AS a JOIN {table}_link AS l USING (n)
        WHERE l.status = 'linked' AND (NOT a.ok OR {active})
        GROUP BY l.identity HAVING count(*) > 1
        """
    )
    con.execute(
        f"""
        CREATE TABLE {table}_kept AS
        SELECT a.n FROM {table}_v AS a JOIN {table}_link AS l USING (n)
        LEFT JOIN {source.table}_v AS i ON i.n = l.identity
        WHERE (
          NOT a.ok OR NOT coalesce(i.ok, true) OR {named_by(a, target.named)}
          OR l.identity IN (SELECT identity FROM {table}_many) OR {needed}
        )
        """
    )
