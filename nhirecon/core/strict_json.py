"""JSON read as RFC 8259 defines it: :func:`loads` is :func:`json.loads` without the
extensions Python's decoder accepts, ``NaN``, ``Infinity`` and ``-Infinity``, and without
reading a number beyond a 64-bit float (``1e400``) as infinity.

RFC 8259 §6: "Numeric values that cannot be represented in the grammar below (such as
Infinity and NaN) are not permitted." A serializer that writes them (Python's own
``json.dumps`` of a float ``nan``, as a spreadsheet's empty cell becomes) means a value
that is missing or not a number; read as Python reads it, it would become the text
``nan`` in a record, compared and reported as if someone had typed it. It is refused
instead, at its line and column, as any other text that is not JSON. So is a number too
large for a 64-bit float, which RFC 8259 §6 leaves to the implementation's limits and
Python would read as infinity.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

NOT_JSON: Final = "is not JSON (RFC 8259 §6 allows no NaN or Infinity; write null for no value)"
TOO_LARGE: Final = "is a number too large to read (beyond a 64-bit float, RFC 8259 §6)"


class _Refused(ValueError):
    """Raised from inside the decoder at a value it must not read (it gives no offset):
    ``args`` are the value's text and why."""


def _constant(name: str) -> Any:
    raise _Refused(name, NOT_JSON)


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent, as :func:`json.loads` reads it, unless it
    is beyond a 64-bit float, which Python reads as infinity: ``1e400`` would become the
    text ``inf`` in a record."""
    value = float(text)
    if math.isinf(value):
        raise _Refused(text, TOO_LARGE)
    return value


_DECODER: Final = json.JSONDecoder(parse_constant=_constant, parse_float=_finite)
_STRING: Final = r'"(?:[^"\\]++|\\.)*+"?'
"""A JSON string, stepped over whole while looking for a refused value outside strings;
one left open runs to the end. Possessive, so that nothing is tried twice: the search
stays linear in the text, whatever runs of quotes and backslashes it holds."""


def loads(document: str | bytes | bytearray) -> Any:
    """``document`` parsed as :func:`json.loads` parses it (bytes decoded as it decodes them),
    except that ``NaN``, ``Infinity``, ``-Infinity`` and numbers beyond a 64-bit float
    (which Python reads as infinity) are refused.

    Raises :class:`json.JSONDecodeError` where :func:`json.loads` does, and at such a
    constant (with its line and column); :class:`UnicodeDecodeError` for bytes that are
    not text; :class:`ValueError` for an integer of more digits than Python converts;
    :class:`RecursionError` for nesting deeper than the interpreter's limit."""
    if isinstance(document, str):
        if document.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", document, 0)
        text = document
    else:
        text = document.decode(json.detect_encoding(document), "surrogatepass")
    try:
        return _DECODER.decode(text)
    except _Refused as exc:
        value, why = exc.args
        raise json.JSONDecodeError(f"{value} {why}", text, _offset(text, value)) from None


def _offset(text: str, value: str) -> int:
    """Where the decoder met ``value``: its first occurrence outside a string that is not
    the tail of a longer number. The decoder reads in order and stopped at the first value
    it refused; all the text before it is JSON it read, in which a constant can only
    stand where it is a value, and a number only whole (it reads the longest it can)."""
    token = re.compile(f"{_STRING}|(?<![-+.0-9eE])({re.escape(value)})", re.DOTALL)
    for found in token.finditer(text):
        if found.group(1):
            return found.start(1)
    return 0
