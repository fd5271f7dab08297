"""Run the installed ``nhirecon`` as a new process without paying its start-up each time.

Most tests run the command as a subprocess, and most of what such a run costs is the
interpreter starting and importing the package (half a second; the suite makes about 750
runs). A launcher process, started once per test worker, imports the package and then
forks one child per run (the forkserver pattern of :mod:`multiprocessing`). The child is a
real, separate process: it gets its own stdout and stderr as pipes, stdin as the test's
(or a pipe of the input), its own working folder, environment and arguments, and runs the
console script's entry point as the script does (``sys.exit(main())``, from the top
level); its exit code, or the signal that ended it, is the result. Nothing of a test's
own process reaches it: the launcher never runs a command itself, so no cache or state
is warm.

What differs from running the script is what a process decides once, as it starts: the
standard streams' encoding, the locale, the time zone, ``PYTHON*`` settings, and what
some libraries read from the environment as they are imported (terminal size and
colour). A run whose environment changes one of those is started as the script instead
(:data:`AT_START`); ``NHIRECON_TEST_EXEC=1`` starts every run that way. The user's
site-packages folder is the one under the launcher's ``HOME``, not the run's (which
matters only when packages are installed there). The umask is the test's at the time
of the run. The launcher imports every module of the package before it forks, so a
child never pays for an import; the order of those imports is not a command's own,
which is why the tests that run the script directly (signals, a terminal, a closed
stdout) remain. Every child shares the launcher's hash seed, where each script run
draws its own: a test that two runs give the same bytes sets ``PYTHONHASHSEED`` apart.

Protocol, over a Unix socket pair: the test sends a length-prefixed JSON request (argv,
working folder, environment, umask) with three file descriptors (the child's stdin, stdout and
stderr); the launcher answers with the child's pid, then, once it ends, its return code
(negative for a signal, as :mod:`subprocess` reports it).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import locale
import os
import pkgutil
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

AT_START_PREFIXES = ("PYTHON", "LC_", "LANG", "TERM", "_TYPER", "CLICOLOR", "TTY_")
AT_START = frozenset(
    {"TZ", "COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "PY_COLORS", "GITHUB_ACTIONS"}
)
"""Environment variables read as the interpreter starts or as a library is imported: a run
that changes one of them cannot share the launcher's start-up."""

_LENGTH = struct.Struct("!I")


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError("the launcher closed its socket")
        data += chunk
    return data


def _read_message(sock: socket.socket) -> bytes:
    (size,) = _LENGTH.unpack(_read_exactly(sock, _LENGTH.size))
    return _read_exactly(sock, size)


def _send_message(sock: socket.socket, data: bytes, fds: list[int] | None = None) -> None:
    framed = _LENGTH.pack(len(data)) + data
    if fds:
        sent = socket.send_fds(sock, [framed], fds)
        framed = framed[sent:]
    if framed:
        sock.sendall(framed)


def starts_differently(environment: dict[str, str], launcher: dict[str, str]) -> bool:
    """Whether a run with ``environment`` would start differently from the launcher."""
    return any(
        (name in AT_START or name.startswith(AT_START_PREFIXES))
        and environment.get(name) != launcher.get(name)
        for name in set(environment) | set(launcher)
    )


