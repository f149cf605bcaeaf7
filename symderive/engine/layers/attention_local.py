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

import hashlib
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Union

import sympy as sp

if TYPE_CHECKING:
    from .attention import AttentionShape

QUERY_KEY = ("query", "key")
#: A head quantity: a SymPy expression, or an exact number (int, Fraction) at a point.
Value = Union[sp.Expr, int, Fraction]


def _name(name: str, *idx: int | str) -> str:
    return f"{name}_" + "_".join(str(i) for i in idx)


def _number(label: str) -> int:
    """A non-zero integer in ±[1, 2²⁰] drawn from a symbol's label (a hash: the same
    label, the same number, on every run)."""
    draw = int.from_bytes(hashlib.blake2b(label.encode(), digest_size=4).digest(), "big")
    return (draw >> 1) % (1 << 20) + 1 if draw & 1 else -((draw >> 1) % (1 << 20) + 1)


@dataclass(frozen=True)
class LocalHeads:
    """Heads i and j (1-based) of attention layer ``layer``, with the groups the
    hypothesis ties and zeroes; one generic sample, component c = 1 of a head's
    rows and feature k of the layer's input.

    With ``point`` (a seed) every symbol is an integer instead, drawn from its name
    (the same symbol, the same number, in both heads), and the arithmetic is exact: the
    same formulas give the difference's value at one point in a fraction of the time
    of building it.  A value ≠ 0 shows that the difference is not identically 0."""

    layer: int
    shape: AttentionShape
    heads: tuple[int, int]
    tie: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()
    point: int | None = None
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def _cached(self, key: tuple, make) -> Value:
        """A token-level quantity built once (u_t, g_t and dS_ts recur)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def _who(self, group: str, which: int) -> int:
        """The head whose symbols head ``which`` (0 or 1) uses for ``group``."""
        return self.heads[0] if which == 1 and group in self.tie else self.heads[which]

    # ---- arithmetic: symbols, or exact numbers at a point ---------------------
    def _sym(self, name: str, *idx: int | str) -> Value:
        key = ("atom", name, idx)
        if key not in self._memo:
            label = _name(name, *idx)
            self._memo[key] = sp.Symbol(label, real=True) if self.point is None else \
                _number(f"{self.point}:{label}")
        return self._memo[key]

    def _add(self, terms: list) -> Value:
        return sp.Add(*terms) if self.point is None else sum(terms, 0)

    def _ratio(self, a: int, b: int) -> Value:
        return sp.Rational(a, b) if self.point is None else Fraction(a, b)

    def _scale(self) -> Value:
        """1/√d; at a point left out (a non-zero factor: it cannot make a value 0)."""
        return 1 / sp.sqrt(self.shape.head_dim) if self.point is None else 1

    # ---- local quantities ------------------------------------------------
    def x(self, t: int) -> Value:
        return self._sym(f"a{self.layer - 1}", "n", t + 1, "k")

    def delta(self, t: int, f: int) -> Value:
        return self._sym(f"dy{self.layer}", "n", t + 1, f + 1)

    def _projection(self, group: str, letter: str, which: int, t: int, c: int) -> Value:
        if group in self.zero:
            return sp.S.Zero if self.point is None else 0
        return self._sym(f"{letter}{self.layer}", self._who(group, which), "n", t + 1, c + 1)

    def q(self, which: int, t: int, c: int) -> Value:
        return self._projection("query", "q", which, t, c)

    def k(self, which: int, s: int, c: int) -> Value:
        return self._projection("key", "k", which, s, c)

    def v(self, which: int, s: int, c: int) -> Value:
        return self._projection("value", "v", which, s, c)

    def A(self, which: int, t: int, s: int) -> Value:
        """The attention weight, normalised: the last visible token takes the rest.
        A zero query or key makes every score 0 and the weights uniform."""
        return self._cached(("A", which, t, s), lambda: self._weight(which, t, s))

    def _weight(self, which: int, t: int, s: int) -> Value:
        seen = self.shape.visible(t)
        if any(g in self.zero for g in QUERY_KEY):
            return self._ratio(1, len(seen))
        if s == seen[-1]:
            return 1 - self._add([self.A(which, t, r) for r in seen[:-1]])
        who = (self._who("query", which), self._who("key", which))
        return self._sym(f"A{self.layer}", *who, "n", t + 1, s + 1)

    def O(self, which: int, f: int, c: int) -> Value:
        if "output" in self.zero:
            return sp.S.Zero if self.point is None else 0
        col = (self._who("output", which) - 1) * self.shape.head_dim + c + 1
        return self._sym(f"O{self.layer}", f + 1, col)

    def u(self, which: int, t: int, c: int) -> Value:
        """The head's output u_t = Σ_s A_ts v_s (component c)."""
        return self._cached(("u", which, t, c), lambda: self._add(
            [self.A(which, t, s) * self.v(which, s, c) for s in self.shape.visible(t)]))

    # ---- backpropagation through one head ---------------------------------
    def g(self, which: int, t: int, c: int) -> Value:
        """(O_wᵀ δ_t)_c: what the head's output slice carries back."""
        return self._cached(("g", which, t, c), lambda: self._add(
            [self.O(which, f, c) * self.delta(t, f) for f in range(self.shape.features)]))

    def dS(self, which: int, t: int, s: int) -> Value:
        """∂ℓ/∂S_ts = A_ts g_t · (v_s − u_t): the softmax Jacobian applied to g_t.
        Written as A g v − A g u, products of whole factors, so that u_t (a sum over
        tokens) is shared and not multiplied out: the same head quantities give the
        same terms, which cancel as the difference is built."""
        def make() -> Value:
            a = self.A(which, t, s)
            return self._add([a * self.g(which, t, c) * self.v(which, s, c)
                              - a * self.g(which, t, c) * self.u(which, t, c)
                              for c in range(self.shape.head_dim)])
        return self._cached(("dS", which, t, s), make)

    def _token_gradient(self, group: str, which: int, t: int) -> Value:
        """∂ℓ/∂(q_t, k_t or v_t), component 1 (head rows are alike up to renaming).
        A zero key (query) leaves nothing of the query's (key's) softmax term to build."""
        T = self.shape.tokens
        if group == "query":
            pairs = [(t, s, self.k(which, s, 0)) for s in self.shape.visible(t)]
        elif group == "key":
            pairs = [(r, t, self.q(which, r, 0)) for r in range(T) if t in self.shape.visible(r)]
        else:
            return self._add([self.A(which, r, t) * self.g(which, r, 0)
                              for r in range(T) if t in self.shape.visible(r)])
        return self._scale() * self._add([self.dS(which, a, b) * w for a, b, w in pairs if w != 0])

    def gradient(self, group: str, which: int, bias: bool = False) -> Value:
        """One entry of a head's group gradient: row 1, column k of its slice of
        Q, K or V (its bias entry when ``bias``), or O[1, its first column]."""
        T = self.shape.tokens
        if group == "output":
            return self._add([self.delta(t, 0) * self.u(which, t, 0) for t in range(T)])
        return self._add([self._token_gradient(group, which, t) * (1 if bias else self.x(t))
                          for t in range(T)])

    def difference(self, group: str, bias: bool = False) -> Value:
        """The gradient of head i's group minus head j's (one entry)."""
        return self.gradient(group, 0, bias) - self.gradient(group, 1, bias)

    @cached_property
    def identical(self) -> bool:
        """Are the two heads the same function under the hypothesis (every group
        tied or zeroed)?  Then each difference is 0 by construction."""
        return all(g in self.tie or g in self.zero for g in ("query", "key", "value", "output"))


