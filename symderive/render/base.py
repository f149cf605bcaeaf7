"""What the LaTeX and Markdown renderers share: dispatch on node class, math, row breaking."""
from __future__ import annotations

from ..notation import tex
from ..report.model import Aligned, Document, Row
from .breaking import LINE, note_width, tex_lines, width

#: The width (in characters of math) an equation number takes from a line.
NUMBER = 4


class Renderer:
    """Dispatches each node to ``_block_<Class>`` or ``_inline_<Class>``, as SymPy's printers do."""

    def __init__(self, doc: Document, line: float = LINE) -> None:
        self.doc, self.line = doc, line

    def block(self, node) -> str:
        return getattr(self, f"_block_{type(node).__name__}")(node)

    def inline(self, parts) -> str:
        return "".join(getattr(self, f"_inline_{type(p).__name__}")(p) for p in parts)

    def math(self, expr) -> str:
        return tex(expr, self.doc.samples)

    def aligned_rows(self, node: Aligned) -> list[tuple[str, list[str], str | None]]:
        """Per row: the left side, the right side's lines, the note.

        A right side wider than what the block's widest left side and the note
        leave of a line is broken (:func:`symderive.breaking.tex_lines`).
        """
        left = max((width(self.math(r.lhs)) for r in node.rows if r.lhs is not None), default=0)
        left += NUMBER if node.label else 0      # room for the equation number
        return [self._row(row, left) for row in node.rows]

    def _row(self, row: Row, left: float) -> tuple[str, list[str], str | None]:
        lhs = self.math(row.lhs) if row.lhs is not None else ""
        budget = self.line - left - width("=") - note_width(row.note)
        return lhs, tex_lines(row.rhs, self.doc.samples, budget), row.note


__all__ = ["Renderer"]
