"""Properties of correlation (SPEC §4) over generated estates.

- Every account ends in exactly one of linked, ambiguous or unmatched, as the rules read
  naively say, and each target's counts add up.
- The order of the inputs changes no link and no finding, about the targets or the source
  (an owner reference that several identities answer to is ambiguous, whatever the order).
- An identity that matches no account changes no target finding.
- Case, surrounding space and Unicode compatibility forms of an email link to the same
  identity; look-alike letters from other scripts never do.
- A multi-valued field is tried with every value, on either side, and the order of the
  values changes no link and no finding.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nhirecon import config, pipeline
from nhirecon.core.correlate import Correlator, IdentityIndex, LinkStatus, Step
from nhirecon.core.findings import Clock
from nhirecon.core.model import Record
from nhirecon.core.policy import CorrelationRule, Policy
from nhirecon.core.report import Report
from nhirecon.core.source_findings import source_findings
from nhirecon.core.values import key_for
from nhirecon.errors import DataError

NOW = datetime(2026, 11, 28, tzinfo=UTC)
SOURCE = "hr"
TARGET = "app"

RULES = (
    CorrelationRule("external_id", "id"),
    CorrelationRule("email", "email"),
    CorrelationRule("username", "email"),
    CorrelationRule("username", "username"),
    CorrelationRule("email", "username"),
    CorrelationRule("display_name", "display_name"),
)
LOCALS = ("ann", "bob", "cy")
DOMAINS = ("x.com", "y.org")
EMAILS = tuple(f"{local}@{domain}" for local in LOCALS for domain in DOMAINS)
NAMES = ("ann", "bob", "cy", "svc-deploy")
DISPLAY = ("Ann Lee", "Bob Ray", "ANN LEE")

IDENTITY_COLUMNS = (
    "id",
    "email",
    "username",
    "display_name",
    "status",
    "kind",
    "owner",
    "expires_at",
    "department",
)
ACCOUNT_COLUMNS = (
    "id",
    "external_id",
    "email",
    "username",
    "display_name",
    "active",
    "origin",
    "created_at",
    "last_login_at",
    "expires_at",
    "credential_rotated_at",
    "department",
)

# ---------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


def cased(values: Sequence[str]) -> st.SearchStrategy[str]:
    """One of ``values``, in lower, upper or mixed case."""
    return st.sampled_from(
        [form for value in values for form in (value, value.upper(), value.capitalize())]
    )


MAX_IDENTITIES = 7
IDS = tuple(f"E{number}" for number in range(1, MAX_IDENTITIES + 1))
MOMENTS = maybe(
    st.sampled_from(
        [
            (NOW - timedelta(days=days, hours=hours)).isoformat()
            for days, hours in ((0, 1), (30, 0), (89, 23), (90, 1), (400, 0), (-5, 0))
        ]
    )
)
"""Around the 90-day limits, one in the future, or none."""

IDENTITY_ROWS = st.fixed_dictionaries(
    {
        "email": maybe(cased(EMAILS)),
        "username": maybe(st.sampled_from(NAMES)),
        "display_name": maybe(st.sampled_from(DISPLAY)),
        "status": maybe(st.sampled_from(("active", "terminated", "Active"))),
        "kind": st.sampled_from(("human", "service_account")),
        "owner": maybe(st.sampled_from((*EMAILS, *NAMES, *IDS, "gone@x.com"))),
        "expires_at": MOMENTS,
        "department": maybe(st.sampled_from(("Ops", "Sales", "ops "))),
    }
)
ACCOUNT_ROWS = st.fixed_dictionaries(
    {
        "external_id": maybe(st.sampled_from((*IDS, "E99"))),
        "email": maybe(cased((*EMAILS, "zed@x.com"))),
        "username": maybe(st.sampled_from((*NAMES, *EMAILS))),
        "display_name": maybe(st.sampled_from(DISPLAY)),
        "active": st.sampled_from(("true", "false", "")),
        "origin": st.sampled_from(("jit", "scim", "manual", "")),
        "created_at": MOMENTS,
        "last_login_at": MOMENTS,
        "expires_at": MOMENTS,
        "credential_rotated_at": MOMENTS,
        "department": maybe(st.sampled_from(("Ops", "Sales", "OPS"))),
    }
)


def numbered(prefix: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": f"{prefix}{number}", **row} for number, row in enumerate(rows, start=1)]


estates = st.fixed_dictionaries(
    {
        "identities": st.lists(IDENTITY_ROWS, min_size=1, max_size=MAX_IDENTITIES).map(
            lambda rows: numbered("E", rows)
        ),
        "accounts": st.lists(ACCOUNT_ROWS, max_size=9).map(lambda rows: numbered("A", rows)),
        "rules": st.lists(st.sampled_from(RULES), min_size=1, max_size=3, unique=True),
        "compare": st.sampled_from(([], ["department"])),
    }
)


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def record(row: dict[str, Any], where: str) -> Record:
    """A record as a CSV connector would read the row (empty cells are absent)."""
    fields = {
        name: value
        for name, value in row.items()
        if name in ("id", "external_id", "email", "username", "display_name") and value
    }
    return Record(location=where, **fields)


def write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({name: "" if row.get(name) is None else row[name] for name in columns})


def audit(
    identities: Sequence[dict[str, Any]],
    accounts: Sequence[dict[str, Any]],
    rules: Sequence[CorrelationRule],
    compare: Sequence[str],
) -> Report:
    """The library's whole audit over the estate written to CSV files."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        write_csv(base / "hr.csv", IDENTITY_COLUMNS, identities)
        write_csv(base / "app.csv", ACCOUNT_COLUMNS, accounts)
        document = {
            "version": 1,
            "source": {
                "name": SOURCE,
                "connector": "csv",
                "path": "hr.csv",
                "map": {"id": "id"},
                "active_status": ["active"],
            },
            "targets": [
                {
                    "name": TARGET,
                    "connector": "csv",
                    "path": "app.csv",
                    "correlate": [
                        {"account": rule.account, "identity": rule.identity} for rule in rules
                    ],
                    "compare": list(compare),
                }
            ],
        }
        (base / "nhirecon.yaml").write_text(json.dumps(document), encoding="utf-8")
        return pipeline.audit(config.load(base / "nhirecon.yaml"), now=NOW)


