"""Many specs at once (a course's notes): ``symderive derive DIR|GLOB --jobs N``.

Each spec is derived in a worker process and written to ``OUTDIR/<stem>.<ext>``.
Results are reported in the sorted order of the specs, whatever order the
workers finish in, so the output is deterministic.  The exit status is the
worst of the individual ones (0 < 1 < 2).
"""
from __future__ import annotations

import glob
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import SpecError

EXTENSIONS = {"json": ".json", "markdown": ".md", "latex": ".tex", "pdf": ".pdf",
              "beamer": ".tex"}


@dataclass(frozen=True)
class Outcome:
    spec: str
    output: str
    status: int
    message: str = ""


def is_batch(target: str) -> bool:
    """A directory or a glob pattern (rather than one file or bundled name); a file
    whose name merely contains ``[``, ``*`` or ``?`` (``a[1].toml``) is that file."""
    path = Path(target)
    return path.is_dir() or (glob.has_magic(target) and not path.is_file())


def expand(target: str) -> list[Path]:
    """The spec files named by a directory or a glob, sorted; at least one."""
    path = Path(target)
    found = sorted(path.glob("*.toml")) if path.is_dir() else sorted(
        Path(p) for p in glob.glob(target) if Path(p).is_file())
    if not found:
        raise SpecError("matches no .toml spec files", source=target)
    return found


def output_paths(specs: list[Path], outdir: str, fmt: str) -> list[Path]:
    """OUTDIR/<stem>.<ext>; stems must be distinct so no report overwrites another."""
    stems = [p.stem for p in specs]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise SpecError(f"two specs would write the same report {dupes[0]!r}", source=outdir)
    return [Path(outdir) / f"{s}{EXTENSIONS[fmt]}" for s in stems]


def run(specs: list[Path], outputs: list[Path], one: Callable[[str, str], tuple[int, str]],
        jobs: int) -> list[Outcome]:
    """Apply ``one(spec, output) -> (status, message)`` to every spec, ``jobs`` at a time."""
    pairs = [(str(s), str(o)) for s, o in zip(specs, outputs)]
    if jobs <= 1 or len(pairs) == 1:
        results = [one(s, o) for s, o in pairs]
    else:
        results = _in_workers(one, pairs, min(jobs, len(pairs)))
    return [Outcome(s, o, status, msg) for (s, o), (status, msg) in zip(pairs, results)]


def _in_workers(one: Callable[[str, str], tuple[int, str]], pairs: list[tuple[str, str]],
                jobs: int) -> list[tuple[int, str]]:
    """``one`` over ``pairs`` in ``jobs`` worker processes.  Interrupted (Ctrl-C,
    SIGTERM), it cancels the queued specs and kills the workers with everything they
    started (LaTeX parser, pdflatex): no process outlives the run, and no half-written
    report or temporary folder is left behind.  Killed itself (SIGKILL), the workers
    die with it (:func:`_worker_setup`)."""
    import shutil
    import tempfile
    from concurrent.futures import ProcessPoolExecutor  # a batch only: 25 ms at start-up

    scratch = tempfile.mkdtemp(prefix="symderive-batch-")
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_setup,
                               initargs=(os.getpid(), scratch))
    try:
        futures = [pool.submit(one, s, o) for s, o in pairs]
        results = [f.result() for f in futures]
    except BaseException:
        _kill(pool)
        _remove_partial([o for _, o in pairs])
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)     # what killed workers left there
    pool.shutdown()
    return results


def _worker_setup(parent: int, scratch: str) -> None:
    """A worker dies with the batch (even a SIGKILLed one), leads its own process group
    (so the parent can end it with all its children at once), leaves Ctrl-C to the
    parent, and keeps its temporary folders (pdflatex's) in ``scratch``, which the
    parent removes whatever happens to the worker."""
    import tempfile

    from ..spec.latex.worker import die_with_parent

    die_with_parent(parent)
    os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ["TMPDIR"] = tempfile.tempdir = scratch


def _kill(pool) -> None:
    processes = list((getattr(pool, "_processes", None) or {}).values())   # before shutdown
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for p in processes:
        p.join(timeout=5)


def _remove_partial(outputs: list[str]) -> None:
    """Temporary files of reports that a killed worker was writing (see symderive.files)."""
    from ..files import partials

    for out in outputs:
        for partial in partials(Path(out)):
            try:
                partial.unlink()
            except OSError:
                pass


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))
