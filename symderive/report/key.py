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
        if network.stack:
            rows += stack_rows(network, k, r)
            continue
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
    from ..spec.layers.start import stack_tensors

    network = derivation.spec.network
    rows: list[Row] = []
    for name in (stack_tensors(network) if network.stack else tensor_names(network)):
        if result.frozen.summary(name) == "all":
            note = f"start {result.verdict}: frozen" if not rows else "frozen"
            head = name.rstrip("0123456789")
            rows.append(Row(partial(LOSS, sp.Symbol(f"{head}^{{({name[len(head):]})}}")),
                            sp.S.Zero, note))
    if network.stack:       # proved classes (an exchange may keep further units together)
        widths = [(l, len(lc.classes)) for l, lc in sorted(result.classes.items())]
        word = "proved classes of layer"
    else:
        widths = [(l, result.partition.width(l)) for l in range(1, result.start.depth)]
        word = "effective width of layer"
    for l, n in widths:
        note = (f"start {result.verdict}: " if not rows else "") + f"{word} {l}"
        name = "classes" if network.stack else "width"
        rows.append(Row(sp.Symbol(rf"\operatorname{{{name}}}_{{{l}}}"), sp.Integer(n), note))
    return rows


def stack_rows(network, k: int, r) -> list[Row]:
    """A ``[[layer]]`` network's hypothesis: per group, one paired entry's difference of
    gradients in the kind's notation: 0 for an equal group (every pair), the largest
    difference at the witness for a different one; an undecided group has no formula."""
    from ..engine.layers.units import Units
    from ..engine.symmetry import DIFFERENT, EQUAL
    from ..notation import number
    from .layer_talk import largest, paired_difference

    units, rows = Units(network, r.hypothesis), []
    for g in r.groups:
        pairs = len(units.groups[g.group][0])
        if g.status == EQUAL:
            n, value = 0, sp.S.Zero
            note = g.status + (f" (all {pairs} pairs)" if pairs > 1 else "")
        elif g.status == DIFFERENT and g.witness is not None:
            n = largest(g.witness.difference)
            value, note = number(g.witness.difference[n]), g.status + " (at the witness)"
        else:
            continue
        rows.append(Row(paired_difference(network, units, g.group, n), value,
                        (f"H{k} {r.verdict}: " if not rows else "") + note))
    return rows


__all__ = ["key_result", "stack_rows", "start_rows"]
