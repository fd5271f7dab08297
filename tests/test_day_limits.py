"""Every day limit at the limit, one second and one day either side (SPEC §5, §8).

SPEC §5 says which side of each limit a finding is on:

- ``dormant``: the last sign-in is *older than* ``dormant_days``; a never-used account was
  created *more than* ``dormant_days`` ago. Exactly ``dormant_days`` is not dormant yet.
- ``stale-credential``: ``credential_rotated_at`` *older than* ``credential_max_age_days``.
  Exactly the limit is not stale yet.
- ``orphan_grace_days`` suppresses orphans "created within that many days": an account
  created exactly that long ago is still within it; one second more and it is reported.
  A grace of 0 suppresses nothing.
- ``expired``: ``expires_at`` is *in the past*; an expiry at this very instant is not past.
- an exception applies through the whole of its ``expires`` day (UTC) and not a second
  longer.
- ``apply --max-age``: a plan *older than* the maximum age is refused; exactly that old is
  not (SPEC §8), nor is one dated up to the allowed clock skew in the future.

An off-by-one in a limit, or ``>`` turned into ``>=``, fails one of these cases.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from nhirecon.core.correlate import UNMATCHED, Link, LinkStatus
from nhirecon.core.exceptions import Exceptions
from nhirecon.core.findings import Clock, account_findings
from nhirecon.core.model import ExceptionRule, Finding, FindingKind, Origin, Record
from nhirecon.core.policy import Policy
from nhirecon.core.source_findings import source_findings
from nhirecon.remediation import rails
from nhirecon.remediation.plan import Plan

from .factories import ACTIVE, EMAIL, NOW, account, person, rules

K = FindingKind
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
LIMIT = 30
"""A limit other than every default (90, 0), so that a default in the code cannot pass."""

# (offset from exactly LIMIT days ago, is it past the limit?)
AROUND_THE_LIMIT = [
    pytest.param(-DAY, False, id="a day inside"),
    pytest.param(-SECOND, False, id="a second inside"),
    pytest.param(timedelta(0), False, id="exactly at the limit"),
    pytest.param(SECOND, True, id="a second past"),
    pytest.param(DAY, True, id="a day past"),
]


def ago(delta: timedelta) -> datetime:
    return NOW - delta


def limit_ago(offset: timedelta) -> datetime:
    """``LIMIT`` days before ``NOW``, moved further into the past by ``offset``."""
    return NOW - timedelta(days=LIMIT) - offset


def findings(acc: Record, policy: Policy, link: Link = UNMATCHED) -> list[Finding]:
    return account_findings(rules(), acc, link, "hr", Clock(NOW, policy), ACTIVE)


def of_kind(found: list[Finding], kind: FindingKind) -> list[Finding]:
    return [finding for finding in found if finding.kind is kind]


IDENTITY = person("E1", email="a@example.com")


def linked() -> Link:
    return Link(LinkStatus.LINKED, IDENTITY, EMAIL)


def is_the_linked_identity(finding: Finding) -> bool:
    """Findings about a linked account name its identity (reports show whose it is)."""
    return finding.identity is IDENTITY


# dormant_days -------------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "past"), AROUND_THE_LIMIT)
def test_dormant_when_the_last_sign_in_is_older_than_dormant_days(
    offset: timedelta, past: bool
) -> None:
    last = limit_ago(offset)
    acc = account("a1", created_at=last - DAY * 400, last_login_at=last)
    dormant = of_kind(findings(acc, Policy(dormant_days=LIMIT), linked()), K.DORMANT)
    assert bool(dormant) is past
    if past:
        assert dormant[0].detail["days"] == (NOW - last).days
        assert f"last used {last.date().isoformat()}" in dormant[0].message
        assert f"limit {LIMIT}" in dormant[0].message
        assert is_the_linked_identity(dormant[0])


def test_an_age_just_past_a_limit_never_reads_as_within_it() -> None:
    """A second past 30 days is 30 whole days: the message says "more than 30 days ago",
    not "30 days ago; limit 30"; an expiry hours ago is "less than a day ago"."""
    policy = Policy(dormant_days=LIMIT, credential_max_age_days=LIMIT)
    past = limit_ago(SECOND)
    acc = account(
        "a1",
        created_at=past - DAY,
        last_login_at=past,
        credential_rotated_at=past,
        expires_at=ago(timedelta(hours=5)),
    )
    found = findings(acc, policy, linked())
    [dormant] = of_kind(found, K.DORMANT)
    [stale] = of_kind(found, K.STALE_CREDENTIAL)
    [expired] = of_kind(found, K.EXPIRED)
    assert f"(more than {LIMIT} days ago; limit {LIMIT})" in dormant.message
    assert f"(more than {LIMIT} days ago; limit {LIMIT})" in stale.message
    assert expired.message.endswith("(less than a day ago)")
    assert dormant.detail["days"] == stale.detail["days"] == LIMIT  # the detail stays whole
    later = findings(account("a2", last_login_at=limit_ago(DAY * 2)), policy)
    assert f"({LIMIT + 2} days ago; limit {LIMIT})" in of_kind(later, K.DORMANT)[0].message


@pytest.mark.parametrize(("offset", "past"), AROUND_THE_LIMIT)
def test_never_used_account_is_dormant_when_created_more_than_dormant_days_ago(
    offset: timedelta, past: bool
) -> None:
    created = limit_ago(offset)
    acc = account("a1", created_at=created, last_login_at=None)
    dormant = of_kind(findings(acc, Policy(dormant_days=LIMIT), linked()), K.DORMANT)
    assert bool(dormant) is past
    if past:
        assert dormant[0].detail["last_login_at"] is None
        assert dormant[0].detail["days"] == (NOW - created).days
        assert f"never used since it was created on {created.date().isoformat()}" in (
            dormant[0].message
        )
        assert is_the_linked_identity(dormant[0])


def test_a_recent_sign_in_wins_over_an_old_creation_date() -> None:
    acc = account("a1", created_at=limit_ago(DAY * 100), last_login_at=limit_ago(-SECOND))
    assert of_kind(findings(acc, Policy(dormant_days=LIMIT), linked()), K.DORMANT) == []


# credential_max_age_days --------------------------------------------------------------


@pytest.mark.parametrize(("offset", "past"), AROUND_THE_LIMIT)
def test_credential_is_stale_when_older_than_credential_max_age_days(
    offset: timedelta, past: bool
) -> None:
    rotated = limit_ago(offset)
    acc = account("a1", credential_rotated_at=rotated)
    policy = Policy(credential_max_age_days=LIMIT, dormant_days=LIMIT * 10)
    stale = of_kind(findings(acc, policy, linked()), K.STALE_CREDENTIAL)
    assert bool(stale) is past
    if past:
        assert stale[0].detail["days"] == (NOW - rotated).days
        assert f"limit {LIMIT}" in stale[0].message
        assert is_the_linked_identity(stale[0])


def test_the_two_usage_limits_are_read_from_their_own_settings() -> None:
    """Dormancy is measured with ``dormant_days`` and credentials with
    ``credential_max_age_days``, not one with the other's number."""
    moment = limit_ago(DAY)
    acc = account("a1", last_login_at=moment, credential_rotated_at=moment)
    only_dormant = Policy(dormant_days=LIMIT, credential_max_age_days=LIMIT * 2)
    only_stale = Policy(dormant_days=LIMIT * 2, credential_max_age_days=LIMIT)
    assert sorted(f.kind.value for f in findings(acc, only_dormant, linked())) == ["dormant"]
    assert sorted(f.kind.value for f in findings(acc, only_stale, linked())) == ["stale-credential"]


