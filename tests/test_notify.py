"""The webhook summary: its text, delivery, failures that never change the exit code."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
import responses

from nhirecon import config
from nhirecon.core.report import Report
from nhirecon.errors import ConfigError
from nhirecon.http import webhook
from nhirecon.http.webhook import Notify

from .conftest import Run
from .nightly import NIGHTS, copy_estate, night, set_crm, third_night

SECRET = "https://hooks.example.com/services/T000/B000/s3cr3t-t0ken"
VARIABLE = "NHIRECON_TEST_WEBHOOK"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return third_night(copy_estate(tmp_path_factory.mktemp("notify") / "estate"))


def settings(**changes: Any) -> Notify:
    return dataclasses.replace(
        Notify(webhook_url_env=VARIABLE, report_link="https://reports.example.com/nightly.html"),
        **changes,
    )


def test_the_message_says_what_changed(report: Report) -> None:
    text = webhook.message(report, "https://reports.example.com/nightly.html")["text"]
    lines = text.splitlines()
    assert lines[0] == (
        "*nhirecon* audit of hr at 2026-11-30T02:00:00Z: 9 findings (2 new, 1 resolved), 1 excepted"
    )
    assert lines[1] == "Gate FAILED: orphan,jit-orphan&gt;0 (count 2)"
    assert lines[2].startswith("By kind: jit-orphan 1, orphan 1, leaver 1")
    assert (
        lines[3:7]
        == [
            "New:",
            "```",
            "• high orphan in crm: old-admin",
            "• medium dormant in crm: old-admin",
            "```",
        ][:4]
    )
    assert lines[7] == "```"
    assert lines[-1] == "Report: https://reports.example.com/nightly.html"


def test_text_from_other_systems_cannot_inject_slack_markup(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    first = night(estate, NIGHTS[0])
    text = webhook.message(first, None)["text"]
    assert "&lt;b&gt;mallory&lt;/b&gt;&amp;\"x'" in text
    assert "<b>" not in text and "Report:" not in text


FORGERIES = [
    "x\n\n*FAKE: gate passed*",
    "https://evil.example/phish",
    "a```\n*b*```",
    "<!channel> _c_ ~d~ `e`",
    "f\u2028g\rh",
]


def test_a_name_forges_no_line_link_or_mark(report: Report) -> None:
    """Names from other systems stand in one code block, each on its own line: no line
    break of theirs starts a line, no run of backticks closes the block, and mrkdwn marks,
    mentions and bare URLs inside it are text (Slack has no escape for them elsewhere)."""
    new = [item for item in report.findings if (seen := report.seen(item)) and seen.new]
    forged = [
        dataclasses.replace(
            item,
            account=dataclasses.replace(item.account, username=name, email=None)
            if item.account
            else None,
        )
        for item, name in zip(new * len(FORGERIES), FORGERIES, strict=False)
    ]
    text = webhook.message(dataclasses.replace(report, findings=tuple(forged)), None)["text"]
    assert text.count("```") == 2
    head, block, tail = text.split("```")
    assert head.endswith("New:\n") and not tail
    assert block.startswith("\n") and block.endswith("\n")  # each fence on its own line
    listed = block[1:-1].split("\n")
    assert len(listed) == len(forged) and all(line.startswith("• ") for line in listed)
    assert "x\\n\\n*FAKE: gate passed*" in listed[0]
    assert "https://evil.example/phish" not in head + tail
    assert "&lt;!channel&gt;" in block and "<" not in text


@responses.activate
def test_posts_json_to_the_url_from_the_environment(report: Report) -> None:
    responses.post(SECRET, status=200, body="ok")
    assert webhook.send(settings(), report, {VARIABLE: SECRET}) is True
    assert len(responses.calls) == 1
    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body or b"{}") == webhook.message(report, settings().report_link)


@responses.activate
@pytest.mark.parametrize(
    "failure",
    [
        {"status": 500, "body": "internal error"},
        {"status": 404, "body": "no_service"},
        {"body": requests.ConnectionError(f"Max retries exceeded with url: {SECRET}")},
        {"body": requests.Timeout(f"timed out: {SECRET}")},
    ],
    ids=["500", "404", "connection", "timeout"],
)
def test_a_failure_is_logged_without_the_secret(
    report: Report, caplog: pytest.LogCaptureFixture, failure: dict[str, Any]
) -> None:
    responses.post(SECRET, **failure)
    with caplog.at_level(logging.INFO, logger="nhirecon"):
        assert webhook.send(settings(), report, {VARIABLE: SECRET}) is False
    assert VARIABLE in caplog.text and "no message sent" in caplog.text
    assert "s3cr3t" not in caplog.text and "hooks.example.com" not in caplog.text


@responses.activate
def test_a_missing_variable_sends_nothing(report: Report, caplog: pytest.LogCaptureFixture) -> None:
    assert webhook.send(settings(), report, {}) is False
    assert len(responses.calls) == 0
    assert f"environment variable {VARIABLE} is not set" in caplog.text


@responses.activate
def test_when_decides_whether_there_is_anything_to_say(tmp_path: Path) -> None:
    responses.post(SECRET, status=200)
    estate = copy_estate(tmp_path / "estate")
    night(estate, NIGHTS[0])
    quiet_night = night(estate, NIGHTS[1])
    environment = {VARIABLE: SECRET}
    assert webhook.send(settings(when="changes"), quiet_night, environment) is False
    passing = dataclasses.replace(
        quiet_night, gate=dataclasses.replace(quiet_night.gate, outcomes=())
    )
    assert webhook.send(settings(when="failed"), passing, environment) is False
    assert len(responses.calls) == 0
    set_crm(estate, old_admin=False, eve=False)
    changed = night(estate, NIGHTS[2])
    assert webhook.send(settings(when="changes"), changed, environment) is True
    assert webhook.send(settings(when="failed"), quiet_night, environment) is True
    assert len(responses.calls) == 2


class _Hook(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/s3cr3t-t0ken", handler
    finally:
        server.shutdown()
        server.server_close()


def _with_notify(estate: Path) -> Path:
    config = estate / "nhirecon.yaml"
    config.write_text(
        config.read_text()
        + f"notify:\n  webhook_url_env: {VARIABLE}\n  report_link: /srv/reports/nightly.html\n"
    )
    return config


def test_the_command_posts_after_the_audit(
    run: Run, tmp_path: Path, hook: tuple[str, type[_Hook]]
) -> None:
    url, handler = hook
    config = _with_notify(copy_estate(tmp_path / "estate"))
    result = run("audit", "-c", str(config), "--now", NIGHTS[0], "-q", env={VARIABLE: url})
    assert result.returncode == 1, result.stderr
    assert [item["path"] for item in handler.received] == ["/hooks/s3cr3t-t0ken"]
    text = handler.received[0]["body"]["text"]
    assert "9 findings (9 new, 0 resolved)" in text
    assert text.endswith("Report: /srv/reports/nightly.html")
    skipped = run(
        "audit", "-c", str(config), "--now", NIGHTS[1], "-q", "--no-notify", env={VARIABLE: url}
    )
    assert skipped.returncode == 1 and len(handler.received) == 1


def test_a_failed_post_does_not_change_the_exit_code(
    run: Run, tmp_path: Path, hook: tuple[str, type[_Hook]]
) -> None:
    url, handler = hook
    handler.status = 500
    config = _with_notify(copy_estate(tmp_path / "estate"))
    result = run("audit", "-c", str(config), "--now", NIGHTS[0], "-q", env={VARIABLE: url})
    assert result.returncode == 1
    assert len(handler.received) == 1
    assert "answered HTTP 500" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout
    unreachable = "http://127.0.0.1:9/hooks/s3cr3t-t0ken"
    result = run(
        "audit",
        "-c",
        str(config),
        "--now",
        NIGHTS[0],
        "-q",
        "--fail-on",
        "any>100",
        env={VARIABLE: unreachable},
    )
    assert result.returncode == 0
    assert "could not reach the webhook" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("block", "words", "line"),
    [
        ("notify:\n  webhook_url: https://x\n", "notify.webhook_url: unknown key", 32),
        ("notify:\n  report_link: x\n", "notify: missing required key 'webhook_url_env'", 31),
        ("notify:\n  webhook_url_env: X\n  when: sometimes\n", "notify.when: expected one of", 33),
    ],
)
def test_the_config_key_is_checked(tmp_path: Path, block: str, words: str, line: int) -> None:
    estate = copy_estate(tmp_path / "estate")
    path = estate / "nhirecon.yaml"
    path.write_text(path.read_text() + block)
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert words in str(caught.value) and caught.value.exit_code == 2
    assert f"{path}:{line}:" in str(caught.value)


def test_a_valid_block_is_read(tmp_path: Path) -> None:
    path = copy_estate(tmp_path / "estate") / "nhirecon.yaml"
    assert config.load(path).notify is None
    path.write_text(
        path.read_text() + "notify: {webhook_url_env: HOOK, when: failed, timeout_seconds: 3}\n"
    )
    assert config.load(path).notify == Notify("HOOK", None, "failed", 3.0)


def test_a_redirect_is_never_followed(
    report: Report, hook: tuple[str, type[_Hook]], caplog: pytest.LogCaptureFixture
) -> None:
    elsewhere, received = hook

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", elsewhere)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks/x"
        assert webhook.send(settings(), report, {VARIABLE: url}) is False
    finally:
        server.shutdown()
        server.server_close()
    assert received.received == [], "the summary is never re-posted where a redirect points"
    assert "answered HTTP 307" in caplog.text
