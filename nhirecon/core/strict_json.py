"""JSON read as RFC 8259 defines it: :func:`loads` is :func:`json.loads` without the
extensions Python's decoder accepts, ``NaN``, ``Infinity`` and ``-Infinity``.

RFC 8259 §6: "Numeric values that cannot be represented in the grammar below (such as
Infinity and NaN) are not permitted." A serializer that writes them (Python's own
``json.dumps`` of a float ``nan``, as a spreadsheet's empty cell becomes) means a value
that is missing or not a number; read as Python reads it, it would become the text
``nan`` in a record, compared and reported as if someone had typed it. It is refused
instead, at its line and column, as any other text that is not JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

NOT_JSON: Final = "is not JSON (RFC 8259 §6 allows no NaN or Infinity; write null for no value)"


class _Constant(ValueError):
    """Raised from inside the decoder at a ``NaN`` or ``Infinity`` (it gives no offset)."""


def _refuse(name: str) -> Any:
    raise _Constant(name)


_DECODER: Final = json.JSONDecoder(parse_constant=_refuse)
_TOKEN: Final = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)')
"""A string (stepped over whole) or one of the constants outside strings."""


def loads(document: str | bytes | bytearray) -> Any:
    """``document`` parsed as :func:`json.loads` parses it (bytes decoded as it decodes them),
    except that ``NaN``, ``Infinity`` and ``-Infinity`` are refused.

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
    except _Constant as exc:
        raise json.JSONDecodeError(f"{exc} {NOT_JSON}", text, _offset(text)) from None


def _offset(text: str) -> int:
    """Where the first constant outside a string is: the one the decoder met first, since
    it reads in order (only looked for once it has met one)."""
    for found in _TOKEN.finditer(text):
        if found.group(1):
            return found.start(1)
    return 0
