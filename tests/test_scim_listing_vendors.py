"""SCIM services that misbehave when listing, each reproduced by a WSGI middleware in front
of a real scim2-server: a filter ignored, a listing capped with a matching totalResults, a
huge totalResults over short or empty pages, oversized and compressed-bomb answers,
cursor-only paging (RFC 9865), and rate limits in vendor dialects. Each one either pages
through whole or fails the pull (exit 3) naming the URL; none yields a partial estate."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from scim2_models import ResourceType, Schema, ScimProvider, ServiceProviderConfig
from scim2_server.service import ScimService
from scim2_server.testserver.application import BearerTokenApplication
from scim2_server.utils import load_default_schemas, load_json_resource

from nhirecon import config
from nhirecon.connectors.scim import ScimConnector
from nhirecon.core.model import Record
from nhirecon.errors import ConnectorError

from .conftest import Run
from .scim_server import (
    HR_CSV,
    NHI,
    NHI_SCHEMA,
    NOW,
    TOKEN,
    TOKEN_ENV,
    App,
    ScimServer,
    StartResponse,
    answer,
    estate_config,
    rewrite_list,
    seed_estate,
)

SIGNED_IN = {"lastLoginAt": "2026-11-20T00:00:00Z"}
"""The estate maps ``last_login_at`` to this attribute: a path that no account holds is an
error (SPEC §3.2), so the accounts a test adds sign in."""

Action = Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]
USERS = r"/Users\?"


pytestmark = pytest.mark.usefixtures("scim_token")


def write_config(server: ScimServer, folder: Path, options: str = "") -> Path:
    (folder / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    path = folder / "nhirecon.yaml"
    defaults = "" if "retries:" in options else "retries: 2\n"
    text = estate_config(server, target_options=defaults + options)
    path.write_text(text, encoding="utf-8")
    return path


def connector(server: ScimServer, folder: Path, options: str = "") -> ScimConnector:
    opened = config.load(write_config(server, folder, options)).targets[0].endpoint.open()
    assert isinstance(opened, ScimConnector)
    return opened


def pull(server: ScimServer, folder: Path, options: str = "") -> list[Record]:
    return list(connector(server, folder, options).records())


def listing_requests(server: ScimServer) -> list[dict[str, str]]:
    """The query of every listing request the service received, in order."""
    return [
        dict(parse_qsl(seen.query, keep_blank_values=True))
        for seen in server.faults.seen
        if seen.path.endswith("/Users") and seen.method == "GET"
    ]


def add_users(server: ScimServer, *names: str) -> dict[str, str]:
    """Users by name → id."""
    return {name: server.add_user(name, nhi=SIGNED_IN)["id"] for name in names}


@pytest.fixture
def nhirecon(run: Run) -> Run:
    def runner(*args: str, **kwargs: Any) -> Any:
        return run(*args, env={TOKEN_ENV: TOKEN}, **kwargs)

    return runner


def assert_refused(result: Any, folder: Path, url: str, *messages: str) -> str:
    """Exit 3, one error line naming the URL and the messages, no traceback, no plan."""
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("nhirecon: error: ") and url in error, error
    for message in messages:
        assert message in error, error
    assert not (folder / "p.json").exists()
    return error


# --- middlewares: how each vendor misbehaves ----------------------------------------------


def with_query(change: Callable[[dict[str, str]], None]) -> Action:
    """Let the server answer a request whose query was changed first."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> list[bytes]:
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        change(query)
        environ["QUERY_STRING"] = urlencode(query)
        return list(app(environ, start_response))

    return action


def drop_filter(query: dict[str, str]) -> None:
    query.pop("filter", None)


def drop_start_index(query: dict[str, str]) -> None:
    query.pop("startIndex", None)


def ignore_count(query: dict[str, str]) -> None:
    query["count"] = "1000"


def capped(limit: int) -> Callable[[dict[str, Any]], None]:
    """A listing that stops at ``limit`` resources and says ``totalResults: limit``; what
    lies past it is still served to whoever asks for it."""

    def change(body: dict[str, Any]) -> None:
        start = body.get("startIndex", 1)
        if start <= limit:
            body["Resources"] = body.get("Resources", [])[: limit - start + 1]
            body["itemsPerPage"] = len(body["Resources"])
        body["totalResults"] = min(body["totalResults"], limit)

    return change


