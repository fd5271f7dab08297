"""``--apply`` against SCIM services that behave as real vendors do, not as RFC 7644 says.

Each test puts a middleware in front of a real scim2-server that reproduces one documented
or reported behaviour, runs the remediation, and then checks the server's own state: who
is inactive, what was written where. A write is only ``done`` when the account reads as
the action wants afterwards (SPEC §8).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.exit_codes import ExitCode
from nhirecon.remediation import apply as remediation
from nhirecon.remediation.actions import ApplyResult, Outcome

from .conftest import Run
from .scim_server import (
    EXPECTED_ACTIONS,
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    App,
    ScimServer,
    StartResponse,
    estate_config,
    rewrite_list,
    running,
    seed_estate,
)
from .test_remediation_rails import INSTANT, audit_log, by_name

Action = Callable[[dict[str, Any], StartResponse, App], Iterable[bytes]]
WRITES = ("POST", "PUT", "PATCH", "DELETE")
DISABLED = ("bob", "erin", "mallory")


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    return tmp_path


def start(folder: Path, server: ScimServer, **options: Any) -> dict[str, dict[str, Any]]:
    (folder / "nhirecon.yaml").write_text(estate_config(server, **options), encoding="utf-8")
    return seed_estate(server)


def apply_audit(folder: Path) -> ApplyResult:
    """Audit and apply in-process, as ``nhirecon audit --apply --yes`` would."""
    loaded = config.load(folder / "nhirecon.yaml")
    assert INSTANT is not None
    report = pipeline.audit(loaded, now=INSTANT)
    actions = remediation.prepare(loaded, report, previous_source=None)
    return remediation.apply_actions(loaded, actions, yes=True)


def sent(server: ScimServer, method: str) -> list[Any]:
    return [seen for seen in server.faults.seen if seen.method == method]


def body_of(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = _Replay(raw)
    return json.loads(raw) if raw else None


class _Replay:
    """A request body read by the middleware, handed on to the server unchanged."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:
        chunk, self.data = (self.data, b"") if size < 0 else (self.data[:size], self.data[size:])
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def reply(
    start_response: StartResponse,
    status: str,
    body: Any,
    content_type: str = "application/scim+json",
) -> list[bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data)))])
    return [data]


def through(
    environ: dict[str, Any],
    app: App,
    change: Callable[[Any, list[tuple[str, str]]], tuple[Any, list[tuple[str, str]]]],
    start_response: StartResponse,
) -> list[bytes]:
    """Let the server answer, then change its JSON body and headers."""
    captured: list[Any] = []
    raw = b"".join(
        app(environ, lambda status, headers, exc=None: captured.append((status, headers)))
    )
    status, headers = captured[0]
    body = json.loads(raw) if raw else None
    body, headers = change(body, [(k, v) for k, v in headers if k.lower() != "content-length"])
    data = json.dumps(body).encode() if body is not None else b""
    start_response(status, [*headers, ("Content-Length", str(len(data)))])
    return [data]


# --- 5: weak ETags and an If-Match the service wants to the letter ------------------------


