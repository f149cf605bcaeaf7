"""The key result of a derivation as one formula: what a notebook shows (``_repr_latex_``).

SymPy, latexify and handcalcs display math only; so does a derivation: per
hypothesis, each parameter group's gradient difference as proved (0, or the
expression a witness shows non-zero), with the status and the verdict as
notes; per ``[[fact]]``, its statements; for an ``[init]`` starting point, the
gradient of every frozen tensor (0) and the effective width of every hidden layer.  No sections, theorems or labels:
the result drops into any notebook, Markdown cell or LaTeX export.
"""
from __future__ import annotations

import sympy as sp

from ..engine.local import LocalModel
from ..engine.output import OutputModel, is_output
from ..notation import partial
from .formulas import LOSS
from .model import Aligned, Row
from .steps import difference, settled


def key_result(derivation) -> Aligned | None:
    """One aligned formula with a row per settled difference or fact statement (None: none)."""
    rows: list[Row] = start_rows(derivation)
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


def start_rows(derivation) -> list[Row]:
    """∂L/∂θ = 0 for each frozen tensor and the effective width of each hidden layer."""
    result = derivation.start
    if result is None:
        return []
    from ..spec.init import tensor_names

    rows: list[Row] = []
    for name in tensor_names(derivation.spec.network):
        if result.frozen.summary(name) == "all":
            note = f"start {result.verdict}: frozen" if not rows else "frozen"
            rows.append(Row(partial(LOSS, sp.Symbol(f"{name[0]}^{{({name[1:]})}}")),
                            sp.S.Zero, note))
    for l in range(1, result.start.depth):
        note = (f"start {result.verdict}: " if not rows else "") + \
            f"effective width of layer {l}"
        rows.append(Row(sp.Symbol(rf"\operatorname{{width}}_{{{l}}}"),
                        sp.Integer(result.partition.width(l)), note))
    return rows


__all__ = ["key_result", "start_rows"]
