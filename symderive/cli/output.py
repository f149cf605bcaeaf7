"""Writing reports without ever losing what was there.

A report is written to a temporary file in the target folder and renamed into
place only when it is complete, so an interrupted or failed run (Ctrl-C,
SIGTERM, a full disk, a file-size limit, a pdflatex failure) leaves the old
file untouched and no partial file behind.  Before any work starts,
:func:`check_target` refuses an output that would replace the input spec
(whatever path leads to it), a directory, a symbolic link (unless asked to
follow it) and a folder that cannot be written, so a bad ``-o`` costs no
derivation time.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ..errors import SpecError

STDOUT = "-"
#: A report being written is ``.NAME.<random>.partial`` beside its target (see :func:`partials`).
PARTIAL = ".partial"


def check_target(output: str | None, inputs: tuple[Path, ...] = (), *,
                 follow_symlinks: bool = False) -> Path | None:
    """The file a report will replace (symlinks resolved only when ``follow_symlinks``),
    or None for standard output; a :class:`SpecError` naming ``output`` otherwise."""
    if output is None or output == STDOUT:
        return None
    path = Path(output)
    if path.is_symlink():
        if not follow_symlinks:
            raise SpecError("is a symbolic link; refusing to write through it (give "
                            "--follow-symlinks to replace the file it points to)",
                            source=output)
        path = path.resolve()
    if path.is_dir():
        raise SpecError("is a directory: give a file name for the report", source=output)
    for spec in inputs:
        if _same_file(path, spec):
            raise SpecError(f"is the spec being derived ({spec}); refusing to overwrite "
                            "it with its report", source=output)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError(f"cannot be written: no such folder {str(folder)!r}", source=output)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SpecError(f"cannot be written: the folder {str(folder)!r} is not writable",
                        source=output)
    if path.exists() and not os.access(path, os.W_OK):
        raise SpecError("cannot be written: the file is read-only", source=output)
    return path


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def write(data: str | bytes, target: Path | None, shown: str) -> None:
    """``data`` to ``target`` atomically (temp file + rename), or to standard output."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if target is None:
        write_stdout(payload)
        return
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                suffix=PARTIAL)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        _keep_mode(target, temp)
        os.replace(temp, target)
    except BaseException as exc:             # interrupted too: never leave a partial file
        _remove(temp)
        if isinstance(exc, OSError):
            raise SpecError(f"cannot write output: {_reason(exc)}; the previous file, if "
                            "any, is unchanged", source=shown) from None
        raise


def partials(target: Path) -> list[Path]:
    """The temporary files of reports being written to ``target`` (a killed writer's)."""
    import glob

    return sorted(target.parent.glob(f".{glob.escape(target.name)}.*{PARTIAL}"))


def _keep_mode(target: Path, temp: str) -> None:
    """A replaced report keeps its permissions; a new one gets the usual 0666 & ~umask."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    os.chmod(temp, mode)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.EFBIG:
        return "the file-size limit (ulimit -f) was reached"
    if exc.errno == errno.ENOSPC:
        return "no space left on the device"
    return exc.strerror or str(exc)


def write_stdout(payload: bytes) -> None:
    """Bytes to standard output; a closed or failing stdout is a :class:`SpecError`."""
    stream = sys.stdout
    if stream is None:
        raise SpecError("standard output is closed: give -o FILE", source="<stdout>")
    try:
        stream.flush()
        if hasattr(stream, "buffer"):
            stream.buffer.write(payload)
        else:                                    # a text stream without bytes underneath
            stream.write(payload.decode("utf-8"))
        stream.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as exc:     # ValueError: the stream was closed
        silence_stdout()
        reason = _reason(exc) if isinstance(exc, OSError) else "it is closed"
        raise SpecError(f"cannot write the report to standard output: {reason}",
                        source="<stdout>") from None


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null so that Python's final flush cannot fail
    again and print a traceback-like 'Exception ignored' message at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