def total(value: int, *, empty: bool = False) -> Callable[[dict[str, Any]], None]:
    def change(body: dict[str, Any]) -> None:
        body["totalResults"] = value
        if empty:
            body["Resources"], body["itemsPerPage"] = [], 0

    return change


def stream(status: str, headers: list[tuple[str, str]], chunks: Iterable[bytes]) -> Action:
    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> Iterable[bytes]:
        start_response(status, headers)
        return chunks

    return action


def gzip_bomb(inflated_mb: int) -> Iterator[bytes]:
    """A gzip stream of ``inflated_mb`` MiB of spaces after a ListResponse's opening: each
    MiB costs about a kilobyte on the wire (the stream is never finished: nobody should
    read that far)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    yield compressor.compress(b'{"totalResults": 1, "Resources": [], "x": "')
    block = compressor.compress(b" " * 2**20) + compressor.flush(zlib.Z_FULL_FLUSH)
    for _ in range(inflated_mb):
        yield block


def spc_without_pagination(
    environ: dict[str, Any], start_response: StartResponse, app: App
) -> list[bytes]:
    """The service's configuration with its ``pagination`` removed (it pages by cursor
    without saying so)."""
    captured: list[Any] = []
    body = json.loads(b"".join(app(environ, lambda *args: captured.append(args))))
    body.pop("pagination", None)
    data = json.dumps(body).encode()
    start_response("200 OK", [("Content-Type", "application/scim+json")])
    return [data]


def paginated(server: ScimServer, **pagination: Any) -> None:
    """Serve the same users as a service whose configuration announces ``pagination``
    (RFC 9865 §4); cursors need the service's secret."""
    schemas = [*load_default_schemas().values(), Schema.model_validate(NHI_SCHEMA)]
    types = load_json_resource("default-resource-types.json")
    types[0]["schemaExtensions"].append({"schema": NHI, "required": False})
    settings = load_json_resource("default-service-provider-config.json")
    settings["pagination"] = pagination
    provider = ScimProvider.from_discovery(
        schemas,
        [ResourceType.model_validate(item) for item in types],
        config=ServiceProviderConfig.model_validate(settings),
    )
    service = ScimService(provider, secret="cursor-secret-for-tests-only-0123456789")
    server.provider = provider
    server.faults.app = BearerTokenApplication(
        server.storage, provider, service, bearer_tokens=[TOKEN]
    )


# --- a filter the service ignores ---------------------------------------------------------

EXT = "filter: 'userName sw \"ext-\"'"


def test_a_filter_the_service_applies_returns_only_its_resources(
    server: ScimServer, tmp_path: Path
) -> None:
    add_users(server, "ext-ann", "EXT-ben", "carol", "dave")
    accounts = pull(server, tmp_path, EXT)
    assert sorted(account.username for account in accounts) == ["EXT-ben", "ext-ann"]
    assert all(query["filter"] == 'userName sw "ext-"' for query in listing_requests(server))


def test_a_filter_the_service_ignores_fails_the_pull_naming_url_and_resource(
    server: ScimServer, tmp_path: Path, nhirecon: Run
) -> None:
    ids = add_users(server, "ext-ann", "EXT-ben", "carol")
    server.faults.add(with_query(drop_filter), method="GET", path=USERS, times=None)
    with pytest.raises(ConnectorError) as raised:
        pull(server, tmp_path, EXT)
    message = str(raised.value)
    assert f"{server.url}/Users?" in message and repr(ids["carol"]) in message
    assert "does not match the filter 'userName sw \"ext-\"'" in message

    write_config(server, tmp_path, EXT)
    result = nhirecon("plan", "--now", NOW, "-o", "p.json")
    assert_refused(result, tmp_path, f"{server.url}/Users?", ids["carol"], "filter")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("'userName sw'", "the filter ends too early"),
        ("'userName sw \"a\" and'", "the filter ends too early"),
        ("'active gt true'", "gt cannot order that value"),
        ("'userName co 5'", "co needs a string"),
        ("'password eq \"x\"'", "never returns this attribute"),
        ("'emails[type eq \"work\"'", "the filter ends too early"),
        ("'emails[type eq \"work\"] )'", "unexpected ')'"),
        ("'userName eq \"a\" or'", "the filter ends too early"),
    ],
)
def test_a_filter_that_cannot_be_checked_locally_is_a_config_error(
    server: ScimServer, tmp_path: Path, nhirecon: Run, value: str, why: str
) -> None:
    write_config(server, tmp_path, f"filter: {value}")
    result = nhirecon("validate")
    assert result.returncode == 2, result.stderr
    assert "targets[0].filter" in result.stderr and why in result.stderr
    assert "Traceback" not in result.stderr
    assert server.faults.seen == []


