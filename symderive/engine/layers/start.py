"""The starting point of a ``[[layer]]`` network: classes of units proved to stay identical,
and dead units on the given data.

**Classes.**  Exchanging two units u, v of a layer (their own entries, every entry that
reads them, the same channels of every layer of their residual stream: the swap P of
:class:`.units.Units`) leaves the loss unchanged for every parameter point and data set
(:func:`.swap.swap_check`: each layer's statement, checked with its kind's own forward).
So ∇L(Pθ) = P∇L(θ), and a starting point fixed by P (θ[P(e)] = θ[e] for every entry e)
stays fixed at every step of gradient descent, with momentum or Adam (their updates are
elementwise, their state starts at zero).  Every layer's output is then equal to itself
with the two units' channels exchanged: the units compute equal functions of the input at
every step.  A ``random`` entry is generic (distinct from every other entry), so a pair
whose swap moves a random entry is not fixed.  Classes are the transitive closure of the
fixed pairs.  An exchange of several layers' units at once may keep further pairs
together; those are missed here, which only makes classes finer (their pairs are
undecided, never claimed to separate without a witness).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import sympy as sp

from ...spec import Hypothesis, NetworkSpec, Spec
from ...spec.layers import LayerSpec
from . import Entry, layer_kind
from .swap import swap_check
from .units import Units, own_labels

#: Dead units are computed exactly up to this many multiply-adds (samples × a forward pass).
DEAD_WORK = 20_000


@dataclass(frozen=True)
class StackStart:
    """Exact tensors (object arrays of Fractions; None: random) and exact data, if any."""

    spec: Spec

    @property
    def network(self) -> NetworkSpec:
        return self.spec.network

    @cached_property
    def tensors(self) -> dict[str, np.ndarray | None]:
        return {t.name: t.array() for t in self.spec.init.tensors}

    @property
    def concrete(self) -> bool:
        return all(v is not None for v in self.tensors.values())

    def value(self, entry: Entry):
        """The exact value of an entry, or None when its tensor is random."""
        t = self.tensors[entry[0]]
        return None if t is None else t[entry[1]]

    def unit_layers(self) -> list[LayerSpec]:
        """The layers whose units have classes: every layer with units but the last."""
        return [s for s in self.network.stack[:-1] if s.units]


@dataclass(frozen=True)
class LayerClasses:
    """The classes of one layer's units (1-based), and how they are proved."""

    layer: int
    classes: tuple[tuple[int, ...], ...]
    proof: str            # "layer by layer" | "whole loss" | why no pair could be proved
    proved: bool          # was the swap proved for this layer's pairs?

    def label(self, unit: int) -> int:
        return next(k for k, c in enumerate(self.classes) if unit in c)


def classes(start: StackStart) -> dict[int, LayerClasses]:
    """The proved classes of every layer of :meth:`StackStart.unit_layers`."""
    return {s.index: _layer_classes(start, s) for s in start.unit_layers()}


