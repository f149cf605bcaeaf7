"""One time budget over a whole run: reading the spec, deriving, rendering.

SymPy is pure Python, so a ``SIGALRM`` handler that raises interrupts it
between bytecodes: the run ends with a :class:`ResourceLimitError` instead of
hanging.  The command line (``--time-limit``) and the Python API
(``derive(spec, limits=True)``) both use it.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

from .errors import ResourceLimitError

#: Seconds a derivation may take by default (``--time-limit``, ``limits=True``; 0 =
#: none).  With ``--force`` there is no default budget: the user asked for the long run.
DEFAULT_TIME_LIMIT = 120.0


@contextlib.contextmanager
def time_budget(seconds: float | None,
                raise_it: str = "--time-limit SECONDS (0: none)") -> Iterator[None]:
    """Raise :class:`ResourceLimitError` when the body runs longer than ``seconds``;
    its message says to raise the limit with ``raise_it``."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise ResourceLimitError(
            f"the derivation (reading, deriving and rendering) took longer than the time "
            f"limit of {seconds:g} s and was "
            "stopped; use a smaller network, fewer hypotheses or samples, or a simpler "
            f"activation, or raise the limit with {raise_it}")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
