"""The process that parses untrusted LaTeX for :mod:`symderive.spec.latex`, and its handle.

Child side: ``python -m symderive.spec.latex.worker MEMORY_BYTES TIME_LIMIT_S
PARENT_PID`` (it exits when that process dies, :func:`die_with_parent`) reads pickled ``(kind, text)`` requests on stdin and writes pickled replies on
stdout: ``("ok", expr)``, ``("LatexInputError" | "ResourceLimitError",
message)`` or ``("bug", traceback)``.  It runs under an address-space limit
and arms ``SIGALRM`` (default action: terminate) around each request, so it
also dies on its own if the parent vanished while it was stuck.

Parent side: :class:`WorkerHandle` keeps one such process per Python process,
gives each request a wall-clock limit and kills the process on timeout -- the
only reliable way to interrupt big-integer arithmetic inside SymPy.  Replies
are unpickled; they come from our own code and contain only SymPy objects
built from generated symbols.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import traceback

# --------------------------------------------------------------------------- parent side


class WorkerHandle:
    """A persistent worker process, started lazily and restarted after a timeout or crash."""

    def __init__(self, command: list[str] | None = None) -> None:
        self._command = command          # tests substitute a misbehaving process
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._send = self._recv = None
        self._ready = False
        self._owner = 0

    def start(self, memory_limit: int, time_limit: float = 10.0) -> None:
        """Start the process if none runs; does not wait for it (imports happen meanwhile)."""
        with self._lock:
            self._ensure_started(memory_limit, time_limit)

    def stop(self) -> None:
        """Kill the process if this Python process started it."""
        with self._lock:
            self._stop()

    def request(self, message: tuple, *, time_limit: float, memory_limit: int,
                startup_timeout: float) -> tuple[str, object]:
        """Send ``message`` and return the reply; raise ResourceLimitError on timeout or death."""
        from ...errors import ResourceLimitError
        with self._lock:
            self._ensure_started(memory_limit, time_limit)
            try:
                return self._exchange(message, time_limit, startup_timeout)
            except EOFError:
                code = self._proc.wait()
                self._stop()
                raise ResourceLimitError(f"the LaTeX parser process died (exit status {code}), "
                                         "probably over its memory limit; refused") from None
            except BaseException:
                # interrupted (a time budget, Ctrl-C) between request and reply: the
                # reply would answer the next request, so this process must go
                self._stop()
                raise

    def _exchange(self, message: tuple, time_limit: float, startup_timeout: float):
        from ...errors import ResourceLimitError

        self._wait_ready(startup_timeout)
        self._send.send(message)
        if not self._recv.poll(time_limit):
            raise ResourceLimitError(f"parsing the LaTeX formula took longer than "
                                     f"{time_limit:g} s; refused")
        return self._recv.recv()

    def _ensure_started(self, memory_limit: int, time_limit: float) -> None:
        if self._owner != os.getpid():            # after fork the handles are the parent's
            self._proc = self._send = self._recv = None
        if self._proc is not None and self._proc.poll() is None:
            return
        self._stop()
        from multiprocessing.connection import Connection
        # The folder holding the symderive package (symderive/spec/latex/worker.py).
        root = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 3))
        paths = [root] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")   # fit under RLIMIT_AS
        command = self._command or [sys.executable, "-m", "symderive.spec.latex.worker",
                                    str(memory_limit), str(time_limit), str(os.getpid())]
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env=env, close_fds=True)
        self._send = Connection(os.dup(proc.stdin.fileno()), readable=False)
        self._recv = Connection(os.dup(proc.stdout.fileno()), writable=False)
        proc.stdin.close()
        proc.stdout.close()
        self._proc, self._ready, self._owner = proc, False, os.getpid()

    def _wait_ready(self, startup_timeout: float) -> None:
        if self._ready:
            return
        status, payload = "fatal", "no answer in time"
        if self._recv.poll(startup_timeout):
            try:
                status, payload = self._recv.recv()
            except EOFError:
                status, payload = "fatal", f"exit status {self._proc.wait()}"
        if status != "ready":
            self._stop()
            raise RuntimeError(f"the LaTeX parser process failed to start: {payload}")
        self._ready = True

    def _stop(self) -> None:
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()
        proc, self._proc, self._send, self._recv = self._proc, None, None, None
        if proc is not None and self._owner == os.getpid():
            if proc.poll() is None:
                proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------- child side

#: How often a child checks that its parent is still there (seconds).
PARENT_POLL = 0.5


def die_with_parent(parent: int, *, kernel_signal: bool = True) -> None:
    """End this process when ``parent`` (its parent's pid) dies, even by SIGKILL, which
    no handler sees: a daemon thread notices within :data:`PARENT_POLL` seconds that
    the process was re-parented, and with ``kernel_signal`` on Linux the kernel sends
    SIGKILL at once (``PR_SET_PDEATHSIG``; it follows the *thread* that started the
    process, so only where that thread lives as long as its process).  An orphan would
    finish its queue and then block for ever, holding the caller's stdout and stderr
    (a ``| tee`` or a CI step would never end)."""
    import time

    if kernel_signal and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)        # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:                          # died before anything took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL)
        os._exit(1)
    threading.Thread(target=watch, name="symderive-parent-watch", daemon=True).start()


def _limit_memory(max_bytes: int) -> None:
    """Cap the address space so that runaway arithmetic raises MemoryError."""
    try:
        import resource
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            max_bytes = min(max_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (max_bytes, hard))
    except (ImportError, ValueError, OSError):
        pass                                      # not permitted here: time limit only


def _answer(kind: str, text: str) -> tuple[tuple[str, object], bool]:
    """The reply to one request, and whether the worker should exit afterwards."""
    from ...errors import LatexInputError, ResourceLimitError
    from .grammar import parse_untrusted
    try:
        return ("ok", parse_untrusted(kind, text)), False
    except (LatexInputError, ResourceLimitError) as exc:
        return (type(exc).__name__, str(exc)), False
    except MemoryError:
        return ("ResourceLimitError", "parsing the LaTeX formula exceeded the memory "
                                      "limit; refused"), True
    except RecursionError:
        return ("ResourceLimitError", "formula nested too deeply to parse; refused"), False
    except Exception:  # a bug in our code: report it and keep serving
        return ("bug", traceback.format_exc()), False


def main(argv: list[str]) -> int:
    """Set limits, import and prime the parser, report readiness, then serve requests."""
    from multiprocessing.connection import Connection

    memory = int(argv[0]) if argv else 1 << 30
    time_limit = float(argv[1]) if len(argv) > 1 else 10.0
    if len(argv) > 2:        # an API caller's thread that started us may end: no prctl
        die_with_parent(int(argv[2]), kernel_signal=False)
    replies = Connection(os.dup(1), readable=False)
    requests = Connection(os.dup(0), writable=False)
    os.dup2(2, 1)                                 # stray prints must not corrupt replies
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    _limit_memory(memory)
    try:
        from .grammar import parse_untrusted
        parse_untrusted("activation", r"\frac{1}{1+e^{-z}}")   # load and prime the grammar
    except BaseException:
        replies.send(("fatal", traceback.format_exc()))
        return 1
    replies.send(("ready", None))
    while True:
        try:
            kind, text = requests.recv()
        except EOFError:
            return 0
        signal.alarm(int(time_limit) + 5)
        reply, must_exit = _answer(kind, text)
        signal.alarm(0)
        replies.send(reply)
        if must_exit:
            return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
