"""Limits of one command-line run: a time budget, bounded memory, orderly termination.

The resource guards (:mod:`symderive.guards`) refuse specs whose estimated cost
is too high before any work starts; these limits catch what an estimate
cannot foresee.  SymPy is pure Python, so a ``SIGALRM`` handler that raises
interrupts it between bytecodes: the run ends with one line and exit 2
instead of hanging.  Only the command line sets them (the Python API leaves
the caller's process alone).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator

from ..engine import BLAS_THREAD_VARIABLES
from ..errors import ResourceLimitError

#: Seconds a derivation may take by default (``--time-limit``; 0 = none).  With
#: ``--force`` there is no default budget: the user asked for the long run.
DEFAULT_TIME_LIMIT = 120.0
#: Address space of the whole run (Python, SymPy, NumPy, the LaTeX worker has its own).
MEMORY_LIMIT_BYTES = 8 << 30


class Terminated(SystemExit):
    """SIGTERM, turned into an exception so that ``finally`` blocks (temporary files,
    worker processes) run before the process exits with 128 + 15."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def install_handlers() -> None:
    """SIGTERM raises :class:`Terminated` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_sigterm)


def limit_memory(max_bytes: int = MEMORY_LIMIT_BYTES) -> None:
    """Cap the address space where the platform allows (a runaway computation then
    raises MemoryError instead of taking the machine down)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            max_bytes = min(max_bytes, hard)
        if soft == resource.RLIM_INFINITY or soft > max_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (max_bytes, hard))
    except (ImportError, ValueError, OSError):
        pass


def single_threaded_blas() -> None:
    """Ask every BLAS for one thread before NumPy loads one (a variable the user set
    wins).  The witnesses and the cross-check run on one thread anyway
    (:func:`symderive.engine.mlp.single_threaded_blas`, which then has nothing left to
    do); this also spares starting a thread per core at import that nothing uses."""
    if "numpy" in sys.modules:       # too late: the library read its variables already
        return
    for variable in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(variable, "1")


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
