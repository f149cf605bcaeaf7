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
import stat
import sys
import tempfile
from pathlib import Path

from .errors import SpecError

STDOUT = "-"
#: A report being written is ``.NAME.<random>.partial`` beside its target (see :func:`partials`).
PARTIAL = ".partial"


def check_target(output: str | None, inputs: tuple[Path, ...] = (), *,
                 follow_symlinks: bool = False) -> Path | None:
    """The file a report will replace (symlinks resolved only when ``follow_symlinks``),
    or None for standard output; a :class:`SpecError` naming ``output`` otherwise."""
    if output is None or output == STDOUT:
        return None
    if output.endswith(("/", os.sep)):
        raise SpecError("ends with a slash, which names a folder: give a file name for "
                        "the report", source=output)
    path = Path(output)
    if path.is_symlink():
        if not follow_symlinks:
            raise SpecError("is a symbolic link; refusing to write through it (give "
                            "--follow-symlinks to replace the file it points to)",
                            source=output)
        path = path.resolve()
    if path.is_dir():
        raise SpecError("is a directory: give a file name for the report", source=output)
    _check_kind(path, output)
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


def _check_kind(path: Path, output: str) -> None:
    """Only a regular file is replaced; a character device (``/dev/null``) or a FIFO is
    written in place (:func:`is_stream`), anything else (a socket, a block device) refused."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return                                   # nothing there yet: a new file
    if not (stat.S_ISREG(mode) or is_stream(mode)):
        raise SpecError("is neither a regular file nor a device or FIFO to write to; "
                        "refusing to replace it with a report", source=output)


def is_stream(mode: int) -> bool:
    """A character device or a FIFO: written in place, never renamed over."""
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def write(data: str | bytes, target: Path | None, shown: str) -> None:
    """``data`` to ``target`` atomically (temp file + rename), or to standard output;
    a device or FIFO at ``target`` is written in place (:func:`write_stream`)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if target is None:
        write_stdout(payload)
        return
    if _stream_at(target):
        write_stream(payload, target, shown)
        return
    temp = None
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                    suffix=PARTIAL)
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        _keep_mode(target, temp)
        if _stream_at(target):           # became a device or FIFO meanwhile: never rename
            _remove(temp)
            write_stream(payload, target, shown)
            return
        os.replace(temp, target)
    except BaseException as exc:             # interrupted too: never leave a partial file
        if temp is not None:
            _remove(temp)
        if isinstance(exc, OSError):
            raise SpecError(f"cannot write output: {_reason(exc)} (in the folder "
                            f"{str(target.parent)!r}); the previous file, if any, is "
                            "unchanged", source=shown) from None
        raise


def _stream_at(target: Path) -> bool:
    try:
        return is_stream(os.stat(target).st_mode)
    except OSError:
        return False


def write_stream(payload: bytes, target: Path, shown: str) -> None:
    """``payload`` written into the device or FIFO ``target`` (never replaced).  A FIFO
    nobody reads is refused at once rather than waited on (opened non-blocking)."""
    import errno

    try:
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        why = ("a FIFO that nobody is reading" if exc.errno == errno.ENXIO
               else _reason(exc))
        raise SpecError(f"cannot write output: {why}", source=shown) from None
    try:
        os.set_blocking(fd, True)
        write_all(fd, payload, shown)
    finally:
        os.close(fd)


def write_all(fd: int, payload: bytes, shown: str) -> None:
    """Every byte of ``payload`` to ``fd``; a short or failed write is a :class:`SpecError`
    (a file-size limit cuts a write short before it fails)."""
    view, done = memoryview(payload), 0
    while done < len(payload):
        try:
            written = os.write(fd, view[done:])
        except BrokenPipeError:
            raise                                # the reader went away: not our error
        except OSError as exc:
            raise SpecError(f"cannot write output: {_reason(exc)}; {done:,} of "
                            f"{len(payload):,} bytes were written", source=shown) from None
        if written <= 0:
            raise SpecError(f"cannot write output: only {done:,} of {len(payload):,} bytes "
                            "were written", source=shown)
        done += written


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
    """Bytes to standard output, every one of them; a closed, failing or short-writing
    stdout (a file-size limit, a full disk) is a :class:`SpecError`."""
    stream = sys.stdout
    if stream is None:
        raise SpecError("standard output is closed: give -o FILE", source="<stdout>")
    try:
        stream.flush()
        fd = _fileno(stream)
        if fd is not None:
            write_all(fd, payload, "<stdout>")
        elif hasattr(stream, "buffer"):
            stream.buffer.write(payload)
        else:                                    # a text stream without bytes underneath
            stream.write(payload.decode("utf-8"))
        stream.flush()
    except BrokenPipeError:
        raise
    except SpecError as exc:
        silence_stdout()
        raise SpecError(exc.message.replace("cannot write output",
                                            "cannot write the report to standard output"),
                        source="<stdout>") from None
    except (OSError, ValueError) as exc:     # ValueError: the stream was closed
        silence_stdout()
        reason = _reason(exc) if isinstance(exc, OSError) else "it is closed"
        raise SpecError(f"cannot write the report to standard output: {reason}",
                        source="<stdout>") from None


def _fileno(stream) -> int | None:
    """The descriptor under ``stream`` when it is the process's real standard output
    (written with os.write so that a short write is seen), else None (a test's capture)."""
    try:
        fd = stream.fileno()
    except (AttributeError, ValueError, OSError):
        return None
    return fd if fd == 1 else None


def silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null so that Python's final flush cannot fail
    again and print a traceback-like 'Exception ignored' message at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
