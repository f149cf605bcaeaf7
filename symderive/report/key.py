"""The key result of a derivation as one formula: what a notebook shows (``_repr_latex_``).

SymPy, latexify and handcalcs display math only; so does a derivation: per
hypothesis, each parameter group's gradient difference as proved (0, or the
expression a witness shows non-zero), with the status and the verdict as
notes; per ``[[fact]]``, its statements.  No sections, theorems or labels:
the result drops into any notebook, Markdown cell or LaTeX export.
"""
from __future__ import annotations

from ..engine.local import LocalModel
from ..engine.output import OutputModel, is_output
from .model import Aligned, Row
from .steps import difference, settled


def key_result(derivation) -> Aligned | None:
    """One aligned formula with a row per settled difference or fact statement (None: none)."""
    rows: list[Row] = []
    network = derivation.spec.network
    for k, r in enumerate(derivation.results, start=1):
        model = (OutputModel(network, r.hypothesis) if is_output(network, r.hypothesis)
                 else LocalModel(network, r.hypothesis))
        for n, g in enumerate(r.groups):
            note = f"H{k} {r.verdict}: {g.status}" if n == 0 else g.status
            rows.append(Row(difference(model, g.group), settled(g), note))
    for k, f in enumerate(getattr(derivation, "facts", ()), start=1):
        for n, s in enumerate(f.statements):
            note = f"F{k} {f.verdict}: {s.status}" if n == 0 else s.status
            rows.append(Row(s.lhs, s.rhs, note))
    return Aligned(tuple(rows)) if rows else None


__all__ = ["key_result"]
