"""A short summary posted to a chat webhook after an audit (Slack-compatible JSON).

The webhook URL is a secret: it is read from the environment variable the config names,
and it never appears in a log line, an error message or the posted text. A failure to
notify is logged as an error (shown even with ``--quiet``) and never changes the audit's
exit code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from nhirecon.core.model import FindingKind
from nhirecon.core.report import Report
from nhirecon.core.text import inert
from nhirecon.core.values import format_datetime

if TYPE_CHECKING:
    import requests

log = logging.getLogger("nhirecon.http.webhook")

MAX_LISTED: Final = 10
"""New findings listed by name; the rest are counted."""
HTTP_LOGGERS: Final = ("urllib3.connectionpool", "urllib3.util.retry")
"""Where urllib3 logs each request's path and query (the webhook's secret) under ``-v``."""


class _Scrub(logging.Filter):
    """Replaces the webhook URL's path and query in the HTTP library's log lines."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        tail = parts.path + (f"?{parts.query}" if parts.query else "")
        self.secrets = [text for text in (url, tail, parts.path) if len(text) > 1]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        record.msg, record.args = text, None
        return True


@dataclass(frozen=True)
class Notify:
    """The optional ``notify:`` key: post a short summary to a chat webhook after audit."""

    webhook_url_env: str
    """The environment variable holding the webhook URL (a secret: never in the file)."""
    report_link: str | None = None
    """A link or path to the report, shown as given."""
    when: str = "always"
    """``always``; ``changes`` (new or resolved findings); ``failed`` (the gate failed)."""
    timeout_seconds: float = 10.0


def _slack(text: str) -> str:
    """Slack's own escaping for message text (``&``, ``<`` and ``>`` only), on one line
    (:func:`~nhirecon.core.text.inert`: a line break is shown as ``\\n``)."""
    return inert(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FENCE: Final = "```"
"""Opens and closes the block that lists the new findings, each fence on a line of its own
(so that Markdown services read it as Slack does)."""


def _in_block(text: str) -> str:
    """``text`` for a line of the findings' block: :func:`_slack`, and a zero-width space
    after each backtick, so that no value can close the block. In a block, mrkdwn marks
    (``*bold*``, ``_``, ``~``), links and bare URLs are shown as text; Slack has no escape
    for them anywhere else ("Formatting text for app surfaces", Slack API docs)."""
    return _slack(text).replace("`", "`\u200b")


def wanted(settings: Notify, report: Report) -> bool:
    """Whether this run is worth a message under ``notify.when``."""
    if settings.when == "failed":
        return not report.gate.passed
    if settings.when == "changes":
        if report.history is None:
            return True
        new = any((seen := report.seen(item)) and seen.new for item in report.findings)
        return new or bool(report.history.resolved)
    return True


def message(report: Report, link: str | None) -> dict[str, Any]:
    """The JSON body: one ``text`` field in Slack's mrkdwn (pure: same report, same text)."""
    total = len(report.findings)
    verdict = "passed" if report.gate.passed else "FAILED"
    head = (
        f"*nhirecon* audit of {_slack(report.source_name)} at "
        f"{format_datetime(report.generated_at)}: {total} finding{'s' if total != 1 else ''}"
    )
    new_findings = [
        item for item in report.findings if (seen := report.seen(item)) is not None and seen.new
    ]
    if report.history is not None:
        head += f" ({len(new_findings)} new, {len(report.history.resolved)} resolved)"
    head += f", {len(report.excepted)} excepted"
    if report.baseline is not None:
        head += f", {len(report.baseline.accepted)} baselined"
    lines = [head]
    if report.gate.outcomes:
        failed = [o for o in report.gate.outcomes if not o.passed]
        detail = ", ".join(f"{o.rule.text} (count {o.count})" for o in failed)
        lines.append(f"Gate {verdict}" + (f": {_slack(detail)}" if detail else ""))
    counts: Mapping[FindingKind, int] = {
        kind: sum(1 for item in report.findings if item.kind is kind) for kind in FindingKind
    }
    by_kind = ", ".join(f"{kind.value} {count}" for kind, count in counts.items() if count)
    if by_kind:
        lines.append(f"By kind: {by_kind}")
    if new_findings:
        lines.append("New:")
        listed = []
        for item in new_findings[:MAX_LISTED]:
            subject = item.account or item.identity
            name = subject.label if subject else item.fingerprint
            listed.append(
                f"• {item.severity.value} {item.kind.value} in {_in_block(item.target)}: "
                f"{_in_block(name)}"
            )
        lines += [FENCE, *listed, FENCE]  # names come from other systems
        if len(new_findings) > MAX_LISTED:
            lines.append(f"… and {len(new_findings) - MAX_LISTED} more")
    if link:
        lines.append(f"Report: {_slack(link)}")
    return {"text": "\n".join(lines)}


def send(
    settings: Notify,
    report: Report,
    environ: Mapping[str, str],
    session: requests.Session | None = None,
) -> bool:
    """Post the summary; return whether it was delivered. Never raises for HTTP trouble."""
    if not wanted(settings, report):
        log.info("notify: nothing to say under when=%s", settings.when)
        return False
    url = environ.get(settings.webhook_url_env, "").strip()
    if not url:
        log.error(
            "notify: environment variable %s is not set; no message sent",
            settings.webhook_url_env,
        )
        return False
    import requests  # here, not above: reading a config that names a webhook needs none of it

    body = message(report, settings.report_link)
    http = session or requests.Session()
    scrub = _Scrub(url)
    for name in HTTP_LOGGERS:
        logging.getLogger(name).addFilter(scrub)
    try:
        # Never followed: a redirect would re-post the summary wherever the answer points.
        response = http.post(
            url, json=body, timeout=settings.timeout_seconds, allow_redirects=False
        )
    except requests.RequestException as exc:
        # The exception's text holds the URL, which is a secret: name only its type.
        log.error(
            "notify: could not reach the webhook in %s (%s); no message sent",
            settings.webhook_url_env,
            type(exc).__name__,
        )
        return False
    finally:
        for name in HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(scrub)
        if session is None:
            http.close()
    if not 200 <= response.status_code < 300:
        log.error(
            "notify: the webhook in %s answered HTTP %d; no message sent",
            settings.webhook_url_env,
            response.status_code,
        )
        return False
    log.info("notify: summary posted")
    return True
