"""Error types: one base per seam, each mapped to one exit code in ``cli``."""

from __future__ import annotations

from nhirecon.exit_codes import ExitCode


def describe(exc: BaseException) -> str:
    """``Type: message`` (or just ``Type``): how an unexpected exception is named."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class NhireconError(Exception):
    """Base of every error nhirecon reports to the user."""

    exit_code: ExitCode = ExitCode.USAGE
    inert_lines: bool = False
    """True when the message holds one problem per line, each already made inert, so that a
    person sees each on a line of its own (every problem of a config at once)."""

    def lines(self) -> list[str]:
        """The message as the lines a person reads."""
        return str(self).split("\n") if self.inert_lines else [str(self)]


class UsageError(NhireconError):
    """A command-line argument or option is wrong."""

    exit_code = ExitCode.USAGE


class ConfigError(NhireconError):
    """The configuration file is wrong; the message names the file, key path and line."""

    exit_code = ExitCode.USAGE

    def __init__(
        self, message: str, *, key: str = "", file: str = "", line: int | None = None
    ) -> None:
        self.key = key
        self.file = file
        self.line = line
        where = file
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        prefix = ": ".join(part for part in (where, key) if part)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConnectorError(NhireconError):
    """A connector could not deliver a complete, well-formed pull."""

    exit_code = ExitCode.CONNECTOR


class DataError(ConnectorError):
    """A record in an export is malformed; the message names the file and row."""


class SafetyError(NhireconError):
    """An integrity guard or threshold refused to go on."""

    exit_code = ExitCode.SAFETY


class InternalError(NhireconError):
    """A bug or an unexpected exception, caught where something is known about it (which
    connector, which source or target); the original exception is its ``__cause__``."""

    exit_code = ExitCode.INTERNAL
