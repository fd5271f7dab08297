"""The links of the kept accounts come from the columnar engine's joins: each must be the
link the correlator makes over every identity of the source (the same identity, by the
same rule, with the same look-alike note), and only an ambiguous account is looked up
again, for its candidates."""

from __future__ import annotations

from pathlib import Path

from nhirecon.columnar.pulled import by_row
from nhirecon.core.correlate import Correlator, IdentityIndex, Link, LinkStatus
from nhirecon.core.model import Record
from nhirecon.core.policy import CorrelationRule
from nhirecon.core.report import Report
from nhirecon.sources import pull_source

from .test_columnar_export import Estate, csv_text, same_result, triaged

PEOPLE = csv_text(
    "id,email,login,status",
    [
        *(f"E{i},user{i}@example.com,login{i},active" for i in range(8)),
        "E10,twin@example.com,twin-a,active",
        "E11,twin@example.com,twin-b,active",
        "E12,wide@example.com,wide,active",
        "E13,Case@Example.com,case,active",
        "E14,,nomail,terminated",
    ],
)
ACCOUNTS = csv_text(
    "uid,email,login,active,last_login",
    [
        *(f"A{i},user{i}@example.com,,true,2025-01-0{i % 9 + 1}" for i in range(8)),
        "B1,,login3,true,2025-01-01",  # no email: the second rule decides
        "B2,nobody@example.com,login4,true,2025-01-01",  # the first finds none: the second
        "B3,twin@example.com,twin-a,true,2025-01-01",  # the first finds two: ambiguous
        "B4,ｗｉｄｅ@example.com,,true,2025-01-01",  # a look-alike, by NFKC only
        "B5,CASE@EXAMPLE.COM,,true,2025-01-01",  # equal once case-folded
        "B6,nobody@example.com,nobody,true,2025-01-01",  # unmatched by both
        "B7,,nomail,true,2026-11-27",  # a leaver's account, by the second rule
        "B8,user5@example.com,login6,false,2025-01-01",  # inactive, kept as a second account
    ],
)
ESTATE = Estate(
    hr=PEOPLE,
    app=ACCOUNTS,
    source={"map": {"id": "id", "email": "email", "username": "login", "status": "status"}},
    target={
        "map": {
            "id": "uid",
            "email": "email",
            "username": "login",
            "active": "active",
            "last_login_at": "last_login",
        },
        "correlate": [
            {"account": "email", "identity": "email"},
            {"account": "username", "identity": "username"},
        ],
    },
)


def described(link: Link) -> tuple[object, ...]:
    return (
        link.status,
        None if link.identity is None else link.identity.id,
        link.rule,
        link.lookalike,
        [candidate.id for candidate in link.candidates],
    )


def test_kept_accounts_are_linked_as_the_correlator_links_them(tmp_path: Path) -> None:
    config = ESTATE.config(tmp_path)
    assert isinstance(same_result(config), Report)  # both engines give the same report
    found = triaged(config)
    assert found is not None
    kept = tuple(found.source)
    usual = Correlator(
        IdentityIndex(pull_source(config.source).identities), config.targets[0].correlate
    )
    correlator = Correlator(IdentityIndex(kept), config.targets[0].correlate)
    looked_up: list[str] = []
    own = correlator.link

    def link_counted(account: Record, trail: object = None) -> Link:
        looked_up.append(account.id)
        return own(account)

    correlator.link = link_counted  # type: ignore[method-assign]
    link_of = found.targets["app"].linker(correlator, by_row(kept))
    links = {
        account.id: (link_of(account), usual.link(account)) for account in found.targets["app"]
    }
    assert {"B1", "B2", "B3", "B4", "B5", "B6", "B7"} <= links.keys()
    for account_id, (engine, expected) in links.items():
        assert described(engine) == described(expected), account_id
    assert looked_up == ["B3"], "only the ambiguous account is looked up again"
    decided = {account_id: described(engine)[1:3] for account_id, (engine, _) in links.items()}
    rules = config.targets[0].correlate
    assert decided["B1"] == ("E3", rules[1])
    assert decided["B2"] == ("E4", rules[1])
    assert decided["B5"] == ("E13", rules[0])
    assert decided["B7"] == ("E14", rules[1])
    assert decided["B4"] == ("E12", rules[0])
    assert links["B4"][0].lookalike is not None
    assert links["B3"][0].status is LinkStatus.AMBIGUOUS
    assert links["B6"][0].status is LinkStatus.UNMATCHED


def test_an_account_with_several_values_of_a_field_is_looked_up() -> None:
    """The engine never keeps such an account (it steps aside); were one given, the
    correlator decides, for each value is a key: here two, which find two identities."""
    first = Record(id="E1", location="hr.csv:2", email="a@example.com")
    second = Record(id="E2", location="hr.csv:3", email="c@example.com")
    account = Record(
        id="A1",
        location="app.csv:2",
        multi_values={"email": ("a@example.com", "c@example.com")},
    )
    correlator = Correlator(IdentityIndex([first, second]), [CorrelationRule("email", "email")])
    got = correlator.decided(account, 0, first)
    assert got.status is LinkStatus.AMBIGUOUS
    assert described(got) == described(correlator.link(account))
