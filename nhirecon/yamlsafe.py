"""Safe YAML loading that remembers the line of every key.

Only plain data is built (no Python object tags), aliases are expanded within a fixed
budget, so an alias bomb is refused instead of eating the machine, and nesting is bounded
(aliases included), so a deep document is refused with its line rather than exhausting
the interpreter's stack in this module or in whatever reads the data afterwards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

import yaml

from nhirecon.core.values import Flag

MAX_NODES = 1_000_000
"""How many nodes a document may expand to, aliases included."""
MAX_DEPTH = 100
"""How many mappings and sequences may nest in one another, aliases expanded; configs and
exports need a handful."""
TOO_DEEP = f"nested too deeply (more than {MAX_DEPTH} levels)"


PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class YamlError(Exception):
    """The text is not acceptable YAML; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class Refused(YamlError):
    """What the document holds is refused (too many values, an ambiguous number), not how
    it is written: every parser reads it so, and it is not read again by another."""


@dataclass(frozen=True)
class Document:
    """Plain data plus the line on which each key path starts."""

    data: Any
    lines: dict[str, int]

    def line(self, path: str) -> int | None:
        """The line of ``path`` or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = parent_path(path)
        return None


def parent_path(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def child_path(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def load(text: str, *, max_nodes: int = MAX_NODES, as_written: bool = False) -> Document:
    """Parse one YAML document into plain data and key lines.

    With ``as_written``, a plain (unquoted) scalar that YAML 1.1 would read as a number, a
    boolean or a timestamp is kept as the text written (:data:`AS_WRITTEN`): for data,
    where ``00012345`` is an employee id, not the octal number 5349, ``1:20`` a name, not
    80, and ``on`` a name, not ``true``. A boolean's text is a :class:`Flag`, which a
    yes/no field still reads as YAML meant it (``active: on``). ``null`` (``~``, an empty
    value) is still no value.

    Read with libyaml's parser where PyYAML was built with it (about ten times faster; a
    YAML inventory can be large), then composed and checked here as with PyYAML's own. A
    document that fails is read again by PyYAML's own parser, whose messages say more
    (``found character '\\t' that cannot start any token``), so that an error is the same
    either way. What libyaml reads differently is left to PyYAML's own parser alone: a
    text with a tab, a byte order mark past its start or a character YAML does not allow
    (:data:`_PYTHON_ONLY`), and a value tagged ``!`` (seen as it is composed)."""
    if _FastLoader is not None and not _PYTHON_ONLY.search(text):
        try:
            return _read(_FastLoader(text), max_nodes, as_written)
        except Refused:
            raise
        except YamlError:
            pass  # read again below, for PyYAML's message
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # a control character such as NUL, seen up front
        where = text.count("\n", 0, exc.position) + 1
        if exc.character == 0:
            raise YamlError("NUL character in the file (binary or corrupted?)", where) from exc
        raise YamlError(f"character #x{exc.character:04x} is not allowed in YAML", where) from exc
    return _read(loader, max_nodes, as_written)


def _read(loader: _Reading, max_nodes: int, as_written: bool) -> Document:
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, {})
        if loader.aliased or loader.nodes > max_nodes:  # else nothing expands, and the
            _check_expansion(node, max_nodes, aliased=loader.aliased)  # depth is bounded
        builder = _Builder(loader, max_nodes, as_written)
        return Document(builder.build(node, ""), builder.lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise YamlError(f"{exc.problem or exc}", line) from exc
    except yaml.YAMLError as exc:
        raise YamlError(str(exc)) from exc
    except RecursionError:  # not expected within MAX_DEPTH; never a traceback all the same
        at = getattr(loader, "line", None)  # PyYAML's reader knows it; libyaml's does not
        raise YamlError(TOO_DEEP, None if at is None else at + 1) from None
    finally:
        loader.dispose()


class _Reading(Protocol):
    """What is read here of a loader: its one document, composed, and each value of it;
    how many nodes it composed, and whether any was an alias."""

    nodes: int
    aliased: bool

    def get_single_node(self) -> yaml.Node | None: ...

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any: ...

    def dispose(self) -> None: ...


class _Bounded(yaml.composer.Composer):
    """PyYAML's composer, composing collections no deeper than ``MAX_DEPTH`` (it recurses
    once per level)."""

    depth = 0
    nodes = 0
    aliased = False

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.nodes += 1
        # check_event and peek_event are the parser's, which each loader mixes in.
        if self.check_event(yaml.ScalarEvent):  # type: ignore[attr-defined]
            return super().compose_node(parent, index)
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            self.aliased = True
            return super().compose_node(parent, index)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[attr-defined]
                raise YamlError(TOO_DEEP, event.start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Loader(_Bounded, yaml.SafeLoader):
    """PyYAML's safe loader, all in Python."""


_PYTHON_ONLY = re.compile(f"{yaml.reader.Reader.NON_PRINTABLE.pattern}|\t|.\ufeff", re.DOTALL)
"""Texts that only PyYAML's own parser reads: a character YAML does not allow (PyYAML's
reader refuses it up front, libyaml's only as it reads, by byte), a tab (libyaml lets
some pass where PyYAML refuses them: ``a\t``) and a byte order mark past the first
character (libyaml skips it, PyYAML reads it as text)."""