def _layer_classes(start: StackStart, layer: LayerSpec) -> LayerClasses:
    n = layer.units
    singletons = tuple((u,) for u in range(1, n + 1))
    if n == 1:
        return LayerClasses(layer.index, singletons, "one unit", True)
    first = Units(start.network, Hypothesis("start", layer.index, (1, 2)))
    if 0 in first.stream:
        return LayerClasses(layer.index, singletons, "its residual stream includes the input",
                            False)
    proved, how = swap_check(start.network, first)
    if not proved:
        return LayerClasses(layer.index, singletons, how, False)
    parent = list(range(n + 1))

    def find(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    signature = {u: _signature(start, first._entries(u), u)
                 for u in range(1, n + 1)}
    for u in range(1, n + 1):
        for v in range(u + 1, n + 1):
            if find(u) == find(v) or signature[u] != signature[v]:
                continue
            pair = Units(start.network, Hypothesis("start", layer.index, (u, v)))
            if _fixed(start, pair.permutation):
                parent[find(v)] = find(u)
    groups: dict[int, list[int]] = {}
    for u in range(1, n + 1):
        groups.setdefault(find(u), []).append(u)
    return LayerClasses(layer.index, tuple(tuple(g) for g in groups.values()), how, True)


def _signature(start: StackStart, entries: dict[str, list[Entry]], unit: int) -> tuple:
    """The sorted values of every entry a unit's swap moves (a random entry: itself, unique).
    A fixed pair's swap maps one unit's entries onto the other's, so equal signatures are
    necessary; only a pre-filter (the pair is then checked entry by entry)."""
    seen = {e for group in entries.values() for e in group}
    values = [start.value(e) for e in seen]
    if any(v is None for v in values):
        return ("random", unit)
    return tuple(sorted(values))


def _fixed(start: StackStart, permutation: dict[Entry, Entry]) -> bool:
    """θ[P(e)] = θ[e] for every entry the swap moves, exactly (random entries never)."""
    for e, f in permutation.items():
        a, b = start.value(e), start.value(f)
        if a is None or b is None or a != b:
            return False
    return True


# ------------------------------------------------------------------ dead units


def dead_units(start: StackStart) -> dict[int, tuple[int, ...]] | None:
    """Per layer with units and an activation: the units whose activation slope is exactly 0
    at every sample and position of the given data at the start.  None when it cannot be
    computed exactly (no data, or too large); a layer is left out once a random tensor
    comes before it.  A float64 pass finds the candidates (slope below 1e-6 or at a kink
    everywhere); only they are decided in exact arithmetic, up to the last of them."""
    spec = start.spec
    if spec.data is None:
        return None
    work = sum(layer_kind(s.kind).flops(s) for s in spec.network.stack) * spec.network.samples
    if work > DEAD_WORK:
        return None
    candidates = _candidates(start)
    out: dict[int, tuple[int, ...]] = {l: () for l in candidates}
    values = [_rational(spec.data.input_array())]
    for s in spec.network.stack:
        if not any(candidates.get(l) for l in range(s.index, len(spec.network.stack) + 1)):
            break
        theta = {n: _rational(start.tensors[n]) for n in layer_kind(s.kind).tensors(s)}
        z = layer_kind(s.kind).forward(s, theta, values[-1])
        f = s.activation
        if candidates.get(s.index):
            out[s.index] = _flat_units(s, z, f, candidates[s.index])
        a = z if f is None or f.is_identity else np.vectorize(f, otypes=[object])(z)
        values.append(a + values[s.skip] if s.skip is not None else a)
    return out


def _candidates(start: StackStart) -> dict[int, list[int]]:
    """Per layer (while every tensor so far is given): the units whose float64 slope is
    below 1e-6 or whose pre-activation is at a kink, at every sample and position."""
    x = start.spec.data.input_array().astype(float)
    values, out = [x], {}
    for s in start.network.stack:
        names = list(layer_kind(s.kind).tensors(s))
        if any(start.tensors[n] is None for n in names):
            break
        theta = {n: start.tensors[n].astype(float) for n in names}
        with np.errstate(all="ignore"):
            z, _ = layer_kind(s.kind).np_forward(s, theta, values[-1])
        f, axis = s.activation, layer_kind(s.kind).unit_axis
        if s.units and f is not None and not f.is_identity and axis is not None:
            labels = own_labels(s.out_shape, axis)
            flat = (np.abs(f.np_df(z)) <= 1e-6) | (f.distance_to_kink(z) <= 1e-9)
            out[s.index] = [u for u in range(1, s.units + 1) if flat[:, labels == u].all()]
        a = z if f is None else f.np_f(z)
        values.append(a + values[s.skip] if s.skip is not None else a)
    return out


def _flat_units(layer: LayerSpec, z: np.ndarray, f, units: list[int]) -> tuple[int, ...]:
    """The ``units`` whose exact slope is 0 at every sample and position."""
    labels = own_labels(layer.out_shape, layer_kind(layer.kind).unit_axis)
    dead = []
    for u in units:
        slopes = [f.derivative(v) for v in z[:, labels == u].reshape(-1)]
        if all(d == 0 for d in slopes):
            dead.append(u)
    return tuple(dead)


def _rational(values: np.ndarray) -> np.ndarray:
    out = np.empty(values.shape, dtype=object)
    for idx in np.ndindex(*values.shape):
        v = values[idx]
        out[idx] = sp.Rational(v.numerator, v.denominator)
    return out


def samples_work(spec: Spec) -> int:
    """Multiply-adds of one forward pass over the samples (the symbolic stages' size)."""
    return math.prod((sum(layer_kind(s.kind).flops(s) for s in spec.network.stack),
                      spec.network.samples))


__all__ = ["StackStart", "LayerClasses", "classes", "dead_units", "samples_work"]
