"""Integrity of pulls under faults: a pull that dies part-way, a service whose totalResults
lies, and an HR export cut short must never yield a plan (the "everyone left" incident);
and a large estate pulled through seeded 500s and 429s arrives whole."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config

from .adversarial import PreparedUsers, SeededFaults, ids_digest, serving
from .conftest import Run
from .scim_server import (
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    Faults,
    ScimServer,
    answer,
    delay,
    drop_after_commit,
    estate_config,
    rewrite_list,
    running,
    seed_estate,
)

WRITES = ("POST", "PUT", "PATCH", "DELETE")
PAGE_3 = r"/Users\?startIndex=7&"
"""With ``page_size: 3`` the estate's 11 users come in 4 pages: 1, 4, 7, 10."""
ALL_PAGES = r"/Users\?"


@pytest.fixture
def server() -> Iterator[ScimServer]:
    with running() as started:
        seed_estate(started)
        yield started


@pytest.fixture
def folder(server: ScimServer, tmp_path: Path) -> Path:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    options = "page_size: 3\nretries: 1\ntimeout: 0.3"
    (tmp_path / "nhirecon.yaml").write_text(
        estate_config(server, target_options=options), encoding="utf-8"
    )
    return tmp_path


@pytest.fixture
def nhirecon(run: Run) -> Run:
    def runner(*args: str, **kwargs: Any) -> Any:
        return run(*args, env={TOKEN_ENV: TOKEN}, **kwargs)

    return runner


def shift_total(by: int) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["totalResults"] += by

    return change


def empty_page(body: dict[str, Any]) -> None:
    body["Resources"], body["itemsPerPage"] = [], 0


def short_page(body: dict[str, Any]) -> None:
    body["Resources"] = body["Resources"][:-1]
    body["itemsPerPage"] = len(body["Resources"])


def page_lies_about_its_size(body: dict[str, Any]) -> None:
    body["Resources"] = body["Resources"][:-1]


def first_page_again() -> Callable[[dict[str, Any]], None]:
    seen: list[Any] = []

    def change(body: dict[str, Any]) -> None:
        if not seen:
            seen.extend(body["Resources"])
        elif body["startIndex"] == 7:
            body["Resources"] = seen[: len(body["Resources"])]

    return change


def not_a_number(body: dict[str, Any]) -> None:
    """A service written in Python whose float is not a number: ``json.dumps`` writes
    ``NaN``, which RFC 8259 has no place for and Python's ``json.loads`` reads back."""
    body["Resources"][1]["urn:example:risk"] = {"score": float("nan")}


