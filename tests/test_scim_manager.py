"""A SCIM user's manager (RFC 7643 §4.3: the id of the manager's resource) is read as the
manager's address when it is used, so that it compares with an HR export's manager email.
Against the real scim2-server, and a saved ListResponse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.connectors import scim_manager
from nhirecon.connectors.scim import ScimConnector
from nhirecon.core.model import Finding, Record
from nhirecon.errors import ConfigError, ConnectorError
from nhirecon.remediation.actions import differing

from .conftest import Run
from .scim_server import ENTERPRISE, TOKEN_ENV, ScimServer, answer, rewrite_list

NOW = datetime(2026, 11, 28, tzinfo=UTC)


pytestmark = pytest.mark.usefixtures("scim_token")


def _person(server: ScimServer, name: str, manager: str | None = None, **extra: Any) -> str:
    enterprise = {"manager": {"value": manager}} if manager else {"department": "Eng"}
    return str(
        server.add_user(name, email=f"{name}@example.com", enterprise=enterprise, **extra)["id"]
    )


def _write(tmp_path: Path, target: str, *, compare: str = "[manager]") -> config.Config:
    (tmp_path / "hr.csv").write_text(
        "employee_id,email,manager_email,status\n"
        "E1,alice@example.com,bob@example.com,active\n"
        "E2,bob@example.com,,active\n"
        "E3,carol@example.com,bob@example.com,active\n"
        "E4,dave@example.com,erin@example.com,active\n"
        "E5,erin@example.com,,active\n",
        encoding="utf-8",
    )
    (tmp_path / "nhirecon.yaml").write_text(
        "version: 1\n"
        "source: {name: hr, connector: csv, path: hr.csv,\n"
        "  map: {id: employee_id, email: email, manager: manager_email, status: status}}\n"
        "targets:\n"
        f"  - {target}\n"
        "    correlate: [{account: email, identity: email}]\n"
        f"    compare: {compare}\n",
        encoding="utf-8",
    )
    return config.load(tmp_path / "nhirecon.yaml")


def _scim(server: ScimServer, tmp_path: Path, *, options: str = "", compare: str = "[manager]"):
    target = (
        f"name: app\n    connector: scim\n    url: {server.url}\n"
        f"    auth: {{type: bearer, token_env: {TOKEN_ENV}}}\n    backoff: 0.01\n{options}"
    )
    return _write(tmp_path, target, compare=compare)


def _drift(loaded: config.Config) -> dict[str, str]:
    findings: list[Finding] = pipeline.audit(loaded, now=NOW).findings
    return {
        str(finding.account.username): str(item["target"])
        for finding in findings
        if finding.kind.value == "stale-attribute" and finding.account is not None
        for item in finding.detail["fields"]
    }


def _lookups(server: ScimServer) -> list[str]:
    return [
        f"{seen.path}?{seen.query}"
        for seen in server.faults.seen
        if "/Users/" in seen.path and seen.method == "GET"
    ]


def _pull(loaded: config.Config) -> dict[str, Record]:
    return {
        str(account.username): account for account in loaded.targets[0].endpoint.open().records()
    }


def test_a_managers_id_reads_as_the_managers_address_and_compares_with_hr(
    server: ScimServer, tmp_path: Path
) -> None:
    """alice's manager is in the listing; the manager of dave and dave2 (erin) is outside
    the listing's filter and read alone, once for both; carol's manager id names no user
    and stays as given."""
    bob = _person(server, "bob")
    _person(server, "alice", manager=bob)
    erin = _person(server, "erin", userType="Contractor")
    _person(server, "dave", manager=erin)
    _person(server, "dave2", manager=erin)
    _person(server, "carol", manager="no-such-user")
    loaded = _scim(server, tmp_path, options="    filter: 'userType ne \"Contractor\"'\n")
    accounts = _pull(loaded)
    assert accounts["alice"].manager == "bob@example.com"
    assert accounts["dave"].manager == "erin@example.com"
    assert accounts["carol"].manager == "no-such-user"
    assert accounts["bob"].manager is None
    assert sorted(_lookups(server)) == [
        f"/v2/Users/{erin}?attributes=emails",
        "/v2/Users/no-such-user?attributes=emails",
    ]
    assert _drift(loaded) == {"carol": "no-such-user"}


def test_a_manager_not_used_is_left_as_the_services_id(server: ScimServer, tmp_path: Path) -> None:
    bob = _person(server, "bob")
    _person(server, "alice", manager=bob)
    accounts = _pull(_scim(server, tmp_path, compare="[department]"))
    assert accounts["alice"].manager == bob
    assert _lookups(server) == []


def test_an_owner_mapped_to_the_manager_reads_as_the_address(
    server: ScimServer, tmp_path: Path
) -> None:
    bob = _person(server, "bob")
    _person(server, "svc-build", manager=bob)
    options = f'    map: {{owner: "{ENTERPRISE}:manager.value"}}\n'
    accounts = _pull(_scim(server, tmp_path, options=options, compare="[department]"))
    assert accounts["svc-build"].owner == "bob@example.com"


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (answer(500), "500"),
        (
            answer(200, body={"id": "someone-else", "emails": [{"value": "x@example.com"}]}),
            "expected the resource",
        ),
    ],
    ids=["refused", "another-user"],
)
def test_a_manager_read_alone_that_fails_or_lies_fails_the_pull(
    server: ScimServer, tmp_path: Path, fault: Any, said: str
) -> None:
    _person(server, "alice", manager="gone-or-hidden")
    server.faults.add(fault, method="GET", path="/Users/gone-or-hidden", times=None)
    with pytest.raises(ConnectorError) as caught:
        _pull(_scim(server, tmp_path, options="    retries: 0\n"))
    assert f"{server.url}/Users/gone-or-hidden?attributes=emails" in str(caught.value)
    assert said in str(caught.value)
    assert caught.value.exit_code == 3


def test_the_re_check_before_a_write_reads_the_manager_as_the_pull_did(
    server: ScimServer, tmp_path: Path
) -> None:
    """A re-check maps the account read alone as the pull mapped it: the same manager,
    looked up by itself in a new run (a plan applied later), so no change is seen."""
    bob = _person(server, "bob")
    alice = _person(server, "alice", manager=bob)
    loaded = _scim(server, tmp_path)
    pulled = _pull(loaded)["alice"]
    fresh = loaded.targets[0].endpoint.open()
    assert isinstance(fresh, ScimConnector)
    live = fresh.transport.request("GET", f"{server.url}/Users/{alice}").json()
    again = fresh.record_of(live)
    assert again is not None
    assert again.manager == "bob@example.com"
    assert differing(pulled, again) == []


def test_a_saved_list_response_reads_managers_it_holds_as_addresses(tmp_path: Path) -> None:
    def user(uid: str, name: str, manager: str | None = None) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "id": uid,
            "userName": name,
            "emails": [{"value": f"{name}@example.com", "primary": True}],
        }
        if manager:
            resource[ENTERPRISE.upper()] = {"Manager": {"Value": manager, "$ref": "../Users/x"}}
        return resource

    resources = [
        user("1", "alice", manager="2"),
        user("2", "bob"),
        user("3", "carol", manager="2"),
        user("4", "dave", manager="99"),
        user("5", "erin"),
    ]
    (tmp_path / "app.json").write_text(
        json.dumps({"totalResults": 5, "Resources": resources}), encoding="utf-8"
    )
    loaded = _write(tmp_path, "name: app\n    connector: json\n    path: app.json")
    accounts = _pull(loaded)
    assert accounts["alice"].manager == "bob@example.com"
    assert accounts["dave"].manager == "99"
    assert _drift(loaded) == {"dave": "99"}


@pytest.mark.parametrize(
    ("emails", "expected"),
    [
        ([{"value": "a@x"}], "a@x"),
        ([{"value": "a@x"}, {"value": "b@x", "primary": True}], "b@x"),
        ([{"Value": "a@x", "Primary": True}], "a@x"),
        ([{"value": "a@x"}, {"value": "b@x"}], None),
        ([{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}], None),
        ([{"value": "a@x", "primary": "true"}, {"value": "b@x"}], None),
        ([], None),
        ("a@x", None),
        ([{"value": ""}], None),
    ],
)
def test_an_address_is_the_primary_or_only_one_never_a_guess(
    emails: object, expected: str | None
) -> None:
    assert scim_manager.address({"id": "1", "emails": emails}) == expected


def test_a_resource_is_not_changed_in_place() -> None:
    resource = {"id": "1", ENTERPRISE: {"manager": {"value": "2"}, "department": "Eng"}}
    copy = json.loads(json.dumps(resource))
    out = scim_manager.resolved(resource, {"2": "bob@x"})
    assert out[ENTERPRISE]["manager"] == {"value": "bob@x"}
    assert out[ENTERPRISE]["department"] == "Eng"
    assert resource == copy
    assert scim_manager.resolved(resource, {"2": None}) is resource
    assert scim_manager.resolved(resource, {}) is resource


@pytest.mark.parametrize("key", [f'"{ENTERPRISE}:manager.value"', "manager"], ids=["raw", "field"])
def test_a_filter_on_the_manager_is_refused_while_the_manager_is_read_as_an_address(
    server: ScimServer, tmp_path: Path, key: str
) -> None:
    """A ``where_not`` written against the ids would see addresses once ``manager`` is
    compared, and stop excluding what it excluded (accounts a plan could then delete). A
    filter alone leaves the manager the service's id."""
    bob = _person(server, "bob")
    _person(server, "alice", manager=bob)
    where = f"    where_not: {{{key}: [{bob}]}}\n"
    kept = _pull(_scim(server, tmp_path, options=where, compare="[department]"))
    assert sorted(kept) == ["bob"]  # alice, managed by bob's id, is left out
    with pytest.raises(ConfigError) as caught:
        _pull(_scim(server, tmp_path, options=where))
    assert "targets[0].where_not" in str(caught.value)
    assert "a filter written for ids would no longer match" in str(caught.value)
    assert caught.value.exit_code == 2


