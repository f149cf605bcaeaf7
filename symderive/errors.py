"""Exceptions raised by symderive.

Every error a user can cause by writing a bad spec or formula is a
:class:`SymderiveError`; the CLI turns those into one line on stderr and exit
status 2.  Anything else escaping is a bug.
"""
from __future__ import annotations


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
