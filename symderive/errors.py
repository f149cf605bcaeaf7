"""Exceptions raised by symderive.

Every error a user can cause by writing a bad spec or formula is a
:class:`SymderiveError`; the CLI turns those into one line on stderr and exit
status 2.  Anything else escaping is a bug.
"""
from __future__ import annotations

import contextlib
from typing import Iterator


def one_line(text: str) -> str:
    """``text`` as one printable line: newlines and other control or separator
    characters (which a TOML key or a file name may contain) are escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class SymderiveError(Exception):
    """Base class of every error symderive raises on purpose."""


class SpecError(SymderiveError, ValueError):
    """A derivation spec is malformed: names the file, the line and the field.

    ``field`` is the dotted TOML key (``network.layers``, ``hypothesis[2].units``);
    ``line`` is the 1-based line in the file when known.
    """

    def __init__(self, message: str, *, source: str | None = None,
                 field: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.source = source
        self.field = field
        self.line = line
        super().__init__(self.format())

    def format(self) -> str:
        where = self.source or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message}"

    def located(self, source: str, line: int | None = None) -> "SpecError":
        """A copy of this error that names ``source`` (and ``line`` if unknown)."""
        return SpecError(self.message, source=source, field=self.field,
                         line=self.line if self.line is not None else line)


class LatexInputError(SymderiveError, ValueError):
    """A LaTeX formula from a spec cannot be read safely or unambiguously."""


class ResourceLimitError(SymderiveError, RuntimeError):
    """A request would exceed a resource limit (size, time or memory)."""


class NumericMismatchError(SymderiveError, RuntimeError):
    """The numeric cross-check contradicts a symbolic verdict."""


class OutputError(SymderiveError, OSError):
    """A file could not be read or written (names the file and the reason)."""


def translated(exc: BaseException) -> SymderiveError | None:
    """The :class:`SymderiveError` that tells a user what a library error means, or None
    for anything else.  Python's limits (recursion, memory, float range) are met only
    past the resource guards (``--force``, ``limits=False``); an ``OSError`` is a file."""
    if isinstance(exc, RecursionError):
        return ResourceLimitError("an expression is too deep for Python to handle; use a "
                                  "smaller network or generic mode (activation = \"any\")")
    if isinstance(exc, MemoryError):
        return ResourceLimitError("out of memory: the derivation needs more memory than "
                                  "this process may use; use a smaller network or fewer "
                                  "samples or hypotheses")
    if isinstance(exc, OverflowError):
        return ResourceLimitError(f"a number grew too large to compute with "
                                  f"({one_line(str(exc))}); use a tamer activation or "
                                  "smaller values")
    if isinstance(exc, OSError) and not isinstance(exc, SymderiveError):
        where = f"{exc.filename}: " if exc.filename else ""
        return OutputError(f"{where}{exc.strerror or exc}")
    return None


@contextlib.contextmanager
def symderive_errors() -> Iterator[None]:
    """Every error raised inside is a :class:`SymderiveError` with a message
    (:func:`translated`), the original chained as its cause; bugs pass unchanged."""
    try:
        yield
    except SymderiveError:
        raise
    except (RecursionError, MemoryError, OverflowError, OSError) as exc:
        error = translated(exc)
        if error is None:
            raise
        raise error from exc