# --- a listing capped at N that says N ----------------------------------------------------


def test_a_listing_capped_with_a_matching_total_is_refused(
    server: ScimServer, tmp_path: Path, nhirecon: Run
) -> None:
    add_users(server, *(f"user{number:02}" for number in range(13)))
    server.faults.add(rewrite_list(capped(10)), method="GET", path=USERS, times=None)
    write_config(server, tmp_path, "page_size: 4")
    result = nhirecon("plan", "--now", NOW, "-o", "p.json")
    assert_refused(
        result, tmp_path, f"{server.url}/Users", "totalResults says 10 but the service holds more"
    )
    # pages 1, 5 and 9 (9 short: 9 and 10), then the page past totalResults confirms nothing
    starts = sorted(int(query["startIndex"]) for query in listing_requests(server))
    assert starts == [1, 5, 9, 11]  # fetched concurrently: in no particular order


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        (answer(503), "HTTP 503"),
        (answer(500), "HTTP 500"),
        (answer(403), "HTTP 403"),
        (answer(401), "HTTP 401"),
    ],
)
def test_an_error_on_the_page_past_the_end_is_not_a_confirmation(
    server: ScimServer, tmp_path: Path, fault: Any, shown: str
) -> None:
    """Even a truthful listing fails when its end cannot be confirmed."""
    add_users(server, *(f"user{number:02}" for number in range(7)))
    server.faults.add(fault, method="GET", path=r"startIndex=8&", times=None)
    with pytest.raises(ConnectorError) as raised:
        pull(server, tmp_path, "page_size: 3")
    message = str(raised.value)
    assert "the end of the listing could not be confirmed" in message
    assert f"{server.url}/Users?startIndex=8&count=1" in message and shown in message


def test_a_service_refusing_the_page_past_the_end_is_checked_on_its_last_resource(
    server: ScimServer, tmp_path: Path
) -> None:
    add_users(server, *(f"user{number:02}" for number in range(13)))
    server.faults.add(answer(400), method="GET", path=r"startIndex=14&", times=None)
    assert len(pull(server, tmp_path, "page_size: 5")) == 13
    assert listing_requests(server)[-2:] == [
        {"startIndex": "14", "count": "1"},
        {"startIndex": "13", "count": "2"},
    ]

    # a total capped at 10 (the pages are not) and startIndex 11 refused: the last
    # resource comes with another
    server.faults.rules.clear()
    server.faults.add(answer(404), method="GET", path=r"startIndex=11&", times=None)
    server.faults.add(rewrite_list(total(10)), method="GET", path=USERS, times=None)
    with pytest.raises(ConnectorError, match=r"startIndex=10&count=2: totalResults says 10"):
        pull(server, tmp_path, "page_size: 5")

    # and when that errors too, nothing is confirmed
    server.faults.add(answer(500), method="GET", path=r"startIndex=10&count=2", times=None)
    server.faults.rules.insert(0, server.faults.rules.pop())
    with pytest.raises(ConnectorError, match="could not be confirmed"):
        pull(server, tmp_path, "page_size: 5")


# --- a huge totalResults over short or empty pages ----------------------------------------