FAULTS: dict[str, tuple[str, Callable[[Faults], None]]] = {
    "page 3 answers 500 past the retries": (
        "HTTP 500",
        lambda f: f.add(answer(500), method="GET", path=PAGE_3, times=None),
    ),
    "page 3 answers 429 past the retries": (
        "HTTP 429",
        lambda f: f.add(answer(429, {"Retry-After": "0"}), method="GET", path=PAGE_3, times=None),
    ),
    "page 3 drops the connection every time": (
        "failed after retries",
        lambda f: f.add(drop_after_commit(), method="GET", path=PAGE_3, times=None),
    ),
    "page 3 times out every time": (
        "timed out",
        lambda f: f.add(delay(0.6), method="GET", path=PAGE_3, times=None),
    ),
    "page 3 is empty": (
        "totalResults says 11",
        lambda f: f.add(rewrite_list(empty_page), method="GET", path=PAGE_3, times=None),
    ),
    "page 3 is one short": (
        "totalResults says 11",
        lambda f: f.add(rewrite_list(short_page), method="GET", path=PAGE_3, times=None),
    ),
    "page 3 says it holds more than it does": (
        "itemsPerPage says 3",
        lambda f: f.add(
            rewrite_list(page_lies_about_its_size), method="GET", path=PAGE_3, times=None
        ),
    ),
    "page 3 repeats page 1": (
        "twice",
        lambda f: f.add(rewrite_list(first_page_again()), method="GET", path=ALL_PAGES, times=None),
    ),
    "totalResults says more than there is": (
        "totalResults says 14",
        lambda f: f.add(rewrite_list(shift_total(3)), method="GET", path=ALL_PAGES, times=None),
    ),
    "totalResults says less than there is": (
        "totalResults says 10",
        lambda f: f.add(rewrite_list(shift_total(-1)), method="GET", path=ALL_PAGES, times=None),
    ),
    "totalResults says less, ending on a full page": (
        "totalResults says 9",
        lambda f: f.add(rewrite_list(shift_total(-2)), method="GET", path=ALL_PAGES, times=None),
    ),
    "page 3 holds a NaN": (
        "NaN is not JSON",
        lambda f: f.add(rewrite_list(not_a_number), method="GET", path=PAGE_3, times=None),
    ),
    "totalResults changes on page 3": (
        "totalResults changed from 11 to 12",
        lambda f: f.add(rewrite_list(shift_total(1)), method="GET", path=PAGE_3, times=None),
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_broken_pull_never_yields_a_plan(
    server: ScimServer, folder: Path, nhirecon: Run, fault: str
) -> None:
    message, install = FAULTS[fault]
    install(server.faults)
    result = nhirecon("plan", "--now", NOW, "-o", "p.json")
    assert result.returncode == 3, result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("nhirecon: error: ") and f"{server.url}/Users" in error
    assert message in error
    assert "Traceback" not in result.stderr
    assert not (folder / "p.json").exists()
    assert not [path.name for path in folder.iterdir() if path.name.startswith(".p.json")]
    assert not [seen for seen in server.faults.seen if seen.method in WRITES]


@pytest.mark.parametrize(
    "fault", ["page 3 is empty", "totalResults says less, ending on a full page"]
)
def test_a_broken_pull_writes_nothing_with_apply(
    server: ScimServer, folder: Path, nhirecon: Run, fault: str
) -> None:
    before = server.users()
    FAULTS[fault][1](server.faults)
    result = nhirecon("audit", "--now", NOW, "--apply", "--yes", "-f", "json", "-o", "r.json")
    assert result.returncode == 3, result.stderr
    assert not (folder / "r.json").exists()
    assert not (folder / "history.db").exists(), "a broken pull is not recorded as a run"
    assert not [seen for seen in server.faults.seen if seen.method in WRITES]
    assert server.users() == before


HR_ROWS = HR_CSV.splitlines(keepends=True)
CUTS: dict[str, tuple[str, int, str]] = {
    "header only": ("".join(HR_ROWS[:1]), 4, "returned no identities"),
    "empty file": ("", 3, "empty file"),
    "cut inside the last row": (HR_CSV[: HR_CSV.rindex("Sam Two") + 3], 3, "hr.csv:9"),
    "cut inside the last date": ("".join(HR_ROWS[:6])[:-7], 3, "hr.csv:6"),
}


@pytest.mark.parametrize("cut", CUTS)
def test_a_truncated_hr_export_never_yields_a_plan(
    server: ScimServer, folder: Path, nhirecon: Run, cut: str
) -> None:
    text, code, message = CUTS[cut]
    (folder / "hr.csv").write_text(text, encoding="utf-8")
    result = nhirecon("plan", "--now", NOW, "-o", "p.json")
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert not (folder / "p.json").exists()


def test_an_hr_export_cut_in_half_after_a_recorded_run_never_yields_a_plan(
    server: ScimServer, folder: Path, nhirecon: Run
) -> None:
    assert nhirecon("audit", "--now", NOW, "-q").returncode == 0
    (folder / "hr.csv").write_text("".join(HR_ROWS[:5]), encoding="utf-8")  # 4 of 8 left
    result = nhirecon("plan", "--now", NOW, "-o", "p.json")
    assert result.returncode == 4, result.stderr
    assert "50.0% fewer than the 8 of the last recorded run" in result.stderr
    assert not (folder / "p.json").exists()


def test_a_listing_ending_on_a_full_page_is_checked_past_its_end(
    server: ScimServer, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    server.add_user("zed", email="zed@example.com")  # 12 users: four full pages of 3
    endpoint = config.load(folder / "nhirecon.yaml").targets[0].endpoint
    assert len(list(endpoint.open().records())) == 12
    probes = [seen for seen in server.faults.seen if "startIndex=13&" in seen.query]
    assert [(seen.query, seen.status) for seen in probes] == [("startIndex=13&count=1", 200)]
    # a service that refuses the page past the end is asked for the last resource and the
    # one after it instead, which must be the last resource alone
    server.faults.add(answer(400), method="GET", path=r"startIndex=13&", times=None)
    assert len(list(endpoint.open().records())) == 12
    assert "startIndex=12&count=2" in [seen.query for seen in server.faults.seen]


# --- a large estate through seeded faults -------------------------------------------------


@pytest.mark.parametrize(("count", "seed"), [(100_000, 7)])
def test_a_large_estate_through_seeded_500s_and_429s_arrives_whole(
    tmp_path: Path, count: int, seed: int
) -> None:
    service = PreparedUsers(count, seed)
    faults = SeededFaults(seed, percent_500=1.0, percent_429=1.0)
    middleware = Faults(service)
    middleware.add(faults, times=None)
    with serving(middleware) as url:
        (tmp_path / "hr.csv").write_text("employee_id\nE1\n")
        (tmp_path / "c.yaml").write_text(
            "version: 1\n"
            "source: {name: hr, connector: csv, path: hr.csv, map: {id: employee_id}}\n"
            f"targets:\n  - {{name: app, connector: scim, url: '{url}', page_size: 250,"
            " backoff: 0.01, max_workers: 4}\n"
        )
        endpoint = config.load(tmp_path / "c.yaml").targets[0].endpoint
        ids = [record.id for record in endpoint.open().records()]
    assert len(ids) == count
    assert ids_digest(ids) == ids_digest(service.ids)
    assert faults.injected[500] >= 2 and faults.injected[429] >= 2, faults.injected
    pages = Counter(
        seen.query.split("&")[0] for seen in middleware.seen if seen.path.endswith("/Users")
    )
    served = Counter(
        seen.query.split("&")[0]
        for seen in middleware.seen
        if seen.path.endswith("/Users") and seen.status == 200
    )
    # every page once, and the page past the last full one (empty)
    starts = {f"startIndex={start}" for start in range(1, count + 2, 250)}
    assert set(served) == starts and set(served.values()) == {1}
    assert sum(pages.values()) == len(served) + sum(faults.injected.values())