# orphan_grace_days --------------------------------------------------------------------


@pytest.mark.parametrize("origin", [Origin.JIT, Origin.MANUAL])
@pytest.mark.parametrize(("offset", "past"), AROUND_THE_LIMIT)
def test_orphans_created_within_orphan_grace_days_are_not_reported(
    offset: timedelta, past: bool, origin: Origin
) -> None:
    acc = account("a1", origin=origin, created_at=limit_ago(offset))
    orphans = [
        finding
        for finding in findings(acc, Policy(orphan_grace_days=LIMIT))
        if finding.kind in (K.ORPHAN, K.JIT_ORPHAN)
    ]
    assert bool(orphans) is past


@pytest.mark.parametrize(
    "created",
    [
        pytest.param(NOW, id="created this instant"),
        pytest.param(NOW - SECOND, id="a second ago"),
        pytest.param(NOW + DAY, id="dated in the future"),
    ],
)
def test_no_grace_reports_even_the_newest_orphan(created: datetime) -> None:
    acc = account("a1", origin=Origin.JIT, created_at=created)
    found = findings(acc, Policy(orphan_grace_days=0))
    assert [finding.kind for finding in found] == [K.JIT_ORPHAN]


def test_a_one_day_grace_covers_exactly_one_day() -> None:
    policy = Policy(orphan_grace_days=1)
    inside = account("a1", origin=Origin.JIT, created_at=NOW - DAY)
    outside = account("a2", origin=Origin.JIT, created_at=NOW - DAY - SECOND)
    assert findings(inside, policy) == []
    assert [finding.kind for finding in findings(outside, policy)] == [K.JIT_ORPHAN]