@pytest.mark.parametrize("announced", [10**9, 10**12])
def test_a_total_over_max_records_is_refused_on_the_first_page(
    server: ScimServer, tmp_path: Path, nhirecon: Run, announced: int
) -> None:
    seed_estate(server)
    server.faults.add(rewrite_list(total(announced)), method="GET", path=USERS, times=None)
    write_config(server, tmp_path)
    result = nhirecon("plan", "--now", NOW, "-o", "p.json")
    assert_refused(
        result,
        tmp_path,
        f"{server.url}/Users?startIndex=1&",
        f"totalResults says {announced}, more than max_records (10000000)",
    )
    assert len(listing_requests(server)) == 1


def test_max_records_is_an_option(server: ScimServer, tmp_path: Path) -> None:
    seed_estate(server)
    with pytest.raises(ConnectorError, match=r"totalResults says 11, more than max_records \(10\)"):
        pull(server, tmp_path, "max_records: 10")
    assert len(pull(server, tmp_path, "max_records: 11")) == 11


@pytest.mark.parametrize("empty", [False, True], ids=["short pages", "empty pages"])
def test_a_huge_total_stops_at_the_first_empty_page(
    server: ScimServer, tmp_path: Path, empty: bool
) -> None:
    seed_estate(server)
    server.faults.add(rewrite_list(total(10**6, empty=empty)), path=USERS, times=None)
    with pytest.raises(ConnectorError) as raised:
        pull(server, tmp_path, "page_size: 4\nmax_workers: 2")
    message = str(raised.value)
    if empty:
        assert "the first page is empty but totalResults says 1000000" in message
        assert len(listing_requests(server)) == 1
    else:
        assert "returned 11 resources but totalResults says 1000000" in message
        assert "startIndex=13&count=4 is empty" in message
        # the pages up to the first empty one, and at most 2 x max_workers asked ahead
        assert len(listing_requests(server)) <= 4 + 2 * 2


def test_a_total_of_a_trillion_under_a_raised_max_records_costs_a_few_requests(
    server: ScimServer, tmp_path: Path
) -> None:
    """The page starts are never built up front: 10^12 / 3 of them would not fit."""
    seed_estate(server)
    server.faults.add(rewrite_list(total(10**12)), path=USERS, times=None)
    with pytest.raises(ConnectorError, match="startIndex=13&count=3 is empty"):
        pull(server, tmp_path, f"page_size: 3\nmax_records: {10**12}\nmax_workers: 1")
    assert len(listing_requests(server)) <= 5 + 2


def test_a_page_holding_more_than_asked_is_refused(server: ScimServer, tmp_path: Path) -> None:
    seed_estate(server)
    server.faults.add(with_query(ignore_count), method="GET", path=USERS, times=None)
    with pytest.raises(ConnectorError) as raised:
        pull(server, tmp_path, "page_size: 4")
    assert "the page holds 11 resources but count asked for 4" in str(raised.value)
    assert f"{server.url}/Users?startIndex=1&count=4" in str(raised.value)


def test_an_answer_over_max_response_mb_is_refused(server: ScimServer, tmp_path: Path) -> None:
    seed_estate(server)

    def pad(body: dict[str, Any]) -> None:
        body["padding"] = "x" * (2 * 2**20)

    server.faults.add(rewrite_list(pad), method="GET", path=USERS, times=None)
    with pytest.raises(ConnectorError) as raised:
        pull(server, tmp_path, "max_response_mb: 1")
    message = str(raised.value)
    assert f"GET {server.url}/Users?startIndex=1" in message and "HTTP 200" in message
    assert "larger than max_response_mb (1 MiB): Content-Length says" in message
    assert len(pull(server, tmp_path, "max_response_mb: 3")) == 11


