"""The ``aws-iam`` connector against moto in server mode, on 127.0.0.1.

moto's IAM and STS are served in this process (so the in-process backend can backdate a key
or a console sign-in, which no API can), behind a thin WSGI layer that pages the listings
the way AWS does (``MaxItems``, ``IsTruncated``, ``Marker``: moto returns every item at
once) and answers chosen calls itself: ``AccessDenied``, or an ``UpdateAccessKey`` that says
it succeeded and changes nothing. The command runs as a subprocess with dummy credentials
in its environment; outcomes are checked on moto's state, not on nhirecon's word.
"""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

boto3 = pytest.importorskip("boto3")
pytest.importorskip("moto.server")

from moto.iam.models import AccessKeyLastUsed, iam_backends  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: E402

from nhirecon import config  # noqa: E402
from nhirecon.connectors.aws_iam import AwsIamConnector  # noqa: E402
from nhirecon.core.model import Record  # noqa: E402
from nhirecon.errors import ConfigError, ConnectorError  # noqa: E402

from .certificates import self_signed  # noqa: E402
from .conftest import EXAMPLES, Run, default_audit_log  # noqa: E402

ACCOUNT = "123456789012"
"""moto's account for the dummy credentials."""
OTHER_ACCOUNT = "111111111111"
NS = "https://iam.amazonaws.com/doc/2010-05-08/"
ET.register_namespace("", NS)
LISTS = {"ListUsers": "Users", "ListAccessKeys": "AccessKeyMetadata", "ListUserTags": "Tags"}
"""The paged listings and the member that holds their items."""
DUMMY = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}
NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=200)
"""Older than the default ``credential_max_age_days`` (90)."""


# --- the stand-in ---------------------------------------------------------------------------


@dataclass
class Fault:
    """An answer given instead of moto's to the calls of ``action`` (for ``user`` only,
    when set)."""

    action: str
    status: int
    body: str
    user: str | None = None
    after: int = 0
    """How many of those calls get moto's answer first."""
    seen: int = 0


def error(code: str, message: str) -> str:
    return (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    )


def denied(action: str, user: str | None = None) -> Fault:
    message = (
        f"User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: iam:{action}"
    )
    return Fault(action, 403, error("AccessDenied", message), user)


def accepted_but_ignored(action: str) -> Fault:
    """A 200 with AWS's empty success answer, and nothing changed."""
    body = (
        f'<{action}Response xmlns="{NS}"><ResponseMetadata><RequestId>r-2</RequestId>'
        f"</ResponseMetadata></{action}Response>"
    )
    return Fault(action, 200, body)


@dataclass
class StandIn:
    """moto behind a WSGI layer that pages listings as AWS does and injects faults."""

    app: Any = field(default_factory=lambda: DomainDispatcherApplication(create_backend_app))
    page_size: dict[str, int] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    url: str = ""
    lag: int = 0
    """After an ``UpdateAccessKey``, how many of its user's next ``ListAccessKeys`` still
    show the keys as they were (IAM is eventually consistent)."""
    stale: dict[str, tuple[int, bytes, int]] = field(default_factory=dict)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        params = dict(parse_qsl(body.decode("utf-8", "replace")))
        action = params.get("Action", "")
        if action:
            self.calls.append(params)
        for fault in self.faults:
            if fault.action == action and fault.user in (None, params.get("UserName")):
                fault.seen += 1
                if fault.seen > fault.after:
                    return self._answer(start_response, fault.status, fault.body.encode())
        user = params.get("UserName", "")
        if action == "UpdateAccessKey" and self.lag:
            listing = f"Action=ListAccessKeys&UserName={user}&Version=2010-05-08".encode()
            before = {**environ, "wsgi.input": io.BytesIO(listing)}
            before["CONTENT_LENGTH"] = str(len(listing))
            self.stale[user] = (*self._inner(before), self.lag)
            environ["wsgi.input"] = io.BytesIO(body)
        if action == "ListAccessKeys" and self.stale.get(user, (0, b"", 0))[2] > 0:
            code, old, left = self.stale[user]
            self.stale[user] = (code, old, left - 1)
            return self._answer(start_response, code, old)
        size = self.page_size.get(action)
        if size is None:
            return self.app(environ, start_response)
        status, whole = self._inner(environ)
        return self._answer(start_response, status, _page(whole, LISTS[action], params, size))

    def _inner(self, environ: dict[str, Any]) -> tuple[int, bytes]:
        seen: list[str] = []

        def start(status: str, headers: Any, exc_info: Any = None) -> None:
            seen.append(status)

        chunks: Iterable[bytes] = self.app(environ, start)
        whole = b"".join(chunks)
        return int(seen[0].split()[0]), whole

    @staticmethod
    def _answer(start_response: Callable[..., Any], status: int, body: bytes) -> list[bytes]:
        reason = {200: "OK", 403: "Forbidden"}.get(status, "Error")
        headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
        start_response(f"{status} {reason}", headers)
        return [body]

    def actions(self, name: str) -> list[dict[str, str]]:
        return [call for call in self.calls if call.get("Action") == name]