def findings(report: Report, target: str | None = None) -> set[tuple[str, str, str]]:
    return {
        (finding.fingerprint, finding.kind.value, finding.message)
        for finding in report.findings
        if target is None or finding.target == target
    }


def naive_link(
    account: Record, identities: Sequence[Record], rules: Sequence[CorrelationRule]
) -> tuple[LinkStatus, frozenset[str]]:
    """SPEC §4 read literally: each rule in order compared against every identity."""
    for rule in rules:
        key = key_for(account.value(rule.account), rule.mode)
        if key is None:
            continue
        matches = frozenset(
            identity.id
            for identity in identities
            if key_for(identity.value(rule.identity), rule.mode) == key
        )
        if len(matches) == 1:
            return LinkStatus.LINKED, matches
        if matches:
            return LinkStatus.AMBIGUOUS, matches
    return LinkStatus.UNMATCHED, frozenset()


# ---------------------------------------------------------------------------------------
# every account ends in exactly one state, and the counts add up
# ---------------------------------------------------------------------------------------


@settings(deadline=None, max_examples=80)
@given(estates)
def test_each_account_is_linked_ambiguous_or_unmatched_as_the_rules_say(
    estate: dict[str, Any],
) -> None:
    identities = [record(row, f"hr.csv:{row['id']}") for row in estate["identities"]]
    correlator = Correlator(IdentityIndex(identities), estate["rules"])
    for row in estate["accounts"]:
        account = record(row, f"app.csv:{row['id']}")
        link = correlator.link(account)
        status, expected = naive_link(account, identities, estate["rules"])
        assert link.status is status
        if status is LinkStatus.LINKED:
            assert link.identity is not None and {link.identity.id} == expected
            assert link.candidates == ()
        elif status is LinkStatus.AMBIGUOUS:
            assert link.identity is None
            assert len(link.candidates) == len(expected)
            assert {candidate.id for candidate in link.candidates} == expected
        else:
            assert link.identity is None and link.rule is None and link.candidates == ()