# ---- deciding a difference -------------------------------------------------------
def one_feature_one_component(shape: AttentionShape) -> AttentionShape:
    """The shape on which a difference is decided: one input feature row of O and one
    value component (head_dim 1), the tokens, heads and mask kept.

    Exact, not an approximation: every term of a head's gradient carries exactly one
    error δ_{t,f} and, except in the output group, exactly one entry O_{f,c} of the
    head's output columns (g_t = O_wᵀ δ_t enters linearly; the output group reads
    δ_{t,1} u_{t,1} alone).  Terms with different (f, c) hold different entries of O,
    so they cannot cancel each other, and the difference is identically 0 exactly when
    the (f, c) = (1, 1) part is; every other part is that one with δ_{·,f}, O_{f,c}
    and the value component c renamed (an injective renaming: it preserves being 0).
    The score scale 1/√d is a non-zero constant factor."""
    return replace(shape, features=1, head_dim=1)


@lru_cache(maxsize=4)
def models(layer: int, shape: AttentionShape, heads: tuple[int, int], tie: tuple[str, ...],
           zero: tuple[str, ...]) -> tuple[LocalHeads, LocalHeads]:
    """A hypothesis's local model on :func:`one_feature_one_component`, symbolic and at
    a point, shared by its groups (each keeps its u_t, g_t, A_ts and dS_ts)."""
    small = one_feature_one_component(shape)
    return (LocalHeads(layer, small, heads, tie, zero),
            LocalHeads(layer, small, heads, tie, zero, point=1))