def test_a_gzip_bomb_is_refused_without_being_inflated(server: ScimServer, tmp_path: Path) -> None:
    seed_estate(server)
    headers = [("Content-Type", "application/scim+json"), ("Content-Encoding", "gzip")]
    bomb = stream("200 OK", headers, gzip_bomb(256))  # 256 MiB inflated, chunked
    server.faults.add(bomb, method="GET", path=USERS, times=None)
    opened = connector(server, tmp_path, "max_response_mb: 2\nretries: 0")
    tracemalloc.start()
    try:
        with pytest.raises(ConnectorError) as raised:
            list(opened.records())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(raised.value)
    assert f"{server.url}/Users?startIndex=1" in message
    assert f"more than {2 * 2**20} bytes once decompressed" in message
    assert peak < 32 * 2**20, f"{peak} bytes held: the bomb was inflated"
    # a well-formed compressed answer within the limit is read as usual
    server.faults.rules.clear()
    small = gzip.compress(json.dumps({"totalResults": 0, "Resources": []}).encode())
    headers.append(("Content-Length", str(len(small))))
    server.faults.add(stream("200 OK", headers, [small]), method="GET", path=USERS, times=None)
    assert list(connector(server, tmp_path, "max_response_mb: 2").records()) == []


def test_a_huge_total_through_the_command_takes_one_request_and_no_traceback(
    server: ScimServer, tmp_path: Path, nhirecon: Run
) -> None:
    seed_estate(server)
    server.faults.add(rewrite_list(total(10**12, empty=True)), path=USERS, times=None)
    write_config(server, tmp_path)
    result = nhirecon("audit", "--now", NOW, "-v")
    assert_refused(result, tmp_path, f"{server.url}/Users?startIndex=1&", "max_records")
    assert "MemoryError" not in result.stderr
    assert len(listing_requests(server)) == 1


# --- cursor paging (RFC 9865) -------------------------------------------------------------

CURSOR_ONLY = {
    "cursor": True,
    "index": False,
    "defaultPaginationMethod": "cursor",
    "defaultPageSize": 100,
    "maxPageSize": 100,
    "cursorTimeout": 60,
}


def test_a_service_that_pages_by_cursor_is_paged_by_cursor(
    server: ScimServer, tmp_path: Path
) -> None:
    """It ignores startIndex (every index request gets the first page) and caps count at
    100, as it announces."""
    paginated(server, **CURSOR_ONLY)
    add_users(server, *(f"user{number:03}" for number in range(250)))
    server.faults.add(with_query(drop_start_index), method="GET", path=USERS, times=None)
    accounts = pull(server, tmp_path)
    assert len({account.id for account in accounts}) == 250
    queries = listing_requests(server)
    assert len(queries) == 3
    assert queries[0] == {"cursor": "", "count": "100"}
    assert all(set(query) == {"cursor", "count"} and query["count"] == "100" for query in queries)
    assert all(query["cursor"] for query in queries[1:])


def test_a_service_that_pages_by_cursor_without_saying_so_is_followed(
    server: ScimServer, tmp_path: Path
) -> None:
    paginated(server, **CURSOR_ONLY)
    add_users(server, *(f"user{number:03}" for number in range(250)))
    server.faults.add(with_query(drop_start_index), method="GET", path=USERS, times=None)
    server.faults.add(spc_without_pagination, path="/ServiceProviderConfig", times=None)
    accounts = pull(server, tmp_path, "page_size: 150")
    assert len({account.id for account in accounts}) == 250
    queries = listing_requests(server)
    assert queries[0] == {"startIndex": "1", "count": "150"}
    assert [set(query) for query in queries[1:]] == [{"cursor", "count"}] * 2


def test_count_is_clamped_to_the_advertised_maximum_page_size(
    server: ScimServer, tmp_path: Path
) -> None:
    paginated(server, cursor=False, index=True, maxPageSize=100)
    add_users(server, *(f"user{number:03}" for number in range(150)))

    large = r"[?&]count=(10[1-9]|1[1-9]\d|[2-9]\d\d|\d{4,})(&|$)"
    server.faults.add(answer(400), method="GET", path=large, times=None)  # it refuses them
    assert len(pull(server, tmp_path)) == 150
    assert [query["count"] for query in listing_requests(server)] == ["100", "100", "1"]