class Launcher:
    """The test side: one launcher process, and :meth:`run` to run a command in a child."""

    def __init__(self, command: str, environment: dict[str, str]) -> None:
        self.command = command
        self.environment = dict(environment)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.process = subprocess.Popen(
            [sys.executable, __file__, str(theirs.fileno()), str(Path(command).parent)],
            pass_fds=[theirs.fileno()],
            env=self.environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
        )
        theirs.close()
        self.socket = ours
        ready = self._answer()
        if ready != "ready":
            raise RuntimeError(f"the launcher did not start: {ready!r}")

    def _answer(self) -> object:
        try:
            return json.loads(_read_message(self.socket))
        except EOFError:
            error = self.process.stderr.read().decode() if self.process.stderr else ""
            raise RuntimeError(f"the launcher ended: {error}") from None

    def close(self) -> None:
        self.socket.close()
        self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()

    def run(
        self,
        argv: list[str],
        cwd: Path,
        environment: dict[str, str],
        input: str | None,
        timeout: float,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``nhirecon ARGV`` in a new child process, as :func:`subprocess.run` with
        ``capture_output=True, text=True`` would: stdin inherited unless ``input`` is
        given; :class:`subprocess.TimeoutExpired` after ``timeout`` seconds, with the child
        killed. What :mod:`subprocess` refuses before it starts a process (a missing
        folder, an argument with a NUL or that the file system's encoding cannot carry,
        input the locale's encoding cannot carry) is refused here the same way."""
        command = [self.command, *map(os.fspath, argv)]
        for each in command:
            if b"\0" in os.fsencode(each):
                raise ValueError("embedded null byte")
        folder = os.path.abspath(cwd)
        if not os.path.isdir(folder):
            raise FileNotFoundError(2, "No such file or directory", folder)
        fed = None if input is None else input.encode(locale.getpreferredencoding(False))
        if fed is None:
            stdin_read, stdin_write = os.dup(0), -1
        else:
            stdin_read, stdin_write = os.pipe()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        umask = os.umask(0o022)
        os.umask(umask)
        request = {"argv": command, "cwd": folder, "env": environment, "umask": umask}
        try:
            _send_message(
                self.socket, json.dumps(request).encode(), [stdin_read, out_write, err_write]
            )
        finally:
            for each in (stdin_read, out_write, err_write):
                os.close(each)
        pid = self._answer()
        assert isinstance(pid, int), pid
        captured: dict[int, bytes] = {}

        def drain(fd: int) -> None:
            with open(fd, "rb") as stream:
                captured[fd] = stream.read()

        def feed() -> None:
            with contextlib.suppress(BrokenPipeError), open(stdin_write, "wb") as stream:
                stream.write(fed or b"")

        threads = [threading.Thread(target=drain, args=(fd,)) for fd in (out_read, err_read)]
        if fed is not None:
            threads.append(threading.Thread(target=feed))
        for thread in threads:
            thread.start()
        timed_out = False
        self.socket.settimeout(max(timeout, 0.001))
        try:
            code = self._answer()
        except BaseException as exc:  # a timeout, or an interrupt: the child goes too
            timed_out = isinstance(exc, TimeoutError)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self.socket.settimeout(None)
            code = self._answer()  # the launcher's word that it ended: the next run is clean
            if not timed_out:
                raise
        finally:
            self.socket.settimeout(None)
            for thread in threads:
                thread.join()
        if timed_out:
            raise subprocess.TimeoutExpired(
                command, timeout, captured.get(out_read), captured.get(err_read)
            )
        assert isinstance(code, int), code
        return subprocess.CompletedProcess(
            command, code, _text(captured[out_read]), _text(captured[err_read])
        )


def _text(data: bytes) -> str:
    """Output as ``subprocess.run(text=True)`` reads it: decoded in the locale's encoding,
    strictly, with universal newlines (``\\r\\n`` and ``\\r`` read as ``\\n``)."""
    decoded = data.decode(locale.getpreferredencoding(False))
    return decoded.replace("\r\n", "\n").replace("\r", "\n")


def _serve(sock: socket.socket, scripts: str) -> dict[str, Any] | None:
    """The launcher's side: import the package, then fork a child for each request. Returns
    ``None`` in the launcher when the tests are done, and the request in each child."""
    sys.path[0] = scripts  # as for the console script, whose folder is first on the path
    import nhirecon

    for module in pkgutil.walk_packages(nhirecon.__path__, "nhirecon."):
        if module.name != "nhirecon.__main__":  # that one runs the command
            importlib.import_module(module.name)
    importlib.import_module("typer.rich_utils")
    if threading.active_count() != 1:
        raise RuntimeError("a thread was started on import: forking would not be safe")
    _send_message(sock, json.dumps("ready").encode())
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(sock, _LENGTH.size, 3)
        except ConnectionResetError:
            return None
        if not message:
            return None
        (size,) = _LENGTH.unpack(_read_exactly_after(sock, message))
        request = json.loads(_read_exactly(sock, size))
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            sock.close()
            _become(request, fds)
            return request  # to the module's top level, to run the command from there
        for each in fds:
            os.close(each)
        _send_message(sock, json.dumps(pid).encode())
        _pid, status = os.waitpid(pid, 0)
        _send_message(sock, json.dumps(os.waitstatus_to_exitcode(status)).encode())


def _read_exactly_after(sock: socket.socket, start: bytes) -> bytes:
    return start + _read_exactly(sock, _LENGTH.size - len(start)) if len(start) < 4 else start


def _become(request: dict[str, Any], fds: list[int]) -> None:
    """In the child: take the run's streams, folder, umask, environment and arguments."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(request["argv"])


if __name__ == "__main__":
    if _serve(socket.socket(fileno=int(sys.argv[1])), sys.argv[2]) is not None:
        # A child, run as the console script runs the entry point: from the top level
        # (the stack's depth counts against the recursion limit), ended by the
        # interpreter's own exit (atexit handlers, the streams flushed, SystemExit's code).
        from nhirecon.cli import main

        sys.exit(main())
