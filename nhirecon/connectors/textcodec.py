"""Which encoding an export is read in, and which one it looks like when that fails.

- ``encoding: auto`` (the default) reads a byte-order mark (UTF-8, UTF-16 or UTF-32, either
  order) and otherwise takes UTF-8. UTF-16 without a mark is never guessed: it is refused,
  naming the ``encoding`` to set.
- An explicit encoding is obeyed; a mark of the same encoding is dropped, and a mark of
  another one is an error (the option is wrong, and the text would be misread).
- Bytes that do not decode are named with the encoding they look like: ``cp1252`` for
  Windows text, ``utf-16`` where NUL bytes alternate. Never ``latin-1`` blindly: it reads
  the byte 0x92 of Windows' ``O’Brien`` as a control character.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

from nhirecon.errors import ConfigError, DataError

AUTO = "auto"
"""The default ``encoding``: a byte-order mark decides; without one, UTF-8."""
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE, whose mark it starts with
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
"""Byte-order marks and the codec each announces."""
SAMPLE_BYTES = 4096
"""How much of a file is looked at to tell UTF-16 without a mark."""

_MARK_READERS = {
    "utf-8-sig": ("utf-8",),
    "utf-16": ("utf-16-le", "utf-16-be"),
    "utf-32": ("utf-32-le", "utf-32-be"),
}
"""Codecs that read a byte-order mark themselves → the marks they read."""
_NAMES = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "utf-32-le": "UTF-32 (little-endian)",
    "utf-32-be": "UTF-32 (big-endian)",
}
_CP1252_ONLY = frozenset(range(0x80, 0xA0)) - {0x81, 0x8D, 0x8F, 0x90, 0x9D}
"""Bytes that Windows-1252 maps to printable characters (``’`` ``“`` ``€`` ``–`` …) where
ISO-8859-1 has control characters."""
_SET = "set the connector's `encoding` option"


def check(encoding: str, key: str = "encoding") -> str:
    """``encoding`` when it is ``auto`` or a text encoding Python knows; a config error
    naming ``key`` (the option's key path) otherwise."""
    if encoding.strip().lower() == AUTO:
        return AUTO
    try:
        io.TextIOWrapper(io.BytesIO(), encoding=encoding)  # refuses rot13 and the like
    except LookupError:
        raise ConfigError(f"unknown text encoding {encoding!r}", key=key) from None
    return encoding


def canonical(encoding: str) -> str:
    """Python's name for ``encoding`` (``UTF8`` → ``utf-8``, ``windows-1252`` → ``cp1252``)."""
    return codecs.lookup(encoding).name


def wide(codec: str) -> bool:
    """Whether ``codec`` writes NUL bytes inside other characters (UTF-16, UTF-32)."""
    return codec.startswith(("utf-16", "utf-32"))


def mark_length(head: bytes, codec: str) -> int:
    """The length of the byte-order mark ``head`` starts with when it announces ``codec``."""
    return next((len(bom) for bom, name in BOMS if name == codec and head.startswith(bom)), 0)


def choose(path: Path, head: bytes, encoding: str) -> tuple[str, int]:
    """The codec to read a file that starts with ``head`` in, for the ``encoding`` option,
    and how many bytes of byte-order mark to skip first."""
    marked = next(((bom, name) for bom, name in BOMS if head.startswith(bom)), None)
    if encoding == AUTO:
        if marked is not None:
            return marked[1], len(marked[0])
        codec = "utf-8"
    else:
        codec = canonical(encoding)
        if marked is not None:
            bom, announced = marked
            if codec == announced:
                return codec, len(bom)
            if announced in _MARK_READERS.get(codec, ()):
                return codec, 0
            raise DataError(
                f"{path}: starts with a {_NAMES[announced]} byte-order mark, but the"
                f" connector's `encoding` option says {encoding!r}; remove the option"
                " (the mark is read by default) or correct it"
            )
    if marked is None and not wide(codec):
        order = utf16_order(head)
        if order is not None:
            raise DataError(
                f"{path}: looks like {_NAMES[order]} text without a byte-order mark;"
                f" {_SET}: `encoding: {order}`"
            )
    return codec, 0


def utf16_order(sample: bytes) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` when ``sample`` has the NUL bytes of UTF-16 text (in
    alternate positions), else ``None``."""
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even = sample[0 : pairs * 2 : 2].count(0)
    odd = sample[1 : pairs * 2 : 2].count(0)
    if odd >= 0.3 * pairs and even <= 0.05 * pairs:
        return "utf-16-le"
    if even >= 0.3 * pairs and odd <= 0.05 * pairs:
        return "utf-16-be"
    return None


def likely(sample: bytes, tried: str) -> str | None:
    """The encoding ``sample`` (bytes that ``tried`` could not decode) looks like."""
    tried = canonical(tried)
    order = utf16_order(sample)
    if order is not None and not tried.startswith("utf-16"):
        return order
    if not tried.startswith("utf-8") and _decodes(sample, "utf-8"):
        return "utf-8"
    if tried != "cp1252" and _decodes(sample, "cp1252"):
        return "cp1252"
    return None


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample)  # a cut-off end is fine
    except UnicodeDecodeError:
        return False
    return True


def hint(sample: bytes, tried: str, reason: str = "") -> str:
    """What to do about ``sample``, bytes that ``tried`` could not decode (for ``reason``)."""
    if reason == "unexpected end of data":
        return f"the file ends inside a character (cut short?); or {hint(sample, tried)}"
    found = likely(sample, tried)
    if found is None:
        return f"{_SET} to the encoding the export was saved in"
    if found == "cp1252":
        windows = sorted(set(sample) & _CP1252_ONLY)
        shown = ", ".join(f"0x{byte:02X} is {bytes([byte]).decode('cp1252')}" for byte in windows)
        what = f"Windows text ({shown})" if shown else "Windows text"
        return f"it looks like {what}: {_SET}: `encoding: cp1252`"
    return f"it looks like {_NAMES.get(found, found)}: {_SET}: `encoding: {found}`"
