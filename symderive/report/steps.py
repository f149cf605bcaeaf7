"""A group's gradient difference, step by step: chain rule, deltas, hypothesis, result.

For units i, j of hidden layer l and one parameter group, the rows are

    ∂L/∂θ_i − ∂L/∂θ_j = Σ_n (δ_{n,i} − δ_{n,j}) a_{n,k}                 (chain rule)
                      = Σ_n (σ'(z_{n,i}) Σ_m W_{mi} δ_{n,m} − ...) a_{n,k} (backpropagation)
                      = (the same with the hypothesis substituted)
                      = the settled difference (factored), or 0.

The last row is the residual that :mod:`symderive.symmetry` settled (regrouped
by output errors ŷ_m − y_m when that is shorter: :func:`readable`); the rows
before it are the textbook derivation, in index notation so that the size of
the network does not matter.  With several samples the per-sample difference
gets a chain of its own (:func:`group_blocks`), so that no line grows with Σ_n.
"""
from __future__ import annotations

import sympy as sp

from ..engine.local import LocalModel, act, dact
from ..engine.network import activation_value, bias, delta, preactivation, weight
from ..engine.residual import readable
from ..engine.symmetry import EQUAL, GroupResult
from ..notation import index_sum, minus, partial, tex
from .formulas import LOSS, sample
from .model import Aligned, Block, Math, Row, para

GROUP_NAMES = {"incoming": "incoming weights", "bias": "bias", "outgoing": "outgoing weights"}
_EQUAL_NOTES = {"local, any activation": "any activation",
                "local, this activation": "this activation",
                "whole loss": "whole loss", "constant loss": "constant loss"}


def component(model: LocalModel, group: str):
    """The component index a group's difference is written for: k, m, or 1 when single."""
    if group == "incoming":
        return "k" if model.fan_in > 1 else 1
    if group == "outgoing":
        return "m" if model.fan_out > 1 else 1
    return None


def parameter(model: LocalModel, group: str, which: int) -> sp.Symbol:
    """The parameter of unit ``units[which]`` in ``group`` (generic component)."""
    l, u, c = model.layer, model.hypothesis.units[which], component(model, group)
    if group == "incoming":
        return weight(l, u, c)
    if group == "bias":
        return bias(l, u)
    return weight(l + 1, c, u)


def difference(model: LocalModel, group: str) -> sp.Expr:
    """∂L/∂θ_i − ∂L/∂θ_j, unevaluated."""
    return minus(partial(LOSS, parameter(model, group, 0)),
                 partial(LOSS, parameter(model, group, 1)))


def _samples(model: LocalModel, term) -> sp.Expr:
    return index_sum(term, "n", model.network.samples)


def _error(model: LocalModel, n, which: int, hypothesis: bool) -> sp.Expr:
    """δ^{(l)}_{n,u} by backpropagation, before or after the hypothesis."""
    u = model.hypothesis.units[which]
    if hypothesis:
        z, V = model.z(n, which), (lambda m: model.V(m, which))
    else:
        z, V = _z(model, n, u), (lambda m: weight(model.layer + 1, m, u))
    if V("m") == 0:
        return sp.S.Zero
    return dact(z) * index_sum(lambda m: V(m) * delta(model.layer + 1, n, m), "m", model.fan_out)


def _z(model: LocalModel, n, u) -> sp.Symbol:
    return preactivation(model.layer, n, u)


