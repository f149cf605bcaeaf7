"""Markdown for Stack Exchange-style sites (MathJax with base and AMS macros).

The rules the output keeps, checked by the tests and by the real MathJax:

- display math is ``$$`` on a line of its own, the math, ``$$`` on a line of its own;
- no blank line inside math; an ``aligned`` environment carries no ``\\tag``;
- only base and AMS macros (the printer in :mod:`symderive.notation` uses no others);
- prose is escaped (:func:`~symderive.render.text.markdown_escape`): a literal
  ``$`` is ``\\$``, HTML and Markdown specials cannot take effect;
- math never sits in a code span.

One method per document node, as in the LaTeX renderer.

``math="unicode"`` is for sites without MathJax (Stack Overflow): every formula
is Unicode text from SymPy's pretty printer (:mod:`symderive.notation.unicode`),
display math in fenced code blocks, inline math in code spans, and no ``$``
anywhere.  ``detail="brief"`` (the default here) is an answer that fits a Q&A
site: never over :data:`LIMIT` characters.
"""
from __future__ import annotations

from ..notation.unicode import UnicodePrinter, linear
from ..report import build_report
from ..report.model import Document
from .base import Renderer
from .text import markdown_escape

#: Stack Exchange refuses an answer longer than this many characters.
LIMIT = 30_000
MATH = ("mathjax", "unicode")


def render(derivation, *, detail: str = "brief", math: str = "mathjax") -> str:
    """The Markdown report of a derivation: ``detail`` "brief" or "full", ``math``
    "mathjax" or "unicode".  A brief answer treats fewer hypotheses one by one
    (counting the rest) until it fits in :data:`LIMIT` characters."""
    if math not in MATH:
        raise ValueError(f"math must be one of {', '.join(MATH)}, not {math!r}")
    text = render_document(build_report(derivation, detail), math)
    limit = len(derivation.results) + len(getattr(derivation, "facts", ()))
    while detail == "brief" and len(text) > LIMIT and limit > 1:
        limit //= 2
        text = render_document(build_report(derivation, detail, limit=limit), math)
    return text


def render_document(doc: Document, math: str = "mathjax") -> str:
    """Markdown text: blocks separated by one blank line, ending in one newline."""
    renderer = (UnicodeRenderer if math == "unicode" else MarkdownRenderer)(doc)
    chunks = [f"# {renderer.escape(doc.title)}"] + [renderer.block(b) for b in doc.body]
    return "\n\n".join(c for c in chunks if c) + "\n"


