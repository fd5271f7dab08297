"""The pure half of SCIM writes: where a write may go, what it sends, how versions compare,
and which refusals blame the PATCH form. No network."""

from __future__ import annotations

from typing import Any

import pytest

from nhirecon.connectors import scim_writes as scim
from nhirecon.errors import ConnectorError

BASE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_writes_go_to_the_planned_id_quoted_as_one_segment_with_if_match() -> None:
    patch = scim.disable_patch("Users", "a/b c?x#y", 'W/"7"')
    assert (patch.method, patch.path) == ("PATCH", "/Users/a%2Fb%20c%3Fx%23y")
    assert patch.headers == {"If-Match": 'W/"7"'}
    assert patch.body == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    assert scim.disable_patch("Users", "42", None).headers is None
    delete = scim.delete_request("Users", "42", 'W/"7"')
    assert (delete.method, delete.path, delete.headers) == (
        "DELETE",
        "/Users/42",
        {"If-Match": 'W/"7"'},
    )


def test_the_path_less_patch_form() -> None:
    patch = scim.disable_patch("Users", "42", None, scim.PatchForm.VALUE)
    assert patch.body is not None
    assert patch.body["Operations"] == [{"op": "replace", "value": {"active": False}}]
    assert scim.PatchForm.VALUE.other is scim.PatchForm.PATH


@pytest.mark.parametrize(
    ("resource_id", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (".", "relative path segment"),
        ("..", "relative path segment"),
        ("bob\n", "whitespace"),
        ("bob\x00", "control character"),
        ("ceo ", "whitespace"),
        ("\ttab", "whitespace"),
        ("\u3000ceo", "whitespace"),
        ("ceo\x85", "whitespace"),
        ("a\x1b[2Jb", "control character"),
        ("a\u202eb", "control character"),
        ("a\u2028b", "control character"),
    ],
)
def test_ids_that_cannot_name_one_resource_are_never_written(
    resource_id: str, problem: str
) -> None:
    found = scim.id_problem(resource_id)
    assert found is not None and problem in found
    for build in (
        lambda: scim.disable_patch("Users", resource_id, None),
        lambda: scim.delete_request("Users", resource_id, None),
        lambda: scim.disable_put("Users", resource_id, {"id": "x"}, None),
    ):
        with pytest.raises(ConnectorError, match="refusing to write"):
            build()


@pytest.mark.parametrize("resource_id", ["...", "a.b", "0", "%2e%2e", "ünï"])
def test_ordinary_ids_may_be_written(resource_id: str) -> None:
    assert scim.id_problem(resource_id) is None
    path = scim.delete_request("Users", resource_id, None).path
    assert path.startswith("/Users/") and "/" not in path.removeprefix("/Users/")


def resource() -> dict[str, Any]:
    return {
        "schemas": [BASE_USER, ENTERPRISE],
        "id": "someone-else",
        "userName": "bob",
        "Active": True,
        "meta": {"version": 'W/"3"', "location": "https://evil.example/Users/x"},
        "groups": [{"value": "g1", "display": "Admins"}],
        "emails": [{"value": "bob@example.com"}],
        ENTERPRISE: {"department": "Sales", "manager": {"value": "m1", "displayName": "Ann"}},
    }


def test_put_carries_only_writable_attributes_to_the_planned_url() -> None:
    read = resource()
    put = scim.disable_put("Users", "42", read, 'W/"3"')
    assert put.method == "PUT" and put.path == "/Users/42", "never the id in the body read"
    assert put.body == {
        "schemas": [BASE_USER, ENTERPRISE],
        "userName": "bob",
        "Active": False,
        "emails": [{"value": "bob@example.com"}],
        ENTERPRISE: {"department": "Sales", "manager": {"value": "m1"}},
    }
    assert read["Active"] is True, "the resource read is not changed"


SCHEMAS = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
    "totalResults": 2,
    "Resources": [
        {
            "id": BASE_USER,
            "attributes": [
                {"name": "userName", "mutability": "readWrite"},
                {"name": "nickName", "mutability": "readOnly"},
                {"name": "groups", "mutability": "readOnly"},
                {"name": "active", "mutability": "readWrite"},
            ],
        },
        {"id": ENTERPRISE, "attributes": [{"name": "department", "mutability": "readOnly"}]},
    ],
}


def test_read_only_attributes_come_from_the_services_schemas() -> None:
    read_only = scim.read_only_from_schemas(SCHEMAS)
    assert read_only == {
        "": frozenset({"nickName", "groups", "id", "meta"}),
        ENTERPRISE: frozenset({"department"}),
    }
    body = scim.writable({**resource(), "nickName": "b"}, read_only)
    assert "nickName" not in body and "id" not in body
    assert body[ENTERPRISE] == {"manager": {"value": "m1"}}
    assert scim.read_only_from_schemas({"detail": "nope"}) is None
    assert scim.read_only_from_schemas({"Resources": [{"id": ENTERPRISE}]}) is None


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ('W/"1"', '"1"', True),
        ('W/"1"', 'W/"1"', True),
        ('"1"', '"1"', True),
        ('W/"1"', 'W/"2"', False),
        ('"1"', None, False),
        (None, None, False),
    ],
)
def test_versions_compare_weakly(first: str | None, second: str | None, same: bool) -> None:
    assert scim.same_version(first, second) is same
    assert scim.same_version(second, first) is same


@pytest.mark.parametrize(
    ("status", "body", "detail", "blames_path"),
    [
        (400, {"scimType": "invalidPath", "detail": "x"}, "x", True),
        (400, {"scimType": "noTarget"}, "", True),
        (400, None, "Unsupported PATCH path 'active'", True),
        (400, {"scimType": "invalidValue"}, "bad value", False),
        (409, {"scimType": "invalidPath"}, "", False),
        (500, None, "path", False),
    ],
)
def test_which_refusals_blame_the_patch_form(
    status: int, body: Any, detail: str, blames_path: bool
) -> None:
    assert scim.says_path_problem(status, body, detail) is blames_path


@pytest.mark.parametrize(
    ("resource_read", "state"),
    [
        ({"id": "1"}, scim.AccountState.ACTIVE),
        ({"id": "1", "active": True}, scim.AccountState.ACTIVE),
        ({"id": "1", "active": False}, scim.AccountState.DISABLED),
        ({"id": "1", "ACTIVE": "False"}, scim.AccountState.DISABLED),
    ],
)
def test_account_state(resource_read: dict[str, Any], state: scim.AccountState) -> None:
    assert scim.account_state(resource_read) is state


def test_version_from_meta_else_etag() -> None:
    assert scim.resource_version({"meta": {"version": 'W/"8"'}}, 'W/"9"') == 'W/"8"'
    assert scim.resource_version({"id": "1"}, 'W/"9"') == 'W/"9"'
    # names in any case (RFC 7643 §2.1), as the mapping of a pull reads them; a number
    # as its text; anything else is no version
    assert scim.resource_version({"Meta": {"Version": 'W/"3"'}}, None) == 'W/"3"'
    assert scim.resource_version({"META": {"version": 7}}, None) == "7"
    assert scim.resource_version({"meta": {"version": True}}, 'W/"1"') == 'W/"1"'
    assert scim.resource_version({"meta": "W/3"}, None) is None
