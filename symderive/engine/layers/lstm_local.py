"""The local difference of two LSTM units' gradients, step by step.

Backpropagation through time gives, per sample, for unit u at step t (gates in
PyTorch's order, z^γ_t the pre-activation of gate γ):

    δh_{t,u} = [t = T] Σ_m R_{m,u} δ'_m + Σ_γ Σ_r U^γ_{r,u} δz^γ_{t+1,r}
               (its outgoing column R of the next layer; its recurrent_outgoing column of U)
    δc_{t,u} = δh_{t,u} o_{t,u} (1 − tanh² c_{t,u}) + δc_{t+1,u} f_{t+1,u}
    δz^i = δc g i (1 − i),  δz^f = δc c_{t−1} f (1 − f),  δz^g = δc i (1 − g²),
    δz^o = δh tanh(c) o (1 − o),

and the groups' gradients are Σ_t δz_t times x_t (incoming), h_{t−1} (recurrent),
1 (bias); Σ_t δz_{t,r} h_{t−1,u} for its column of U, δ' h_{T,u} for the next layer.

Both ways are proved by induction with opaque quantities per step.  A step's
equation depends on the step only through the index of its per-step symbols and
whether it is the first (zero state before it) or the last (the next layer's error,
nothing after it), and, backward, whether the states are still the same at the next
step; so it is proved once per such pattern (at most four, whatever the steps):

- forward, from the zero state: if units i and j have the same state at step t − 1
  and their pre-activations z_{t,i} − z_{t,j} are identically 0 (the other units'
  states opaque), they have the same state at step t — their rows of W, U (aligned:
  U_ii = U_jj, U_ij = U_ji) and b decide it;
- backward, from step T: if the two units have the same state and their deltas
  δz_{t+1}, δc_{t+1} agree, δh_{t,i} − δh_{t,j} is a sum over the differences of
  their outgoing and recurrent_outgoing columns, each times an error signal.

A group's difference is written in the per-step symbols; it is 0 as an expression
exactly when every step's equality was proved.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import sympy as sp

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .lstm import LSTMShape

GATES = ("i", "f", "g", "o")   # PyTorch's order (as in .lstm)

GROUPS = ("incoming", "recurrent", "bias", "recurrent_outgoing", "outgoing")


@lru_cache(maxsize=1 << 16)
def _sym(name: str, *idx: int | str) -> sp.Symbol:
    """A per-step symbol (made once: the steps' equations ask for the same ones often)."""
    return sp.Symbol(f"{name}_" + "_".join(str(i) for i in idx), real=True)


@dataclass(frozen=True)
class LocalUnits:
    """Units i and j (1-based) of LSTM layer ``layer`` under a hypothesis; the next
    layer reads the output with ``readers`` weights per unit (its outgoing group)."""

    layer: int
    shape: LSTMShape
    units: tuple[int, int]
    tie: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()
    readers: int = 1
    bias: bool = True
    per_step: bool = False
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def pair(self) -> tuple[int, int]:
        return self.units[0] - 1, self.units[1] - 1

    def _swap(self, u: int) -> int:
        i, j = self.pair
        return j if u == i else i if u == j else u

    # ---- parameters after the hypothesis ---------------------------------
    @cached_property
    def moved(self) -> dict[sp.Symbol, sp.Expr]:
        """The parameter symbols the hypothesis moves -> their value (the representative
        symbol of their tied class, or 0); every other symbol stands for itself.  Only
        the two units' entries are tied or zeroed, so only they are looked at."""
        p = {n: _Entries(f"{n}{self.layer}") for n in self.shape.tensor_shapes()}
        reader = _Entries(f"W{self.layer + 1}")
        parent: dict[sp.Symbol, sp.Symbol] = {}
        for a, b in self._tied_pairs(p, reader):
            ra, rb = _root(parent, a), _root(parent, b)
            if ra != rb:
                parent[rb] = ra
        out: dict[sp.Symbol, sp.Expr] = {s: _root(parent, s) for s in parent}
        out.update({s: sp.S.Zero for s in self._zeroed(p, reader)})
        if not self.bias:
            out.update({p["b"][r]: sp.S.Zero for r in range(4 * self.shape.units)})
        return out

    def _entries(self, p, reader, u: int, group: str) -> list[sp.Symbol]:
        """Unit u's entries of ``group``, in the aligned order (partner exchanged)."""
        n, rows = self.shape.units, self.shape.rows(u)
        if group == "incoming":
            return [p["W"][r, k] for r in rows for k in range(self.shape.inputs)]
        if group == "bias":
            return [p["b"][r] for r in rows]
        if group == "recurrent":   # column k of unit i pairs column swap(k) of unit j
            other = u != self.pair[0]
            return [p["U"][r, self._swap(k) if other else k] for r in rows for k in range(n)]
        if group == "recurrent_outgoing":
            other = u != self.pair[0]
            return [p["U"][g * n + (self._swap(r) if other else r), u]
                    for g in range(4) for r in range(n)]
        return [reader[m, u] for m in range(self.readers)]

    def _tied_pairs(self, p, reader):
        i, j = self.pair
        for group in self.tie:
            yield from zip(self._entries(p, reader, i, group), self._entries(p, reader, j, group))

    def _zeroed(self, p, reader):
        for group in self.zero:
            for u in self.pair:
                yield from self._entries(p, reader, u, group)

    def param(self, name: str, *idx: int) -> sp.Expr:
        """Entry ``idx`` (0-based) of the layer's tensor ``name`` under the hypothesis."""
        return self._value(f"{name}{self.layer}", idx)

    def reader(self, m: int, u: int) -> sp.Expr:
        """The next layer's weight by which its unit m reads unit u (0-based)."""
        return self._value(f"W{self.layer + 1}", (m, u))

    def _value(self, tensor: str, idx: tuple[int, ...]) -> sp.Expr:
        key = ("value", tensor, idx)
        if key not in self._memo:
            s = _Entries(tensor)[idx]
            self._memo[key] = self.moved.get(s, s)
        return self._memo[key]

    # ---- the forward induction -------------------------------------------------
    def state_owner(self, which: int, t: int) -> int:
        """Whose state symbols unit ``which`` (0, 1) uses after step t (1-based units)."""
        return self.units[0] if self.same_state(t) else self.units[which]

    def same_state(self, t: int) -> bool:
        """Do the two units have the same state after step t (0: the zero state)?"""
        if t == 0:
            return True
        if ("forward", t) not in self._memo:
            self._memo["forward", t] = self.same_state(t - 1) and self._step(
                ("forward step", t == 1), lambda: all(self.same_z(g, t) for g in range(4)))
        return self._memo["forward", t]

    def _step(self, pattern: tuple, prove) -> bool:
        """One step's equation, proved once per pattern: the steps of one pattern (the
        first or a later one; for the deltas also the last, and whether the states are
        still the same at the next step) have the same equation up to the step index of
        the per-step symbols, an injective renaming, which keeps it identically 0 or
        not.  ``per_step`` proves every step's own equation instead (to check this)."""
        if self.per_step:
            return prove()
        if pattern not in self._memo:
            self._memo[pattern] = prove()
        return self._memo[pattern]

    def h(self, u: int, t: int) -> sp.Expr:
        """h_{t,u} (0-based unit u): 0 at t = 0; i and j by their owner, others opaque."""
        if t == 0:
            return sp.S.Zero
        if u in self.pair:
            return self.gate("h", self.pair.index(u), t)
        return _sym(f"h{self.layer}", u + 1, "n", t)

    def gate(self, name: str, which: int, t: int) -> sp.Symbol:
        """A per-step value of unit ``which``: h, c (c at t = 0 is 0), tanh c, i, f, g, o."""
        if name == "c" and t == 0:
            return sp.S.Zero
        return _sym(f"{name}{self.layer}", self.state_owner(which, t), "n", t)

    def x(self, t: int, k: int | str) -> sp.Symbol:
        return _sym(f"a{self.layer - 1}", "n", t, k)

    def z_terms(self, which: int, g: int, t: int) -> list[tuple[sp.Expr, sp.Expr]]:
        """Pre-activation of gate g of unit ``which`` at step t as (atom, coefficient)
        pairs: the step's inputs x_t, the states h_{t−1} and 1, times parameters."""
        n, r = self.shape.units, g * self.shape.units + self.pair[which]
        return [(self.x(t, k + 1), self.param("W", r, k)) for k in range(self.shape.inputs)] \
            + [(self.h(m, t - 1), self.param("U", r, m)) for m in range(n)] \
            + [(sp.S.One, self.param("b", r))]

    def z(self, which: int, g: int, t: int) -> sp.Expr:
        """Pre-activation of gate g of unit ``which`` at step t."""
        return sp.Add(*[c * a for a, c in self.z_terms(which, g, t)])

    def same_z(self, g: int, t: int) -> bool:
        """Is z_{t,i} − z_{t,j} identically 0?  It is linear in its atoms (x_t, h_{t−1}
        and 1; i's and j's states are one atom when they are the same) with parameter
        coefficients that hold no atom, so it is 0 exactly when each atom's
        coefficients cancel: the same terms on both sides, or SymPy's sums equal."""
        coefficients: dict[sp.Expr, tuple[list, list]] = {}
        for which in (0, 1):
            for atom, c in self.z_terms(which, g, t):
                if atom != 0 and c != 0:
                    coefficients.setdefault(atom, ([], []))[which].append(c)
        return all(Counter(i) == Counter(j) or sp.Add(*i) - sp.Add(*j) == 0
                   for i, j in coefficients.values())

    # ---- the backward induction -------------------------------------------------
    def delta_owner(self, which: int, t: int) -> int:
        return self.units[0] if self.same_delta(t) else self.units[which]

    def same_delta(self, t: int) -> bool:
        """Do the two units have the same δz_t and δc_t (t = T + 1: nothing yet)?"""
        if t > self.shape.steps:
            return True
        if ("backward", t) not in self._memo:
            T = self.shape.steps
            pattern = ("backward step", t == 1, t == T, t < T and self.same_state(t + 1))
            self._memo["backward", t] = self.same_delta(t + 1) and self.same_state(t) and \
                self._step(pattern, lambda: all(sp.expand(a - b) == 0 for a, b in zip(
                    self.step_deltas(0, t), self.step_deltas(1, t))))
        return self._memo["backward", t]

    def dz(self, u: int, g: int, t: int) -> sp.Expr:
        """δz^g_{t,u} as a per-step symbol (0 past the last step)."""
        if t > self.shape.steps:
            return sp.S.Zero
        if u in self.pair:
            return _sym(f"dz{self.layer}", self.delta_owner(self.pair.index(u), t), GATES[g], "n", t)
        return _sym(f"dz{self.layer}", u + 1, GATES[g], "n", t)

    def dc(self, which: int, t: int) -> sp.Expr:
        if t > self.shape.steps:
            return sp.S.Zero
        return _sym(f"dc{self.layer}", self.delta_owner(which, t), "n", t)

    def dh(self, which: int, t: int) -> sp.Expr:
        """δh_{t,u}: the outgoing column at the last step, the recurrent_outgoing column."""
        u, n = self.pair[which], self.shape.units
        if t == self.shape.steps:
            return sp.Add(*[self.reader(m, u) * _sym(f"d{self.layer + 1}", "n", m + 1)
                            for m in range(self.readers)])
        return sp.Add(*[self.param("U", g * n + r, u) * self.dz(r, g, t + 1)
                        for g in range(4) for r in range(n)])

    def step_deltas(self, which: int, t: int) -> list[sp.Expr]:
        """δz^i, δz^f, δz^g, δz^o and δc of unit ``which`` at step t, from δh_t and the
        step-(t + 1) symbols."""
        i, f, g, o, tc = (self.gate(name, which, t) for name in ("i", "f", "g", "o", "tc"))
        dh = self.dh(which, t)
        f_next = self.gate("f", which, t + 1) if t < self.shape.steps else sp.S.Zero
        dc = dh * o * (1 - tc ** 2) + self.dc(which, t + 1) * f_next
        c_prev = self.gate("c", which, t - 1)
        return [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                dh * tc * o * (1 - o), dc]

    # ---- the groups' differences ------------------------------------------------
    def differences(self, group: str) -> list[sp.Expr]:
        """Entry by entry (aligned), unit i's gradient minus unit j's, per sample,
        in the per-step symbols (every gate; the columns of i, j and another unit)."""
        T, (i, j) = self.shape.steps, self.pair
        if group == "outgoing":
            return [_sym(f"d{self.layer + 1}", "n", 1) * (self.h(i, T) - self.h(j, T))]
        parts = [self.step_parts(group, t) for t in range(1, T + 1)]
        return [sp.Add(*entry) for entry in zip(*parts)]

    def step_parts(self, group: str, t: int) -> list[sp.Expr]:
        """Step t's part of each entry of :meth:`differences` (not ``outgoing``): every
        term holds a symbol of step t (δz_t or x_t), so parts of different steps never
        cancel, and a difference is 0 exactly when each step's part is."""
        (i, j), n = self.pair, self.shape.units
        others = sorted({i, j, *range(min(n, 3))})
        if group in ("incoming", "bias"):
            one = self.x(t, "k") if group == "incoming" else 1
            return [(self.dz(i, g, t) - self.dz(j, g, t)) * one for g in range(4)]
        if group == "recurrent":
            return [self.dz(i, g, t) * self.h(k, t - 1)
                    - self.dz(j, g, t) * self.h(self._swap(k), t - 1)
                    for g in range(4) for k in others]
        return [self.dz(r, g, t) * self.h(i, t - 1)
                - self.dz(self._swap(r), g, t) * self.h(j, t - 1)
                for g in range(4) for r in others]

    def vanishes(self, group: str) -> bool:
        """Is every entry of :meth:`differences` 0?  Step by step from the last (where
        the next layer's error enters), stopping at the first part that is not 0."""
        if group == "outgoing":
            return all(e == 0 for e in self.differences(group))
        return all(e == 0 for t in range(self.shape.steps, 0, -1)
                   for e in self.step_parts(group, t))


def by_structure(group: str, zero: tuple[str, ...], steps: int, units: int,
                 bias: bool) -> bool:
    """Is the group's gradient 0 for both units, by a factor that vanishes (the
    formulas at the top), before any model is built?

    - A unit's hidden state is 0 at every step when its rows are zeroed (incoming,
      recurrent and, with a bias, bias): every gate's pre-activation is 0, so g = 0 and
      c_t = f c_{t−1} + i g stays 0.  Whatever reads it, its outgoing and
      recurrent_outgoing columns, then gets a zero gradient.
    - A unit's hidden-state error δh_t is 0 at every step when its outgoing column is
      zeroed and its recurrent_outgoing column is zeroed too, or there is one step, or
      the two units are the layer's only units (δh_T = 0 makes their δz_T 0, which is
      all that reaches δh_{T−1}, and so on back).  Its rows then get zero gradients.
    - On one step h_0 = 0 multiplies every recurrent and recurrent_outgoing gradient.
    - With no error anywhere in the layer (the two units are all of them, their
      outgoing columns zeroed) the recurrent_outgoing gradient Σ_t δz_t h_{t−1} is 0.
    """
    dark = all(g in zero for g in ("incoming", "recurrent")) and (not bias or "bias" in zero)
    quiet = "outgoing" in zero and ("recurrent_outgoing" in zero or steps == 1 or units == 2)
    if group == "outgoing":
        return dark
    if group == "recurrent_outgoing":
        return dark or steps == 1 or ("outgoing" in zero and units == 2)
    if group == "recurrent":
        return quiet or steps == 1
    return quiet


@lru_cache(maxsize=4)
def local_model(*args, **options) -> LocalUnits:
    """One model per hypothesis, shared by its groups (its steps proved once)."""
    return LocalUnits(*args, **options)


class _Entries:
    """The generated symbols of a tensor (``U1[2, 0]`` is ``U1_3_1``), made on demand."""

    def __init__(self, tensor: str):
        self.tensor = tensor

    def __getitem__(self, idx) -> sp.Symbol:
        idx = idx if isinstance(idx, tuple) else (idx,)
        return sp.Symbol(f"{self.tensor}_" + "_".join(str(i + 1) for i in idx), real=True)


def _root(parent: dict, s):
    while s in parent and parent[s] != s:
        s = parent[s]
    return s