@settings(deadline=None, max_examples=30)
@given(estates)
def test_target_counts_add_up_and_match_the_rules(estate: dict[str, Any]) -> None:
    report = audit(estate["identities"], estate["accounts"], estate["rules"], estate["compare"])
    [stats] = report.targets
    identities = [record(row, "") for row in estate["identities"]]
    states = [
        naive_link(record(row, ""), identities, estate["rules"])[0] for row in estate["accounts"]
    ]
    assert stats.accounts == len(estate["accounts"])
    assert stats.linked + stats.unmatched + stats.ambiguous == stats.accounts
    assert stats.linked == states.count(LinkStatus.LINKED)
    assert stats.ambiguous == states.count(LinkStatus.AMBIGUOUS)
    assert stats.unmatched == states.count(LinkStatus.UNMATCHED)
    assert stats.inactive == sum(row["active"] == "false" for row in estate["accounts"])
    assert report.identities == len(estate["identities"])
    # only active accounts carry findings: one ambiguous or orphan finding per such account
    active = [
        state
        for state, row in zip(states, estate["accounts"], strict=True)
        if row["active"] != "false"
    ]
    kinds = [finding.kind.value for finding in report.findings if finding.target == TARGET]
    assert kinds.count("ambiguous") == active.count(LinkStatus.AMBIGUOUS)
    orphans = kinds.count("orphan") + kinds.count("jit-orphan")
    assert orphans == active.count(LinkStatus.UNMATCHED)


# ---------------------------------------------------------------------------------------
# order does not matter; an identity nobody uses changes nothing on the targets
# ---------------------------------------------------------------------------------------


SHARED_NAMES = ("ann@x.com", "ANN@x.com", "bob@x.com", "ann", "E1")
CROWDED_ROWS = st.fixed_dictionaries(
    {
        "email": maybe(st.sampled_from(SHARED_NAMES[:3])),
        "username": maybe(st.sampled_from(SHARED_NAMES[3:])),
        "status": maybe(st.sampled_from(("active", "terminated"))),
        "kind": st.sampled_from(("human", "service_account", "api_key")),
        "owner": maybe(st.sampled_from((*SHARED_NAMES, *IDS))),
        "expires_at": maybe(st.sampled_from((NOW - timedelta(days=3), NOW + timedelta(days=1)))),
    }
)
crowded_sources = st.lists(CROWDED_ROWS, min_size=1, max_size=MAX_IDENTITIES).map(
    lambda rows: [Record(location=f"hr.csv:{row['id']}", **row) for row in numbered("E", rows)]
)
"""Identities that often share emails and usernames, some of them owning others."""


@settings(deadline=None, max_examples=150)
@given(st.data(), crowded_sources)
def test_findings_about_the_source_do_not_depend_on_its_order(
    data: st.DataObject, identities: list[Record]
) -> None:
    clock = Clock(NOW, Policy())
    active = frozenset({"active"})
    shuffled = data.draw(st.permutations(identities), label="shuffled")
    before = source_findings(SOURCE, identities, active, clock)
    after = source_findings(SOURCE, shuffled, active, clock)
    assert {(f.fingerprint, f.kind, f.message) for f in after} == {
        (f.fingerprint, f.kind, f.message) for f in before
    }


