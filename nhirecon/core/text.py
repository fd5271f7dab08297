"""Values from other systems, made inert for a person's terminal (SPEC §6)."""

from __future__ import annotations


def inert(text: str) -> str:
    """``text`` on one line, inert on a terminal: control characters, lone surrogates and
    other invisible characters are shown escaped (``\\x1b``, ``\\n``, ``\\ud800``), so that
    no value can move the cursor, write the clipboard, hide a link or forge a line.

    Every character ``str.isprintable`` refuses is escaped: the C0 and C1 controls (ESC,
    BEL, ``\\r``, ``\\n``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``), the line and
    paragraph separators ``\\u2028`` and ``\\u2029``, format characters (zero-width spaces,
    bidirectional overrides) and lone surrogates. The result never holds a line break.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def inert_lines(text: str) -> str:
    """``text`` whose lines are our own (a traceback), each line made :func:`inert`: only
    ``\\n`` separates lines; every other line-breaking character is shown escaped."""
    return "\n".join(inert(line) for line in text.split("\n"))
