"""A canary secret in the environment, every command run against a real SCIM server (and run
to fail: refused credentials, 500s past the retries, dropped connections), with a server
that echoes the credentials it gets in its error messages. The canary must appear in no
output, report, plan, baseline, history database or audit log: the bytes of every file the
runs leave are searched."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .adversarial import basic, drop, echo, first, leaks, only, token_endpoint
from .conftest import Run
from .scim_server import (
    HR_CSV,
    NOW,
    TOKEN,
    TOKEN_ENV,
    ScimServer,
    answer,
    drop_after_commit,
    estate_config,
    seed_estate,
)

FORMATS = ("table", "json", "csv", "markdown", "html", "junit", "sarif")
SECRET_ENV = "NHIRECON_TEST_SECRET"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def canary(label: str) -> str:
    return f"canary-{label}-{secrets.token_hex(12)}"


@dataclass
class Setup:
    """How a target authenticates in one run: the config's ``auth``, the environment that
    holds the secret, and every form of the secret that must never be seen."""

    auth: str
    env: dict[str, str]
    wrong_env: dict[str, str]
    secrets: list[str] = field(default_factory=list)


def bearer(server: ScimServer) -> Setup:
    token, wrong = canary("token"), canary("wrong-token")
    first(server.faults, only(f"Bearer {token}"), times=None)
    return Setup(
        f"{{type: bearer, token_env: {TOKEN_ENV}}}",
        {TOKEN_ENV: token},
        {TOKEN_ENV: wrong},
        [token, wrong],
    )


def basic_auth(server: ScimServer) -> Setup:
    password, wrong = canary("password"), canary("wrong-password")
    first(server.faults, only(basic("svc-nhirecon", password)), times=None)
    return Setup(
        f"{{type: basic, username: svc-nhirecon, password_env: {SECRET_ENV}}}",
        {SECRET_ENV: password},
        {SECRET_ENV: wrong},
        [
            password,
            wrong,
            basic("svc-nhirecon", password).split()[1],
            basic("svc-nhirecon", wrong).split()[1],
        ],
    )


def oauth2(server: ScimServer) -> Setup:
    client_secret, wrong, access = canary("secret"), canary("wrong-secret"), canary("access")
    first(server.faults, only(f"Bearer {access}"), times=None)
    first(
        server.faults, token_endpoint("client-7", client_secret, access), path="^/token", times=None
    )
    token_url = server.url.removesuffix("/v2") + "/token"
    return Setup(
        f"{{type: oauth2, token_url: '{token_url}', client_id: client-7,"
        f" client_secret_env: {SECRET_ENV}, scope: scim}}",
        {SECRET_ENV: client_secret},
        {SECRET_ENV: wrong},
        [
            client_secret,
            wrong,
            access,
            basic("client-7", client_secret).split()[1],
            basic("client-7", wrong).split()[1],
        ],
    )


SETUPS = {"bearer": bearer, "basic": basic_auth, "oauth2": oauth2}


class Runs:
    """Runs commands with the secret in the environment and keeps everything they print."""

    def __init__(self, run: Run, setup: Setup) -> None:
        self.run = run
        self.setup = setup
        self.texts: list[tuple[str, str]] = []

    def __call__(self, *args: str, code: int, env: dict[str, str] | None = None) -> Any:
        result = self.run(*args, env={**self.setup.env, **(env or {})})
        name = " ".join(args)
        self.texts += [(f"stdout of {name}", result.stdout), (f"stderr of {name}", result.stderr)]
        assert result.returncode == code, f"{name}: {result.returncode}\n{result.stderr}"
        return result


def failing_runs(server: ScimServer, runs: Runs, *, every: bool) -> None:
    """Refused credentials, 500s until the retries run out, a dropped connection (``every``):
    each exits 3 naming what failed, and the credentials the server echoed come out
    scrubbed."""
    refused = runs("audit", "--now", NOW, "-v", code=3, env=runs.setup.wrong_env)
    assert "HTTP 401" in refused.stderr
    assert "[redacted]" in refused.stderr, "the echoed credentials were scrubbed, not dropped"

    rule = first(server.faults, echo(500), method="GET", path=r"/Users\?", times=None)
    failed = runs("audit", "--now", NOW, "-v", "-f", "json", "-o", "broken.json", code=3)
    drop(server.faults, rule)
    assert f"GET {server.url}/Users?" in failed.stderr
    assert "HTTP 500" in failed.stderr and "after 3 attempts" in failed.stderr
    assert "[redacted]" in failed.stderr
    if not every:
        return

    rule = first(server.faults, drop_after_commit(), method="GET", path=r"/Users\?", times=None)
    dropped = runs("plan", "--now", NOW, "-v", "-o", "dropped-plan.json", code=3)
    drop(server.faults, rule)
    assert f"GET {server.url}/Users?" in dropped.stderr


@pytest.mark.parametrize("kind", SETUPS)
def test_no_secret_in_any_output_or_file(
    kind: str, server: ScimServer, run: Run, tmp_path: Path
) -> None:
    planted = seed_estate(server)
    setup = SETUPS[kind](server)
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    text = estate_config(
        server, target_options="retries: 2", extra="audit_log: logs/actions.jsonl"
    ).replace(f"{{type: bearer, token_env: {TOKEN_ENV}}}", setup.auth)
    (tmp_path / "nhirecon.yaml").write_text(text, encoding="utf-8")
    runs = Runs(run, setup)

    validated = runs("validate", "--connect", "-v", code=0)
    assert "app (scim): 11 records" in validated.stdout
    reports = [arg for name in FORMATS for arg in ("-f", name, "-o", f"reports/{name}.out")]
    runs("audit", "--now", NOW, "-v", *reports, "-f", "json", code=0)
    runs("plan", "--now", NOW, "-v", "-o", "plan.json", code=0)

    bob = planted["bob"]["id"]
    rule = first(server.faults, echo(400), method="PATCH", path=bob, times=1)
    applied = runs("apply", "plan.json", "--now", NOW, "--yes", "-v", code=5)
    drop(server.faults, rule)
    log = [json.loads(line) for line in (tmp_path / "logs/actions.jsonl").read_text().splitlines()]
    (failed,) = [entry for entry in log if entry["outcome"] == "failed"]
    assert failed["account"]["id"] == bob and failed["http_status"] == 400
    assert "[redacted]" in failed["detail"], "the echoed credentials are scrubbed in the log"
    assert "HTTP 400" in applied.stderr + applied.stdout

    every = kind == "bearer"  # the other kinds send their secret through the same paths
    if every:
        runs("audit", "--now", NOW, "-v", "--apply", "--yes", code=0)
        assert server.users()["bob"]["active"] is False
        runs("explain", "app", "bob", "--now", NOW, "-v", code=0)
        runs("baseline", "--now", NOW, "-v", "-o", "baseline.json", code=0)
        runs("history", "-v", code=0)
        runs("history", "-v", "-f", "json", code=0)
    failing_runs(server, runs, every=every)

    assert (tmp_path / "history.db").stat().st_size > 0
    assert sorted(path.name for path in (tmp_path / "reports").iterdir()) == sorted(
        f"{name}.out" for name in FORMATS
    )
    found = leaks([*setup.secrets, TOKEN], runs.texts, tmp_path)
    assert found == [], "\n".join(found)
    token_requests = [seen for seen in server.faults.seen if seen.path == "/token"]
    assert (kind == "oauth2") == bool(token_requests)


def test_no_webhook_url_in_verbose_output(server: ScimServer, run: Run, tmp_path: Path) -> None:
    """A chat webhook's URL is its secret (``/services/T…/B…/<secret>``): it stays out of the
    debug lines of the HTTP library under ``-v`` too, delivered or refused."""
    seed_estate(server)
    hook = canary("hook")
    base = server.url.removesuffix("/v2")
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    text = estate_config(server, extra="notify: {webhook_url_env: NHIRECON_TEST_WEBHOOK}")
    (tmp_path / "nhirecon.yaml").write_text(text, encoding="utf-8")
    env = {TOKEN_ENV: TOKEN, "NHIRECON_TEST_WEBHOOK": f"{base}/services/T01/B02/{hook}"}
    texts = []
    for status in (200, 500):
        rule = first(server.faults, answer(status, body={}), method="POST", path=hook, times=1)
        result = run("audit", "--now", NOW, "-v", "-f", "json", "-o", "r.json", env=env)
        assert result.returncode == 0, result.stderr
        assert not [r for r in server.faults.rules if r is rule and r.times], "it was posted"
        texts += [(f"stdout {status}", result.stdout), (f"stderr {status}", result.stderr)]
        assert '"POST [redacted] HTTP/1.1"' in result.stderr, "still logged, scrubbed"
        assert ("summary posted" in result.stderr) == (status == 200)
    found = leaks([hook], texts, tmp_path)
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "shape",
    ["{}\ninjected", "{}\r\nX-Injected: yes", "{}\x07bell", "{}-\u20ac", "{}\tinner"],
)
def test_a_bearer_token_no_header_can_carry_is_refused_unseen(
    shape: str, server: ScimServer, run: Run, tmp_path: Path
) -> None:
    token = shape.format(canary("token"))
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    (tmp_path / "nhirecon.yaml").write_text(estate_config(server), encoding="utf-8")
    result = run("audit", "--now", NOW, "-v", env={TOKEN_ENV: token})
    assert result.returncode == 2, result.stderr
    assert f"targets[0].auth.token_env: environment variable {TOKEN_ENV}" in result.stderr
    assert "Traceback" not in result.stderr
    found = leaks([token.split()[0]], [("stderr", result.stderr)], tmp_path)
    assert found == [], found
    assert server.faults.seen == []


def test_an_access_token_no_header_can_carry_is_refused_unseen(
    server: ScimServer, run: Run, tmp_path: Path
) -> None:
    """A token endpoint that answers with header injection in its access token."""
    seed_estate(server)
    setup = oauth2(server)
    drop(server.faults, server.faults.rules[0])
    access = canary("access")
    hostile = f"{access}\r\nX-Injected: yes"
    first(
        server.faults,
        token_endpoint("client-7", setup.env[SECRET_ENV], hostile),
        path="^/token",
        times=None,
    )
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    text = estate_config(server).replace(f"{{type: bearer, token_env: {TOKEN_ENV}}}", setup.auth)
    (tmp_path / "nhirecon.yaml").write_text(text, encoding="utf-8")
    result = run("audit", "--now", NOW, "-v", env=setup.env)
    assert result.returncode == 3, result.stderr
    assert f"GET {server.url}/Users?" in result.stderr and "not sent" in result.stderr
    assert "Traceback" not in result.stderr
    assert leaks([access, *setup.secrets], [("stderr", result.stderr)], tmp_path) == []
    assert [seen.path for seen in server.faults.seen] == ["/token"]


# --- credentials a service echoes back ----------------------------------------------------


def fragments(secret: str, size: int = 8) -> list[str]:
    """Every run of ``size`` characters of a secret: none may be shown, even cut."""
    return [secret[start : start + size] for start in range(len(secret) - size + 1)]


def escaped(text: str) -> str:
    """``text`` as a JSON string with every character a ``\\uXXXX`` escape."""
    return '"' + "".join(f"\\u{ord(character):04x}" for character in text) + '"'


def echo_in_listing(*, escape: bool) -> Any:
    """A 200 listing whose users carry the request's ``Authorization`` value in their
    ``displayName`` and (compared, so shown in findings) department; ``escape``: written
    as JSON escapes, character by character, where no plain-text search finds it; else
    plain, in a body with no escape at all (``meta``, whose ETag has quotes, left out)."""

    def action(environ: dict[str, Any], start_response: Any, app: Any) -> Any:
        header = environ.get("HTTP_AUTHORIZATION", "(none)")
        environ["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
        captured: list[Any] = []
        body = json.loads(b"".join(app(environ, lambda *args: captured.append(args))))
        for resource in body.get("Resources", []):
            resource["displayName"] = "@@echo@@"
            resource[ENTERPRISE] = {"department": "@@echo@@"}
            if not escape:
                resource.pop("meta", None)
        value = escaped(f"echo {header}") if escape else json.dumps(f"echo {header}")
        data = json.dumps(body).replace('"@@echo@@"', value).encode()
        assert escape or b"\\" not in data
        start_response(captured[0][0], [("Content-Type", "application/scim+json")])
        return [data]

    return action


def padded(status: int, *, as_json: bool, escape: bool = False) -> Any:
    """An error whose detail quotes the request's ``Authorization`` value just before the
    point where a message is cut short (a few hundred characters in)."""

    def action(environ: dict[str, Any], start_response: Any, app: Any) -> Any:
        header = environ.get("HTTP_AUTHORIZATION", "(none)")
        detail = f"{'p' * 270} {header} was not accepted"  # cut 20-odd characters in
        body = json.dumps({"status": str(status), "detail": detail}) if as_json else detail
        if escape:
            body = body.replace(json.dumps(header)[1:-1], escaped(header)[1:-1])
        kind = "application/scim+json" if as_json else "text/plain"
        start_response(f"{status} Refused", [("Content-Type", kind)])
        return [body.encode()]

    return action


@pytest.mark.parametrize("kind", SETUPS)
def test_no_echoed_credential_in_any_output_or_file(
    kind: str, server: ScimServer, run: Run, tmp_path: Path
) -> None:
    """The whole ``audit``, with ``-v`` and every format to files and stdout, against a
    service that echoes the credentials it gets into a 200 listing and into error details:
    no 8 characters of any secret in a row appear anywhere."""
    seed_estate(server)
    setup = SETUPS[kind](server)
    (tmp_path / "hr.csv").write_text(HR_CSV, encoding="utf-8")
    text = estate_config(server, target_options="retries: 1").replace(
        f"{{type: bearer, token_env: {TOKEN_ENV}}}", setup.auth
    )
    (tmp_path / "nhirecon.yaml").write_text(text, encoding="utf-8")
    runs = Runs(run, setup)

    for escape in (False, True):
        echo = echo_in_listing(escape=escape)
        rule = first(server.faults, echo, method="GET", path=r"/Users\?", times=None)
        folder = f"reports-{'escaped' if escape else 'plain'}"
        reports = [arg for name in FORMATS for arg in ("-f", name, "-o", f"{folder}/{name}.out")]
        runs("audit", "--now", NOW, "-v", *reports, "-f", "json", code=0)
        report = json.loads((tmp_path / folder / "json.out").read_text())
        assert "[redacted]" in json.dumps(report["findings"]), "scrubbed, not dropped"
        runs("audit", "--now", NOW, "-v", "-f", "table", code=0)
        drop(server.faults, rule)

    for status, as_json, escape in ((400, True, True), (500, False, False), (401, True, False)):
        action = padded(status, as_json=as_json, escape=escape)
        rule = first(server.faults, action, method="GET", path=r"/Users\?", times=None)
        failed = runs("audit", "--now", NOW, "-v", "-f", "json", "-o", f"r{status}.json", code=3)
        drop(server.faults, rule)
        assert f"HTTP {status}" in failed.stderr and "pppp" in failed.stderr

    needles = [piece for secret in [*setup.secrets, TOKEN] for piece in fragments(secret)]
    # the config the test wrote holds no secret: words it shares with one (``password``
    # of ``password_env``) are not secret material
    needles = [needle for needle in needles if needle not in text]
    found = leaks(needles, runs.texts, tmp_path)
    assert found == [], "\n".join(found[:20])
