"""The formulas of a network in index notation: forward pass, loss, backpropagation.

Every formula is written for a generic unit (i, m), input component (k) and
sample (n), with concrete layer numbers, so a network of any width gives the
same few lines.  Symbols are the generated ones of :mod:`symderive.network`;
:mod:`symderive.notation` prints them.
"""
from __future__ import annotations

import sympy as sp

from ..engine.local import act, dact
from ..engine.network import (activation_value, bias, delta, output_value, per_output_delta,
                              preactivation, softmax_value, target, weight)
from ..notation import index_sum, outact, partial
from ..spec import NetworkSpec
from ..spec.functions import Z, relu, sigmoid
from .model import Row

LOSS = sp.Symbol("L")
ELL = sp.Symbol("ell")


def sample(spec: NetworkSpec):
    """The sample index of formulas: 1 (not shown) for one sample, else the generic n."""
    return 1 if spec.samples == 1 else "n"


def unit_index(spec: NetworkSpec, layer: int) -> str:
    """The generic unit index of a layer's formulas: m for the output layer, else i."""
    return "m" if layer == spec.depth else "i"


def forward_rows(spec: NetworkSpec) -> tuple[Row, ...]:
    """z^{(l)} = Σ_k W^{(l)} a^{(l-1)} + b^{(l)} and a^{(l)} = σ(z^{(l)}), layer by layer."""
    n, rows = sample(spec), []
    for l in range(1, spec.depth + 1):
        u = unit_index(spec, l)
        rhs = index_sum(lambda k: weight(l, u, k) * activation_value(l - 1, n, k), "k",
                        spec.layers[l - 1])
        if spec.bias:
            rhs = rhs + bias(l, u)
        z = preactivation(l, n, u)
        rows.append(Row(z, rhs))
        if l < spec.depth:
            rows.append(Row(activation_value(l, n, u), act(z)))
        else:
            out = z if spec.output_activation.is_identity else outact(z)
            rows.append(Row(output_value(n, u), out))
    return tuple(rows)


def activation_rows(spec: NetworkSpec) -> tuple[Row, ...]:
    """σ(z), σ'(z) and, unless it is the identity, the output activation φ(z)."""
    f = spec.activation
    rows = [] if f.expr == act(Z) or spec.depth == 1 else [Row(act(Z), f.expr),      # undefined σ: no formula
                                        Row(dact(Z), _tidy_derivative(f.derivative_expr))]
    g = spec.output_activation
    if not g.is_identity:
        rows.append(Row(outact(Z), g.expr.replace(sigmoid, lambda u: 1 / (1 + sp.exp(-u)))))
    return tuple(rows)


def _tidy_derivative(expr: sp.Expr) -> sp.Expr:
    """σ'(z) as a reader writes it: factored when that is shorter."""
    factored = sp.factor(expr)
    return factored if sp.count_ops(factored) < sp.count_ops(expr) else expr


def uses_heaviside(spec: NetworkSpec) -> bool:
    """Does σ' or φ' involve the Heaviside step (ReLU)?"""
    used = (spec.output_activation,) if spec.depth == 1 else (spec.activation,
                                                               spec.output_activation)
    return any(f.expr.has(relu) or sp.diff(f.expr, Z).has(sp.Heaviside) for f in used)


def loss_rows(spec: NetworkSpec) -> tuple[Row, ...]:
    """L = Σ_n Σ_m ℓ(ŷ_{n,m}, y_{n,m}), and softmax(ŷ) when the loss uses it."""
    n, M = sample(spec), spec.layers[-1]
    if spec.loss.name == "softmax_ce":
        sign, term = -1, lambda m: target(n, m) * sp.log(softmax_value(n, m))
    else:
        sign, term = 1, lambda m: spec.loss.per_sample([output_value(n, m)], [target(n, m)])
    total = index_sum(lambda _: index_sum(term, "m", M), "n", spec.samples)
    rows = [Row(LOSS, sign * total)]
    if spec.loss.name == "softmax_ce":
        denominator = index_sum(lambda k: sp.exp(output_value(n, k)), "k", M)
        rows.append(Row(softmax_value(n, "m"), sp.exp(output_value(n, "m")) / denominator))
    return tuple(rows)


def output_delta(spec: NetworkSpec, n, m) -> sp.Expr:
    """δ^{(L)}_{n,m} = ∂ℓ/∂z^{(L)}_{n,m} in ŷ and y, for generic indices."""
    L, M = spec.depth, spec.layers[-1]
    g = spec.output_activation
    if spec.loss.name == "softmax_ce":
        total = index_sum(lambda k: target(n, k), "k", M)
        return (softmax_value(n, m) * total - target(n, m)) * g.derivative(preactivation(L, n, m))
    return per_output_delta(spec, n, m)


def backprop_rows(spec: NetworkSpec) -> tuple[Row, ...]:
    """δ^{(L)}, then δ^{(l)} = σ'(z^{(l)}) Σ_m W^{(l+1)}_{mi} δ^{(l+1)}_m down to layer 1."""
    n, L = sample(spec), spec.depth
    rows = [Row(delta(L, n, "m"), partial(ELL, preactivation(L, n, "m"))),
            Row(None, output_delta(spec, n, "m"))]
    for l in range(L - 1, 0, -1):
        rhs = dact(preactivation(l, n, "i")) * index_sum(
            lambda m: weight(l + 1, m, "i") * delta(l + 1, n, m), "m", spec.layers[l + 1])
        rows.append(Row(delta(l, n, "i"), rhs))
    return tuple(rows)


def gradient_rows(spec: NetworkSpec) -> tuple[Row, ...]:
    """∂L/∂W^{(l)}_{ik} = Σ_n δ^{(l)}_{n,i} a^{(l-1)}_{n,k}, ∂L/∂b^{(l)}_i = Σ_n δ^{(l)}_{n,i}."""
    rows = []
    for l in range(1, spec.depth + 1):
        u = unit_index(spec, l)
        rows.append(Row(partial(LOSS, weight(l, u, "k")), index_sum(
            lambda n: delta(l, n, u) * activation_value(l - 1, n, "k"), "n", spec.samples)))
        if spec.bias:
            rows.append(Row(partial(LOSS, bias(l, u)),
                            index_sum(lambda n: delta(l, n, u), "n", spec.samples)))
    return tuple(rows)


__all__ = ["LOSS", "ELL", "outact", "sample", "forward_rows", "activation_rows", "loss_rows",
           "output_delta", "backprop_rows", "gradient_rows", "uses_heaviside"]
