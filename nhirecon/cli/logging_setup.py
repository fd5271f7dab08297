"""Log lines and tracebacks as a person reads them on stderr: one line per message, every
value in it inert (SPEC §6).

A log message may quote anything: a username, a server's error ``detail``, a URL. The
escaping happens here, where the text leaves for a person, and not at each call site.
"""

from __future__ import annotations

import logging
import traceback

from nhirecon.core.text import inert, inert_lines

FORMAT = "nhirecon: %(levelname)s: %(message)s"

_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


class InertFormatter(logging.Formatter):
    """``nhirecon: LEVEL: message``, the message on one line with control characters and
    line breaks shown escaped (:func:`nhirecon.core.text.inert`), so that no value can
    move the cursor, write the clipboard or forge a log line. A traceback, when a record
    carries one, follows as :func:`traceback_text`."""

    def __init__(self) -> None:
        super().__init__(FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        record.message = inert(record.getMessage())
        text = self.formatMessage(record)
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text}\n{traceback_text(record.exc_info[1])}"
        if record.stack_info:
            text = f"{text}\n{inert_lines(self.formatStack(record.stack_info))}"
        return text


def traceback_text(exc: BaseException) -> str:
    """``exc``'s traceback as Python prints it, causes first, made inert for a terminal:
    each frame line inert, and each exception's own text (which may quote data) on one
    inert line, so that its message cannot add a line of its own."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if current.__cause__ is not None:
            chain.append((current, _CAUSE))
            current = current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            chain.append((current, _CONTEXT))
            current = current.__context__
        else:
            chain.append((current, ""))
            current = None
    lines: list[str] = []
    for position, (link, relation) in enumerate(reversed(chain)):
        if position:  # how this one came from the one above
            lines.extend(["", relation, ""])
        if link.__traceback__ is not None:
            lines.append("Traceback (most recent call last):")
            frames = "".join(traceback.format_tb(link.__traceback__)).rstrip("\n")
            lines.append(inert_lines(frames))
        own = "".join(traceback.format_exception_only(type(link), link)).rstrip("\n")
        lines.append(inert(own))
    return "\n".join(lines)