#: What a head's gradient of each group is made of (the formulas at the top): the
#: output group δ_t u_tᵀ, with u_t = Σ_s A_ts v_s; the value group Σ_t A_ts g_t x_tᵀ,
#: with g_t = O_wᵀ δ_t; the query and key groups the softmax Jacobian's
#: A_ts g_t · (v_s − u_t) times k_s or q_t (and x).  The attention weights A depend on
#: the query and key groups.
MADE_OF = {"output": ("query", "key", "value"),
           "value": ("query", "key", "output"),
           "query": ("query", "key", "value", "output"),
           "key": ("query", "key", "value", "output")}
#: The groups that, zeroed, make a factor of the group's gradient 0 in both heads: the
#: values (u = 0) for the output group, the output slice (g = 0) for the others, the
#: values (v_s − u_t = 0) and the keys (queries) for the queries (keys).
FACTOR_OF = {"output": ("value",),
             "value": ("output",),
             "query": ("key", "value", "output"),
             "key": ("query", "value", "output")}


def by_structure(group: str, tie: tuple[str, ...], zero: tuple[str, ...]) -> bool:
    """Is the difference 0 by what the gradient is made of, before any algebra: every
    group it is made of is tied or zeroed (the two heads' gradients are then the same
    function of the shared x and δ), or a group that is a factor of it is zeroed (both
    gradients are 0)?  The local model gives 0 as built in these cases; this says so
    without building it."""
    return all(g in tie or g in zero for g in MADE_OF[group]) or \
        any(g in zero for g in FACTOR_OF[group])


def proved_zero(layer: int, shape: AttentionShape, heads: tuple[int, int],
                tie: tuple[str, ...], zero: tuple[str, ...], group: str, bias: bool,
                expand: bool) -> bool:
    """Is the difference of ``group`` (its bias entry when ``bias``) proved identically
    0?  Only by SymPy: 0 as built (the two heads' terms cancel as they are collected) or,
    with ``expand``, ``sp.expand`` gives 0.  A value ≠ 0 at the exact point comes first:
    then it is not identically 0 and there is nothing to build.  ``expand`` is False
    where the expansion would be too large (:data:`.attention.LOCAL_TOKENS`): a
    difference that does not cancel as built is then not proved."""
    if by_structure(group, tie, zero):
        return True
    symbolic, at_point = models(layer, shape, heads, tie, zero)
    if at_point.difference(group, bias) != 0:
        return False
    expr = symbolic.difference(group, bias)
    return expr == 0 or (expand and sp.expand(expr) == 0)