def _page(whole: bytes, items: str, params: dict[str, str], size: int) -> bytes:
    """One page of a whole listing: ``size`` items from the ``Marker`` on (AWS may return
    fewer than ``MaxItems``), with ``IsTruncated`` and the next ``Marker``."""
    root = ET.fromstring(whole)
    result = next(iter(root))
    holder = result.find(f"{{{NS}}}{items}")
    assert holder is not None, whole
    members = list(holder)
    start = int(params.get("Marker") or 0)
    size = min(size, int(params.get("MaxItems") or size))
    for member in members:
        holder.remove(member)
    for member in members[start : start + size]:
        holder.append(member)
    for name in ("IsTruncated", "Marker"):
        for old in result.findall(f"{{{NS}}}{name}"):
            result.remove(old)
    more = start + size < len(members)
    ET.SubElement(result, f"{{{NS}}}IsTruncated").text = "true" if more else "false"
    if more:
        ET.SubElement(result, f"{{{NS}}}Marker").text = str(start + size)
    return ET.tostring(root)


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture(scope="module")
def _server() -> Iterator[StandIn]:
    stand_in = StandIn()
    server = make_server("127.0.0.1", 0, stand_in, threaded=True, request_handler=QuietHandler)
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    yield stand_in
    server.shutdown()
    thread.join()