def test_an_owner_that_several_identities_answer_to_is_ambiguous_in_any_order() -> None:
    people = [
        Record(id="E1", location="hr.csv:2", email="ann@x.com", status="active"),
        Record(id="E2", location="hr.csv:3", email="ANN@x.com", status="terminated"),
        Record(id="S1", location="hr.csv:4", kind="bot", owner="ann@x.com", status="active"),
    ]
    clock = Clock(NOW, Policy())
    for order in (people, people[::-1]):
        [finding] = source_findings(SOURCE, order, frozenset({"active"}), clock)
        assert finding.kind.value == "ownerless"
        assert finding.message == "bot S1: owner 'ann@x.com' matches 2 identities in hr (E1, E2)"
        assert finding.detail["problem"] == "ambiguous"


@settings(deadline=None, max_examples=50)
@given(st.data(), estates)
def test_links_do_not_depend_on_the_order_of_identities(
    data: st.DataObject, estate: dict[str, Any]
) -> None:
    identities = [record(row, f"hr.csv:{row['id']}") for row in estate["identities"]]
    shuffled = data.draw(st.permutations(identities), label="shuffled")
    for row in estate["accounts"]:
        account = record(row, f"app.csv:{row['id']}")
        first = Correlator(IdentityIndex(identities), estate["rules"]).link(account)
        second = Correlator(IdentityIndex(shuffled), estate["rules"]).link(account)
        assert second == first


@settings(deadline=None, max_examples=30)
@given(st.data(), estates)
def test_shuffling_the_inputs_changes_no_finding(
    data: st.DataObject, estate: dict[str, Any]
) -> None:
    before = audit(estate["identities"], estate["accounts"], estate["rules"], estate["compare"])
    after = audit(
        data.draw(st.permutations(estate["identities"]), label="identities"),
        data.draw(st.permutations(estate["accounts"]), label="accounts"),
        estate["rules"],
        estate["compare"],
    )
    assert findings(after) == findings(before)
    assert after.targets == before.targets


@settings(deadline=None, max_examples=30)
@given(st.data(), estates)
def test_an_identity_that_matches_nothing_changes_no_target_finding(
    data: st.DataObject, estate: dict[str, Any]
) -> None:
    stranger = {
        "id": "N1",
        "email": data.draw(st.sampled_from(("nobody@z.net", "NOBODY@z.net")), label="email"),
        "username": data.draw(maybe(st.just("nobody")), label="username"),
        "display_name": data.draw(maybe(st.just("No Body")), label="display_name"),
        "status": data.draw(maybe(st.sampled_from(("active", "terminated"))), label="status"),
        "kind": data.draw(st.sampled_from(("human", "service_account")), label="kind"),
        "owner": data.draw(maybe(st.sampled_from((*EMAILS, "N1"))), label="owner"),
        "expires_at": data.draw(MOMENTS, label="expires_at"),
        "department": "Ops",
    }
    position = data.draw(st.integers(0, len(estate["identities"])), label="position")
    grown = [*estate["identities"]]
    grown.insert(position, stranger)
    before = audit(estate["identities"], estate["accounts"], estate["rules"], estate["compare"])
    after = audit(grown, estate["accounts"], estate["rules"], estate["compare"])
    assert findings(after, TARGET) == findings(before, TARGET)
    assert after.targets == before.targets


# ---------------------------------------------------------------------------------------
# normalisation: the same email in other clothes links; a look-alike never does
# ---------------------------------------------------------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyz"
FULLWIDTH = {char: chr(0xFF41 + index) for index, char in enumerate(LETTERS)} | {
    char.upper(): chr(0xFF21 + index) for index, char in enumerate(LETTERS)
}
MATH_BOLD = {char: chr(0x1D41A + index) for index, char in enumerate(LETTERS)} | {
    char.upper(): chr(0x1D400 + index) for index, char in enumerate(LETTERS)
}
CIRCLED = {char: chr(0x24D0 + index) for index, char in enumerate(LETTERS)} | {
    char.upper(): chr(0x24B6 + index) for index, char in enumerate(LETTERS)
}
SYMBOLS = {"@": ("\uff20", "\ufe6b"), ".": ("\uff0e",), "-": ("\uff0d",)}
DIGITS = {str(digit): (chr(0xFF10 + digit), chr(0x1D7CE + digit)) for digit in range(10)}
SPACES = ("", " ", "  ", "\t", "\u00a0", "\u3000", "\u2003")
LOOK_ALIKES = {
    "a": ("\u0430", "\u03b1"),  # Cyrillic а, Greek α
    "c": ("\u0441", "\u03f2"),  # Cyrillic с, Greek lunate sigma ϲ
    "e": ("\u0435",),  # Cyrillic е
    "i": ("\u0456", "\u03b9"),  # Cyrillic і, Greek ι
    "o": ("\u043e", "\u03bf"),  # Cyrillic о, Greek ο
    "p": ("\u0440", "\u03c1"),  # Cyrillic р, Greek ρ
    "x": ("\u0445", "\u03c7"),  # Cyrillic х, Greek χ
    "y": ("\u0443",),  # Cyrillic у
}

