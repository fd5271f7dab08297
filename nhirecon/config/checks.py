"""The checks every config key goes through; each error names the file, key path and line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nhirecon import yamlsafe
from nhirecon.errors import ConfigError


class Checks:
    """Reads values out of one parsed config document, checking their shape."""

    def __init__(self, path: Path, document: yamlsafe.Document) -> None:
        """``path`` is the config file (for messages); relative paths are relative to its folder."""
        self.path = path
        self.base_dir = path.resolve().parent
        self.document = document

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, key=key, file=str(self.path), line=self.document.line(key))

    def mapping(self, value: Any, key: str, allowed: frozenset[str] | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {describe(value)}")
        for name in value:
            if not isinstance(name, str):
                raise self.fail(key, f"keys must be strings, got {name!r}")
            if allowed is not None and name not in allowed:
                raise self.fail(join(key, name), f"unknown key (allowed: {listing(allowed)})")
        return value

    def require(self, data: Mapping[str, Any], key: str, name: str) -> Any:
        if name not in data or data[name] is None:
            raise self.fail(key, f"missing required key {join(key, name)!r}")
        return data[name]

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected a non-empty string, got {describe(value)}")
        return value.strip()

    def sequence(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {describe(value)}")
        return value

    def number(self, value: Any, key: str, kind: type[int] | type[float]) -> Any:
        fits = isinstance(value, int | float) if kind is float else isinstance(value, int)
        if isinstance(value, bool) or not fits:
            word = "a number" if kind is float else "a whole number"
            raise self.fail(key, f"expected {word}, got {describe(value)}")
        if value < 0:
            raise self.fail(key, f"must not be negative, got {value}")
        return kind(value)

    def forbid(self, data: Mapping[str, Any], key: str, names: frozenset[str]) -> None:
        for name in sorted(names & set(data)):
            raise self.fail(join(key, name), "not allowed here")

    def known_name(self, name: str, key: str, names: set[str]) -> None:
        if name not in names:
            raise self.fail(key, f"no source or target named {name!r} (known: {listing(names)})")

    def optional_path(self, value: Any, key: str) -> Path | None:
        if value is None:
            return None
        candidate = Path(self.string(value, key)).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate


def join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def listing(names: Sequence[str] | set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(names))
