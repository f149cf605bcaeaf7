"""Frozen parameters: the largest set S that never moves, proved for every step.

S is frozen when the gradient of each parameter in S vanishes for every value of
the parameters outside S while S keeps its initial values: then the set
{θ : θ_S = θ_S(0)} is invariant under gradient descent (and momentum and Adam,
whose state stays 0 while the gradient is 0), so S never moves.

The gradients are the local formulas of backpropagation, per sample n:

    ∂ℓ/∂W^{(l)}_{uk} = δ^{(l)}_{n,u} a^{(l-1)}_{n,k},   ∂ℓ/∂b^{(l)}_u = δ^{(l)}_{n,u},
    δ^{(l)}_{n,u} = σ'(z^{(l)}_{n,u}) Σ_v W^{(l+1)}_{vu} δ^{(l+1)}_{n,v},

with everything outside S opaque (arbitrary).  A factor is *structurally* zero
when S pins it: a^{(l)}_u = σ(c) = 0 because z_u is a constant c fixed by S (its
bias and every incoming term are pinned), δ_u = 0 because σ'(c) = 0 or every
term W_{vu} δ_v has a pinned zero factor, and an input that is 0 in every
sample.  An output delta is zero only with data, when S pins the output's
pre-activation where the loss is already stationary (the output equals its
target, for the squared error).  The largest S is the
greatest fixed point: start from every parameter, drop those whose gradient is
not structurally zero, repeat.  Every parameter left is proved frozen.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

from .start import Start

#: Constant values with more operations than this are treated as unknown (sound: fewer zeros).
_MAX_OPS = 60


@dataclass(frozen=True)
class Frozen:
    """The frozen entries of every tensor, and why (per layer, per sample row)."""

    weights: tuple[np.ndarray, ...]         # W[l] mask, index 0 unused
    biases: tuple[np.ndarray | None, ...]   # b[l] mask (None without biases)
    silent: tuple[np.ndarray, ...]          # a^{(l)} ≡ 0: rows (samples) × units
    still: tuple[np.ndarray, ...]           # δ^{(l)} ≡ 0: rows × units
    constant: tuple[tuple, ...]             # z^{(l)}_u pinned to one value for all rows, or None
    #: every gradient is exactly 0 at the start on the data (:func:`stationary`): all frozen
    stationary: bool = False

    def entries(self, name: str) -> np.ndarray | None:
        """The mask of tensor W1, b1, ... (None for a bias of a network without biases)."""
        l = int(name[1:])
        return self.weights[l] if name[0] == "W" else self.biases[l]

    def summary(self, name: str):
        """"all", "none", or the 1-based indices of the frozen entries (CONTRACT.md)."""
        mask = self.entries(name)
        if mask.all():
            return "all"
        if not mask.any():
            return "none"
        if name[0] == "b":
            return [[int(i) + 1] for i in np.flatnonzero(mask[:, 0])]
        return [[int(r) + 1, int(c) + 1] for r, c in zip(*np.nonzero(mask))]


class _Values:
    """Exact values of σ and σ' at pinned pre-activations (None: not known)."""

    def __init__(self, start: Start, sigma_at_zero: sp.Expr | None = None) -> None:
        self.f = start.network.activation
        self.generic = self.f.name == "any"
        self.sigma_at_zero = sigma_at_zero

    def sigma(self, c: sp.Expr | None) -> sp.Expr | None:
        if c is None:
            return None
        if self.generic:
            return self.sigma_at_zero if c == 0 else None
        return _tidy(self.f(c))

    def dsigma_zero(self, c: sp.Expr | None) -> bool:
        if c is None or self.generic:
            return False
        return _is_zero(self.f.derivative(c))


def _tidy(v: sp.Expr) -> sp.Expr | None:
    v = sp.nsimplify(v) if v.is_Float else v
    return v if sp.count_ops(v) <= _MAX_OPS else None


def _is_zero(v: sp.Expr | None) -> bool:
    return v is not None and v.is_zero is True


def _exact(t, row: int, col: int = 0) -> sp.Rational:
    f: Fraction = t.fraction(row, col)
    return sp.Rational(f.numerator, f.denominator)


