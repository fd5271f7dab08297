"""Every problem of a config at once, each naming the file, the line and the key path.

Two kinds of check find them: the shape of the file (types, required and unknown keys,
ranges), which the pydantic models of :mod:`.shape` check in one pass, and the checks
that need meaning (a connector's options, the names ``correlate`` and ``compare`` use,
the targets an exception names), which run wherever the values they need are there.
:class:`Problems` gathers both, and :meth:`Problems.error` turns them into one
:class:`~nhirecon.errors.ConfigError`: one line per problem, in the order of the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from nhirecon import yamlsafe
from nhirecon.core.text import inert
from nhirecon.errors import ConfigError

CUSTOM: Final = "config"
"""The type of the errors the config's own validators raise (see :func:`problem`)."""
MAX_SHOWN: Final = 100
"""The most problems listed; a file that has more is not a config gone slightly wrong."""
MISSING_HINTS: Final = {"map": " (with at least `id`)", "id": ": the stable key"}
"""Said after ``missing required key 'KEY'`` for these keys."""
NAMED_WHEN_MISSING: Final = frozenset({"map"})
"""Keys whose absence is reported at their own key path (``source.map``), as the section
they open is what is missing; any other missing key is reported at its parent's."""
TYPE_WORDS: Final = {
    "string_type": "a non-empty string",
    "string_too_short": "a non-empty string",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
"""What a value should have been, by pydantic's error type."""


def problem(message: str, at: str = "") -> PydanticCustomError:
    """The error a validator of the config raises: ``message`` as it is shown, about the
    value validated or, with ``at`` (``.name``, ``[2]``), about a part of it."""
    return PydanticCustomError(CUSTOM, "{message}", {"message": message, "at": at})


@dataclass(frozen=True)
class Problem:
    key: str
    """The key path: ``targets[2].map.email``; empty for the whole file."""
    message: str


class Problems:
    """The problems found in one config file so far."""

    def __init__(self, path: Path, document: yamlsafe.Document) -> None:
        self.path = path
        self.document = document
        self.found: dict[Problem, None] = {}
        """In the order found, each once."""

    def __bool__(self) -> bool:
        return bool(self.found)

    def add(self, key: str, message: str) -> None:
        self.found.setdefault(Problem(key, message))

    def add_validation(self, exc: ValidationError, root: type[BaseModel]) -> None:
        """The errors of validating the document against ``root``, in the key-path style."""
        for error in exc.errors(include_url=False):
            self.add(*translate(error, root))

    def line(self, key: str) -> int | None:
        return self.document.line(key)

    def error(self) -> ConfigProblems:
        """One error listing every problem, in the order of the file (a missing key at its
        parent's line)."""
        ordered = sorted(self.found, key=lambda found: self.line(found.key) or 0)
        return ConfigProblems(
            str(self.path), [(found.key, found.message, self.line(found.key)) for found in ordered]
        )


class ConfigProblems(ConfigError):
    """Every problem of one config file, each ``(key, message, line)``.

    ``problems`` holds an error for each. The message has a line for each
    (``FILE:LINE: KEY: PROBLEM``), at most :data:`MAX_SHOWN`, each made inert so that a key
    from the file cannot start a line of its own. The first problem is this error's
    ``key`` and ``line``, so that it reads as the one error it was before.
    """

    inert_lines = True

    def __init__(self, file: str, found: Sequence[tuple[str, str, int | None]]) -> None:
        self.problems = tuple(
            ConfigError(message, key=key, file=file, line=line) for key, message, line in found
        )
        (key, message, line), rest = found[0], self.problems[1:MAX_SHOWN]
        lines = [inert(message), *(inert(str(problem)) for problem in rest)]
        if len(found) > MAX_SHOWN:
            lines.append(inert(f"{file}: … and {len(found) - MAX_SHOWN} more problems"))
        super().__init__("\n".join(lines), key=inert(key), file=file, line=line)


def translate(error: ErrorDetails, root: type[BaseModel]) -> tuple[str, str]:
    """``(key path, message)`` for one of pydantic's errors, worded as nhirecon words them."""
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    context = error.get("ctx") or {}
    if loc and loc[-1] == "[key]":  # a key of a mapping: named at the mapping
        loc = loc[:-2]
        if kind != CUSTOM:
            return key_path(loc), f"keys must be strings, got {value!r}"
    if kind == CUSTOM:
        return key_path(loc) + str(context.get("at", "")), str(context["message"])
    if kind == "invalid_key":
        return key_path(loc[:-1]), f"keys must be strings, got {value!r}"
    if kind == "missing":
        key = key_path(loc)
        name = str(loc[-1]) if loc else ""
        where = key if name in NAMED_WHEN_MISSING else key_path(loc[:-1])
        return where, f"missing required key {name!r}{MISSING_HINTS.get(name, '')}"
    if kind == "extra_forbidden":
        allowed = allowed_keys(root, loc[:-1])
        return key_path(loc), f"unknown key (allowed: {listing(allowed)})"
    if kind in TYPE_WORDS:
        return key_path(loc), f"expected {TYPE_WORDS[kind]}, got {describe(value)}"
    if kind == "greater_than_equal":
        return key_path(loc), f"must not be negative, got {value}"
    return key_path(loc), str(error["msg"])


def key_path(loc: Sequence[int | str]) -> str:
    """``('targets', 2, 'map', 'email')`` → ``targets[2].map.email``."""
    key = ""
    for part in loc:
        key = yamlsafe.child_path(key, part)
    return key


def allowed_keys(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the model at ``loc`` (below ``root``) allows."""
    current: Any = root
    for part in loc:
        current = _step(current, part)
    while get_args(current) and not isinstance(current, type):  # Annotated, | None
        current = next(arg for arg in get_args(current) if arg is not type(None))
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [field.alias or name for name, field in current.model_fields.items()]
    return []


def _step(annotation: Any, part: int | str) -> Any:
    """The annotation one step down ``annotation``: a model's field, a list's item, a
    mapping's value (through ``Annotated`` and ``| None``)."""
    while True:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, field in annotation.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
            return None
        origin = get_origin(annotation)
        if origin in (list, tuple) and isinstance(part, int):
            return args[0] if args else None
        if origin is dict:
            return args[-1] if args else None
        if not args:
            return None
        annotation = args[0]  # Annotated[X, ...] or X | None


def describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def listing(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))


def join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name