def _pair(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    """a − b shown as such, or 0 when both sides are 0."""
    return sp.S.Zero if a == 0 and b == 0 else minus(a, b)


def _cores(model: LocalModel, group: str, n) -> tuple[list[tuple[sp.Expr, str]], sp.Expr]:
    """The per-sample difference, step by step, and the factor it is multiplied by.

    Incoming and bias: (δ_{n,i} − δ_{n,j}) times a^{(l-1)}_{n,k} (or 1);
    outgoing: (a_{n,i} − a_{n,j}) times δ^{(l+1)}_{n,m}.
    """
    l, (i, j) = model.layer, model.hypothesis.units
    if group == "outgoing":
        cores = [(_pair(activation_value(l, n, i), activation_value(l, n, j)), "chain rule"),
                 (_pair(act(_z(model, n, i)), act(_z(model, n, j))), "forward pass"),
                 (_pair(act(model.z(n, 0)), act(model.z(n, 1))), "hypothesis")]
        return cores, delta(l + 1, n, component(model, group))
    cores = [(_pair(delta(l, n, i), delta(l, n, j)), "chain rule"),
             (_pair(_error(model, n, 0, False), _error(model, n, 1, False)), "backpropagation"),
             (_pair(_error(model, n, 0, True), _error(model, n, 1, True)), "hypothesis")]
    factor = activation_value(l - 1, n, component(model, group)) if group == "incoming" \
        else sp.S.One
    return cores, factor


def _final(result: GroupResult) -> tuple[sp.Expr, str]:
    if result.status == EQUAL:
        return sp.S.Zero, _EQUAL_NOTES.get(result.method, "simplified")
    return settled(result), "simplified"


def settled(result: GroupResult) -> sp.Expr:
    """A group's settled difference as the report shows it (see :func:`readable`)."""
    return sp.S.Zero if result.status == EQUAL else readable(result.residual)


def _chain(lhs: sp.Expr, steps, samples: int) -> tuple[Row, ...]:
    """lhs = step₁ = step₂ = ..., skipping a step that prints like the one before."""
    rows, last = [], None
    for expr, note in steps:
        printed = tex(expr, samples)
        if printed != last:
            rows.append(Row(lhs if not rows else None, expr, note))
        last = printed
    return tuple(rows)


def group_blocks(model: LocalModel, result: GroupResult, label: str | None) -> list[Block]:
    """The derivation of one group's difference, ending in its settled value.

    With one sample, one chain of equalities.  With several, the sum over
    samples would make every line too wide, so the per-sample difference
    gets its own chain and the total is stated at the end.
    """
    group, samples = result.group, model.network.samples
    lhs = difference(model, group)
    if samples == 1:
        cores, factor = _cores(model, group, 1)
        steps = [(core * factor, note) for core, note in cores] + [_final(result)]
        return [Aligned(_chain(lhs, steps, samples), label)]
    cores, factor = _cores(model, group, "n")
    total = _samples(model, lambda n: cores[0][0] * factor)
    return [Aligned(_chain(lhs, [(total, "chain rule")], samples)),
            para("where, for every sample ", Math(sp.Symbol("n")), ","),
            Aligned(_chain(cores[0][0], cores[1:], samples)),
            para("so that"),
            Aligned(_chain(lhs, [_final(result)], samples), label)]


def assumption_exprs(model: LocalModel) -> tuple[sp.Expr, ...]:
    """The hypothesis as equations between (or zeroing) the two units' parameters."""
    out = []
    hyp = model.hypothesis
    for group in model.network.unit_groups(model.layer):
        a, b = parameter(model, group, 0), parameter(model, group, 1)
        if group in hyp.tie:
            out.append(sp.Eq(a, b, evaluate=False))
        elif group in hyp.zero:
            out += [sp.Eq(a, 0, evaluate=False), sp.Eq(b, 0, evaluate=False)]
    return tuple(out)


def consequence(model: LocalModel) -> tuple[sp.Expr, ...]:
    """z_{n,i} = z_{n,j} (and = 0) when the hypothesis forces it, else nothing."""
    n, (i, j) = sample(model.network), model.hypothesis.units
    if model.z(n, 0) != model.z(n, 1):
        return ()
    same = sp.Eq(_z(model, n, i), _z(model, n, j), evaluate=False)
    return (same,) if model.z(n, 0) != 0 else (same, sp.Eq(_z(model, n, i), 0, evaluate=False))


__all__ = ["GROUP_NAMES", "component", "parameter", "difference", "group_blocks", "settled",
           "readable",
           "assumption_exprs", "consequence"]
