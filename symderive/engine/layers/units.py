"""The groups of two units of a stack, their residual stream, and the swap that
exchanges them.

A hypothesis on units i and j of layer l compares, for every group, the entries of
unit i with those of unit j, pair by pair.  The groups are the layer's own
(``incoming``, ``bias``), those a norm layer after it attaches (``gain``,
``shift``) and ``outgoing``: every entry of a later layer that reads the unit,
found by following unit labels (one per position of a layer's output) through the
layers without units.  If skips join layer l to other layers (a residual stream),
the same two channels exist in each of them; their groups are named
``<group>@<layer>`` and a tie or zero of a group holds in every layer of the stream.
Exchanging every pair of entries of every group is the swap P; the loss is
invariant under it (``tests/test_layer_kinds.py`` checks L∘P = L symbolically).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain, groupby
from operator import itemgetter

import numpy as np

from ...spec import Hypothesis, NetworkSpec
from ...spec.layers import spec_kind
from ...spec.layers.groups import ORDER, heads, owner, stream
from . import NO_UNIT, Entry, layer_kind


def own_labels(shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Labels of a layer's output whose units lie along ``axis``: unit u (1-based) at
    every position of index u − 1 on that axis."""
    index = np.arange(1, shape[axis] + 1).reshape([-1 if a == axis % len(shape) else 1
                                                   for a in range(len(shape))])
    return np.broadcast_to(index, shape).copy()


@dataclass(frozen=True)
class Units:
    """The groups of units ``hyp.units`` of layer ``hyp.layer`` of a stack."""

    spec: NetworkSpec
    hyp: Hypothesis

    @cached_property
    def stream(self) -> tuple[int, ...]:
        return stream(self.spec.stack, self.hyp.layer)

    def name(self, group: str, layer: int) -> str:
        return group if layer == self.hyp.layer else f"{group}@{layer}"

    @cached_property
    def _layout(self) -> Layout:
        return layout(self.spec, self.stream, self.hyp.layer, self.hyp.units)

    @property
    def permutation(self) -> dict[Entry, Entry]:
        """The swap P, entry -> entry: the exchange of the two units' own entries, of the
        entries that read them, ... composed.  In a stream a layer may both own the
        channels and read them (its rows and its columns): P then takes W[i, i] to
        W[j, j] and W[i, j] to W[j, i], as the CONTRACT's aligned ties say."""
        return self._layout.permutation

    @property
    def groups(self) -> dict[str, tuple[list[Entry], list[Entry]]]:
        """Every group's entries of unit i, and their images under P (unit j's), by name.
        (Shared lists: read them, do not change them.)"""
        return self._layout.groups

    def _entries(self, unit: int) -> dict[str, list[Entry]]:
        return _unit_entries(self.spec, self.stream, self.hyp.layer, unit)

    def base(self, name: str) -> str:
        """``incoming@3`` -> ``incoming``: the group a hypothesis names."""
        return name.split("@")[0]

    def assumed(self, name: str) -> bool:
        return self.base(name) in self.hyp.tie or self.base(name) in self.hyp.zero

    @property
    def covered(self) -> bool:
        return all(self.assumed(n) for n in self.groups)

    def layers_tied(self) -> tuple[int, ...]:
        """The other layers of the stream, whose groups the hypothesis also ties."""
        return tuple(m for m in self.stream if m != self.hyp.layer)

    def swap(self) -> list[tuple[Entry, Entry]]:
        """The swap P as (entry, its image) pairs: (Pθ)[P(e)] = θ[e]."""
        return sorted(self.permutation.items())

    def impose(self, theta: dict[str, np.ndarray]) -> None:
        """Make ``theta`` satisfy the hypothesis in place: copy i's tied entries to j,
        zero both units' zeroed entries."""
        for name, (ei, ej) in self.groups.items():
            tied, zeroed = self.base(name) in self.hyp.tie, self.base(name) in self.hyp.zero
            if not (tied or zeroed):
                continue
            # no entry twice: whole runs at once; else pair by pair, in order (a stream's
            # W[i, j] and W[j, i] are copied one after the other)
            pairs = self._layout.runs(name) if self._layout.disjoint else \
                [(ta, ia, tb, ib) for (ta, ia), (tb, ib) in zip(ei, ej)]
            for ta, ia, tb, ib in pairs:
                if tied:
                    theta[tb][ib] = theta[ta][ia]
                else:
                    theta[ta][ia] = theta[tb][ib] = 0

    def difference(self, grads: dict[str, np.ndarray], name: str) -> np.ndarray:
        """∂L/∂θ_i − ∂L/∂θ_j of a group, entry by entry (paired)."""
        runs = self._layout.runs(name)
        if not runs:
            return np.zeros(0)
        return np.concatenate([np.asarray(grads[ta][ia] - grads[tb][ib], dtype=float)
                               for ta, ia, tb, ib in runs])


