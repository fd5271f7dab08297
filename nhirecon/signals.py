"""The handlers of Ctrl-C (SIGINT) and SIGTERM, replaced for a while."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from types import FrameType

Handler = Callable[[int, FrameType | None], object]


@contextlib.contextmanager
def replaced_handlers(wrap: Callable[[Handler], Handler]) -> Iterator[Mapping[int, Handler]]:
    """While the block runs, each Python handler of SIGINT and SIGTERM is replaced by what
    ``wrap`` makes of it; the block is given the handlers replaced (by signal number), and
    they are put back when it ends. Handlers are left alone outside the main thread and
    where they are not Python's (the block is then given none)."""
    previous: dict[int, Handler] = {}
    if threading.current_thread() is threading.main_thread():
        for wanted in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(wanted)
            if callable(handler):
                previous[wanted] = handler
    for number, handler in previous.items():
        signal.signal(number, wrap(handler))
    try:
        yield previous
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