local_parts = st.text(alphabet=LETTERS + "0123456789.-", min_size=1, max_size=10).filter(
    lambda text: text[0] not in ".-"
)
domains = st.sampled_from(("example.com", "corp.example.org", "x.io", "acme-42.net"))
emails = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)


def compatible_forms(char: str) -> tuple[str, ...]:
    """``char`` itself, its upper case, and characters that NFKC turns into either."""
    forms = [char, char.upper()]
    if char in LETTERS:
        forms += [FULLWIDTH[char], FULLWIDTH[char.upper()], MATH_BOLD[char], CIRCLED[char]]
        forms += [MATH_BOLD[char.upper()], CIRCLED[char.upper()]]
    return (*forms, *SYMBOLS.get(char, ()), *DIGITS.get(char, ()))


FORMS = {char: st.sampled_from(compatible_forms(char)) for char in LETTERS + "0123456789@.-"}
CASES = {char: st.sampled_from((char, char.upper())) for char in LETTERS + "0123456789@.-"}
SWAPS = {char: st.sampled_from(forms) for char, forms in LOOK_ALIKES.items()}
SPACE = st.sampled_from(SPACES)


@st.composite
def dressed(draw: st.DrawFn, email: str) -> str:
    """``email`` in another case, with surrounding space and compatibility characters."""
    body = "".join(draw(FORMS[char]) for char in email)
    return draw(SPACE) + body + draw(SPACE)


@st.composite
def disguised(draw: st.DrawFn, email: str) -> str:
    """``email`` with at least one letter swapped for a look-alike from another script;
    the other characters may change case, and space may surround it."""
    spots = [index for index, char in enumerate(email) if char in LOOK_ALIKES]
    chosen = draw(st.lists(st.sampled_from(spots), min_size=1, unique=True))
    body = "".join(
        draw(SWAPS[char]) if index in chosen else draw(CASES[char])
        for index, char in enumerate(email)
    )
    return draw(SPACE) + body + draw(SPACE)


def people(emails: Sequence[str]) -> list[Record]:
    return [
        Record(id=f"E{number}", location=f"hr.csv:{number}", email=email, username=email)
        for number, email in enumerate(emails, start=1)
    ]


@settings(deadline=None, max_examples=100)
@given(st.data(), st.lists(emails, min_size=1, max_size=5, unique_by=str.casefold))
def test_case_space_and_compatibility_forms_of_an_email_link_to_its_identity(
    data: st.DataObject, addresses: list[str]
) -> None:
    identities = people(addresses)
    chosen = data.draw(st.sampled_from(identities), label="identity")
    assert chosen.email is not None
    variant = data.draw(dressed(chosen.email), label="variant")
    rule = data.draw(st.sampled_from(RULES[1:3]), label="rule")
    account = Record(id="A1", location="app.csv:2", email=variant, username=variant)
    link = Correlator(IdentityIndex(identities), [rule]).link(account)
    assert link.status is LinkStatus.LINKED
    assert link.identity is chosen