@pytest.fixture
def aws(_server: StandIn, monkeypatch: pytest.MonkeyPatch) -> StandIn:
    """The stand-in, emptied, with dummy credentials in this process's environment."""
    for name, value in DUMMY.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    _server.faults.clear()
    _server.page_size.clear()
    _server.lag = 0
    _server.stale.clear()
    reset = urllib.request.Request(f"{_server.url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(reset, timeout=10) as answer:
        assert answer.status == 200
    _server.calls.clear()
    return _server


def client(aws: StandIn, service: str = "iam") -> Any:
    return boto3.client(service, endpoint_url=aws.url, region_name="us-east-1")


def backend() -> Any:
    return iam_backends[ACCOUNT]["global"]


def make_user(
    aws: StandIn,
    name: str,
    *,
    tags: dict[str, str] | None = None,
    password: bool = False,
    keys: int = 0,
) -> list[str]:
    """A user with its tags, console password and ``keys`` access keys; their ids."""
    iam = client(aws)
    iam.create_user(UserName=name, Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])
    if password:
        iam.create_login_profile(UserName=name, Password="Correct-Horse-9")
    return [iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"] for _ in range(keys)]


def backdate(key_id: str, *, created: datetime | None = None, used: datetime | None = None) -> None:
    """What no API can do: age a key, or say when it was last used (in-process backend)."""
    for user in backend().users.values():
        for key in user.access_keys:
            if key.access_key_id == key_id:
                if created is not None:
                    key.create_date = created.replace(tzinfo=None)
                if used is not None:
                    key.last_used = AccessKeyLastUsed(used.replace(tzinfo=None), "s3", "eu-west-1")
                return
    raise AssertionError(f"no key {key_id}")


def signed_in(user: str, when: datetime) -> None:
    backend().users[user].password_last_used = when.replace(tzinfo=None)


def status(aws: StandIn, user: str) -> dict[str, str]:
    """Key id → status, as moto holds them now."""
    keys = client(aws).list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {key["AccessKeyId"]: key["Status"] for key in keys}


# --- configs ----------------------------------------------------------------------------------

INVENTORY = """\
- {id: P1, username: alice, kind: human, status: active}
- {id: P2, username: bob, kind: human, status: terminated}
- {id: N1, username: svc-deploy, kind: service_account, owner: alice, status: active}
- {id: N2, username: svc-backup, kind: service_account, owner: alice, status: active}
- {id: N3, username: breakglass, kind: service_account, owner: alice, status: active}
"""


def write_config(
    folder: Path,
    aws: StandIn,
    *,
    records: str = "access_keys",
    options: str = "",
    remediate: str = "{stale-credential: disable, leaver: disable}",
    policy: str = "{max_action_percent: 50}",
) -> Path:
    (folder / "inventory.yaml").write_text(INVENTORY, encoding="utf-8")
    path = folder / "nhirecon.yaml"
    path.write_text(
        "version: 1\n"
        "source:\n"
        "  name: inventory\n"
        "  connector: yaml\n"
        "  path: inventory.yaml\n"
        "  map: {id: id}\n"
        "targets:\n"
        "  - name: aws\n"
        "    connector: aws-iam\n"
        f"    records: {records}\n"
        f"    endpoint_url: {aws.url}\n"
        f"{options}"
        "    correlate: [{account: username, identity: username}]\n"
        f"    remediate: {remediate}\n"
        "protected:\n"
        "  - {target: aws, account: breakglass}\n"
        f"policy: {policy}\n"
        "audit_log: actions.jsonl\n",
        encoding="utf-8",
    )
    return path


def pull(folder: Path, aws: StandIn, **kwargs: Any) -> dict[str, Record]:
    loaded = config.load(write_config(folder, aws, **kwargs))
    connector = loaded.targets[0].endpoint.open()
    assert isinstance(connector, AwsIamConnector)
    try:
        return {record.id: record for record in connector.records()}
    finally:
        connector.close()


def estate(aws: StandIn) -> dict[str, list[str]]:
    """Users and their keys, as the end-to-end tests use them:

    - alice (a person): a console password and a key used yesterday;
    - bob (has left): a fresh key;
    - svc-deploy (a service account with a console password): a stale key and a fresh one;
    - svc-backup: a stale key never used, and an old inactive one;
    - breakglass (protected): a stale key;
    - ghost (in no inventory): a fresh key.
    """
    keys = {
        "alice": make_user(aws, "alice", password=True, keys=1),
        "bob": make_user(aws, "bob", keys=1),
        "svc-deploy": make_user(
            aws, "svc-deploy", tags={"kind": "service_account"}, password=True, keys=2
        ),
        "svc-backup": make_user(aws, "svc-backup", tags={"kind": "service_account"}, keys=2),
        "breakglass": make_user(aws, "breakglass", tags={"kind": "service_account"}, keys=1),
        "ghost": make_user(aws, "ghost", keys=1),
    }
    backdate(keys["alice"][0], used=NOW - timedelta(days=1))
    backdate(keys["svc-deploy"][0], created=OLD, used=NOW - timedelta(days=10))
    backdate(keys["svc-backup"][0], created=OLD)
    backdate(keys["svc-backup"][1], created=OLD - timedelta(days=100))
    client(aws).update_access_key(
        UserName="svc-backup", AccessKeyId=keys["svc-backup"][1], Status="Inactive"
    )
    backdate(keys["breakglass"][0], created=OLD)
    aws.calls.clear()  # from here on, the calls are nhirecon's and the test's reads
    return keys


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def planned(path: Path) -> dict[str, str]:
    """Account id → action, from a plan file."""
    data = json.loads(path.read_text("utf-8"))
    return {action["account"]["id"]: action["action"] for action in data["actions"]}


# --- reading ----------------------------------------------------------------------------------


def test_users_are_read_with_their_password_tags_keys_and_last_use(
    tmp_path: Path, aws: StandIn
) -> None:
    keys = make_user(
        aws,
        "svc-deploy",
        tags={"Kind": "service_account", "team-owner": "alice", "owner": "not-this-one"},
        password=True,
        keys=2,
    )
    backdate(keys[0], created=OLD, used=NOW - timedelta(days=3))
    backdate(keys[1], created=NOW - timedelta(days=5))
    signed_in("svc-deploy", NOW - timedelta(days=20))
    make_user(aws, "alice", tags={"team-owner": "carol"})  # no password, no key
    make_user(aws, "carol", password=True, keys=1)  # a key never used
    signed_in("carol", NOW - timedelta(days=40))
    old_only = make_user(aws, "retired", keys=1)
    client(aws).update_access_key(UserName="retired", AccessKeyId=old_only[0], Status="Inactive")

    records = pull(tmp_path, aws, records="users", options="    owner_tag: team-owner\n")

    by_name = {record.username: record for record in records.values()}
    assert set(by_name) == {"svc-deploy", "alice", "carol", "retired"}
    deploy = by_name["svc-deploy"]
    assert deploy.id == backend().users["svc-deploy"].id  # UserId: stable across renames
    assert deploy.id != "svc-deploy"
    assert deploy.owner == "alice"  # the owner_tag, not the tag named owner
    assert deploy.kind == "service_account"  # kind_tag "kind" matches the key "Kind"
    assert deploy.password_enabled is True
    assert deploy.active
    assert deploy.last_interactive_login_at == NOW - timedelta(days=20)
    assert deploy.last_login_at == NOW - timedelta(days=3)  # the latest of every use
    assert deploy.credential_rotated_at == OLD  # the oldest active key
    assert deploy.credential_id is None
    alice = by_name["alice"]
    assert (alice.owner, alice.kind, alice.password_enabled) == ("carol", "human", False)
    assert not alice.active  # no console password and no active key: no access
    assert (alice.last_login_at, alice.credential_rotated_at) == (None, None)
    assert by_name["carol"].last_login_at == NOW - timedelta(days=40)  # the console counts
    assert not by_name["retired"].active
    assert deploy.location.startswith(f"aws-iam://{ACCOUNT}/users/svc-deploy")


def test_each_access_key_is_a_record_with_its_users_name_tags_and_password(
    tmp_path: Path, aws: StandIn
) -> None:
    used, fresh = make_user(
        aws, "svc-deploy", tags={"kind": "service_account", "owner": "alice"}, password=True, keys=2
    )
    backdate(used, created=OLD, used=NOW - timedelta(days=3))
    signed_in("svc-deploy", NOW - timedelta(days=20))
    (inactive,) = make_user(aws, "bob", keys=1)
    client(aws).update_access_key(UserName="bob", AccessKeyId=inactive, Status="Inactive")

    records = pull(tmp_path, aws)

    assert set(records) == {used, fresh, inactive}
    first = records[used]
    assert (first.credential_id, first.username, first.owner) == (used, "svc-deploy", "svc-deploy")
    assert first.kind == "service_account"
    assert first.active and first.status == "Active"
    assert first.credential_rotated_at == OLD == first.created_at
    assert first.last_login_at == NOW - timedelta(days=3)
    assert first.password_enabled is True
    assert first.last_interactive_login_at == NOW - timedelta(days=20)
    assert first.version == f"Active {OLD.isoformat().replace('+00:00', 'Z')}"
    assert records[fresh].last_login_at is None  # never used: no LastUsedDate
    assert records[inactive].kind == "human"  # untagged
    assert not records[inactive].active
    assert records[inactive].password_enabled is False
    assert first.attributes == {}  # nothing custom unless mapped


def test_every_page_of_every_listing_is_read(tmp_path: Path, aws: StandIn) -> None:
    names = [f"user-{number:02d}" for number in range(7)]
    for name in names:
        make_user(aws, name, tags={"kind": "bot", "owner": "alice", "cost": "9"}, keys=2)
    aws.page_size.update({"ListUsers": 2, "ListAccessKeys": 1, "ListUserTags": 1})

    records = pull(tmp_path, aws)

    assert len(records) == 14
    assert {record.username for record in records.values()} == set(names)
    assert all(record.kind == "bot" for record in records.values())
    assert [call.get("Marker") for call in aws.actions("ListUsers")] == [None, "2", "4", "6"]
    assert len(aws.actions("ListAccessKeys")) == 14  # two pages for each user
    assert len(aws.actions("ListUserTags")) == 21  # three pages for each user


def test_a_page_that_says_more_follow_without_a_marker_fails_the_pull(
    tmp_path: Path, aws: StandIn
) -> None:
    for name in ("a-user", "b-user", "c-user"):
        make_user(aws, name, keys=1)
    cut = (
        f'<ListUsersResponse xmlns="{NS}"><ListUsersResult><Users/>'
        "<IsTruncated>true</IsTruncated></ListUsersResult></ListUsersResponse>"
    )
    aws.faults.append(Fault("ListUsers", 200, cut))

    with pytest.raises(ConnectorError, match=r"iam:ListUsers: a page says more follow"):
        pull(tmp_path, aws)


def test_a_refused_call_in_the_middle_fails_the_pull_naming_it(
    tmp_path: Path, aws: StandIn
) -> None:
    for name in ("a-user", "b-user", "c-user"):
        make_user(aws, name, keys=1)
    aws.faults.append(denied("ListAccessKeys", user="b-user"))

    with pytest.raises(ConnectorError) as raised:
        pull(tmp_path, aws)
    message = str(raised.value)
    assert "iam:ListAccessKeys for user b-user failed: AccessDenied" in message
    assert "(HTTP 403)" in message


def test_a_refused_password_check_fails_the_pull_and_is_never_read_as_no_password(
    tmp_path: Path, aws: StandIn
) -> None:
    make_user(aws, "svc-deploy", tags={"kind": "service_account"}, password=True, keys=1)
    aws.faults.append(denied("GetLoginProfile"))

    with pytest.raises(ConnectorError, match=r"iam:GetLoginProfile for user svc-deploy failed"):
        pull(tmp_path, aws)


def test_users_are_never_written_their_findings_are_manual(tmp_path: Path, aws: StandIn) -> None:
    loaded = config.load(write_config(tmp_path, aws, records="users"))
    target = loaded.targets[0]
    assert AwsIamConnector.writes(target.endpoint.options) == frozenset()
    assert AwsIamConnector.writes({"records": "access_keys"}) == {"disable", "delete"}
    connector = target.endpoint.open()
    assert isinstance(connector, AwsIamConnector)
    assert connector.writer() is None


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("records", "roles", "'users' | 'access_keys'"),
        ("role_arn", "arn:aws:iam::12:user/x", "expected a role ARN"),
        ("endpoint_url", "http://iam.example.com", "plain http is refused"),
        ("region", "Europe", "expected a region"),
        ("owner_tag", " ", "non-empty"),
        ("access_key_id", "AKIA", "unknown key"),
    ],
)
def test_bad_options_are_config_errors(
    tmp_path: Path, aws: StandIn, option: str, value: str, said: str
) -> None:
    path = write_config(tmp_path, aws)
    lines = [line for line in path.read_text("utf-8").splitlines() if f" {option}: " not in line]
    lines.insert(lines.index("    connector: aws-iam") + 1, f"    {option}: {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", "utf-8")
    with pytest.raises(ConfigError, match=rf"targets\[0\]\.{option}: .*{re.escape(said)}"):
        config.load(path)