@pytest.mark.parametrize(
    "created",
    [
        pytest.param(NOW + SECOND, id="a second ahead"),
        pytest.param(NOW + DAY, id="a day ahead"),
        pytest.param(datetime(9999, 12, 31, tzinfo=UTC), id="a sentinel"),
    ],
)
def test_a_creation_after_now_gives_no_grace(created: datetime) -> None:
    """A date in the future is no young account: its orphan is reported, not hidden for
    as long as the date stays ahead."""
    acc = account("a1", origin=Origin.MANUAL, created_at=created)
    assert [f.kind for f in findings(acc, Policy(orphan_grace_days=LIMIT))] == [K.ORPHAN]
    assert findings(account("a2", created_at=NOW), Policy(orphan_grace_days=LIMIT)) == []


def test_grace_never_hides_other_findings_of_a_young_orphan() -> None:
    acc = account("a1", origin=Origin.JIT, created_at=NOW - DAY, expires_at=NOW - SECOND)
    assert [f.kind for f in findings(acc, Policy(orphan_grace_days=LIMIT))] == [K.EXPIRED]


# expires_at ---------------------------------------------------------------------------

AROUND_NOW = [
    pytest.param(-DAY, False, id="a day ahead"),
    pytest.param(-SECOND, False, id="a second ahead"),
    pytest.param(timedelta(0), False, id="this instant"),
    pytest.param(SECOND, True, id="a second ago"),
    pytest.param(DAY, True, id="a day ago"),
]


@pytest.mark.parametrize(("before_now", "past"), AROUND_NOW)
def test_an_account_is_expired_once_its_expires_at_is_in_the_past(
    before_now: timedelta, past: bool
) -> None:
    acc = account("a1", expires_at=ago(before_now))
    expired = of_kind(findings(acc, Policy(), linked()), K.EXPIRED)
    assert bool(expired) is past
    if past:
        assert expired[0].detail["expired"] == "account"
        assert f"account expired on {ago(before_now).date().isoformat()}" in expired[0].message
        assert is_the_linked_identity(expired[0])


@pytest.mark.parametrize(("before_now", "past"), AROUND_NOW)
def test_an_account_is_expired_once_its_identity_expires(before_now: timedelta, past: bool) -> None:
    identity = person("E1", email="a@example.com", expires_at=ago(before_now))
    link = Link(LinkStatus.LINKED, identity, EMAIL)
    expired = of_kind(findings(account("a1"), Policy(), link), K.EXPIRED)
    assert bool(expired) is past
    if past:
        assert expired[0].detail["expired"] == "identity"
        assert expired[0].identity is identity


@pytest.mark.parametrize(("before_now", "past"), AROUND_NOW)
def test_a_non_human_identity_is_expired_on_the_source_once_past_its_expiry(
    before_now: timedelta, past: bool
) -> None:
    people = [
        person("E1", email="owner@example.com"),
        person("S1", kind="service_account", owner="owner@example.com", expires_at=ago(before_now)),
    ]
    found = source_findings("hr", people, ACTIVE, Clock(NOW, Policy()))
    expired = of_kind(found, K.EXPIRED)
    assert bool(expired) is past
    if past:
        assert expired[0].target == "hr" and expired[0].account is None
        assert expired[0].identity is people[1]
        assert "still active in hr past its expiry" in expired[0].message


# exceptions' expires ------------------------------------------------------------------

LAST_DAY = date(2026, 11, 28)
"""The exception's ``expires``: it applies through the whole of this day, UTC."""
LAST_DAY_STARTS = NOW  # 2026-11-28T00:00:00Z


def exception_until(expires: date) -> ExceptionRule:
    return ExceptionRule(
        target="app",
        account="a1",
        kind=None,
        reason="accepted",
        owner="lead@example.com",
        expires=expires,
    )