@settings(deadline=None, max_examples=100)
@given(
    st.data(),
    st.lists(
        emails.filter(lambda email: any(char in LOOK_ALIKES for char in email)),
        min_size=1,
        max_size=5,
        unique_by=str.casefold,
    ),
)
def test_look_alike_letters_from_other_scripts_never_link(
    data: st.DataObject, addresses: list[str]
) -> None:
    identities = people(addresses)
    target = data.draw(st.sampled_from(identities), label="identity")
    assert target.email is not None
    impostor = data.draw(disguised(target.email), label="impostor")
    rule = data.draw(st.sampled_from(RULES[1:3]), label="rule")
    account = Record(id="A1", location="app.csv:2", email=impostor, username=impostor)
    link = Correlator(IdentityIndex(identities), [rule]).link(account)
    assert link.status is LinkStatus.UNMATCHED


# ---------------------------------------------------------------------------------------
# multi-valued fields: every value is tried, together they decide, their order is no signal
# ---------------------------------------------------------------------------------------


def several(id: str, where: str, **lists: list[str]) -> Record:
    """A record as the mapping builds it from lists: distinct values, the first shown, and
    all of them kept when there are several."""
    fields: dict[str, Any] = {}
    multi: dict[str, tuple[str, ...]] = {}
    for name, values in lists.items():
        distinct = tuple(dict.fromkeys(values))
        if distinct:
            fields[name] = distinct[0]
        if len(distinct) > 1:
            multi[name] = distinct
    return Record(id=id, location=where, multi_values=MappingProxyType(multi), **fields)


def naive_multi_link(
    account: Record, identities: Sequence[Record], rules: Sequence[CorrelationRule]
) -> tuple[LinkStatus, frozenset[str]]:
    """SPEC §4 read literally, every value of either side tried against every identity."""
    for rule in rules:
        keys = {key_for(value, rule.mode) for value in account.values(rule.account)} - {None}
        matches = frozenset(
            identity.id
            for identity in identities
            if any(key_for(value, rule.mode) in keys for value in identity.values(rule.identity))
        )
        if len(matches) == 1:
            return LinkStatus.LINKED, matches
        if matches:
            return LinkStatus.AMBIGUOUS, matches
    return LinkStatus.UNMATCHED, frozenset()


MULTI_RULES = RULES[:5]
MULTI_IDENTITIES = st.lists(
    st.fixed_dictionaries(
        {
            "email": st.lists(cased(EMAILS), max_size=3),
            "username": st.lists(st.sampled_from(NAMES), max_size=2),
        }
    ),
    min_size=1,
    max_size=MAX_IDENTITIES,
).map(lambda rows: [several(f"E{n}", f"hr.json[{n}]", **row) for n, row in enumerate(rows, 1)])
MULTI_ACCOUNTS = st.lists(
    st.fixed_dictionaries(
        {
            "external_id": st.lists(st.sampled_from((*IDS, "E99")), max_size=2),
            "email": st.lists(cased((*EMAILS, "zed@x.com")), max_size=4),
            "username": st.lists(st.sampled_from((*NAMES, *EMAILS)), max_size=3),
        }
    ),
    min_size=1,
    max_size=6,
)
MULTI_RULE_LISTS = st.lists(st.sampled_from(MULTI_RULES), min_size=1, max_size=3, unique=True)


@settings(deadline=None, max_examples=150)
@given(MULTI_IDENTITIES, MULTI_ACCOUNTS, MULTI_RULE_LISTS)
def test_multi_valued_fields_link_as_every_value_read_literally_says(
    identities: list[Record], rows: list[dict[str, list[str]]], rules: list[CorrelationRule]
) -> None:
    correlator = Correlator(IdentityIndex(identities), rules)
    for number, row in enumerate(rows, start=1):
        account = several(f"A{number}", f"app.json[{number}]", **row)
        link = correlator.link(account)
        status, expected = naive_multi_link(account, identities, rules)
        assert link.status is status
        if status is LinkStatus.LINKED:
            assert link.identity is not None and {link.identity.id} == expected
        elif status is LinkStatus.AMBIGUOUS:
            ids = [candidate.id for candidate in link.candidates]
            assert set(ids) == expected and len(ids) == len(expected)
            assert ids == sorted(ids)


