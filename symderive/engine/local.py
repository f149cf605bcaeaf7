"""The local derivation: what the gradients of two hidden units depend on.

For units i and j of hidden layer l, backpropagation gives (per sample n)

    ∂ℓ/∂W^{(l)}_{uk} = δ^{(l)}_{n,u} a^{(l-1)}_{n,k},   ∂ℓ/∂b^{(l)}_u = δ^{(l)}_{n,u},
    ∂ℓ/∂W^{(l+1)}_{mu} = δ^{(l+1)}_{n,m} σ(z^{(l)}_{n,u}),
    δ^{(l)}_{n,u} = σ'(z^{(l)}_{n,u}) Σ_m W^{(l+1)}_{mu} δ^{(l+1)}_{n,m}.

Everything else — earlier layers (through a^{(l-1)}), later layers and the
loss (through δ^{(l+1)}) — enters as opaque symbols.  A difference that is
identically zero for *arbitrary* values of those symbols is zero for the
actual ones, so the local derivation proves ``equal`` at a cost independent
of the depth and of the rest of the network's width.  σ and σ' appear as
undefined functions first (a proof for every activation), then as the
network's concrete activation.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..spec import Hypothesis, NetworkSpec
from ..spec.undefined import act, dact  # noqa: F401 - σ, σ' of every local derivation
from .network import activation_value, delta, preactivation, weight

Sample = int | str  # a sample number, or "n" for the generic sample


@dataclass(frozen=True)
class LocalModel:
    """The neighbourhood of units i, j in hidden layer ``layer`` of a network."""

    network: NetworkSpec
    hypothesis: Hypothesis

    @property
    def layer(self) -> int:
        return self.hypothesis.layer

    @property
    def fan_in(self) -> int:
        return self.network.layers[self.layer - 1]

    @property
    def fan_out(self) -> int:
        return self.network.layers[self.layer + 1]

    # ---- the tie map -----------------------------------------------------
    def _assumed(self, group: str) -> bool:
        h = self.hypothesis
        return group in h.tie or group in h.zero or (group == "bias" and not self.network.bias)

    def _zeroed(self, group: str) -> bool:
        return group in self.hypothesis.zero or (group == "bias" and not self.network.bias)

    def z(self, n: Sample, which: int) -> sp.Expr:
        """z^{(l)}_{n,u} for u = units[which], after the hypothesis."""
        i, j = self.hypothesis.units
        if self._zeroed("incoming") and self._zeroed("bias"):
            return sp.S.Zero
        if which == 1 and self._assumed("incoming") and self._assumed("bias"):
            which = 0
        return preactivation(self.layer, n, (i, j)[which])

    def V(self, m: int | str, which: int) -> sp.Expr:
        """W^{(l+1)}_{m,u}, the outgoing weight of units[which] after the hypothesis."""
        i, j = self.hypothesis.units
        if "outgoing" in self.hypothesis.zero:
            return sp.S.Zero
        if which == 1 and "outgoing" in self.hypothesis.tie:
            which = 0
        return weight(self.layer + 1, m, (i, j)[which])

    # ---- local gradients -------------------------------------------------
    def backprop_sum(self, n: Sample, which: int) -> sp.Expr:
        """Σ_m W^{(l+1)}_{m,u} δ^{(l+1)}_{n,m}."""
        return sp.Add(*[self.V(m, which) * delta(self.layer + 1, n, m)
                        for m in range(1, self.fan_out + 1)])

    def error_signal(self, n: Sample, which: int) -> sp.Expr:
        """δ^{(l)}_{n,u} = σ'(z_{n,u}) Σ_m W^{(l+1)}_{m,u} δ^{(l+1)}_{n,m}."""
        return dact(self.z(n, which)) * self.backprop_sum(n, which)

    def error_difference(self, n: Sample) -> sp.Expr:
        """δ^{(l)}_{n,i} − δ^{(l)}_{n,j}: incoming and bias differences are built on it.

        When the hypothesis makes the two units' z and outgoing weights the same
        symbols (the same for a generic m is the same for every m), the two signals
        are one expression and the difference is 0 without building the Σ_m."""
        if self.z(n, 0) == self.z(n, 1) and self.V("m", 0) == self.V("m", 1):
            return sp.S.Zero
        return self.error_signal(n, 0) - self.error_signal(n, 1)

    def activation_difference(self, n: Sample) -> sp.Expr:
        """σ(z_{n,i}) − σ(z_{n,j}): the outgoing difference is δ^{(l+1)}_{n,m} times it."""
        return act(self.z(n, 0)) - act(self.z(n, 1))

    def input(self, n: Sample, k: int | str) -> sp.Symbol:
        return activation_value(self.layer - 1, n, k)

    def next_delta(self, n: Sample, m: int | str) -> sp.Symbol:
        return delta(self.layer + 1, n, m)

    # ---- the swap ----------------------------------------------------------
    def swap_invariant(self) -> bool:
        """Does exchanging units i and j (z and outgoing weights) fix z^{(l+1)}?

        z^{(l+1)}_m = W_{m,i} σ(z_i) + W_{m,j} σ(z_j) + (terms without i, j), so
        the loss is swap-invariant exactly when this is; checked symbolically, once,
        for a generic next-layer unit m (every m has the same two terms, renamed).
        """
        return _swap_invariant(self.layer, *self.hypothesis.units)


@lru_cache(maxsize=256)
def _swap_invariant(l: int, i: int, j: int) -> bool:
    """:meth:`LocalModel.swap_invariant`, once per layer and pair of units (the
    hypotheses on the same units share it)."""
    n, m = 1, "m"
    zi, zj = preactivation(l, n, i), preactivation(l, n, j)
    vi, vj = weight(l + 1, m, i), weight(l + 1, m, j)
    local = vi * act(zi) + vj * act(zj)
    swapped = local.xreplace({zi: zj, zj: zi, vi: vj, vj: vi})
    return swapped == local or sp.expand(swapped - local) == 0  # == : the same tree


def concrete(expr: sp.Expr, network: NetworkSpec) -> sp.Expr:
    """Replace the undefined σ, σ' by the network's hidden activation."""
    f = network.activation
    return expr.replace(act, lambda u: f(u)).replace(dact, lambda u: f.derivative(u))


def is_identically_zero(expr: sp.Expr, probes: int = 3) -> bool:
    """True only if ``expr`` is proved to be 0.

    ``expand`` decides most cases.  Otherwise the expression is evaluated at a
    few random rational points: a clearly non-zero value proves it is *not*
    identically zero (and spares a costly ``simplify``); only if every probe is
    ~0 is a cautious ``simplify`` tried, and only its exact 0 counts.
    """
    e = sp.expand(expr)
    if e == 0:
        return True
    if e.has(act, dact) or e.count_ops() > 400:
        return False
    if _probe_nonzero(e, probes):
        return False
    return sp.simplify(e) == 0


def _probe_nonzero(e: sp.Expr, probes: int) -> bool:
    symbols = sorted(e.free_symbols, key=lambda s: s.name)
    rng = random.Random(20261129)
    for _ in range(probes):
        point = {s: sp.Rational(rng.randint(-40, 40), 16) for s in symbols}
        try:
            value = complex(e.xreplace(point).evalf(30))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if abs(value) > 1e-12:
            return True
    return False