class _Pass:
    """One forward and backward pass of the structural analysis, for a candidate S."""

    def __init__(self, start: Start, S_W, S_b, values: _Values) -> None:
        self.start, self.S_W, self.S_b, self.values = start, S_W, S_b, values
        self.rows = len(start.data.inputs) if start.data is not None else 1
        self.silent: list[np.ndarray] = [self._input_silent()]
        self.known: list[list] = [self._input_known()]
        self.still: list[np.ndarray] = []
        self.constant: list[tuple] = [()]

    def _input_silent(self) -> np.ndarray:
        n = self.start.network.layers[0]
        if self.start.data is None:
            return np.zeros((1, n), dtype=bool)
        return np.array([[v == 0 for v in row] for row in self.start.data.inputs], dtype=bool)

    def _input_known(self) -> list:
        """Per input coordinate: its value per row (with data), else None."""
        n = self.start.network.layers[0]
        if self.start.data is None:
            return [None] * n
        return [[sp.Rational(r[k].numerator, r[k].denominator) for r in self.start.data.inputs]
                for k in range(n)]

    def pinned_zero_weights(self, l: int) -> np.ndarray:
        """W^{(l)} entries in S whose value is exactly 0."""
        W = self.start.W[l]
        zero = W.zero_mask()
        return np.zeros_like(self.S_W[l]) if zero is None else (self.S_W[l] & zero)

    def forward(self) -> None:
        for l in range(1, self.start.depth):
            pinned = self._pinned_units(l)
            z = [self._pinned_z(l, u) if pinned[u] else None
                 for u in range(self.start.network.layers[l])]
            self.constant.append(tuple(z))
            a = [None if zu is None else [self.values.sigma(v) for v in zu] for zu in z]
            self.known.append([None if au is None or any(v is None for v in au) else au
                               for au in a])
            self.silent.append(np.array([[au is not None and _is_zero(au[n]) for au in a]
                                         for n in range(self.rows)], dtype=bool))

    def _terms(self, l: int) -> np.ndarray:
        """Units × inputs of layer l: does the term W_{uk} a_k matter (not pinned at 0)?"""
        return ~(self.pinned_zero_weights(l) | self.silent[l - 1].all(axis=0)[None, :])

    def _pinned_units(self, l: int) -> np.ndarray:
        """Units of layer l whose bias and every incoming term S fixes (vectorised)."""
        b, W = self.start.b[l], self.start.W[l]
        width = self.start.network.layers[l]
        if b is None:
            bias_fixed = np.ones(width, dtype=bool)
        else:
            bias_fixed = self.S_b[l][:, 0] & (not b.is_random)
        known = np.array([k is not None for k in self.known[l - 1]], dtype=bool)
        fixed = self.S_W[l] & known[None, :] & (not W.is_random)
        return bias_fixed & np.all(~self._terms(l) | fixed, axis=1)

    def _pinned_z(self, l: int, u: int) -> list | None:
        """z^{(l)}_u per row, for a unit that S fixes (:meth:`_pinned_units`)."""
        b, W = self.start.b[l], self.start.W[l]
        total = [sp.S.Zero if b is None else _exact(b, u)] * self.rows
        for k in np.flatnonzero(self._terms(l)[u]):
            w = _exact(W, u, int(k))
            total = [t + w * a for t, a in zip(total, self.known[l - 1][k])]
        return total

    def output_still(self) -> np.ndarray:
        """δ^{(L)}_{n,m} = 0: only with data, when S pins z^{(L)}_m and the loss is already
        stationary there (the output equals its target, for the squared error)."""
        L, width = self.start.depth, self.start.network.layers[-1]
        still = np.zeros((self.rows, width), dtype=bool)
        if self.start.data is None or not _per_output(self.start.network):
            return still
        pinned = self._pinned_units(L)
        for m in np.flatnonzero(pinned):
            z = self._pinned_z(L, int(m))
            for n in range(self.rows):
                still[n, m] = _output_delta_zero(self.start, int(m), n, z[n])
        return still

    def backward(self) -> None:
        L, sizes = self.start.depth, self.start.network.layers
        still = [self.output_still()]
        for l in range(L - 1, 0, -1):
            live = (~self.pinned_zero_weights(l + 1)).astype(np.int64)   # next × this
            # δ_u = 0 when every term W_{vu} δ_v has a zero factor: no live term survives
            through = ((~still[0]).astype(np.int64) @ live) == 0
            flat = np.array([[self._flat(l, u, n) for u in range(sizes[l])]
                             for n in range(self.rows)], dtype=bool)
            still.insert(0, through | flat)
        still.insert(0, np.zeros((self.rows, sizes[0]), dtype=bool))
        self.still = still

    def _flat(self, l: int, u: int, n: int) -> bool:
        """σ'(z_u) = 0 at a pinned pre-activation."""
        z = self.constant[l][u]
        return z is not None and self.values.dsigma_zero(z[n])

    def gradients_zero(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        """(W^{(l)} entries, b^{(l)} entries) whose gradient is structurally 0."""
        d, a = self.still[l], self.silent[l - 1]
        # Σ_n δ_{n,u} a_{n,k} is structurally 0 when every sample has a zero factor
        w = ((~d).astype(np.int64).T @ (~a).astype(np.int64)) == 0
        return w, np.all(d, axis=0)[:, None]


def _per_output(network) -> bool:
    """Does δ^{(L)}_m depend on output m alone, with every function known?"""
    return (network.loss.name not in ("softmax_ce", "any")
            and network.output_activation.name != "any")


def _output_delta_zero(start: Start, m: int, n: int, z: sp.Expr) -> bool:
    """Is the output delta exactly 0 at pre-activation ``z`` with the data's target?"""
    from .network import output_value, per_output_delta, preactivation, target

    network = start.network
    zs, y = preactivation(network.depth, 1, 1), start.data.targets[n][m]
    yhat = {output_value(1, 1): network.output_activation(zs)}
    d = per_output_delta(network, 1, 1).xreplace(yhat)
    value = d.xreplace({zs: z, target(1, 1): sp.Rational(y.numerator, y.denominator)})
    return _is_zero(value) or _simplifies_to_zero(value)


#: Operations of a value beyond which ``simplify`` is not tried on it (its cost grows
#: with the nesting of exact σ values; False is sound: one zero fewer, never a wrong one).
_SIMPLIFY_OPS = 4 * _MAX_OPS


def _simplifies_to_zero(value: sp.Expr) -> bool:
    """Is a constant exactly 0?  A clearly non-zero numerical value (30 digits) settles
    "no" without ``simplify``, which could not give 0 for it anyway; ``simplify`` runs
    only on a value that is numerically 0 and at most :data:`_SIMPLIFY_OPS` operations."""
    if value.is_number:
        try:
            if abs(complex(value.evalf(30))) > 1e-20:
                return False
        except (TypeError, ValueError):
            pass
    if sp.count_ops(value) > _SIMPLIFY_OPS:
        return False
    return _is_zero(sp.simplify(value))


def frozen_parameters(start: Start, sigma_at_zero: sp.Expr | None = None) -> Frozen:
    """The largest frozen set (greatest fixed point), proved structurally.

    ``sigma_at_zero`` is σ(0) for an undefined activation (generic mode), if assumed."""
    sizes, L = start.network.layers, start.depth
    S_W = [np.zeros((0, 0), dtype=bool)] + [np.ones((sizes[l], sizes[l - 1]), dtype=bool)
                                            for l in range(1, L + 1)]
    S_b = [None] + [np.ones((sizes[l], 1), dtype=bool) if start.network.bias else None
                    for l in range(1, L + 1)]
    values = _Values(start, sigma_at_zero)
    while True:
        p = _Pass(start, S_W, S_b, values)
        p.forward()
        p.backward()
        changed = False
        for l in range(1, L + 1):
            w, b = p.gradients_zero(l)
            new_w = S_W[l] & w
            changed |= bool((new_w != S_W[l]).any())
            S_W[l] = new_w
            if S_b[l] is not None:
                new_b = S_b[l] & b
                changed |= bool((new_b != S_b[l]).any())
                S_b[l] = new_b
        if not changed:
            break
    if not all(m.all() for m in S_W[1:]) and stationary(start):
        return _everything(start, values)
    return Frozen(tuple(S_W), tuple(S_b), tuple(p.silent), tuple(p.still), tuple(p.constant))


def _everything(start: Start, values: _Values) -> Frozen:
    """Every parameter frozen: the start is a fixed point (:func:`stationary`)."""
    sizes, L = start.network.layers, start.depth
    S_W = [np.zeros((0, 0), dtype=bool)] + [np.ones((sizes[l], sizes[l - 1]), dtype=bool)
                                            for l in range(1, L + 1)]
    S_b = [None] + [np.ones((sizes[l], 1), dtype=bool) if start.network.bias else None
                    for l in range(1, L + 1)]
    p = _Pass(start, S_W, S_b, values)
    p.forward()
    p.backward()
    return Frozen(tuple(S_W), tuple(S_b), tuple(p.silent), tuple(p.still), tuple(p.constant),
                  stationary=True)


#: Parameter-samples up to which :func:`stationary` computes the exact gradient.
STATIONARY_LIMIT = 2000


def stationary(start: Start) -> bool:
    """Is every gradient exactly 0 at a fully given start, on its data?  Then gradient
    descent (momentum and Adam too) never moves: every parameter is frozen.  The gradient
    is summed over the samples in exact arithmetic (SymPy numbers: σ(0) = 1/2 exactly),
    so cancellations between samples count, which the per-sample analysis cannot see:
    an all-zero start on balanced targets.  False whenever it cannot decide."""
    net = start.network
    if (start.data is None or not _per_output(net) or net.activation.name == "any"
            or any(t.is_random for t in start.W[1:])
            or any(t is not None and t.is_random for t in start.b[1:])):
        return False
    size = sum(net.layers[l] * (net.layers[l - 1] + 1) for l in range(1, start.depth + 1))
    if size * len(start.data.inputs) > STATIONARY_LIMIT:
        return False
    total = _exact_gradient(start)
    return total is not None and all(_is_zero(g) for g in total)


def _exact_gradient(start: Start) -> list | None:
    """Every entry of the gradient (weights, then biases, layer by layer), or None when a
    value grows past :data:`_MAX_OPS` operations."""
    from .network import output_value, per_output_delta, preactivation, target

    net, L = start.network, start.depth
    W = [None] + [sp.Matrix(net.layers[l], net.layers[l - 1],
                            lambda r, c: _exact(start.W[l], r, c)) for l in range(1, L + 1)]
    b = [None] + [sp.Matrix(net.layers[l], 1, lambda r, c: _exact(start.b[l], r))
                  if start.b[l] is not None else sp.zeros(net.layers[l], 1)
                  for l in range(1, L + 1)]
    d_out = per_output_delta(net, 1, 1)
    zs, yh, y = preactivation(L, 1, 1), output_value(1, 1), target(1, 1)
    gW = [None] + [sp.zeros(*W[l].shape) for l in range(1, L + 1)]
    gb = [None] + [sp.zeros(*b[l].shape) for l in range(1, L + 1)]
    for x, t in zip(start.data.inputs, start.data.targets):
        a = [sp.Matrix([sp.Rational(v.numerator, v.denominator) for v in x])]
        z = [None]
        for l in range(1, L + 1):
            f = net.output_activation if l == L else net.activation
            z.append(W[l] * a[-1] + b[l])
            a.append(z[-1].applyfunc(f))
        delta = sp.Matrix([d_out.xreplace({zs: z[L][m], yh: a[L][m],
                                           y: sp.Rational(t[m].numerator, t[m].denominator)})
                           for m in range(net.layers[L])])
        for l in range(L, 0, -1):
            gW[l] += delta * a[l - 1].T
            gb[l] += delta
            if l > 1:
                slope = z[l - 1].applyfunc(net.activation.derivative)
                delta = (W[l].T * delta).multiply_elementwise(slope)
        if any(sp.count_ops(v) > _MAX_OPS for v in delta):
            return None
    entries = [v for l in range(1, L + 1) for v in gW[l]]
    return entries + ([v for l in range(1, L + 1) for v in gb[l]] if net.bias else [])


__all__ = ["Frozen", "frozen_parameters"]