_FastLoader: Callable[[str], _Reading] | None = None
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CLoader(_Bounded, CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """libyaml's parser, PyYAML's composer (in Python, so that depth is bounded: the
        C one recurses without limit) and PyYAML's safe constructor."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        def compose_scalar_node(self, anchor: dict[Any, yaml.Node]) -> yaml.ScalarNode:
            # The non-specific tag on an empty value: libyaml calls it quoted (a string,
            # ''), PyYAML plain (null). load() reads the text again with PyYAML's own.
            if getattr(self.peek_event(), "tag", None) == "!":
                raise YamlError("a value tagged '!': read by PyYAML's own parser")
            return super().compose_scalar_node(anchor)

    _FastLoader = _CLoader


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, max_nodes: int, *, aliased: bool = True) -> None:
    """Refuse an alias bomb, a self-referring alias or aliases that nest too deeply, before
    building anything.

    Aliases share their node in the composed graph, so each node's expanded size and depth
    are counted once: the cost grows with the text, not with what it would expand to.
    """
    sizes: dict[int, int] = {}
    depths: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            children = _children(node)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            below = max((depths[id(child)] for child in children), default=0)
            depths[key] = below if isinstance(node, yaml.ScalarNode) else below + 1
            if depths[key] > MAX_DEPTH:
                raise YamlError(TOO_DEEP, node.start_mark.line + 1)
            if sizes[key] > max_nodes:
                raise Refused(_too_many(max_nodes, aliased=aliased), node.start_mark.line + 1)
        elif key in open_nodes:
            raise YamlError("an alias refers to a node that contains it", node.start_mark.line + 1)
        elif key not in sizes:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node))


BOOL = "tag:yaml.org,2002:bool"
AS_WRITTEN = frozenset(
    f"tag:yaml.org,2002:{kind}" for kind in ("int", "float", "bool", "timestamp")
)
"""The tags of the plain scalars that ``load(..., as_written=True)`` keeps as text."""


INT, FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_YAML12_NUMBERS: Final = (
    (re.compile(r"[-+]?[0-9]+"), int),
    (re.compile(r"0o[0-7]+"), lambda text: int(text[2:], 8)),
    (re.compile(r"0x[0-9a-fA-F]+"), lambda text: int(text[2:], 16)),
    (re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"), float),
)
"""How YAML 1.2's core schema reads a number (editors checking a file against its JSON
schema read YAML 1.2): ``060`` is 60 there and 48 in YAML 1.1, ``1:30`` and ``1_000``
are text there."""


def yaml12_number(text: str) -> float | None:
    """The number YAML 1.2 reads ``text`` as; ``None`` when it reads text."""
    for pattern, read in _YAML12_NUMBERS:
        if pattern.fullmatch(text):
            number: float = read(text)
            return number
    return None


def _too_many(max_nodes: int, *, aliased: bool) -> str:
    expanded = " once its aliases are expanded (an alias bomb?)" if aliased else ""
    return f"the document holds more than {max_nodes:,} values{expanded}"


class _Builder:
    def __init__(self, loader: _Reading, max_nodes: int, as_written: bool) -> None:
        self.loader = loader
        self.budget = max_nodes
        self.lines: dict[str, int] = {}
        self.as_written = as_written
        self.aliased = loader.aliased
        self.max_nodes = max_nodes

    def build(self, node: yaml.Node, path: str) -> Any:
        self.budget -= 1
        if self.budget < 0:
            message = _too_many(self.max_nodes, aliased=self.aliased)
            raise Refused(message, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in PLAIN_TAGS:
            raise YamlError(f"tag {node.tag!r} is not allowed", node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in self._pairs(node):
                key = self._scalar(key_node)
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise YamlError(
                        "mapping keys must be plain values", key_node.start_mark.line + 1
                    )
                key_path = child_path(path, key)
                if key in result:
                    raise YamlError(f"duplicate key {key_path!r}", key_node.start_mark.line + 1)
                self.lines[key_path] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, key_path)
            return result
        if isinstance(node, yaml.SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                item_path = child_path(path, index)
                self.lines[item_path] = item.start_mark.line + 1
                items.append(self.build(item, item_path))
            return items
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        # A plain scalar's style is None (PyYAML) or "" (libyaml): its type is YAML's guess.
        if self.as_written and node.tag in AS_WRITTEN and not getattr(node, "style", None):
            if node.tag == BOOL:  # YAML's truth stays at hand for a yes/no field
                return Flag(node.value, bool(self.loader.construct_object(node)))
            return node.value
        try:
            value = self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # 2026-02-30 looks like a timestamp
            kind = str(node.tag).rpartition(":")[2]
            raise YamlError(
                f"cannot read {node.value!r} (a YAML {kind}): {exc}", node.start_mark.line + 1
            ) from None
        if node.tag in (INT, FLOAT):  # plain, or tagged !!int / !!float
            _check_number(node, value)
        return value

    def _pairs(self, node: yaml.MappingNode) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise YamlError("merge keys (<<) are not supported", key_node.start_mark.line + 1)
            yield key_node, value_node


def _check_number(node: yaml.Node, value: Any) -> None:
    """Refuse a number that is not finite (``.nan``, ``.inf``: no limit is meant so), or
    that YAML 1.1 and 1.2 read differently (see :func:`yaml12_number`)."""
    text, line = str(node.value), node.start_mark.line + 1
    if isinstance(value, float) and not math.isfinite(value):  # an int is finite
        raise Refused(f"{text!r} is not a finite number", line)
    other = yaml12_number(text)
    if other != value:
        said = "text" if other is None else repr(other)
        raise Refused(
            f"{text!r} is {value!r} in YAML 1.1, as read here, but {said} in YAML 1.2, as"
            " editors read it: write the number in plain decimals (or quote it for text)",
            line,
        )
