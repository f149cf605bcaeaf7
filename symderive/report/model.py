"""The document model of a report: a tree of blocks and inline pieces, no markup.

The builder (:mod:`symderive.report.builder`) turns a
:class:`~symderive.api.Derivation` into a :class:`Document`; each renderer in
:mod:`symderive.render` has one method per node class.  Prose is plain text
(renderers escape it); math is a SymPy object (renderers print it with
:mod:`symderive.notation`).  Nodes are frozen so that a document is a value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import sympy as sp

# ---------------------------------------------------------------- inline pieces


@dataclass(frozen=True)
class Text:
    """Plain prose; may come from the spec, so renderers escape it."""

    text: str


@dataclass(frozen=True)
class Emph:
    text: str


@dataclass(frozen=True)
class Strong:
    text: str


@dataclass(frozen=True)
class Code:
    """A command the reader can type (monospace, never math)."""

    text: str


@dataclass(frozen=True)
class Math:
    """Inline math."""

    expr: sp.Basic


@dataclass(frozen=True)
class Ref:
    """A reference to a labelled theorem or section, with ``text`` as its fallback name."""

    label: str
    text: str


Inline = Union[Text, Emph, Strong, Code, Math, Ref]

# ---------------------------------------------------------------- blocks


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Equation:
    """Display math: one or a few short formulas side by side."""

    exprs: tuple[sp.Basic, ...]
    label: str | None = None


@dataclass(frozen=True)
class Row:
    """One line of an aligned derivation: ``lhs = rhs`` (``lhs`` None continues a chain)."""

    lhs: sp.Basic | None
    rhs: sp.Basic
    note: str | None = None     # a short justification, our own words (never spec text)


@dataclass(frozen=True)
class Aligned:
    """Display math aligned at the equals signs: derivation steps or a system."""

    rows: tuple[Row, ...]
    label: str | None = None


@dataclass(frozen=True)
class Items:
    """A bulleted list; each item is a run of inline pieces.  ``continued``: the first
    item goes on from the previous slide (no bullet of its own)."""

    items: tuple[tuple[Inline, ...], ...]
    continued: bool = False


@dataclass(frozen=True)
class Table:
    """A table of inline cells, with a caption."""

    header: tuple[str, ...]
    rows: tuple[tuple[tuple[Inline, ...], ...], ...]
    caption: tuple[Inline, ...] = ()
    label: str | None = None


@dataclass(frozen=True)
class Series:
    """One curve of a plot: (x, y) points."""

    name: str
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Plot:
    """A figure: curves on a (log-y) plot; ``fallback`` is shown where plots cannot be."""

    series: tuple[Series, ...]
    xlabel: str
    ylabel: str
    caption: tuple[Inline, ...]
    fallback: Table
    log_y: bool = True
    label: str | None = None


@dataclass(frozen=True)
class Diagram:
    """A picture of a network: ``classes[l][u]`` colours unit u of layer l (units of a class
    share a colour; None: no colour), ``dashed[l][u][k]`` draws the weight from unit k of
    layer l − 1 to unit u of layer l dashed (a frozen weight).  Renderers that cannot draw
    it show ``fallback`` (or nothing, when the document has the same facts in a table)."""

    sizes: tuple[int, ...]
    classes: tuple[tuple[int | None, ...], ...]
    dashed: tuple[tuple[tuple[bool, ...], ...], ...]
    caption: tuple["Inline", ...]
    label: str | None = None


@dataclass(frozen=True)
class Alert:
    """A loud block: something contradicts something else."""

    title: str
    body: tuple["Block", ...]


@dataclass(frozen=True)
class Theorem:
    """A numbered theorem; ``name`` is an optional title in parentheses."""

    body: tuple["Block", ...]
    name: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Proof:
    body: tuple["Block", ...]


@dataclass(frozen=True)
class Section:
    """A section; nested sections are subsections."""

    title: str
    body: tuple["Block", ...]
    label: str | None = None


Block = Union[Paragraph, Equation, Aligned, Items, Table, Plot, Diagram, Alert, Theorem, Proof,
              Section]


@dataclass(frozen=True)
class Document:
    """A whole report.  ``name`` comes from the spec file; ``key`` (the name and a digest
    of the spec) prefixes labels in fragments: two derivations never share one."""

    title: str
    body: tuple[Block, ...]
    name: str = "derivation"
    samples: int = 1            # >1: formulas show the sample index
    key: str = "derivation"

    def blocks(self):
        """Every block in document order, depth first (sections before their contents)."""
        stack = list(reversed(self.body))
        while stack:
            block = stack.pop()
            yield block
            children = getattr(block, "body", ())
            stack.extend(reversed(children))

    def theorem_numbers(self) -> dict[str, int]:
        """Theorem label -> number, in document order (what LaTeX would number them)."""
        theorems = [b for b in self.blocks() if isinstance(b, Theorem)]
        return {t.label: k for k, t in enumerate(theorems, start=1) if t.label}


def para(*parts: Inline | str) -> Paragraph:
    """A paragraph; plain strings are :class:`Text`."""
    return Paragraph(tuple(Text(p) if isinstance(p, str) else p for p in parts))


def inline(*parts: Inline | str) -> tuple[Inline, ...]:
    """A run of inline pieces; plain strings are :class:`Text`."""
    return tuple(Text(p) if isinstance(p, str) else p for p in parts)


__all__ = ["Text", "Emph", "Strong", "Code", "Math", "Ref", "Inline", "Paragraph", "Equation", "Row",
           "Aligned", "Items", "Table", "Series", "Plot", "Diagram", "Alert", "Theorem", "Proof",
           "Section", "Block", "Document", "para", "inline"]