class MarkdownRenderer(Renderer):
    """Renders the blocks of one document; ``depth`` counts section nesting."""

    def __init__(self, doc: Document) -> None:
        super().__init__(doc)
        self.depth = 0
        self.theorems = doc.theorem_numbers()
        self.theorem_count = 0

    def escape(self, text: str) -> str:
        return markdown_escape(text)

    def blocks(self, nodes) -> str:
        return "\n\n".join(text for text in (self.block(b) for b in nodes) if text)

    def display(self, lines: list[str]) -> str:
        """A display-math block: ``$$`` alone on its lines, no blank line inside."""
        body = [line for line in lines if line.strip()]
        return "\n".join(["$$", *body, "$$"])

    # ---- inline ------------------------------------------------------------
    def _inline_Text(self, node) -> str:
        return self.escape(node.text)

    def _inline_Emph(self, node) -> str:
        return f"*{self.escape(node.text)}*"

    def _inline_Strong(self, node) -> str:
        return f"**{self.escape(node.text)}**"

    def _inline_Code(self, node) -> str:
        return f"`{node.text}`" if "`" not in node.text else self.escape(node.text)

    def _inline_Math(self, node) -> str:
        return f"${self.math(node.expr)}$"

    def _inline_Ref(self, node) -> str:
        if node.label in self.theorems:
            return f"Theorem {self.theorems[node.label]}"
        return self.escape(node.text)

    # ---- blocks ------------------------------------------------------------
    def _block_Section(self, node) -> str:
        heading = "#" * min(self.depth + 2, 6) + " " + self.escape(node.title)
        self.depth += 1
        body = self.blocks(node.body)
        self.depth -= 1
        return heading + ("\n\n" + body if body else "")

    def _block_Paragraph(self, node) -> str:
        return self.inline(node.parts)

    def _block_Equation(self, node) -> str:
        return self.display([r", \qquad ".join(self.math(e) for e in node.exprs)])

    def _block_Aligned(self, node) -> str:
        rows = []
        for lhs, (first, *rest), note in self.aligned_rows(node):
            note = rf" && \text{{({note})}}" if note else ""
            rows += [f"{lhs} &= {first}{note}"] + [rf"&\qquad {line}" for line in rest]
        lines = [r"\begin{aligned}"] + [row + (r" \\" if k < len(rows) - 1 else "")
                                        for k, row in enumerate(rows)] + [r"\end{aligned}"]
        return self.display(lines)

    def _block_Items(self, node) -> str:
        return "\n".join(f"- {self.inline(item)}" for item in node.items)

    def _block_Table(self, node) -> str:
        head = "| " + " | ".join(self.escape(h) for h in node.header) + " |"
        rule = "|" + "|".join("---" for _ in node.header) + "|"
        rows = ["| " + " | ".join(self._cell(c) for c in row) + " |" for row in node.rows]
        caption = self.inline(node.caption)
        return "\n".join([head, rule, *rows]) + (f"\n\n*{caption}*" if caption else "")

    def _cell(self, parts) -> str:
        """A table cell: a '|' inside math would end the cell, so it becomes \\vert."""
        return "".join(self._inline_Math(p).replace("|", r"\vert ")
                       if type(p).__name__ == "Math" else self.inline((p,)) for p in parts)

    def _block_Plot(self, node) -> str:
        return self._block_Table(node.fallback)

    def _block_Diagram(self, node) -> str:
        """Nothing: the table of classes beside it says the same in Markdown."""
        return ""

    def _block_Alert(self, node) -> str:
        body = self.blocks(node.body)
        lines = [f"**Warning: {self.escape(node.title)}**", "", *body.split("\n")]
        return "\n".join(("> " + line).rstrip() for line in lines)

    def _block_Theorem(self, node) -> str:
        self.theorem_count += 1
        name = f" ({self.escape(node.name)})" if node.name else ""
        return self._lead(f"**Theorem {self.theorem_count}**{name}.", node.body)

    def _block_Proof(self, node) -> str:
        text = self._lead("*Proof.*", node.body)
        return text + ("\n\n∎" if text.endswith("$$") else " ∎")

    def _lead(self, head: str, body) -> str:
        """``head`` run into the first paragraph of ``body`` (or on its own line)."""
        text = self.blocks(body)
        first = body[0] if body else None
        if first is not None and type(first).__name__ == "Paragraph":
            return f"{head} {text}"
        return f"{head}\n\n{text}"


class UnicodeRenderer(MarkdownRenderer):
    """Markdown without MathJax: formulas as Unicode text in code blocks and spans."""

    def __init__(self, doc: Document) -> None:
        super().__init__(doc)
        self.printer = UnicodePrinter({"samples": doc.samples})

    def escape(self, text: str) -> str:
        """As Markdown, with ``$`` as an entity: no dollar sign at all in the page."""
        return markdown_escape(text).replace("\\$", "&#36;")

    def _inline_Math(self, node) -> str:
        return f"`{linear(node.expr, self.doc.samples)}`"

    def _cell(self, parts) -> str:
        return self.inline(parts).replace("|", "\\|")

    def fence(self, text: str) -> str:
        lines = [line.rstrip() for line in text.split("\n")]
        return "\n".join(["```text", *lines, "```"])

    def _block_Equation(self, node) -> str:
        return self.fence("\n\n".join(self.printer.doprint(e) for e in node.exprs))

    def _block_Aligned(self, node) -> str:
        from sympy.printing.pretty.stringpict import prettyForm, stringPict

        width = max(self.printer._print(r.lhs).width() for r in node.rows if r.lhs is not None)
        rows = []
        for row in node.rows:
            lhs = self.printer._print(row.lhs) if row.lhs is not None else prettyForm("")
            pad = prettyForm(" " * (width - lhs.width()))
            parts = [pad, lhs, prettyForm(" = "), self.printer._print(row.rhs)]
            if row.note:
                parts.append(prettyForm(f"   ({row.note})"))
            rows.append(prettyForm(*stringPict.next(*parts)).render(wrap_line=False))
        return self.fence("\n".join(rows))

    def _block_Proof(self, node) -> str:
        text = self._lead("*Proof.*", node.body)
        return text + ("\n\n∎" if text.endswith("```") else " ∎")


__all__ = ["render", "render_document", "MarkdownRenderer", "UnicodeRenderer", "LIMIT"]