def loops() -> Callable[[dict[str, Any]], None]:
    """Every page hands out the first page's nextCursor again."""
    first: list[str] = []

    def change(body: dict[str, Any]) -> None:
        first.append(body["nextCursor"])
        body["nextCursor"] = first[0]

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (loops(), "nextCursor repeats an earlier cursor"),
        (
            lambda body: body.update(Resources=[], itemsPerPage=0, nextCursor="more"),
            "an empty page that points to a next one",
        ),
        (lambda body: body.update(totalResults=300), "returned 250 resources but totalResults"),
        (lambda body: body.update(totalResults=10**9), "more than max_records"),
    ],
)
def test_a_cursor_listing_that_does_not_end_well_is_refused(
    server: ScimServer, tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    paginated(server, **CURSOR_ONLY)
    add_users(server, *(f"user{number:03}" for number in range(250)))
    server.faults.add(rewrite_list(change), method="GET", path=USERS, times=None)
    with pytest.raises(ConnectorError, match=message):
        pull(server, tmp_path)
    assert len(listing_requests(server)) <= 3


# --- rate limits in vendor dialects -------------------------------------------------------


def now_epoch() -> str:
    return str(int(time.time()))


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (403, lambda: {"Retry-After": "0"}),
        (403, lambda: {"X-RateLimit-Reset": now_epoch()}),
        (403, lambda: {"x-rate-limit-reset": now_epoch()}),
        (403, lambda: {"X-RateLimit-Remaining": "0"}),
        (403, lambda: {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": now_epoch()}),
        (429, lambda: {"X-RateLimit-Reset": now_epoch()}),
        (429, lambda: {"X-RateLimit-Remaining": "0"}),
    ],
    ids=lambda value: value if isinstance(value, int) else "",
)
def test_a_rate_limit_in_a_vendor_dialect_is_a_wait(
    server: ScimServer, tmp_path: Path, status: int, headers: Callable[[], dict[str, str]]
) -> None:
    seed_estate(server)
    server.faults.add(answer(status, headers()), method="GET", path=r"startIndex=1&", times=2)
    assert len(pull(server, tmp_path)) == 11
    statuses = [seen.status for seen in server.faults.seen if seen.path.endswith("/Users")]
    assert statuses == [status, status, 200, 200]


def test_a_rate_limit_waits_as_told_within_max_retry_wait(
    server: ScimServer, tmp_path: Path
) -> None:
    seed_estate(server)
    soon, late = int(time.time()) + 30, int(time.time()) + 3600
    server.faults.add(answer(403, {"X-RateLimit-Reset": str(soon)}), path=USERS, times=1)
    server.faults.add(answer(403, {"X-Rate-Limit-Reset": str(late)}), path=USERS, times=1)
    server.faults.add(answer(429, {"Retry-After": "7"}), path=USERS, times=1)
    opened = connector(server, tmp_path, "retries: 3\nmax_retry_wait: 60")
    waits: list[float] = []
    opened.transport.sleep = waits.append
    assert len(list(opened.records())) == 11
    assert len(waits) == 3
    assert 25 <= waits[0] <= 30 and waits[1:] == [60, 7]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-RateLimit-Remaining": "4999", "X-RateLimit-Reset": "1900000000"}],
    ids=["no headers", "headers of a limit not reached"],
)
def test_a_plain_403_is_still_an_auth_failure(
    server: ScimServer, tmp_path: Path, nhirecon: Run, headers: dict[str, str]
) -> None:
    seed_estate(server)
    server.faults.add(answer(403, headers), method="GET", path=USERS, times=None)
    write_config(server, tmp_path)
    result = nhirecon("plan", "--now", NOW, "-o", "p.json")
    assert_refused(result, tmp_path, f"{server.url}/Users?startIndex=1&", "HTTP 403 Forbidden")
    assert len(listing_requests(server)) == 1, "not retried"


def test_a_rate_limit_that_outlasts_the_retries_fails(server: ScimServer, tmp_path: Path) -> None:
    seed_estate(server)
    server.faults.add(answer(403, {"Retry-After": "0"}), path=USERS, times=None)
    with pytest.raises(ConnectorError, match=r"HTTP 403 Forbidden.*after 3 attempts"):
        pull(server, tmp_path, "retries: 2")
    assert len(listing_requests(server)) == 3