@settings(deadline=None, max_examples=150)
@given(st.data(), MULTI_IDENTITIES, MULTI_ACCOUNTS, MULTI_RULE_LISTS)
def test_an_accounts_outcome_does_not_depend_on_the_order_of_its_values(
    data: st.DataObject,
    identities: list[Record],
    rows: list[dict[str, list[str]]],
    rules: list[CorrelationRule],
) -> None:
    correlator = Correlator(IdentityIndex(identities), rules)
    for number, row in enumerate(rows, start=1):
        shuffled = {
            name: data.draw(st.permutations(values), label=f"A{number}.{name}")
            for name, values in row.items()
        }
        before = correlator.link(several(f"A{number}", "app.json", **row))
        after = correlator.link(several(f"A{number}", "app.json", **shuffled))
        assert after == before
        trail: list[Step] = []
        assert correlator.link(several(f"A{number}", "app.json", **shuffled), trail) == before


@settings(deadline=None, max_examples=25)
@given(st.data(), MULTI_IDENTITIES, MULTI_ACCOUNTS, MULTI_RULE_LISTS)
def test_shuffling_the_values_in_a_json_export_changes_no_finding(
    data: st.DataObject,
    identities: list[Record],
    rows: list[dict[str, list[str]]],
    rules: list[CorrelationRule],
) -> None:
    """The whole audit, from JSON exports whose fields are lists (mixed with bare objects)."""
    people = [
        {"id": identity.id, "email": list(identity.values("email")), "status": "active"}
        for identity in identities
    ]
    accounts = [
        {
            "id": f"A{number}",
            "external_id": row["external_id"],
            "email": [  # objects and bare strings mixed, as sloppy services send them
                {"value": value, "type": "other"} if index % 2 else value
                for index, value in enumerate(row["email"])
            ],
            "username": row["username"],
        }
        for number, row in enumerate(rows, start=1)
    ]
    shuffled = [
        {
            name: data.draw(st.permutations(value), label=f"{account['id']}.{name}")
            if isinstance(value, list)
            else value
            for name, value in account.items()
        }
        for account in accounts
    ]
    assert decided(people, shuffled, rules) == decided(people, accounts, rules)


def decided(
    people: Sequence[dict[str, Any]],
    accounts: Sequence[dict[str, Any]],
    rules: Sequence[CorrelationRule],
) -> tuple[Any, ...]:
    """What the audit of these exports decides, or why it refuses them: an estate in which
    no rule's field holds any value is refused, whatever the order of the values."""
    try:
        report = audit_json(people, accounts, rules)
    except DataError as exc:
        return ("refused", str(exc))
    return (outcomes(report), report.targets)


def outcomes(report: Report) -> set[tuple[str, str, str | None, str, str]]:
    """What each finding decides; its message names the account by the value shown, which
    is the first one read."""
    return {
        (
            finding.fingerprint,
            finding.kind.value,
            finding.identity.id if finding.identity else None,
            finding.remediation.value,
            json.dumps(finding.detail, sort_keys=True),
        )
        for finding in report.findings
    }


def audit_json(
    people: Sequence[dict[str, Any]],
    accounts: Sequence[dict[str, Any]],
    rules: Sequence[CorrelationRule],
) -> Report:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "hr.json").write_text(json.dumps(people), encoding="utf-8")
        (base / "app.json").write_text(json.dumps(accounts), encoding="utf-8")
        document = {
            "version": 1,
            "source": {"name": SOURCE, "connector": "json", "path": "hr.json", "map": {"id": "id"}},
            "targets": [
                {
                    "name": TARGET,
                    "connector": "json",
                    "path": "app.json",
                    "correlate": [
                        {"account": rule.account, "identity": rule.identity} for rule in rules
                    ],
                }
            ],
        }
        (base / "nhirecon.yaml").write_text(json.dumps(document), encoding="utf-8")
        return pipeline.audit(config.load(base / "nhirecon.yaml"), now=NOW)
