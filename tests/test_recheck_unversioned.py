"""The live re-check against a SCIM service that gives no versions (no ``meta.version``, no
``ETag``): the account read again just before its write is mapped as the pull mapped it,
and an account that changed since it was read is not written (SPEC §8, live re-check)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from nhirecon import config, pipeline
from nhirecon.exit_codes import ExitCode
from nhirecon.remediation import apply as remediation
from nhirecon.remediation.actions import ApplyResult, Outcome

from .scim_server import (
    EXPECTED_ACTIONS,
    HR_CSV,
    TOKEN,
    TOKEN_ENV,
    App,
    ScimServer,
    StartResponse,
    answer,
    estate_config,
    running,
    seed_estate,
)
from .test_remediation_rails import INSTANT, apply_data, audit_log, by_name, make_plan
from .test_scim_vendor_writes import apply_audit, sent

Change = Callable[[dict[str, Any]], None]
NHI = "urn:example:params:scim:schemas:extension:nhi:2.0:User"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    return tmp_path


def versionless(recheck: dict[str, Change], *, single: bool = False) -> Any:
    """A service that gives no version anywhere (with ``single``, only its listing gives
    none); ``recheck`` changes an account (by id) when it is read on its own, as an
    administrator acting between the audit and the write would have changed it."""

    def action(environ: dict[str, Any], start_response: StartResponse, app: App) -> Iterable[bytes]:
        captured: list[Any] = []
        raw = b"".join(
            app(environ, lambda status, headers, exc=None: captured.append((status, headers)))
        )
        body = json.loads(raw) if raw else None
        resources = body.get("Resources", [body]) if isinstance(body, dict) else []
        listing = isinstance(body, dict) and "Resources" in body
        for resource in resources:
            if isinstance(resource.get("meta"), dict) and (listing or not single):
                resource["meta"].pop("version", None)
            change = recheck.get(str(resource.get("id")))
            if change is not None and not listing:
                change(resource)
        data = json.dumps(body).encode() if body is not None else b""
        status, headers = captured[0]
        dropped = ("etag", "content-length") if listing or not single else ("content-length",)
        headers = [(key, value) for key, value in headers if key.lower() not in dropped]
        start_response(status, [*headers, ("Content-Length", str(len(data)))])
        return [data]

    return action


def start(
    folder: Path,
    server: ScimServer,
    recheck: dict[str, Change] | None = None,
    *,
    single: bool = False,
    **options: Any,
) -> Any:
    (folder / "nhirecon.yaml").write_text(estate_config(server, **options), encoding="utf-8")
    planted = seed_estate(server)
    ids = {name: user["id"] for name, user in planted.items()}
    server.add_group("vpn", [ids[name] for name in EXPECTED_ACTIONS])
    changes = {ids[name]: change for name, change in (recheck or {}).items()}
    server.faults.add(versionless(changes, single=single), method="GET", path=r"/Users", times=None)
    return ids


def renamed(resource: dict[str, Any]) -> None:
    resource["displayName"] = "Robert Baker (on leave, keep)"


def signed_in(resource: dict[str, Any]) -> None:
    resource.setdefault(NHI, {})["lastLoginAt"] = "2026-11-27T09:00:00Z"


def unreadable(resource: dict[str, Any]) -> None:
    resource["meta"]["created"] = "yesterday"


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"compare": "[department, groups]"},
        # the target keeps the accounts in a group, which /Groups names (not the user)
        {
            "compare": "[department, groups]",
            "target_options": "where: {groups: [vpn]}",
            "policy": "max_action_percent: 100",
        },
        # a version on the read of one account only
        {"single": True},
    ],
    ids=["plain", "groups-compared", "where-groups", "version-on-single-reads"],
)
def test_unchanged_accounts_are_written_as_planned(folder: Path, options: dict[str, Any]) -> None:
    """Their groups come from ``/Groups`` as in the pull, though a user read on its own
    lists none."""
    with running() as server:
        start(folder, server, **options)
        result = apply_audit(folder)
        assert result.count(Outcome.DONE) == len(EXPECTED_ACTIONS), result.results
        entries = by_name(audit_log(folder))
        assert {name: entries[name]["outcome"] for name in EXPECTED_ACTIONS} == dict.fromkeys(
            EXPECTED_ACTIONS, "done"
        )
        sent_versions = {"If-Match" in seen.headers for seen in sent(server, "PATCH")}
        assert sent_versions == {bool(options.get("single"))}


@pytest.mark.parametrize(
    ("name", "change", "said"),
    [
        ("bob", renamed, "changed since it was read (display_name differ); not written"),
        ("erin", signed_in, "changed since it was read (last_login_at differ); not written"),
        ("mallory", unreadable, "changed since it was read (it no longer reads: "),
    ],
)
def test_an_account_changed_after_the_audit_is_not_written(
    folder: Path, name: str, change: Change, said: str
) -> None:
    with running() as server:
        ids = start(folder, server, {name: change})
        result = apply_audit(folder)
        entries = by_name(audit_log(folder))
        assert entries[name]["outcome"] == "skipped"
        assert entries[name]["detail"].startswith(said), entries[name]["detail"]
        assert not [seen for seen in sent(server, "PATCH") if ids[name] in seen.path]
        assert server.users()[name]["active"] is True
        others = [other for other in EXPECTED_ACTIONS if other != name]
        assert all(entries[other]["outcome"] == "done" for other in others)
        assert result.count(Outcome.DONE) == len(others)


def test_apply_compares_with_its_own_fresh_audit(folder: Path) -> None:
    """A plan file keeps no account's fields: ``apply`` compares the re-check with the
    account as its fresh audit read it. A change before that audit is one the audit saw
    (the finding still holds: written); one after it is not written."""
    with running() as server:
        ids = start(folder, server)
        data = make_plan(folder)
        server.change_user(ids["olivia"], displayName="Olivia (renamed before apply)")
        server.faults.rules.clear()
        server.faults.add(
            versionless({ids["bob"]: renamed}), method="GET", path=r"/Users", times=None
        )
        result = apply_data(folder, data)
        entries = by_name(audit_log(folder))
        assert entries["olivia"]["outcome"] == "done"
        assert "olivia" not in server.users()
        assert entries["bob"]["outcome"] == "skipped"
        assert "display_name differ" in entries["bob"]["detail"]
        assert result.count(Outcome.SKIPPED) == 1


def test_a_change_is_caught_when_only_the_read_of_one_account_has_a_version(folder: Path) -> None:
    """The listing gives no versions, a user read on its own does (an ``ETag``): the audit
    read the account without one, so the re-check compares its fields all the same."""
    with running() as server:
        ids = start(folder, server, {"bob": renamed}, single=True)
        apply_audit(folder)
        entries = by_name(audit_log(folder))
        assert entries["bob"]["outcome"] == "skipped"
        assert "display_name differ" in entries["bob"]["detail"]
        assert not [seen for seen in sent(server, "PATCH") if ids["bob"] in seen.path]
        assert entries["erin"]["outcome"] == "done"
        # the version the re-check read is sent back, as ever
        assert all("If-Match" in seen.headers for seen in sent(server, "PATCH"))


def reordered(resource: dict[str, Any]) -> None:
    resource["emails"] = resource["emails"][::-1]


def test_the_order_of_several_values_is_no_change(folder: Path) -> None:
    """RFC 7643 §2.4: a multi-valued attribute has no order. Two addresses, neither
    flagged primary, read in the other order, are the same addresses."""
    with running() as server:
        ids = start(folder, server, {"bob": reordered})
        addresses = [{"value": "bob@example.com"}, {"value": "robert@example.com"}]
        server.change_user(ids["bob"], emails=addresses)
        apply_audit(folder)
        entries = by_name(audit_log(folder))
        assert entries["bob"]["outcome"] == "done", entries["bob"]["detail"]
        assert server.users()["bob"]["active"] is False


def audit_then_apply(folder: Path, between: Callable[[], None]) -> ApplyResult:
    """``audit --apply`` in-process, with ``between`` done after the audit's pull."""
    loaded = config.load(folder / "nhirecon.yaml")
    assert INSTANT is not None
    report = pipeline.audit(loaded, now=INSTANT)
    actions = remediation.prepare(loaded, report, previous_source=None)
    between()
    return remediation.apply_actions(loaded, actions, yes=True)