@pytest.mark.parametrize(
    ("at", "applies"),
    [
        pytest.param(LAST_DAY_STARTS - DAY, True, id="the day before"),
        pytest.param(LAST_DAY_STARTS - SECOND, True, id="the second before its last day"),
        pytest.param(LAST_DAY_STARTS, True, id="its last day begins"),
        pytest.param(LAST_DAY_STARTS + DAY / 2, True, id="noon of its last day"),
        pytest.param(LAST_DAY_STARTS + DAY - SECOND, True, id="the last second of its last day"),
        pytest.param(LAST_DAY_STARTS + DAY, False, id="the next day begins"),
        pytest.param(LAST_DAY_STARTS + DAY + SECOND, False, id="a second into the next day"),
        pytest.param(LAST_DAY_STARTS + 2 * DAY, False, id="a day later"),
    ],
)
def test_an_exception_applies_through_its_expires_day_and_not_a_second_longer(
    at: datetime, applies: bool
) -> None:
    found = findings(account("a1", origin=Origin.MANUAL), Policy())
    assert [finding.kind for finding in found] == [K.ORPHAN]
    counted, excepted = Exceptions([exception_until(LAST_DAY)], at).split(found)
    if applies:
        assert counted == [] and [finding.kind for finding, _ in excepted] == [K.ORPHAN]
    else:
        assert excepted == [] and [finding.kind for finding in counted] == [K.ORPHAN]
        assert counted[0].expired_exception is not None
        assert f"exception expired {LAST_DAY.isoformat()}" in counted[0].message


def test_of_several_expired_exceptions_the_finding_names_the_latest() -> None:
    found = findings(account("a1", origin=Origin.MANUAL), Policy())
    rules = [exception_until(date(2026, 11, 20)), exception_until(date(2026, 11, 27))]
    for order in (rules, rules[::-1]):
        counted, excepted = Exceptions(order, NOW).split(found)
        assert excepted == []
        assert counted[0].expired_exception is not None
        assert counted[0].expired_exception.expires == date(2026, 11, 27)
        assert counted[0].message.endswith("[exception expired 2026-11-27: accepted]")


def test_an_exception_still_running_wins_over_an_expired_one() -> None:
    found = findings(account("a1", origin=Origin.MANUAL), Policy())
    rules = [exception_until(date(2026, 11, 27)), exception_until(LAST_DAY)]
    counted, excepted = Exceptions(rules, NOW).split(found)
    assert counted == [] and [rule.expires for _, rule in excepted] == [LAST_DAY]


def test_an_exception_that_never_ends_applies_at_the_end_of_time() -> None:
    found = findings(account("a1", origin=Origin.MANUAL), Policy())
    latest = datetime.max.replace(tzinfo=NOW.tzinfo) - SECOND
    counted, excepted = Exceptions([exception_until(date.max)], latest).split(found)
    assert counted == [] and len(excepted) == 1


# apply --max-age ----------------------------------------------------------------------


def plan_made_at(created_at: datetime) -> Plan:
    return Plan(
        created_at=created_at,
        evaluated_at=created_at,
        config_path="nhirecon.yaml",
        config_digest="0" * 64,
        source="hr",
        identities=1,
        targets=(),
        actions=(),
    )


MAX_AGE = timedelta(hours=24)


@pytest.mark.parametrize(
    ("age", "refused"),
    [
        pytest.param(MAX_AGE - timedelta(hours=1), False, id="an hour inside"),
        pytest.param(MAX_AGE - SECOND, False, id="a second inside"),
        pytest.param(MAX_AGE, False, id="exactly max-age"),
        pytest.param(MAX_AGE + SECOND, True, id="a second past"),
        pytest.param(MAX_AGE + timedelta(hours=1), True, id="an hour past"),
    ],
)
def test_apply_refuses_a_plan_older_than_max_age(age: timedelta, refused: bool) -> None:
    problem = rails.age_problem(plan_made_at(NOW - age), NOW, MAX_AGE)
    if refused:
        assert problem is not None and "older than --max-age 24 h" in problem
    else:
        assert problem is None


@pytest.mark.parametrize(
    ("ahead", "refused"),
    [
        pytest.param(timedelta(minutes=5) - SECOND, False, id="a second inside the skew"),
        pytest.param(timedelta(minutes=5), False, id="exactly the allowed skew"),
        pytest.param(timedelta(minutes=5) + SECOND, True, id="a second past the skew"),
    ],
)
def test_apply_refuses_a_plan_dated_in_the_future_beyond_clock_skew(
    ahead: timedelta, refused: bool
) -> None:
    assert timedelta(minutes=5) == rails.FUTURE_SKEW
    problem = rails.age_problem(plan_made_at(NOW + ahead), NOW, MAX_AGE)
    if refused:
        assert problem is not None and "in the future" in problem
    else:
        assert problem is None


def test_parse_duration_reads_each_unit() -> None:
    assert rails.parse_duration("24h") == MAX_AGE
    assert rails.parse_duration("1d") == MAX_AGE
    assert rails.parse_duration("90s") == timedelta(seconds=90)
    assert rails.parse_duration("30m") == timedelta(minutes=30)
    assert rails.parse_duration("1w") == timedelta(days=7)
    assert rails.parse_duration("120") == timedelta(minutes=2)
