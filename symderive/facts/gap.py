"""The gap between two tied units, to first order: H_A, the Hessian in antisymmetric directions.

Units i, j of a hidden layer are tied when every parameter of i equals its twin of j.
Write θ_i = c + d/√2, θ_j = c − d/√2 entry by entry (one coordinate d_a per pair of
twins: incoming weights, bias, outgoing weights).  The swap P of the two units leaves
the loss unchanged, so at a tied point ∇L is swap-symmetric (∂L/∂d = 0: the tie is
preserved) and the Hessian has no block mixing c and d.  One step of gradient descent
then moves the gap as

    d_{t+1} = (I − η H_A(θ_t)) d_t + O(‖d_t‖²),   H_A = ∂²L/∂d ∂d = Eᵀ H E,

E's columns being (e_i − e_j)/√2.  |1 − ηλ| > 1 for an eigenvalue λ of H_A makes that
direction grow (λ < 0: the tied point is a saddle across the tie, as Fukumizu & Amari
2000 found for duplicated units; λ > 2/η: gradient descent overshoots).

H_A is computed by central differences of the backpropagation gradient (any size), or
by SymPy's second derivatives of the whole loss, evaluated at the point, for small
networks; the eigenvalues are numbers either way, never a proof.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.gradients import whole_loss_affordable
from ..engine.network import Network, bias, input_, target, weight
from ..spec import NetworkSpec
from ..spec.functions import lambdify_safe

#: Central-difference step of the numeric H_A (the gradient is exact backprop, so the
#: error is O(h²) times third derivatives plus rounding of order 1e-16 / h).
H = 1e-5
#: Parameter-samples up to which H_A is taken from the symbolic whole loss.
SYMBOLIC_LIMIT = 60
#: |1 − ηλ| within this of 1 is "neutral" (the eigenvalues are numbers, not exact).
NEUTRAL_TOL = 1e-6

Slot = tuple[str, int, tuple[int, ...]]     # ("W" or "b", 0-based layer, index)


@dataclass(frozen=True)
class Twin:
    """One antisymmetric coordinate: a parameter of unit i and its twin of unit j."""

    name: str            # unit i's entry, by generated name (W1_1_2, b1_1, W2_3_1)
    twin: str            # unit j's
    i: Slot
    j: Slot


def twins(net: NetworkSpec, layer: int, units: tuple[int, int]) -> list[Twin]:
    """Incoming weights, bias (if any) and outgoing weights of units i, j, paired."""
    i, j = units
    out = [Twin(f"W{layer}_{i}_{k}", f"W{layer}_{j}_{k}", ("W", layer - 1, (i - 1, k - 1)),
                ("W", layer - 1, (j - 1, k - 1))) for k in range(1, net.layers[layer - 1] + 1)]
    if net.bias:
        out.append(Twin(f"b{layer}_{i}", f"b{layer}_{j}", ("b", layer - 1, (i - 1,)),
                        ("b", layer - 1, (j - 1,))))
    out += [Twin(f"W{layer + 1}_{m}_{i}", f"W{layer + 1}_{m}_{j}",
                 ("W", layer, (m - 1, i - 1)), ("W", layer, (m - 1, j - 1)))
            for m in range(1, net.layers[layer + 1] + 1)]
    return out


def _get(p: mlp.Params, slot: Slot) -> float:
    kind, l, index = slot
    return float((p.W if kind == "W" else p.b)[l][index])


def _add(p: mlp.Params, slot: Slot, value: float) -> None:
    kind, l, index = slot
    (p.W if kind == "W" else p.b)[l][index] += value


def gap_vector(p: mlp.Params, pairs: list[Twin]) -> np.ndarray:
    """d = (θ_i − θ_j)/√2 per pair."""
    return np.array([(_get(p, t.i) - _get(p, t.j)) / math.sqrt(2) for t in pairs])


def tie(p: mlp.Params, pairs: list[Twin]) -> None:
    """Set each pair to its mean (d = 0), in place."""
    for t in pairs:
        half = (_get(p, t.i) - _get(p, t.j)) / 2
        _add(p, t.i, -half)
        _add(p, t.j, half)


def displaced(p: mlp.Params, pairs: list[Twin], d: np.ndarray) -> mlp.Params:
    """p moved by d along the antisymmetric directions (θ_i += d/√2, θ_j −= d/√2)."""
    q = p.copy()
    for t, v in zip(pairs, d):
        _add(q, t.i, v / math.sqrt(2))
        _add(q, t.j, -v / math.sqrt(2))
    return q


def antisymmetric_gradient(net: NetworkSpec, p: mlp.Params, X, Y,
                           pairs: list[Twin]) -> np.ndarray:
    """∂L/∂d: (∂L/∂θ_i − ∂L/∂θ_j)/√2 per pair, by backpropagation."""
    return gap_vector(mlp.loss_and_gradient(net, p, X, Y)[1], pairs)


def numeric_ha(net: NetworkSpec, p: mlp.Params, X, Y, pairs: list[Twin]) -> np.ndarray:
    """H_A by central differences of the antisymmetric gradient, symmetrised."""
    n = len(pairs)
    cols = []
    for a in range(n):
        e = np.zeros(n)
        e[a] = H
        up = antisymmetric_gradient(net, displaced(p, pairs, e), X, Y, pairs)
        down = antisymmetric_gradient(net, displaced(p, pairs, -e), X, Y, pairs)
        cols.append((up - down) / (2 * H))
    m = np.array(cols).T
    return (m + m.T) / 2


def symbolic_affordable(net: NetworkSpec) -> bool:
    return whole_loss_affordable(net, SYMBOLIC_LIMIT) and net.activation.name != "any"


def symbolic_ha(net: NetworkSpec, pairs: list[Twin]) -> list[list[sp.Expr]]:
    """H_A as SymPy expressions: the whole loss with θ_i = c + s_a/√2, θ_j = c − s_a/√2,
    differentiated twice in the s's at s = 0 (c written as θ_i's own symbol)."""
    loss = Network(net).loss
    s = [sp.Symbol(f"s_{a}", real=True) for a in range(len(pairs))]
    move = {}
    for t, sa in zip(pairs, s):
        c = _symbol(t.name)
        move[c] = c + sa / sp.sqrt(2)
        move[_symbol(t.twin)] = c - sa / sp.sqrt(2)
    shifted = loss.xreplace(move)
    at0 = {sa: 0 for sa in s}
    first = [sp.diff(shifted, sa) for sa in s]
    return [[sp.diff(first[a], s[b]).xreplace(at0) for b in range(len(s))]
            for a in range(len(s))]


def _symbol(name: str) -> sp.Symbol:
    head, *idx = name.split("_")
    layer = int(head[1:])
    return weight(layer, int(idx[0]), int(idx[1])) if head[0] == "W" else bias(layer, int(idx[0]))


def evaluate_symbolic(net: NetworkSpec, entries: list[list[sp.Expr]], p: mlp.Params, X,
                      Y) -> np.ndarray:
    """The symbolic H_A at the point (parameters p, data X, Y)."""
    symbols, values = _point_symbols(net, p, X, Y)
    flat = [e for row in entries for e in row]
    f = lambdify_safe(symbols, flat)
    # one-element arrays: symderive's own NumPy functions (sigmoid ...) index their input
    out = np.array([float(np.ravel(v)[0]) if np.size(v) else 0.0
                    for v in f(*[np.array([v]) for v in values])], dtype=float) \
        if flat else np.zeros(0)
    n = len(entries)
    return out.reshape(n, n)


def _point_symbols(net: NetworkSpec, p: mlp.Params, X, Y) -> tuple[list, list[float]]:
    symbols, values = [], []
    for l in range(1, net.depth + 1):
        for r in range(net.layers[l]):
            for c in range(net.layers[l - 1]):
                symbols.append(weight(l, r + 1, c + 1))
                values.append(float(p.W[l - 1][r, c]))
            if net.bias:
                symbols.append(bias(l, r + 1))
                values.append(float(p.b[l - 1][r]))
    for n in range(net.samples):
        symbols += [input_(n + 1, k + 1) for k in range(net.layers[0])]
        values += [float(v) for v in X[n]]
        symbols += [target(n + 1, m + 1) for m in range(net.layers[-1])]
        values += [float(v) for v in Y[n]]
    return symbols, values


def factors(ha: np.ndarray, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """H_A's eigenvalues (ascending) and |1 − ηλ| for each."""
    lam = np.linalg.eigvalsh(ha) if ha.size else np.zeros(0)
    return lam, np.abs(1 - eta * lam)


def verdict_of(rho: float) -> str:
    """From the largest |1 − ηλ|: gap grows (> 1), shrinks (< 1), neutral (≈ 1)."""
    if rho > 1 + NEUTRAL_TOL:
        return "gap grows"
    if rho < 1 - NEUTRAL_TOL:
        return "gap shrinks"
    return "neutral"


__all__ = ["Twin", "twins", "gap_vector", "tie", "displaced", "antisymmetric_gradient",
           "numeric_ha", "symbolic_affordable", "symbolic_ha", "evaluate_symbolic", "factors",
           "verdict_of", "H", "NEUTRAL_TOL"]