def test_groups_that_cannot_be_listed_fail_the_recheck_once_not_skip_it(folder: Path) -> None:
    """``/Groups``, which the re-check needs to map an account as the pull did, answers
    503 after the audit: each action fails (exit 5), naming the listing, and the listing
    is not tried again for every action."""
    with running() as server:
        start(folder, server, compare="[department, groups]")

        marks: list[int] = []

        def outage() -> None:
            marks.append(len(server.faults.seen))
            server.faults.add(answer(503), path="/Groups", times=None)

        result = audit_then_apply(folder, outage)
        assert result.exit_code is ExitCode.ACTIONS_FAILED
        entries = audit_log(folder)
        assert len(entries) == len(EXPECTED_ACTIONS)
        assert all(entry["outcome"] == "failed" for entry in entries)
        assert all(entry["detail"].startswith("re-check failed: GET ") for entry in entries)
        assert all("/Groups" in entry["detail"] for entry in entries)
        listed = [seen for seen in server.faults.seen[marks[0] :] if "/Groups" in seen.path]
        assert 1 <= len(listed) <= 6, "one listing, with its retries (retries: 5)"
        assert not sent(server, "PATCH") and not sent(server, "DELETE")


def spelt_otherwise(resource: dict[str, Any]) -> None:
    """The same account, spelt as another part of the service spells it: its own groups
    (the listing gave none), ``lastModified`` with ``+00:00`` for ``Z``, a number with a
    fraction, and ``meta`` capitalised (RFC 7643 §2.1: names are case-insensitive)."""
    resource["groups"] = [{"value": "g1", "display": "vpn-users"}]
    meta = resource.pop("meta")
    meta["lastModified"] = meta["lastModified"].replace("Z", "+00:00")
    resource["Meta"] = meta
    resource.setdefault(NHI, {})["costCode"] = 7.0


def test_what_reads_alike_is_no_change(folder: Path) -> None:
    with running() as server:
        ids = start(
            folder,
            server,
            dict.fromkeys(EXPECTED_ACTIONS, spelt_otherwise),
            extra_map=f'cost_code: "{NHI}:costCode"',
        )
        for name in EXPECTED_ACTIONS:
            extension = {**server.users()[name].get(NHI, {}), "costCode": "7"}
            server.change_user(ids[name], **{NHI: extension})
        result = apply_audit(folder)
        entries = by_name(audit_log(folder))
        assert {name: entries[name]["detail"] for name in EXPECTED_ACTIONS} == {
            name: "deleted" if action == "delete" else "disabled"
            for name, action in EXPECTED_ACTIONS.items()
        }
        assert result.count(Outcome.DONE) == len(EXPECTED_ACTIONS)
