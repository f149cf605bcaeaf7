"""Limits of one command-line run: a time budget, bounded memory, orderly termination.

The resource guards (:mod:`symderive.guards`) refuse specs whose estimated cost
is too high before any work starts; these limits catch what an estimate
cannot foresee.  SymPy is pure Python, so a ``SIGALRM`` handler that raises
interrupts it between bytecodes: the run ends with one line and exit 2
instead of hanging (:mod:`symderive.budget`, shared with the Python API's
``derive(spec, limits=True)``).  Only the command line sets the others (the
Python API leaves the caller's process alone).
"""
from __future__ import annotations

import os
import signal
import sys
import threading

from ..budget import DEFAULT_TIME_LIMIT, time_budget  # noqa: F401  (the CLI's names)
from ..engine import BLAS_THREAD_VARIABLES

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