@dataclass
class Layout:
    """The groups of two units (unit i's entries and their images) and the swap P;
    ``disjoint`` when no entry belongs to two pairs."""

    groups: dict[str, tuple[list[Entry], list[Entry]]]
    permutation: dict[Entry, Entry]
    disjoint: bool
    _runs: dict = field(default_factory=dict)

    def runs(self, name: str) -> list[tuple[str, tuple, str, tuple]]:
        """A group's pairs as runs of one tensor each side, with NumPy index arrays:
        (tensor of i's entries, their indices, tensor of the images, their indices),
        in the group's order."""
        if name not in self._runs:
            ei, ej = self.groups[name]
            ia, ib = list(map(itemgetter(1), ei)), list(map(itemgetter(1), ej))
            out, start = [], 0
            for (ta, tb), run in groupby(zip(map(itemgetter(0), ei), map(itemgetter(0), ej))):
                stop = start + len(list(run))
                out.append((ta, _index(ia[start:stop]), tb, _index(ib[start:stop])))
                start = stop
            self._runs[name] = out
        return self._runs[name]


def _index(indices: list[tuple[int, ...]]) -> tuple[np.ndarray, ...]:
    """Index tuples of one tensor (all of one length) as NumPy's advanced index: one
    array per axis."""
    flat = np.fromiter(chain.from_iterable(indices), dtype=np.intp,
                       count=len(indices) * len(indices[0]))
    return tuple(flat.reshape(len(indices), -1).T)


@lru_cache(maxsize=8)
def layout(spec: NetworkSpec, members: tuple[int, ...], layer: int, units: tuple[int, int]
           ) -> Layout:
    """The groups of units ``units`` of ``layer`` and the swap P, computed once for the
    hypotheses (and reports) on the same two units: a head's groups hold thousands of
    entries.  :func:`clear_layouts` forgets them."""
    mine, theirs = (_unit_entries(spec, members, layer, u) for u in units)
    perm = _disjoint_exchange(mine, theirs)
    if perm is not None:
        return Layout({name: (mine[name], theirs[name]) for name in mine}, perm, True)
    perm = _composed_exchange(mine, theirs)
    return Layout({name: (entries, [perm.get(e, e) for e in entries])
                   for name, entries in mine.items()}, perm, False)


def clear_layouts() -> None:
    layout.cache_clear()
    _unit_entries.cache_clear()


def _disjoint_exchange(mine, theirs) -> dict[Entry, Entry] | None:
    """P when no entry belongs to two groups' pairs (no layer both owns and reads the
    units): the union of the groups' exchanges, each group's image the other unit's
    entries.  None when entries repeat (then the exchanges compose)."""
    perm: dict[Entry, Entry] = {}
    count = 0
    for name in mine:
        a, b = mine[name], theirs[name]
        perm.update(zip(a, b))
        perm.update(zip(b, a))
        count += 2 * len(a)
    return perm if len(perm) == count else None


def _composed_exchange(mine, theirs) -> dict[Entry, Entry]:
    """P as the composition of the groups' exchanges, in order."""
    perm: dict[Entry, Entry] = {}    # e -> P(e), over every entry moved so far
    inverse: dict[Entry, Entry] = {}  # P(e) -> e
    for name in mine:
        step = {}
        for a, b in zip(mine[name], theirs[name]):
            step[a], step[b] = b, a
        # P := step ∘ P: only the entries whose image step moves change, and step
        # permutes its own entries, so every image it writes is overwritten here
        moved = [(inverse.get(f, f), g) for f, g in step.items()]
        for e, g in moved:
            perm[e] = g
            inverse[g] = e
    return {e: f for e, f in perm.items() if e != f}


@lru_cache(maxsize=16)
def _unit_entries(spec: NetworkSpec, members: tuple[int, ...], layer: int,
                  unit: int) -> dict[str, list[Entry]]:
    """Walk the stack once: own groups of every stream layer, and what reads the unit.
    Heads (units that are not their output's entries) have their own groups only."""
    stack = spec.stack
    features = not heads(stack, layer)
    out: dict[str, list[Entry]] = {}
    labels: np.ndarray | None = None
    source = 0
    for s in stack:
        kind = layer_kind(s.kind)
        if labels is not None:
            for group, entries in kind.reads(s, labels, unit).items():
                if entries:
                    out.setdefault(_named(group, source, layer), []).extend(entries)
            labels = kind.carry(s, labels)
        if features and (s.index in members or
                         s.skip is not None and owner(stack, s.index) in members):
            source = owner(stack, s.index)   # after a skip: the stream's channels again
            labels = own_labels(s.out_shape, spec_kind(stack[source - 1].kind).feature_axis)
        if s.index in members:
            own = spec_kind(s.kind).own_groups(s.bias) if s.index == layer else \
                spec_kind(s.kind).stream_groups(s.bias)
            entries = kind.own_entries if s.index == layer else kind.stream_entries
            for group in own:
                out[_named(group, s.index, layer)] = entries(s, unit, group)
        if labels is not None and not np.any(labels != NO_UNIT):
            labels = None
    return {name: out[name] for name in _ordered(out)}


def _named(group: str, source: int, layer: int) -> str:
    return group if source == layer else f"{group}@{source}"


def _ordered(names) -> list[str]:
    """Own layer's groups first, then each other stream layer's, in the usual order."""
    def key(name: str):
        base, _, at = name.partition("@")
        return (int(at) if at else 0, ORDER.index(base) if base in ORDER else len(ORDER), base)
    return sorted(names, key=key)