def strict_if_match(*, version_in_get: bool) -> Action:
    """A service whose ``meta.version`` is weak (``W/"1"``), whose ETag header is the strong
    spelling (``"1"``), and which answers 412 unless ``If-Match`` is the weak spelling. With
    ``version_in_get=False`` a single GET carries no ``meta.version``, only the header."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        is_one = environ["PATH_INFO"].count("/") >= 3
        if method in ("PATCH", "PUT", "DELETE"):
            tag = environ.get("HTTP_IF_MATCH", "")
            if not tag.startswith('W/"'):
                return reply(start_response, "412 Precondition Failed", {"detail": "If-Match"})
            return list(app(environ, start_response))
        if method == "GET" and is_one:

            def change(body: Any, headers: list[tuple[str, str]]) -> Any:
                meta = body.get("meta", {}) if isinstance(body, dict) else {}
                version = meta.get("version")
                headers = [(k, v) for k, v in headers if k.lower() != "etag"]
                if version:
                    headers.append(("ETag", version.removeprefix("W/")))
                    if not version_in_get:
                        del body["meta"]["version"]
                return body, headers

            return through(environ, app, change, start_response)
        return list(app(environ, start_response))

    return action


def test_weak_etags_are_sent_back_as_the_service_spelled_them(folder: Path) -> None:
    with running() as server:
        start(folder, server)
        server.faults.add(strict_if_match(version_in_get=True), path="/Users", times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.OK, result.results
        users = server.users()
        assert all(users[name]["active"] is False for name in DISABLED)
        assert "olivia" not in users
        assert all(s.headers["If-Match"].startswith('W/"') for s in sent(server, "PATCH"))
        observed = {e["account"]["username"]: e["observed"] for e in audit_log(folder)}
        assert observed == {
            "bob": "verified inactive",
            "erin": "verified inactive",
            "mallory": "verified inactive",
            "olivia": "verified gone",
        }


def test_a_412_with_an_unchanged_version_is_a_failure_not_a_skip(folder: Path) -> None:
    with running() as server:
        start(folder, server)
        server.faults.add(strict_if_match(version_in_get=False), path="/Users", times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.ACTIONS_FAILED
        assert result.count(Outcome.FAILED) == 4 and result.count(Outcome.SKIPPED) == 0
        entries = by_name(audit_log(folder))
        for name in EXPECTED_ACTIONS:
            assert entries[name]["outcome"] == "failed"
            assert entries[name]["http_status"] == 412
            assert entries[name]["observed"] == "failed: 412 with unchanged version"
        users = server.users()
        assert all(users[name]["active"] is True for name in DISABLED)


# --- 6: writes that answer 2xx and change nothing -----------------------------------------


def patch_ignored(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
    """200 with the resource as it was: the PATCH is never applied."""
    get = {**environ, "REQUEST_METHOD": "GET", "CONTENT_LENGTH": "0"}
    captured: list[Any] = []
    raw = b"".join(app(get, lambda status, headers, exc=None: captured.append(status)))
    return reply(start_response, "200 OK", json.loads(raw))


def patch_html(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
    """A proxy or login page answering for the service: 200, text/html."""
    return reply(start_response, "200 OK", b"<html><body>OK</body></html>", "text/html")


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        (patch_ignored, "the service answered 200 but the account reads active"),
        (patch_html, "answered 200 with a body that is not SCIM (text/html)"),
    ],
)
def test_a_patch_that_changed_nothing_is_never_done(
    folder: Path, fault: Action, detail: str
) -> None:
    with running() as server:
        start(folder, server)
        server.faults.add(fault, method="PATCH", times=None)
        first = apply_audit(folder)
        assert first.exit_code is ExitCode.ACTIONS_FAILED
        entries = by_name(audit_log(folder))
        for name in DISABLED:
            assert entries[name]["outcome"] == "failed"
            assert detail in entries[name]["detail"]
            assert entries[name]["observed"] == "not applied: still active"
        assert entries["olivia"]["observed"] == "verified gone"
        users = server.users()
        assert all(users[name]["active"] is True for name in DISABLED)
        again = apply_audit(folder)
        assert again.exit_code is ExitCode.ACTIONS_FAILED, "still failing, never done"


def test_the_apply_summary_says_what_was_observed(folder: Path, run: Run) -> None:
    with running() as server:
        start(folder, server)
        server.faults.add(patch_ignored, method="PATCH", path=r"/Users/", times=None)
        result = run(
            "audit", "--now", NOW, "--apply", "--yes", "-q", env={TOKEN_ENV: TOKEN}, cwd=folder
        )
        assert result.returncode == 5
        assert "[not applied: still active]" in result.stderr
        plan = run("plan", "--now", NOW, "-o", "plan.json", env={TOKEN_ENV: TOKEN}, cwd=folder)
        assert "DONE WHEN THE ACCOUNT" in plan.stdout and "reads inactive" in plan.stdout


# --- 7: PATCH only in the path-less form --------------------------------------------------


def path_less_only(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
    operations = body_of(environ).get("Operations", [])
    if any("path" in operation for operation in operations):
        return reply(
            start_response,
            "400 Bad Request",
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidPath",
                "detail": "Unsupported path: active",
            },
        )
    return list(app(environ, start_response))


def test_a_service_that_takes_only_path_less_patches(folder: Path) -> None:
    with running() as server:
        start(folder, server, target_options="max_workers: 1")
        server.faults.add(path_less_only, method="PATCH", times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.OK, result.results
        assert all(server.users()[name]["active"] is False for name in DISABLED)
        statuses = [seen.status for seen in sent(server, "PATCH")]
        assert statuses == [400, 204, 204, 204], "one refusal, then the form is remembered"


# --- 8 and 12: PUT only writable attributes, only to the planned account ------------------


def put_strict(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
    """Rejects a PUT that carries read-only attributes (as several IdPs do)."""
    body = body_of(environ)
    bad = sorted(name for name in ("id", "meta", "groups") if name in body)
    if bad:
        return reply(
            start_response,
            "400 Bad Request",
            {"scimType": "mutability", "detail": f"read-only attributes: {', '.join(bad)}"},
        )
    return list(app(environ, start_response))


def test_without_patch_put_carries_only_writable_attributes(folder: Path) -> None:
    with running(patch=False) as server:
        planted = start(folder, server)
        server.faults.add(put_strict, method="PUT", times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.OK, result.results
        users = server.users()
        for name in DISABLED:
            assert users[name]["active"] is False
            assert users[name]["emails"] == planted[name]["emails"]
        assert Counter(seen.method for seen in server.faults.seen if seen.method in WRITES) == (
            Counter({"PUT": 3, "DELETE": 1})
        )


def test_a_put_goes_to_the_planned_account_whatever_the_body_says(folder: Path) -> None:
    with running(patch=False) as server:
        planted = start(folder, server)
        protected_id = planted["breakglass"]["id"]

        def lying_get(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
            def change(body: Any, headers: list[tuple[str, str]]) -> Any:
                if isinstance(body, dict) and body.get("userName") == "bob":
                    body["id"] = protected_id
                    body["meta"]["location"] = f"{server.url}/Users/{protected_id}"
                return body, headers

            return through(environ, app, change, start_response)

        server.faults.add(lying_get, method="GET", path=planted["bob"]["id"], times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.ACTIONS_FAILED
        assert "another resource" in by_name(audit_log(folder))["bob"]["detail"]
        users = server.users()
        assert users["breakglass"]["active"] is True, "the protected account is untouched"
        assert users["bob"]["active"] is True, "nothing is written on a body's word"
        paths = {seen.path for seen in sent(server, "PUT")}
        assert f"/v2/Users/{planted['bob']['id']}" not in paths
        assert f"/v2/Users/{protected_id}" not in paths


@pytest.mark.parametrize(
    "odd_id", [".", "..", "a\nb", "a\u202eb", "{alice} ", "\t{alice}", "\u3000{alice}"]
)
def test_ids_that_are_paths_in_disguise_are_never_written(folder: Path, odd_id: str) -> None:
    with running() as server:
        planted = start(folder, server, remediate="{jit-orphan: delete, orphan: delete}")
        alice = planted["alice"]["id"]
        odd_id = odd_id.replace("{alice}", alice)  # another account's id, padded

        def plant(body: dict[str, Any]) -> None:
            if body.get("startIndex", 1) == 1:
                body["Resources"].append(
                    {
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "id": odd_id,
                        "userName": "intruder",
                        "active": True,
                        "emails": [{"value": "intruder@evil.example", "primary": True}],
                    }
                )
                body["itemsPerPage"] = len(body["Resources"])
            body["totalResults"] += 1

        server.faults.add(rewrite_list(plant), method="GET", path=r"/Users\?", times=None)
        loaded = config.load(folder / "nhirecon.yaml")
        assert INSTANT is not None
        report = pipeline.audit(loaded, now=INSTANT)
        intruder = [f for f in report.findings if f.account and f.account.username == "intruder"]
        assert intruder and all(f.remediation.value == "manual" for f in intruder)
        assert all("account id" in f.remediation_reason for f in intruder)
        actions = remediation.prepare(loaded, report, previous_source=None)
        assert all(action.account_id == action.account_id.strip() != "" for action in actions)
        assert odd_id not in {action.account_id for action in actions}
        mark = len(server.faults.seen)
        remediation.apply_actions(loaded, actions, yes=True)
        for seen in server.faults.seen[mark:]:
            if seen.method in WRITES:
                assert seen.path.rstrip("/") not in ("/v2/Users", "/v2"), seen
                assert alice not in seen.path, seen
        assert server.users()["alice"]["active"] is True


# --- answers that are not what they claim ---------------------------------------------------


def test_a_recheck_answered_with_another_account_writes_nothing(folder: Path) -> None:
    with running() as server:
        planted = start(folder, server)
        frank = planted["frank"]  # inactive: a re-check would call bob "already disabled"

        def other(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
            return reply(start_response, "200 OK", frank)

        server.faults.add(other, method="GET", path=planted["bob"]["id"], times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.ACTIONS_FAILED
        entries = by_name(audit_log(folder))
        assert entries["bob"]["outcome"] == "failed"
        assert "another resource" in entries["bob"]["detail"]
        assert server.users()["bob"]["active"] is True
        assert not any(planted["bob"]["id"] in seen.path for seen in sent(server, "PATCH"))


def test_a_version_holding_a_nul_is_never_sent(folder: Path) -> None:
    with running() as server:
        start(folder, server)

        def nul_version(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
            def change(body: Any, headers: list[tuple[str, str]]) -> Any:
                resources = body.get("Resources", [body]) if isinstance(body, dict) else []
                for resource in resources:
                    if isinstance(resource.get("meta"), dict):
                        resource["meta"]["version"] = 'W/"1\x00"'
                return body, headers

            return through(environ, app, change, start_response)

        server.faults.add(nul_version, method="GET", path=r"/Users", times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.ACTIONS_FAILED
        assert sent(server, "PATCH") == [] and sent(server, "DELETE") == []
        assert all("not sent" in entry["detail"] for entry in audit_log(folder))


def test_a_recheck_without_the_version_the_listing_gave_writes_nothing(folder: Path) -> None:
    """The listing gives each account's version; the re-check of a single account gives
    none (no ``meta.version``, no ``ETag``), as a proxy that drops them would: nothing can
    tell whether the account changed in between, so nothing is written."""
    with running() as server:
        start(folder, server)

        def unversioned(environ: dict[str, Any], start_response: StartResponse, app: App) -> Any:
            def change(body: Any, headers: list[tuple[str, str]]) -> Any:
                if isinstance(body, dict) and isinstance(body.get("meta"), dict):
                    body["meta"].pop("version", None)
                return body, [(k, v) for k, v in headers if k.lower() != "etag"]

            return through(environ, app, change, start_response)

        server.faults.add(unversioned, method="GET", path=r"/Users/[^?]+\?$", times=None)
        result = apply_audit(folder)
        assert result.exit_code is ExitCode.ACTIONS_FAILED
        assert sent(server, "PATCH") == [] and sent(server, "DELETE") == []
        entries = audit_log(folder)
        assert {entry["outcome"] for entry in entries} == {"failed"}
        assert len(entries) == len(EXPECTED_ACTIONS)
        assert all("the re-check gave no version" in entry["detail"] for entry in entries)
        assert {name: server.users()[name]["active"] for name in ("bob", "alice")} == {
            "bob": True,
            "alice": True,
        }


def test_a_number_too_long_to_read_fails_the_read_not_the_run() -> None:
    from nhirecon.http.answers import Response
    from nhirecon.http.transport import HttpError

    answer = Response(
        "GET", "https://scim.example.com/v2/Users", 200, {}, b'{"n": 1' + b"0" * 5000 + b"}"
    )
    with pytest.raises(HttpError, match="not usable JSON"):
        answer.json()


@pytest.mark.parametrize(
    ("args", "content", "message"),
    [
        (("--max-age", "99999999999999w"), None, "longer than any plan can be old"),
        ((), b"\xff\xfe{\x00}", "not a plan file (not UTF-8"),
        ((), b'{"plan_version": 1, "n": 1' + b"0" * 5000 + b"}", "plan file: unreadable JSON"),
        ((), b'{"plan_version": 1,\n "actions": [Infinity]}', "Infinity is not JSON"),
    ],
)
def test_bad_apply_input_is_a_usage_error(
    folder: Path, run: Run, args: tuple[str, ...], content: bytes | None, message: str
) -> None:
    with running() as server:
        start(folder, server)
        (folder / "plan.json").write_bytes(content or b"{}")
        result = run("apply", "plan.json", "--yes", *args, env={TOKEN_ENV: TOKEN}, cwd=folder)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.stderr