def test_a_missing_profile_is_a_config_error(tmp_path: Path, aws: StandIn) -> None:
    loaded = config.load(write_config(tmp_path, aws, options="    profile: no-such-profile\n"))
    with pytest.raises(ConfigError, match=r"targets\[0\]\.profile: AWS profile not found"):
        loaded.targets[0].endpoint.open()


def test_without_credentials_the_pull_is_a_config_error_naming_the_chain(
    tmp_path: Path, aws: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(aws, "alice", keys=1)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(ConfigError, match=r"targets\[0\]\.profile: no AWS credentials"):
        pull(tmp_path, aws)


def test_a_role_is_assumed_to_read_another_account(tmp_path: Path, aws: StandIn) -> None:
    make_user(aws, "here", keys=1)
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/nhirecon-audit"
    records = pull(tmp_path, aws, options=f"    role_arn: {role}\n")
    assert records == {}  # the other account has no users
    assert aws.actions("AssumeRole")[0]["RoleArn"] == role


# --- the command, end to end ------------------------------------------------------------------


def test_validate_connect_counts_the_records(tmp_path: Path, aws: StandIn, run: Run) -> None:
    estate(aws)
    path = write_config(tmp_path, aws)
    result = run("validate", "--connect", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert "aws (aws-iam): 8 records" in result.stdout


def test_without_boto3_the_connector_says_how_to_install_it(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    shadow = tmp_path / "shadow" / "boto3"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not here')\n", "utf-8")
    path = write_config(tmp_path, aws)
    result = run("validate", "-c", str(path), env={"PYTHONPATH": str(shadow.parent)})
    assert result.returncode == 2, result.stderr
    assert "targets[0].connector" in result.stderr
    assert "pip install 'nhirecon[aws]'" in result.stderr


def test_audit_reports_stale_keys_one_by_one_and_human_use(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws)
    result = run("audit", "-c", str(path), "-f", "json", "--no-history")
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    stale = {item["account"]["id"] for item in findings if item["kind"] == "stale-credential"}
    assert stale == {keys["svc-deploy"][0], keys["svc-backup"][0], keys["breakglass"][0]}
    human = {item["account"]["id"] for item in findings if item["kind"] == "human-use"}
    assert human == set(keys["svc-deploy"])  # a service account with a console password
    leaver = [item for item in findings if item["kind"] == "leaver"]
    assert [item["account"]["id"] for item in leaver] == keys["bob"]
    assert leaver[0]["remediation"] == "disable"
    guarded = [item for item in findings if item["account"]["id"] == keys["breakglass"][0]]
    assert {item["remediation"] for item in guarded} == {"none"}  # protected


def test_users_audit_calls_for_nothing_but_manual_work(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    estate(aws)
    path = write_config(tmp_path, aws, records="users")
    result = run("audit", "-c", str(path), "-f", "json", "--no-history")
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    by_kind = {(item["kind"], item["account"]["username"]): item for item in findings}
    assert ("human-use", "svc-deploy") in by_kind
    assert by_kind[("leaver", "bob")]["remediation"] == "manual"
    assert by_kind[("stale-credential", "svc-backup")]["remediation"] == "manual"
    assert "cannot write" in by_kind[("leaver", "bob")]["remediation_reason"]
    plan = run("plan", "-c", str(path), "-o", str(tmp_path / "plan.json"))
    assert plan.returncode == 0, plan.stderr
    assert planned(tmp_path / "plan.json") == {}


def test_plan_then_apply_deactivates_exactly_the_planned_keys(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws)
    before = {user: status(aws, user) for user in keys}

    made = run("plan", "-c", str(path), "-o", "plan.json")
    assert made.returncode == 0, made.stderr
    wanted = {keys["svc-deploy"][0], keys["svc-backup"][0], keys["bob"][0]}
    assert planned(tmp_path / "plan.json") == dict.fromkeys(wanted, "disable")
    plan = json.loads((tmp_path / "plan.json").read_text("utf-8"))
    assert plan["targets"][0]["url"] == f"aws-iam://{ACCOUNT}?endpoint_url={aws.url}"
    assert not aws.actions("UpdateAccessKey")  # planning only reads

    applied = run("apply", "plan.json", "-c", str(path), "--yes")
    assert applied.returncode == 0, applied.stderr
    for user, was in before.items():
        now = status(aws, user)
        for key_id, state in was.items():
            assert now[key_id] == ("Inactive" if key_id in wanted else state), (user, key_id)
    assert status(aws, "breakglass") == {keys["breakglass"][0]: "Active"}
    lines = audit_lines(tmp_path / "actions.jsonl")
    assert {line["account"]["id"] for line in lines} == wanted
    assert {(line["outcome"], line["observed"]) for line in lines} == {
        ("done", "verified inactive")
    }
    assert {line["http_status"] for line in lines} == {200}

    again = run("plan", "-c", str(path), "-o", "again.json")
    assert again.returncode == 0, again.stderr
    assert planned(tmp_path / "again.json") == {}


def test_keys_changed_between_plan_and_apply_are_done_or_skipped_with_the_reason(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws, remediate="{stale-credential: disable, leaver: delete}")
    assert run("plan", "-c", str(path), "-o", "plan.json").returncode == 0
    iam = client(aws)
    iam.delete_access_key(UserName="svc-deploy", AccessKeyId=keys["svc-deploy"][0])
    iam.update_access_key(
        UserName="svc-backup", AccessKeyId=keys["svc-backup"][0], Status="Inactive"
    )
    iam.update_access_key(UserName="bob", AccessKeyId=keys["bob"][0], Status="Inactive")

    aws.calls.clear()

    applied = run("apply", "plan.json", "-c", str(path), "--yes")

    assert applied.returncode == 0, applied.stderr
    assert not aws.actions("UpdateAccessKey") and not aws.actions("DeleteAccessKey")
    lines = {line["account"]["id"]: line for line in audit_lines(tmp_path / "actions.jsonl")}
    assert (lines[keys["svc-deploy"][0]]["outcome"], lines[keys["svc-deploy"][0]]["detail"]) == (
        "done",
        "already gone",
    )
    assert lines[keys["svc-backup"][0]]["detail"] == "already disabled"
    bob = lines[keys["bob"][0]]  # deactivated by someone: the planned delete no longer holds
    assert (bob["action"], bob["outcome"]) == ("delete", "skipped")
    assert "no longer holds" in bob["detail"]
    assert status(aws, "bob") == {keys["bob"][0]: "Inactive"}  # not deleted


def test_a_planned_delete_deletes_the_key(tmp_path: Path, aws: StandIn, run: Run) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws, remediate="{leaver: delete}")
    assert run("plan", "-c", str(path), "-o", "plan.json").returncode == 0
    applied = run("apply", "plan.json", "-c", str(path), "--yes")
    assert applied.returncode == 0, applied.stderr
    assert status(aws, "bob") == {}
    (line,) = audit_lines(tmp_path / "actions.jsonl")
    assert (line["account"]["id"], line["outcome"], line["observed"]) == (
        keys["bob"][0],
        "done",
        "verified gone",
    )


def test_thresholds_refuse_before_anything_is_written(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    estate(aws)
    path = write_config(tmp_path, aws, policy="{max_actions: 2, max_action_percent: 50}")
    made = run("plan", "-c", str(path), "-o", "plan.json")
    assert made.returncode == 4, made.stderr
    assert "exceed max_actions 2" in made.stderr
    applied = run("audit", "-c", str(path), "--apply", "--yes", "-q")
    assert applied.returncode == 4, applied.stderr
    share = write_config(tmp_path, aws, policy="{max_action_percent: 10}")
    assert run("audit", "-c", str(share), "--apply", "--yes", "-q").returncode == 4
    assert not aws.actions("UpdateAccessKey") and not aws.actions("DeleteAccessKey")


def test_apply_without_yes_and_no_terminal_refuses(tmp_path: Path, aws: StandIn, run: Run) -> None:
    estate(aws)
    path = write_config(tmp_path, aws)
    result = run("audit", "-c", str(path), "--apply", "-q", input="y\n")
    assert result.returncode == 4, result.stderr
    assert "--yes" in result.stderr
    assert not aws.actions("UpdateAccessKey")


def test_access_denied_during_the_pull_is_exit_3_and_no_report(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    estate(aws)
    aws.faults.append(denied("ListAccessKeys", user="svc-backup"))
    path = write_config(tmp_path, aws)
    result = run("audit", "-c", str(path), "-f", "json", "-o", "report.json")
    assert result.returncode == 3, result.stderr
    assert "iam:ListAccessKeys for user svc-backup failed: AccessDenied" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "report.json").exists()


def test_a_write_aws_accepts_but_does_not_apply_is_a_failed_action(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws, remediate="{leaver: disable}")
    assert run("plan", "-c", str(path), "-o", "plan.json").returncode == 0
    aws.faults.append(accepted_but_ignored("UpdateAccessKey"))

    applied = run("apply", "plan.json", "-c", str(path), "--yes")

    assert applied.returncode == 5, applied.stderr
    assert status(aws, "bob") == {keys["bob"][0]: "Active"}
    (line,) = audit_lines(tmp_path / "actions.jsonl")
    assert (line["outcome"], line["http_status"], line["observed"]) == (
        "failed",
        200,
        "not applied: still active",
    )


def test_a_plan_made_against_another_account_is_refused(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws)
    assert run("plan", "-c", str(path), "-o", "plan.json").returncode == 0
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/admin"
    granted = client(aws, "sts").assume_role(RoleArn=role, RoleSessionName="someone-else")
    other = granted["Credentials"]
    elsewhere = {
        "AWS_ACCESS_KEY_ID": other["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": other["SecretAccessKey"],
        "AWS_SESSION_TOKEN": other["SessionToken"],
    }

    applied = run("apply", "plan.json", "-c", str(path), "--yes", env=elsewhere)

    assert applied.returncode == 4, applied.stderr
    assert f"aws-iam://{ACCOUNT}" in applied.stderr
    assert f"aws-iam://{OTHER_ACCOUNT}" in applied.stderr
    assert not aws.actions("UpdateAccessKey")
    assert status(aws, "bob") == {keys["bob"][0]: "Active"}
    assert not default_audit_log(tmp_path / "state", path).exists()
    assert not (tmp_path / "actions.jsonl").exists()


def test_a_re_check_aws_refuses_is_a_failed_action_never_already_gone(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws, remediate="{leaver: disable}")
    assert run("plan", "-c", str(path), "-o", "plan.json").returncode == 0
    aws.faults.append(replace(denied("ListAccessKeys", user="bob"), after=1))  # after the audit

    applied = run("apply", "plan.json", "-c", str(path), "--yes")

    assert applied.returncode == 5, applied.stderr
    (line,) = audit_lines(tmp_path / "actions.jsonl")
    assert (line["outcome"], line["http_status"]) == ("failed", 403)
    assert "re-check failed" in line["detail"] and "AccessDenied" in line["detail"]
    assert not aws.actions("UpdateAccessKey")
    aws.faults.clear()
    assert status(aws, "bob") == {keys["bob"][0]: "Active"}


def test_a_write_whose_effect_shows_late_is_waited_for_and_done(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    keys = estate(aws)
    path = write_config(tmp_path, aws, remediate="{leaver: disable}")
    assert run("plan", "-c", str(path), "-o", "plan.json").returncode == 0
    aws.lag = 2

    applied = run("apply", "plan.json", "-c", str(path), "--yes")

    assert applied.returncode == 0, applied.stderr
    assert aws.stale["bob"][2] == 0  # both stale answers were served, then the real one
    (line,) = audit_lines(tmp_path / "actions.jsonl")
    assert (line["outcome"], line["observed"]) == ("done", "verified inactive")
    assert status(aws, "bob") == {keys["bob"][0]: "Inactive"}


@pytest.mark.parametrize("records", ["users", "access_keys"])
def test_an_account_where_nothing_was_ever_used_is_dormant_not_unevaluated(
    tmp_path: Path, aws: StandIn, run: Run, records: str
) -> None:
    """IAM says when each password and key was last used, ``null`` when never: with no
    use anywhere, the sign-in field is still provided, and old accounts are dormant."""
    make_user(aws, "alice", password=True, keys=1)
    make_user(aws, "bob", keys=1)
    path = write_config(tmp_path, aws, records=records)
    later = (NOW + timedelta(days=400)).isoformat()
    result = run("audit", "-c", str(path), "-f", "json", "--no-history", "--now", later)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    [target] = report["targets"]
    assert "dormant" not in {item["rule"] for item in target["not_evaluated"]}
    dormant = {
        item["account"]["username"] for item in report["findings"] if item["kind"] == "dormant"
    }
    assert dormant == {"alice", "bob"}


def _certificate() -> str:
    """A self-signed certificate, as IAM's UploadSigningCertificate takes it (PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    made = self_signed(ec.generate_private_key(ec.SECP256R1()), OLD, NOW + timedelta(days=365))
    return str(made.public_bytes(serialization.Encoding.PEM).decode())


def _ssh_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def test_an_active_ssh_key_or_signing_certificate_is_access(
    tmp_path: Path, aws: StandIn, run: Run
) -> None:
    """An SSH public key "can be used for authentication with a CodeCommit repository"
    while Active (IAM API Reference, UpdateSSHPublicKey): a leaver holding one still has
    access, and was read as inactive (no finding) when only passwords and access keys
    counted."""
    iam = client(aws)
    make_user(aws, "bob")  # terminated in the inventory; no password, no access key
    iam.upload_ssh_public_key(UserName="bob", SSHPublicKeyBody=_ssh_key())
    make_user(aws, "svc-deploy")
    iam.upload_signing_certificate(UserName="svc-deploy", CertificateBody=_certificate())
    make_user(aws, "svc-backup")
    uploaded = iam.upload_ssh_public_key(UserName="svc-backup", SSHPublicKeyBody=_ssh_key())
    iam.update_ssh_public_key(
        UserName="svc-backup",
        SSHPublicKeyId=uploaded["SSHPublicKey"]["SSHPublicKeyId"],
        Status="Inactive",
    )
    records = pull(tmp_path, aws, records="users")
    by_name = {record.username: record for record in records.values()}
    assert (by_name["bob"].active, by_name["svc-deploy"].active) == (True, True)
    assert not by_name["svc-backup"].active
    assert by_name["bob"].credential_rotated_at is not None  # the key's upload

    path = write_config(tmp_path, aws, records="users")
    result = run("audit", "-c", str(path), "-f", "json", "--no-history")
    assert result.returncode == 0, result.stderr
    kinds = {
        (item["kind"], item["account"]["username"])
        for item in json.loads(result.stdout)["findings"]
    }
    assert ("leaver", "bob") in kinds
    assert {call["UserName"] for call in aws.actions("ListSigningCertificates")} >= {"bob"}


@pytest.mark.parametrize("records", ["users", "access_keys"])
def test_the_example_read_only_policy_holds_every_call_an_audit_makes(
    tmp_path: Path, aws: StandIn, run: Run, records: str
) -> None:
    policy = json.loads((EXAMPLES / "aws-iam" / "policy-read-only.json").read_text())
    allowed = {action for each in policy["Statement"] for action in each["Action"]}
    make_user(aws, "alice", keys=1, password=True)
    path = write_config(tmp_path, aws, records=records)
    aws.calls.clear()  # the calls that made the estate
    result = run("audit", "-c", str(path), "-f", "json", "--no-history")
    assert result.returncode == 0, result.stderr
    called = {f"iam:{call['Action']}" for call in aws.calls if call.get("Version") == "2010-05-08"}
    assert called and called <= allowed, sorted(called - allowed)