def test_validate_refuses_a_filter_on_the_manager_without_reaching_the_service(
    server: ScimServer, tmp_path: Path, run: Run
) -> None:
    where = "    where_not: {manager: [some-id]}\n"
    _scim(server, tmp_path, options=where)
    server.faults.seen.clear()
    result = run("validate", "-c", str(tmp_path / "nhirecon.yaml"))
    assert result.returncode == 2
    assert "targets[0].where_not" in result.stderr
    assert "a filter written for ids would no longer match" in result.stderr
    assert server.faults.seen == []  # plain validate reads nothing


def _manager_values(values: dict[str, str]) -> Any:
    """A listing whose users' manager ids are ``values`` (by userName): a lying service."""

    def change(body: dict[str, Any]) -> None:
        for resource in body["Resources"]:
            value = values[resource["userName"]]
            resource.setdefault(ENTERPRISE, {})["manager"] = {"value": value}

    return rewrite_list(change)


def test_ids_that_name_no_user_stay_without_a_failure_or_a_request(
    server: ScimServer, tmp_path: Path
) -> None:
    """``.`` and ``..`` (a URL resolves them to another path), a lone surrogate (no URL
    carries it), a listed user's own address (a service that puts the address where the
    id belongs), and an id the service answers 400 for."""
    for name in ("alice", "bob", "carol", "dave", "erin"):
        _person(server, name)
    values = dict(
        zip(
            ("alice", "bob", "carol", "dave", "erin"),
            (".", "..", "\ud800x", "Bob@Example.com", "not-a-guid"),
            strict=True,
        )
    )
    server.faults.add(_manager_values(values), method="GET", path=r"/Users\?", times=None)
    server.faults.add(answer(400), method="GET", path="/Users/not-a-guid", times=None)
    accounts = _pull(_scim(server, tmp_path))
    assert {name: accounts[name].manager for name in values} == values
    assert _lookups(server) == ["/v2/Users/not-a-guid?attributes=emails"]


def test_the_re_check_does_not_count_a_manager_read_differently_as_a_change() -> None:
    """The manager is read from the manager's own resource: deleted by the same run, or
    its address changed, the account itself did not change."""
    seen = Record(id="u1", location="x", manager="bob@example.com", email="a@example.com")
    now = Record(id="u1", location="y", manager="2819c223", email="a@example.com")
    assert differing(seen, now) == []
    assert differing(seen, Record(id="u1", location="y", email="b@example.com")) == ["email"]


def test_a_saved_list_response_reads_numeric_ids_and_one_address_written_twice(
    tmp_path: Path,
) -> None:
    resources = [
        {"id": "1", "userName": "alice", ENTERPRISE: {"manager": {"value": "2"}}},
        {
            "id": 2,
            "userName": "bob",
            "emails": [{"value": "bob@example.com"}, {"value": "Bob@Example.com"}],
        },
    ]
    (tmp_path / "app.json").write_text(json.dumps({"Resources": resources}), encoding="utf-8")
    loaded = _write(tmp_path, "name: app\n    connector: json\n    path: app.json")
    assert _pull(loaded)["alice"].manager == "bob@example.com"
