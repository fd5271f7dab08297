"""Values from other systems, made inert for a person's terminal (SPEC §6)."""

from __future__ import annotations


def inert(text: str) -> str:
    """``text`` on one line, inert on a terminal: control characters, lone surrogates and
    other invisible characters are shown escaped (``\\x1b``, ``\\n``, ``\\ud800``), so that
    no value can move the cursor, write the clipboard, hide a link or forge a line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
