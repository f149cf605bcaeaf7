"""What the LaTeX article and the beamer slides share outside their bodies.

Paper sizes, the PDF's metadata (hyperref's document information: title,
subject, keywords), the options that make a fragment follow its host (the
heading level it starts at, the host's theorem environment) and the label
prefix that keeps two fragments in one document apart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SymderiveError
from .text import latex_escape

if TYPE_CHECKING:       # the CLI reads the option names here without loading SymPy
    from ..report.model import Document

#: --paper: the name the user gives -> the class/geometry option.
PAPERS = {"a4": "a4paper", "letter": "letterpaper"}
#: US Letter, as before --paper existed: the line breaking is tuned to its wider text
#: (some inline formulas of the bundled tests overflow A4's 453pt by a few points).
DEFAULT_PAPER = "letter"
#: --heading-level, outermost first; deeper document sections go further down this list.
HEADINGS = ("chapter", "section", "subsection", "subsubsection", "paragraph", "subparagraph")
HEADING_LEVELS = HEADINGS[:4]
#: Sectioning commands beamer has (there are no chapters in a presentation).
BEAMER_HEADINGS = HEADINGS[1:4]
#: A LaTeX environment name: letters, optionally a star (an unnumbered variant).
_ENVIRONMENT = re.compile(r"[A-Za-z]+\*?")
#: The subject line of a PDF is the question's first words, at most this many characters.
SUBJECT_LIMIT = 240


class OptionError(SymderiveError, ValueError):
    """A rendering option (--paper, --heading-level, --theorem-env) has a value we refuse."""


@dataclass(frozen=True)
class HostOptions:
    """How a fragment fits the document it is ``\\input`` into.

    ``heading_level`` is the command of the fragment's title (its sections go one
    level deeper); ``theorem_env`` is the host's theorem environment, used as is
    (the fragment then defines none), or None for a ``theorem`` defined if missing.
    """

    heading_level: str = "section"
    theorem_env: str | None = None

    def __post_init__(self) -> None:
        if self.heading_level not in HEADING_LEVELS:
            raise OptionError(f"--heading-level {self.heading_level!r}: choose one of "
                              + ", ".join(HEADING_LEVELS))
        if self.theorem_env is not None and not _ENVIRONMENT.fullmatch(self.theorem_env):
            raise OptionError(f"--theorem-env {self.theorem_env!r}: give the name of the "
                              "host's theorem environment (letters only, optionally a final *)")

    @property
    def environment(self) -> str:
        return self.theorem_env or "theorem"

    def heading(self, depth: int) -> str:
        """The sectioning command ``depth`` levels below the fragment's title."""
        start = HEADINGS.index(self.heading_level)
        return HEADINGS[min(start + depth, len(HEADINGS) - 1)]


def check_for_beamer(host: HostOptions) -> None:
    """Beamer has sections, subsections and subsubsections only (no chapters)."""
    if host.heading_level not in BEAMER_HEADINGS:
        raise OptionError(f"--heading-level {host.heading_level}: beamer has no such heading "
                          "(choose one of " + ", ".join(BEAMER_HEADINGS) + ")")


def paper_option(paper: str | None) -> str:
    """``a4paper`` or ``letterpaper``; a clear error for anything else."""
    paper = DEFAULT_PAPER if paper is None else paper
    if paper not in PAPERS:
        raise OptionError(f"paper {paper!r}: choose one of " + ", ".join(PAPERS))
    return PAPERS[paper]


def prefix_for(doc: Document, fragment: bool, given: str | None) -> str:
    """The prefix of every label: ``given`` if any, the document's key in a fragment
    (unique per derivation, stable for one spec), nothing in a whole document."""
    if given is not None:
        return given
    return f"{doc.key}:" if fragment else ""


def pdf_metadata(doc: Document, keywords: tuple[str, ...] = ()) -> str:
    """``\\hypersetup{pdftitle=..., pdfsubject=..., pdfkeywords=...}`` for the PDF's info.

    The text is escaped like any prose (hyperref turns the escapes back into
    characters), and braced, so that commas and ``=`` in a title stay text.
    """
    fields = {"pdftitle": doc.title, "pdfsubject": subject(doc),
              "pdfkeywords": ", ".join(("symderive", "gradient symmetry", *keywords)),
              "pdfcreator": "symderive"}
    body = ",\n  ".join(f"{k}={{{_pdf_text(v)}}}" for k, v in fields.items() if v)
    return "\\hypersetup{\n  " + body + "}"


def subject(doc: Document) -> str:
    """The question's first paragraph (shortened at a word), or what the report is."""
    from ..report.model import Paragraph, Section, Text

    question = next((b for b in doc.body if isinstance(b, Section) and b.label == "sec:question"),
                    None)
    first = question.body[0] if question and question.body else None
    if not isinstance(first, Paragraph):
        return "Symbolic gradient derivation of a neural network"
    text = " ".join(p.text for p in first.parts if isinstance(p, Text))
    if len(text) <= SUBJECT_LIMIT:
        return text
    return text[:SUBJECT_LIMIT].rsplit(" ", 1)[0] + " ..."


def _pdf_text(text: str) -> str:
    """Prose for a PDF string: escaped, with math-mode escapes (Greek, symbols) spelled out
    (hyperref cannot put math into document information)."""
    escaped = latex_escape(" ".join(text.split()))
    return re.sub(r"\\ensuremath\{\\?([^{}]*)\}", r"\1", escaped)


__all__ = ["HostOptions", "OptionError", "BEAMER_HEADINGS", "check_for_beamer", "PAPERS",
           "DEFAULT_PAPER", "HEADINGS", "HEADING_LEVELS", "paper_option", "prefix_for",
           "pdf_metadata", "subject"]
