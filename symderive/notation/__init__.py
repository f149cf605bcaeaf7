"""Notation: how symderive writes mathematics, shared by the engine, the report and the renderers.

:mod:`.printing` extends SymPy's LaTeX printer for the package's generated
symbol names (``W1_2_1`` → W^{(1)}_{21}); :mod:`.symbols` adds the report's
notation on top (∂L/∂W, σ'(z), index sums, the swap P).  Nothing here knows
about documents or markup formats.
"""
from __future__ import annotations

from .symbols import (Dots, GradOf, IndexRange, LossOf, ReportLatexPrinter, Step, Swap,
                      display_order, index_sum, matrix, minus, number, outact, partial, tex,
                      vector)

__all__ = ["ReportLatexPrinter", "display_order", "outact", "tex", "minus", "partial",
           "index_sum", "number", "vector", "matrix", "LossOf", "GradOf", "IndexRange",
           "Swap", "Dots", "Step"]
