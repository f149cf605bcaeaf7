"""The local difference of two heads' gradients: what it depends on, and why.

Per sample, with δ_t = ∂ℓ/∂y_t (the same for every head) and head w's local
quantities — queries q_t, keys k_s, values v_s, attention weights A_ts —
backpropagation through one head gives

    g_t   = O_wᵀ δ_t                                  (its output slice carries δ back)
    ∂ℓ/∂v_s = Σ_t A_ts g_t,        ∂ℓ/∂O_w = Σ_t δ_t u_tᵀ,    u_t = Σ_s A_ts v_s,
    ∂ℓ/∂S_ts = A_ts g_t · (v_s − u_t)                 (the softmax Jacobian),
    ∂ℓ/∂q_t = Σ_s ∂ℓ/∂S_ts k_s / √d,   ∂ℓ/∂k_s = Σ_t ∂ℓ/∂S_ts q_t / √d,

and the groups' gradients are these times x (the layer's input) summed over
tokens: ∂ℓ/∂Q_w = Σ_t ∂ℓ/∂q_t x_tᵀ, and so on.  Everything outside the layer
enters only through x and δ, which both heads share; a difference that is
identically zero for arbitrary x, δ, q, k, v and A (A normalised: each row
sums to 1) is zero at every point, whatever the rest of the network.

So when two heads have tied query, key and value groups they have the same
q, k, v, A and u, and their difference starts at the output slices:
Δg_t = (O_i − O_j)ᵀ δ_t.  It reaches the values weighted by the attention,
ΔV ∝ Σ_t A_ts Δg_t, and the queries and keys through the softmax Jacobian,
ΔS_ts = A_ts Δg_t · (v_s − u_t): a value's deviation from its token's
attention mean.  On one token (or at the first token of a causal head) v_1 =
u_1, and the query and key differences vanish.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .attention import AttentionShape

QUERY_KEY = ("query", "key")


def _sym(name: str, *idx: int | str) -> sp.Symbol:
    return sp.Symbol(f"{name}_" + "_".join(str(i) for i in idx), real=True)


@dataclass(frozen=True)
class LocalHeads:
    """Heads i and j (1-based) of attention layer ``layer``, with the groups the
    hypothesis ties and zeroes; one generic sample, component c = 1 of a head's
    rows and feature k of the layer's input."""

    layer: int
    shape: AttentionShape
    heads: tuple[int, int]
    tie: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()

    def _who(self, group: str, which: int) -> int:
        """The head whose symbols head ``which`` (0 or 1) uses for ``group``."""
        return self.heads[0] if which == 1 and group in self.tie else self.heads[which]

    # ---- local quantities ------------------------------------------------
    def x(self, t: int) -> sp.Symbol:
        return _sym(f"a{self.layer - 1}", "n", t + 1, "k")

    def delta(self, t: int, f: int) -> sp.Symbol:
        return _sym(f"dy{self.layer}", "n", t + 1, f + 1)

    def _projection(self, group: str, letter: str, which: int, t: int, c: int) -> sp.Expr:
        if group in self.zero:
            return sp.S.Zero
        return _sym(f"{letter}{self.layer}", self._who(group, which), "n", t + 1, c + 1)

    def q(self, which: int, t: int, c: int) -> sp.Expr:
        return self._projection("query", "q", which, t, c)

    def k(self, which: int, s: int, c: int) -> sp.Expr:
        return self._projection("key", "k", which, s, c)

    def v(self, which: int, s: int, c: int) -> sp.Expr:
        return self._projection("value", "v", which, s, c)

    def A(self, which: int, t: int, s: int) -> sp.Expr:
        """The attention weight, normalised: the last visible token takes the rest.
        A zero query or key makes every score 0 and the weights uniform."""
        seen = self.shape.visible(t)
        if any(g in self.zero for g in QUERY_KEY):
            return sp.Rational(1, len(seen))
        if s == seen[-1]:
            return 1 - sp.Add(*[self.A(which, t, r) for r in seen[:-1]])
        who = (self._who("query", which), self._who("key", which))
        return _sym(f"A{self.layer}", *who, "n", t + 1, s + 1)

    def O(self, which: int, f: int, c: int) -> sp.Expr:
        if "output" in self.zero:
            return sp.S.Zero
        col = (self._who("output", which) - 1) * self.shape.head_dim + c + 1
        return sp.Symbol(f"O{self.layer}_{f + 1}_{col}", real=True)

    def u(self, which: int, t: int, c: int) -> sp.Expr:
        """The head's output u_t = Σ_s A_ts v_s (component c)."""
        return sp.Add(*[self.A(which, t, s) * self.v(which, s, c)
                        for s in self.shape.visible(t)])

    # ---- backpropagation through one head ---------------------------------
    def g(self, which: int, t: int, c: int) -> sp.Expr:
        """(O_wᵀ δ_t)_c: what the head's output slice carries back."""
        return sp.Add(*[self.O(which, f, c) * self.delta(t, f)
                        for f in range(self.shape.features)])

    def dS(self, which: int, t: int, s: int) -> sp.Expr:
        """∂ℓ/∂S_ts = A_ts g_t · (v_s − u_t): the softmax Jacobian applied to g_t."""
        d = self.shape.head_dim
        return self.A(which, t, s) * sp.Add(*[
            self.g(which, t, c) * (self.v(which, s, c) - self.u(which, t, c))
            for c in range(d)])

    def _token_gradient(self, group: str, which: int, t: int) -> sp.Expr:
        """∂ℓ/∂(q_t, k_t or v_t), component 1 (head rows are alike up to renaming)."""
        T, scale = self.shape.tokens, 1 / sp.sqrt(self.shape.head_dim)
        if group == "query":
            return scale * sp.Add(*[self.dS(which, t, s) * self.k(which, s, 0)
                                    for s in self.shape.visible(t)])
        readers = [r for r in range(T) if t in self.shape.visible(r)]
        if group == "key":
            return scale * sp.Add(*[self.dS(which, r, t) * self.q(which, r, 0)
                                    for r in readers])
        return sp.Add(*[self.A(which, r, t) * self.g(which, r, 0) for r in readers])

    def gradient(self, group: str, which: int, bias: bool = False) -> sp.Expr:
        """One entry of a head's group gradient: row 1, column k of its slice of
        Q, K or V (its bias entry when ``bias``), or O[1, its first column]."""
        T = self.shape.tokens
        if group == "output":
            return sp.Add(*[self.delta(t, 0) * self.u(which, t, 0) for t in range(T)])
        return sp.Add(*[self._token_gradient(group, which, t) * (1 if bias else self.x(t))
                        for t in range(T)])

    def difference(self, group: str, bias: bool = False) -> sp.Expr:
        """The gradient of head i's group minus head j's (one entry)."""
        return self.gradient(group, 0, bias) - self.gradient(group, 1, bias)

    @cached_property
    def identical(self) -> bool:
        """Are the two heads the same function under the hypothesis (every group
        tied or zeroed)?  Then each difference is 0 by construction."""
        return all(g in self.tie or g in self.zero for g in ("query", "key", "value", "output"))
