"""SPEC §7: "When several apply, the lowest-numbered failure above 1 wins over 1; 1 only
when nothing else went wrong." ``exit_codes.combine`` is where outcomes meet (the gate's
verdict and the actions' outcome of ``audit --apply``), so it is checked over every pair.

And what makes a run exit 1 at all: the gate (``core/gate.py``), whose rules are checked here
in process, at their thresholds, with ``>`` and ``>=`` and each kind of selector.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from nhirecon.core.correlate import UNMATCHED
from nhirecon.core.findings import account_findings
from nhirecon.core.gate import evaluate, parse_rule
from nhirecon.core.model import KIND_INFO, Finding, FindingKind, Origin, Severity
from nhirecon.exit_codes import ExitCode, combine

from .factories import ACTIVE, CLOCK, account, rules

PRECEDENCE = [
    ExitCode.USAGE,  # 2
    ExitCode.CONNECTOR,  # 3
    ExitCode.SAFETY,  # 4
    ExitCode.ACTIONS_FAILED,  # 5
    ExitCode.INTERNAL,  # 70
    ExitCode.INTERRUPTED,  # 130
    ExitCode.GATE_FAILED,  # 1: only when nothing else went wrong
    ExitCode.OK,  # 0: only when nothing at all went wrong
]
"""SPEC §7 written as a ranking: of the codes that apply, the earliest in this list wins."""


def expected(*codes: ExitCode) -> ExitCode:
    return min(codes, key=PRECEDENCE.index)


def test_the_ranking_covers_every_code() -> None:
    assert sorted(PRECEDENCE) == sorted(ExitCode)
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 5, 70, 130]


@pytest.mark.parametrize(
    ("first", "second"),
    list(itertools.product(ExitCode, repeat=2)),
    ids=lambda code: f"{int(code)}",
)
def test_every_pair(first: ExitCode, second: ExitCode) -> None:
    combined = combine(first, second)
    assert combined is expected(first, second)
    assert isinstance(combined, ExitCode)


@pytest.mark.parametrize("code", list(ExitCode), ids=lambda code: f"{int(code)}")
def test_one_code_is_itself(code: ExitCode) -> None:
    assert combine(code) is code


def test_nothing_went_wrong_when_nothing_is_combined() -> None:
    assert combine() is ExitCode.OK


@pytest.mark.parametrize(
    ("codes", "wins"),
    [
        ((ExitCode.GATE_FAILED, ExitCode.ACTIONS_FAILED), ExitCode.ACTIONS_FAILED),
        ((ExitCode.GATE_FAILED, ExitCode.INTERNAL), ExitCode.INTERNAL),
        ((ExitCode.GATE_FAILED, ExitCode.INTERRUPTED), ExitCode.INTERRUPTED),
        ((ExitCode.INTERNAL, ExitCode.INTERRUPTED), ExitCode.INTERNAL),
        ((ExitCode.OK, ExitCode.GATE_FAILED, ExitCode.OK), ExitCode.GATE_FAILED),
        ((ExitCode.GATE_FAILED, ExitCode.INTERRUPTED, ExitCode.SAFETY), ExitCode.SAFETY),
        ((ExitCode.OK, ExitCode.OK, ExitCode.OK), ExitCode.OK),
    ],
)
def test_the_cases_a_ci_job_relies_on(codes: tuple[ExitCode, ...], wins: ExitCode) -> None:
    """A crash or an interruption is never read as "the gate failed", and failed actions
    are never hidden behind a failed gate."""
    assert combine(*codes) is wins


def test_order_never_matters_for_three_codes() -> None:
    for codes in itertools.product(ExitCode, repeat=3):
        assert combine(*codes) is expected(*codes), codes
        for order in itertools.permutations(codes):
            assert combine(*order) is combine(*codes)


# the gate: when a run exits 1 ------------------------------------------------------------


def finding(kind: FindingKind, number: int) -> Finding:
    [base] = account_findings(
        rules(), account(f"a{number}", origin=Origin.MANUAL), UNMATCHED, "hr", CLOCK, ACTIVE
    )
    return dataclasses.replace(base, kind=kind, severity=KIND_INFO[kind].severity)


ESTATE = [
    *(finding(FindingKind.ORPHAN, n) for n in range(3)),  # high
    *(finding(FindingKind.JIT_ORPHAN, n) for n in range(3, 5)),  # high
    finding(FindingKind.LEAVER, 5),  # critical
    *(finding(FindingKind.DORMANT, n) for n in range(6, 10)),  # medium
]


def verdict(*texts: str) -> list[tuple[str, int, bool]]:
    result = evaluate([parse_rule(text) for text in texts], ESTATE)
    return [(o.rule.text, o.count, o.passed) for o in result.outcomes]


@pytest.mark.parametrize(
    ("rule", "count", "passed"),
    [
        ("orphan>2", 3, False),
        ("orphan>3", 3, True),  # exactly at the threshold: > passes
        ("orphan>=3", 3, False),  # exactly at the threshold: >= fails
        ("orphan>=4", 3, True),
        ("orphan>0", 3, False),
        ("unmanaged>0", 0, True),
        ("unmanaged>=0", 0, False),
    ],
)
def test_greater_and_greater_or_equal_at_the_threshold(rule: str, count: int, passed: bool) -> None:
    assert verdict(rule) == [(rule, count, passed)]


def test_a_list_of_kinds_counts_them_together_and_nothing_else() -> None:
    assert verdict("orphan,jit-orphan>4") == [("orphan,jit-orphan>4", 5, False)]
    assert verdict("orphan,jit-orphan>5") == [("orphan,jit-orphan>5", 5, True)]
    assert verdict("jit-orphan , leaver>=3") == [("jit-orphan , leaver>=3", 3, False)]


@pytest.mark.parametrize(
    ("rule", "count"),
    [
        ("severity:critical>=1", 1),
        ("severity:high>=1", 6),  # critical counts as "high and above"
        ("severity:medium>=1", 10),
        ("severity:low>=1", 10),
        ("severity:info>=1", 10),
        ("any>=1", 10),
    ],
)
def test_a_severity_counts_that_level_and_above(rule: str, count: int) -> None:
    assert verdict(rule) == [(rule, count, False)]
    assert verdict(rule.replace(">=1", f">{count}")) == [
        (rule.replace(">=1", f">{count}"), count, True)
    ]


def test_the_gate_fails_when_any_rule_fails_and_passes_without_rules() -> None:
    both = evaluate([parse_rule("leaver>0"), parse_rule("dormant>10")], ESTATE)
    assert [outcome.passed for outcome in both.outcomes] == [False, True]
    assert not both.passed
    assert evaluate([parse_rule("dormant>10")], ESTATE).passed
    assert evaluate([], ESTATE).passed


def test_a_rule_is_written_back_in_one_canonical_form() -> None:
    rule = parse_rule("  orphan , jit-orphan  >=  007 ")
    assert rule.text == "orphan , jit-orphan>=7"
    assert (rule.inclusive, rule.threshold, rule.min_severity) == (True, 7, None)
    assert rule.kinds == {FindingKind.ORPHAN, FindingKind.JIT_ORPHAN}
    severity = parse_rule("severity:high>2")
    assert (severity.inclusive, severity.threshold) == (False, 2)
    assert severity.min_severity is Severity.HIGH
    assert parse_rule("any>0").kinds == frozenset(FindingKind)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("orphan", "is not SELECTOR OP N"),
        ("orphan<3", "is not SELECTOR OP N"),
        ("orphan>-1", "is not SELECTOR OP N"),
        ("orphan=>1", "is not SELECTOR OP N"),
        ("any>\u0663", "is not SELECTOR OP N"),  # ٣, an Arabic-Indic 3: only 0-9 count
        ("any>\uff11", "is not SELECTOR OP N"),  # １, a full-width 1
        ("orphans>0", "unknown finding kind 'orphans'"),
        ("orphan,,leaver>0", "unknown finding kind ''"),
        ("severity:urgent>0", "unknown severity 'urgent' in 'severity:urgent>0' (one of critical,"),
    ],
)
def test_a_rule_that_cannot_be_read_says_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_rule(text)
    assert reason in str(raised.value)
