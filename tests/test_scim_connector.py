"""The live SCIM connector against a real scim2-server: mapping, paging, groups, auth, faults."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.core.model import Origin, Record
from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.reporters.sarif import SarifReporter

from .scim_server import (
    HR_CSV,
    NHI,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    answer,
    basic_to_bearer,
    delay,
    estate_config,
    rewrite_list,
    seed_estate,
    token_endpoint,
)

SIGNED_IN = {"lastLoginAt": "2026-11-20T00:00:00Z"}
"""The estate maps ``last_login_at`` to this attribute: a path that no account holds is an
error (SPEC §3.2), so the accounts a test adds sign in."""

NOW = datetime(2026, 11, 28, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("scim_token")


Load = Callable[..., config.Config]


@pytest.fixture
def load(tmp_path: Path, server: ScimServer) -> Load:
    """Write the estate's config (with overrides) next to the HR export and load it."""

    def loader(**overrides: Any) -> config.Config:
        (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
        path = tmp_path / "nhirecon.yaml"
        path.write_text(estate_config(server, **overrides), encoding="utf-8")
        return config.load(path)

    return loader


def pull(loaded: config.Config) -> list[Record]:
    return list(loaded.targets[0].endpoint.open().records())


def page_requests(server: ScimServer) -> list[str]:
    return [seen.query for seen in server.faults.seen if seen.path.endswith("/Users")]


def test_reads_every_account_with_the_default_map_and_custom_paths(
    server: ScimServer, load: Load
) -> None:
    planted = seed_estate(server)
    accounts = {account.username: account for account in pull(load())}
    assert set(accounts) == set(planted)
    alice = accounts["alice"]
    assert alice.id == planted["alice"]["id"]
    assert alice.external_id == "E1"
    assert alice.email == "alice@example.com"
    assert alice.department == "Engineering"
    assert alice.origin is Origin.SCIM
    assert alice.version == planted["alice"]["meta"]["version"]
    assert alice.location == f"{server.url}/Users/{alice.id}"
    assert accounts["dave"].origin is Origin.JIT
    assert accounts["frank"].active is False
    assert accounts["grace"].last_login_at == datetime(2025, 1, 1, tzinfo=UTC)


def test_custom_extension_attribute_can_be_mapped_and_compared(
    server: ScimServer, load: Load, tmp_path: Path
) -> None:
    server.add_user(
        "alice", email="alice@example.com", external_id="E1", nhi={"costCode": "CC-9", **SIGNED_IN}
    )
    loaded = load(extra_map=f'cost_code: "{NHI}:costCode"')
    (account,) = pull(loaded)
    assert account.attributes["cost_code"] == "CC-9"


def test_pages_follow_the_servers_clamp_and_fetch_concurrently(
    server: ScimServer, load: Load
) -> None:
    for number in range(250):
        server.add_user(f"user{number:03}", email=f"user{number:03}@example.com", nhi=SIGNED_IN)

    def clamp(body: dict[str, Any]) -> None:
        body["Resources"] = body["Resources"][:40]
        body["itemsPerPage"] = len(body["Resources"])
        time.sleep(0.1)  # each page takes a while, so concurrent requests overlap

    server.faults.add(rewrite_list(clamp), method="GET", path=r"/Users\?", times=None)
    accounts = pull(load(target_options="page_size: 100\nmax_workers: 3"))
    assert len({account.id for account in accounts}) == 250
    starts = sorted(int(q.split("startIndex=")[1].split("&")[0]) for q in page_requests(server))
    assert starts == [*range(1, 251, 40), 251], "every page, and the page past the end (empty)"
    assert 1 < server.faults.peak <= 3


def test_a_server_that_lies_about_totalresults_fails_the_pull(
    server: ScimServer, load: Load
) -> None:
    seed_estate(server)

    def lie(body: dict[str, Any]) -> None:
        body["totalResults"] += 3

    server.faults.add(rewrite_list(lie), method="GET", path=r"/Users\?", times=None)
    with pytest.raises(ConnectorError, match=r"returned 11 resources but totalResults says 14"):
        pull(load())


def test_duplicates_across_pages_fail_the_pull(server: ScimServer, load: Load) -> None:
    seed_estate(server)
    first: list[Any] = []

    def remember(body: dict[str, Any]) -> None:
        if not first:
            first.extend(body["Resources"])
        else:
            body["Resources"] = first[: len(body["Resources"])]

    server.faults.add(rewrite_list(remember), method="GET", path=r"/Users\?", times=None)
    with pytest.raises(ConnectorError, match="twice"):
        pull(load(target_options="page_size: 5"))


def test_an_error_page_fails_the_pull_naming_url_and_status(server: ScimServer, load: Load) -> None:
    seed_estate(server)
    server.faults.add(answer(500), method="GET", path=r"startIndex=6", times=None)
    with pytest.raises(ConnectorError) as raised:
        pull(load(target_options="page_size: 5\nretries: 2"))
    message = str(raised.value)
    assert f"GET {server.url}/Users?startIndex=6" in message
    assert "HTTP 500" in message
    assert "after 3 attempts" in message


def test_a_wrong_token_fails_naming_url_and_status_never_the_token(
    server: ScimServer, load: Load, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "wrong-token-value-123")
    with pytest.raises(ConnectorError) as raised:
        pull(load())
    message = str(raised.value)
    assert f"{server.url}/Users" in message and "HTTP 401" in message
    assert "wrong-token-value-123" not in message and TOKEN not in message


def test_a_missing_token_variable_is_a_config_error_naming_the_key(
    load: Load, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(ConfigError) as raised:
        pull(load())
    assert "targets[0].auth.token_env" in str(raised.value)
    assert TOKEN_ENV in str(raised.value)


def test_groups_come_from_the_groups_endpoint_only_when_compared(
    server: ScimServer, load: Load
) -> None:
    planted = seed_estate(server)
    server.add_group("admins", [planted["alice"]["id"], planted["bob"]["id"]])
    server.add_group("eng", [planted["alice"]["id"]])
    accounts = {account.username: account for account in pull(load())}
    assert accounts["alice"].groups == ()
    assert not any(seen.path.endswith("/Groups") for seen in server.faults.seen)

    accounts = {account.username: account for account in pull(load(compare="[groups]"))}
    assert accounts["alice"].groups == ("admins", "eng")
    assert accounts["bob"].groups == ("admins",)
    assert accounts["carol"].groups == ()
    assert any(seen.path.endswith("/Groups") for seen in server.faults.seen)


def _without_members(body: dict[str, Any]) -> None:
    """A service that leaves ``members`` out of what it returns for a group."""
    for group in body.get("Resources", [body]):
        group.pop("members", None)


def _listed_alone(server: ScimServer) -> list[str]:
    return sorted(seen.query for seen in server.faults.seen if "/Groups/" in seen.path)


def test_groups_listed_without_members_are_read_alone_asking_for_them(
    server: ScimServer, load: Load
) -> None:
    planted = seed_estate(server)
    server.add_group("admins", [planted["alice"]["id"], planted["bob"]["id"]])
    server.add_group("eng", [planted["alice"]["id"]])
    server.add_group("empty", [])
    server.faults.add(rewrite_list(_without_members), method="GET", path=r"/Groups\?", times=None)
    accounts = {account.username: account for account in pull(load(compare="[groups]"))}
    assert accounts["alice"].groups == ("admins", "eng")
    assert accounts["bob"].groups == ("admins",)
    assert accounts["carol"].groups == ()
    assert _listed_alone(server) == ["attributes=members"] * 3


def _groups_requests(server: ScimServer) -> list[str]:
    return [f"{seen.path}?{seen.query}" for seen in server.faults.seen if "/Groups" in seen.path]


def test_a_tenant_whose_groups_are_all_empty_is_read_after_one_question(
    server: ScimServer, load: Load
) -> None:
    """scim2-server leaves ``members`` out of an empty group (RFC 7643 §2.5): with every
    group empty, none shows a member even read alone, and the service is asked how many
    have members; none, so every account is in no group, and the pull stands."""
    seed_estate(server)
    server.add_group("nobody-yet", [])
    server.add_group("also-empty", [])
    accounts = {account.username: account for account in pull(load(compare="[groups]"))}
    assert {account.groups for account in accounts.values()} == {()}
    asked = _groups_requests(server)
    assert ["filter=members%20pr" in url for url in asked].count(True) == 1, asked
    assert _listed_alone(server) == ["attributes=members"] * 2


@pytest.mark.parametrize("counted", [0, 1], ids=["says-none", "page-length"])
def test_a_count_of_groups_with_members_never_empties_a_group_read_alone(
    server: ScimServer, load: Load, counted: int
) -> None:
    """A service that hides members in listings and miscounts ``members pr`` (0, or the
    page's length): each group is read alone all the same, and what it shows decides."""
    planted = seed_estate(server)
    server.add_group("admins", [planted["alice"]["id"]])
    server.add_group("ops", [planted["bob"]["id"], planted["carol"]["id"]])
    server.faults.add(
        answer(
            200,
            body={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": counted,
                "Resources": [],
            },
        ),
        method="GET",
        path="members%20pr",
        times=None,
    )
    server.faults.add(rewrite_list(_without_members), method="GET", path=r"/Groups\?", times=None)
    accounts = {account.username: account for account in pull(load(compare="[groups]"))}
    assert (accounts["alice"].groups, accounts["carol"].groups) == (("admins",), ("ops",))


def test_groups_are_not_read_when_every_account_names_its_own_or_groups_are_mapped_elsewhere(
    server: ScimServer, load: Load
) -> None:
    """A service that fills ``User.groups`` (and hides ``members``), or a ``map`` that
    takes ``groups`` from another attribute: ``/Groups`` is never needed, never read."""
    planted = seed_estate(server)
    server.add_group("admins", [planted["alice"]["id"]])
    server.faults.add(rewrite_list(_without_members), method="GET", path="/Groups", times=None)

    def own_groups(body: dict[str, Any]) -> None:
        for user in body.get("Resources", []):
            user["groups"] = [{"value": "g1", "display": f"team-{user['userName']}"}]

    server.faults.add(rewrite_list(own_groups), method="GET", path=r"/Users\?", times=None)
    accounts = {account.username: account for account in pull(load(compare="[groups]"))}
    assert accounts["alice"].groups == ("team-alice",)
    assert _groups_requests(server) == []
    server.faults.rules.clear()
    server.faults.add(rewrite_list(_without_members), method="GET", path="/Groups", times=None)
    pull(load(compare="[department]", extra_map="groups: title"))
    assert _groups_requests(server) == []


def test_groups_mapped_to_their_ids_are_read_from_the_groups_too(
    server: ScimServer, load: Load
) -> None:
    """``groups.value`` (the groups' ids) reads the users' groups as ``groups.display``
    does, in any case (RFC 7643 §2.1): ``/Groups`` is read for them."""
    planted = seed_estate(server)
    admins = server.add_group("admins", [planted["alice"]["id"]])
    accounts = {
        a.username: a for a in pull(load(compare="[groups]", extra_map="groups: Groups.value"))
    }
    assert accounts["alice"].groups == (admins["id"],)


def test_a_group_gone_before_it_is_read_alone_is_left_out(server: ScimServer, load: Load) -> None:
    planted = seed_estate(server)
    server.add_group("admins", [planted["alice"]["id"]])
    gone = server.add_group("gone", [planted["alice"]["id"]])
    server.faults.add(rewrite_list(_without_members), method="GET", path=r"/Groups\?", times=None)
    server.faults.add(answer(404), method="GET", path=f"/Groups/{gone['id']}", times=None)
    accounts = {account.username: account for account in pull(load(compare="[groups]"))}
    assert accounts["alice"].groups == ("admins",)


def test_a_service_that_never_shows_members_fails_the_pull(server: ScimServer, load: Load) -> None:
    """AWS IAM Identity Center returns no ``members``, listed or read alone: every account
    would read as in no group, each a false ``stale-attribute``."""
    planted = seed_estate(server)
    server.add_group("admins", [planted["alice"]["id"]])
    server.add_group("eng", [planted["bob"]["id"]])
    server.faults.add(rewrite_list(_without_members), method="GET", path="/Groups", times=None)
    with pytest.raises(ConnectorError) as caught:
        pull(load(compare="[groups]"))
    assert f"{server.url}/Groups: none of the 2 groups shows its members" in str(caught.value)
    assert caught.value.exit_code == 3
    assert _listed_alone(server) == ["attributes=members"] * 2


def test_a_service_that_cannot_count_groups_with_members_and_shows_none_fails(
    server: ScimServer, load: Load
) -> None:
    """AWS IAM Identity Center filters by ``eq`` only: ``members pr`` is refused (400),
    and no group shows members: whether they are empty cannot be told."""
    planted = seed_estate(server)
    server.add_group("admins", [planted["alice"]["id"]])
    server.faults.add(answer(400), method="GET", path="members%20pr", times=None)
    server.faults.add(rewrite_list(_without_members), method="GET", path="/Groups", times=None)
    with pytest.raises(ConnectorError, match="and the service cannot say"):
        pull(load(compare="[groups]"))


def test_a_failed_read_of_a_group_alone_fails_the_pull_naming_url_and_status(
    server: ScimServer, load: Load
) -> None:
    planted = seed_estate(server)
    group = server.add_group("admins", [planted["alice"]["id"]])
    server.faults.add(rewrite_list(_without_members), method="GET", path=r"/Groups\?", times=None)
    server.faults.add(answer(403), method="GET", path=f"/Groups/{group['id']}", times=None)
    with pytest.raises(ConnectorError) as caught:
        pull(load(compare="[groups]"))
    assert f"{server.url}/Groups/{group['id']}?attributes=members" in str(caught.value)
    assert "403" in str(caught.value)


def test_basic_auth_from_environment(
    server: ScimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_estate(server)
    server.faults.add(basic_to_bearer("svc", "s3cret-pass"), times=None)
    monkeypatch.setenv("SCIM_PASSWORD", "s3cret-pass")
    (tmp_path / "hr.csv").write_text(HR_CSV)
    text = estate_config(server).replace(
        f"{{type: bearer, token_env: {TOKEN_ENV}}}",
        "{type: basic, username: svc, password_env: SCIM_PASSWORD}",
    )
    (tmp_path / "c.yaml").write_text(text)
    assert len(pull(config.load(tmp_path / "c.yaml"))) == 11
    monkeypatch.setenv("SCIM_PASSWORD", "not-it")
    with pytest.raises(ConnectorError, match="HTTP 401") as raised:
        pull(config.load(tmp_path / "c.yaml"))
    assert "not-it" not in str(raised.value)


def test_oauth2_client_credentials_token_is_fetched_once_and_used(
    server: ScimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_estate(server)
    server.faults.add(token_endpoint("client-1", "cs-secret-9"), path=r"^/token", times=None)
    monkeypatch.setenv("OAUTH_SECRET", "cs-secret-9")
    (tmp_path / "hr.csv").write_text(HR_CSV)
    token_url = server.url.replace("/v2", "/token")
    text = estate_config(server, target_options="page_size: 4").replace(
        f"{{type: bearer, token_env: {TOKEN_ENV}}}",
        f"{{type: oauth2, token_url: '{token_url}', client_id: client-1,"
        " client_secret_env: OAUTH_SECRET, scope: scim.read}",
    )
    (tmp_path / "c.yaml").write_text(text)
    assert len(pull(config.load(tmp_path / "c.yaml"))) == 11
    token_calls = [seen for seen in server.faults.seen if seen.path == "/token"]
    assert len(token_calls) == 1
    users = [seen for seen in server.faults.seen if seen.path.endswith("/Users")]
    assert len(users) == 4  # three pages of 4, and the (empty) page past the end
    assert all(seen.headers.get("Authorization") == f"Bearer {TOKEN}" for seen in users)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("url", "http://scim.example.com/v2", "plain http is refused"),
        ("url", "https://user:pw@scim.example.com/v2", "must not hold credentials"),
        ("auth", "{type: bearer, token: abc}", "secrets come from environment variables"),
        ("auth", "{type: kerberos}", "expected one of"),
        ("auth", "{type: basic, password_env: P}", "give exactly one of username"),
        ("page_size", "0", "must be positive"),
        (
            "max_workres",
            "2",
            "unknown key: neither a key of a target nor an option of connector 'scim'",
        ),
    ],
)
def test_bad_options_are_config_errors_naming_the_key(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    (tmp_path / "hr.csv").write_text(HR_CSV)
    text = f"""\
version: 1
source: {{name: hr, connector: csv, path: hr.csv, map: {{id: employee_id}}}}
targets:
  - name: app
    connector: scim
    url: https://scim.example.com/v2
    {option}: {value}
"""
    (tmp_path / "c.yaml").write_text(
        text.replace("    url: https://scim.example.com/v2\n", "") if option == "url" else text
    )
    with pytest.raises(ConfigError) as raised:
        config.load(tmp_path / "c.yaml")
    assert message in str(raised.value)
    assert f"targets[0].{option}" in str(raised.value)


def test_http_to_another_host_is_allowed_only_when_said(tmp_path: Path) -> None:
    (tmp_path / "hr.csv").write_text(HR_CSV)
    text = """\
version: 1
source: {name: hr, connector: csv, path: hr.csv, map: {id: employee_id}}
targets:
  - {name: app, connector: scim, url: "http://scim.internal/v2", allow_http: true}
"""
    (tmp_path / "c.yaml").write_text(text)
    assert config.load(tmp_path / "c.yaml").targets[0].name == "app"


# --- retries ------------------------------------------------------------------------------


def _gap(server: ScimServer, first: int = 0) -> float:
    users = [seen for seen in server.faults.seen if seen.path.endswith("/Users")]
    return users[first + 1].at - users[first].at


def test_429_with_retry_after_seconds_waits_and_succeeds(server: ScimServer, load: Load) -> None:
    seed_estate(server)
    server.faults.add(answer(429, {"Retry-After": "1"}), method="GET", path="/Users")
    assert len(pull(load())) == 11
    statuses = [seen.status for seen in server.faults.seen if seen.path.endswith("/Users")]
    assert statuses == [429, 200, 200]  # the page, and the (empty) page past the end
    assert _gap(server) >= 0.9


def test_503_with_retry_after_http_date_waits_and_succeeds(server: ScimServer, load: Load) -> None:
    seed_estate(server)
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    server.faults.add(answer(503, {"Retry-After": when}), method="GET", path="/Users")
    assert len(pull(load())) == 11
    statuses = [seen.status for seen in server.faults.seen if seen.path.endswith("/Users")]
    assert statuses == [503, 200, 200]  # the page, and the (empty) page past the end
    assert _gap(server) >= 0.9


def test_429_with_x_rate_limit_reset_epoch_waits_and_succeeds(
    server: ScimServer, load: Load
) -> None:
    seed_estate(server)
    reset = f"{time.time() + 1:.3f}"  # an epoch instant one second ahead
    server.faults.add(answer(429, {"X-Rate-Limit-Reset": reset}), method="GET", path="/Users")
    assert len(pull(load())) == 11
    statuses = [seen.status for seen in server.faults.seen if seen.path.endswith("/Users")]
    assert statuses == [429, 200, 200]  # the page, and the (empty) page past the end
    assert _gap(server) >= 0.9


def test_500_and_a_timeout_are_retried(server: ScimServer, load: Load) -> None:
    seed_estate(server)
    server.faults.add(answer(500), method="GET", path="/Users", times=2)
    server.faults.add(delay(0.8), method="GET", path="/Users", times=1)
    assert len(pull(load(target_options="timeout: 0.3"))) == 11
    statuses = [seen.status for seen in server.faults.seen if seen.path.endswith("/Users")]
    # two 500s, the request that timed out (answered too late), the one that worked, and
    # the (empty) page past the end
    assert len(statuses) == 5
    assert statuses[:2] == [500, 500]
    assert statuses[3:] == [200, 200]


def test_retries_are_bounded(server: ScimServer, load: Load) -> None:
    seed_estate(server)
    server.faults.add(answer(503), method="GET", path="/Users", times=None)
    with pytest.raises(ConnectorError, match=r"HTTP 503 .*after 3 attempts"):
        pull(load(target_options="retries: 2"))
    assert len(page_requests(server)) == 3


def test_rate_limit_spaces_every_request_retries_included(server: ScimServer, load: Load) -> None:
    for number in range(30):
        server.add_user(f"user{number:02}", nhi=SIGNED_IN)
    server.faults.add(answer(500), method="GET", path="startIndex=11", times=1)
    pull(load(target_options="page_size: 5\nmax_workers: 4\nrate_limit_per_minute: 300"))
    arrivals = sorted(seen.at for seen in server.faults.seen)
    # the service provider config, 6 pages, one retry, and the (empty) page past the end
    assert len(arrivals) == 9
    # 300 a minute is one every 0.2 s: nine requests cannot span less than 8 x 0.2 s,
    # however many workers there are (jitter of a few ms aside).
    assert arrivals[-1] - arrivals[0] >= 8 * 0.2 - 0.05


def test_engine_audit_over_the_estate(server: ScimServer, load: Load) -> None:
    seed_estate(server)
    report = pipeline.audit(load(), now=NOW)
    kinds = {
        (finding.kind.value, finding.account.username)
        for finding in report.findings
        if finding.account
    }
    assert ("leaver", "bob") in kinds
    assert ("jit-orphan", "mallory") in kinds
    assert ("orphan", "olivia") in kinds
    assert ("ambiguous", "sam") in kinds
    assert ("stale-attribute", "carol") in kinds
    assert ("dormant", "grace") in kinds
    assert ("unmanaged", "dave") in kinds
    assert report.targets[0].accounts == 11


def test_sarif_points_accounts_read_over_scim_at_their_target_in_the_config(
    server: ScimServer, load: Load, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_estate(server)
    monkeypatch.chdir(tmp_path)
    loaded = load()
    report = pipeline.audit(loaded, now=NOW)
    document = json.loads(SarifReporter().render(report))
    lines = (tmp_path / "nhirecon.yaml").read_text(encoding="utf-8").splitlines()
    target_line = next(n for n, text in enumerate(lines, 1) if "connector: scim" in text) - 1
    for result in document["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        if result["message"]["text"].startswith("hr:"):
            assert physical["artifactLocation"]["uri"] == "hr.csv"
            continue
        assert physical["artifactLocation"]["uri"] == "nhirecon.yaml"
        assert lines[physical["region"]["startLine"] - 1].lstrip().startswith("- name:")
        assert physical["region"]["startLine"] == target_line
