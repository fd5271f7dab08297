"""SQL for the values of one row of an input, and the tests on them that the decisions of
:mod:`nhirecon.columnar.decide` and :mod:`nhirecon.columnar.identities` share."""

from __future__ import annotations

from nhirecon.columnar.keys import Input, column
from nhirecon.columnar.values import one_of


class Row:
    """SQL for the values of one input's row, under a table alias."""

    def __init__(self, one: Input, alias: str) -> None:
        self.one = one
        self.alias = alias

    def value(self, name: str) -> str:
        """The plain value of field ``name`` (``NULL`` when the input does not map it)."""
        if name not in self.one.fields:
            return "NULL"
        return f"{self.alias}.{column('v', name)}"

    def key(self, name: str, mode: str) -> str:
        """The key column of ``name`` under ``mode`` (it must have been wanted)."""
        return f"{self.alias}.{column('k', f'{name}:{mode}')}"


def active_status(row: Row, statuses: frozenset[str]) -> str:
    """SQL: the row's status is one of ``statuses`` (the source's ``active_status``), or
    it has none, as the rules read it (:func:`nhirecon.core.findings.is_active`)."""
    status = row.value("status")
    return f"({status} IS NULL OR {one_of(f'lower({status})', statuses)})"


def non_human(row: Row) -> str:
    """SQL: the row is a non-human identity or account (its kind, when known, is not
    ``human``)."""
    return f"(coalesce({row.value('kind')}, 'human') <> 'human')"


def used_like_a_person(row: Row, recent: str) -> str:
    """SQL: the row may be used like a person (``human-use``): it has an interactive
    password, or an interactive sign-in on or after the day ``recent`` (SQL)."""
    return (
        f"(coalesce({row.value('password_enabled')}, false)"
        f" OR {row.value('last_interactive_login_at')} >= {recent})"
    )


def named_by(row: Row, keys: frozenset[str], *, addresses: bool = True) -> str:
    """Whether an allowlist entry keyed in ``keys`` names the row (its id, username, or an
    email that is an address; see :func:`~nhirecon.core.allowlist.names`); with
    ``addresses`` false, an email that is not an address too."""
    ascii_keys = {key for key in keys if key.isascii()}
    if not ascii_keys:
        return "false"
    ids, usernames, emails = (f"lower({row.value(name)})" for name in ("id", "username", "email"))
    address = f" AND contains({row.value('email')}, '@')" if addresses else ""
    return (
        f"({one_of(ids, ascii_keys)} OR {one_of(usernames, ascii_keys)}"
        f" OR ({one_of(emails, ascii_keys)}{address}))"
    )
