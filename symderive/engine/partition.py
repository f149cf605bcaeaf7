"""Classes of units that stay identical forever: the coarsest stable partition.

Take a partition of the units of every layer.  Call it *stable* when, for units
u, u' of one class of layer l,

- their biases agree,
- for every class C of layer l − 1, Σ_{k∈C} W^{(l)}_{uk} = Σ_{k∈C} W^{(l)}_{u'k},
- for every class D of layer l + 1, Σ_{v∈D} W^{(l+1)}_{vu} = Σ_{v∈D} W^{(l+1)}_{vu'},

with the input coordinates and output units fixed (each in a class of its own,
unless the data makes two input columns or two target columns equal).  Then,
by induction forward, units of a class have equal pre-activations on every
input; backward, equal deltas; so the gradient of W^{(l)}_{uk} depends only on
the classes of u and k, the update of W between two classes is constant on the
block, and every block sum moves by the same amount: the partition is stable
again after the step, for every step (the report proves this in full).

The coarsest stable partition is found by refinement: start with every hidden
layer in one class and split classes by the signatures above until nothing
splits.  A "random" tensor is generic, so it separates every unit it touches.
An input coordinate that is 0 in every sample contributes nothing, so the
weights from it are left out of the sums.  Given the frozen parameters, a hidden
unit whose pre-activation they pin is a constant for ever: pinned units with the
same constant share a class (their outgoing weights do not matter), a pinned unit
whose activation is 0 is left out of the next layer's sums like a silent input,
and in outgoing sums a pinned unit counts alone (its delta is not shared).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .start import Start

#: The label of the input coordinates that are 0 in every sample (left out of every sum).
SILENT = -1


@dataclass(frozen=True)
class Partition:
    """Class labels per layer (0..L), 0-based and numbered by each class's first unit."""

    labels: tuple[np.ndarray, ...]

    def classes(self, layer: int) -> list[list[int]]:
        """The classes of ``layer`` as lists of 1-based units, by their first unit."""
        out: dict[int, list[int]] = {}
        for u, c in enumerate(self.labels[layer]):
            out.setdefault(int(c), []).append(u + 1)
        return list(out.values())

    def width(self, layer: int) -> int:
        """The effective width: how many distinct functions the layer computes."""
        return len(self.classes(layer))

    def to_json(self) -> dict[str, list[list[int]]]:
        """Every hidden layer's classes, keyed by its 1-based number as a string."""
        return {str(l): self.classes(l) for l in range(1, len(self.labels) - 1)}


def _canonical(keys: list) -> np.ndarray:
    """Labels 0, 1, ... in order of first appearance of each distinct key."""
    seen: dict = {}
    return np.array([seen.setdefault(k, len(seen)) for k in keys], dtype=np.int64)


def input_labels(start: Start) -> np.ndarray:
    """Input coordinates: one class each, or, with data, one per distinct data column
    (a column that is 0 in every sample gets :data:`SILENT`)."""
    n = start.network.layers[0]
    if start.data is None:
        return np.arange(n)
    columns = [tuple(row[k] for row in start.data.inputs) for k in range(n)]
    labels = _canonical(columns)
    for k, col in enumerate(columns):
        if all(v == 0 for v in col):
            labels[k] = SILENT
    return labels


def output_labels(start: Start) -> np.ndarray:
    """Output units: one class each, unless the data gives two of them equal target columns."""
    n = start.network.layers[-1]
    if start.data is None:
        return np.arange(n)
    return _canonical([tuple(row[m] for row in start.data.targets) for m in range(n)])


@dataclass(frozen=True)
class Pinned:
    """Hidden units whose pre-activation the frozen set fixes for ever (from
    :func:`symderive.engine.frozen.frozen_parameters`): per layer, unit -> its constant
    (one value per sample), and the units whose activation is 0 in every sample."""

    constant: tuple[dict, ...]
    silent: tuple[np.ndarray, ...]

    @staticmethod
    def none(sizes) -> "Pinned":
        return Pinned(tuple({} for _ in sizes), tuple(np.zeros(n, dtype=bool) for n in sizes))

    @staticmethod
    def of(frozen, sizes) -> "Pinned":
        """From a :class:`~symderive.engine.frozen.Frozen` (hidden layers only)."""
        constant = [{}] + [{u: tuple(z) for u, z in enumerate(frozen.constant[l]) if z is not None}
                           for l in range(1, len(sizes) - 1)] + [{}]
        silent = [np.zeros(sizes[0], dtype=bool)]
        silent += [frozen.silent[l].all(axis=0) for l in range(1, len(sizes) - 1)]
        silent.append(np.zeros(sizes[-1], dtype=bool))
        return Pinned(tuple(constant), tuple(silent))


def _indicator(labels: np.ndarray, dtype, leave_out: np.ndarray | None = None,
               alone: dict | None = None) -> np.ndarray:
    """units × classes, 1 where a unit is in a class: silent units (and ``leave_out``) in
    none, the units of ``alone`` each in a column of their own."""
    count = int(labels.max(initial=-1)) + 1
    alone = alone or {}
    ind = np.zeros((len(labels), count + len(alone)), dtype=dtype)
    extra = {u: count + j for j, u in enumerate(sorted(alone))}
    for u, c in enumerate(labels):
        if c == SILENT or (leave_out is not None and leave_out[u]):
            continue
        ind[u, extra.get(u, c)] = 1
    return ind


def _incoming(start: Start, layer: int, prev: np.ndarray, pinned: Pinned) -> list:
    """Per unit of ``layer``: its sums of incoming weights from each class of layer − 1
    (a unit whose activation is 0 for ever contributes nothing and is left out)."""
    W = start.W[layer]
    width = start.network.layers[layer]
    counted = (prev != SILENT) & ~pinned.silent[layer - 1]
    if not np.any(counted):
        return [()] * width                 # every input is silent: nothing comes in
    if W.is_random:
        return [("random", u) for u in range(width)]
    sums = W.ints @ _indicator(prev, W.ints.dtype, leave_out=pinned.silent[layer - 1])
    return [tuple(row) for row in sums.tolist()]


def _outgoing(start: Start, layer: int, nxt: np.ndarray, pinned: Pinned) -> list:
    """Per unit of ``layer``: its sums of outgoing weights into each class of layer + 1
    (a pinned unit of layer + 1 counts alone: its class need not share one delta)."""
    W = start.W[layer + 1]
    width = start.network.layers[layer]
    if W.is_random:
        return [("random", u) for u in range(width)]
    sums = _indicator(nxt, W.ints.dtype, alone=pinned.constant[layer + 1]).T @ W.ints
    return [tuple(col) for col in sums.T.tolist()]


def _bias(start: Start, layer: int) -> list:
    t = start.b[layer]
    width = start.network.layers[layer]
    if t is None:
        return [0] * width
    if t.is_random:
        return [("random", u) for u in range(width)]
    return t.ints[:, 0].tolist()


def _signatures(start: Start, labels: list[np.ndarray], layer: int, pinned: Pinned) -> list:
    L = start.depth
    fixed = pinned.constant[layer]
    incoming = _incoming(start, layer, labels[layer - 1], pinned)
    bias = _bias(start, layer)
    outgoing = (_outgoing(start, layer, labels[layer + 1], pinned) if layer < L
                else [()] * len(bias))
    return [(int(c), "pinned") if u in fixed else (int(c), i, b, o)
            for u, (c, i, b, o) in enumerate(zip(labels[layer], incoming, bias, outgoing))]


def _start_labels(width: int, fixed: dict) -> np.ndarray:
    """One class for the free units, one per pinned constant (its value for ever)."""
    return _canonical([("pinned", fixed[u]) if u in fixed else ("free",) for u in range(width)])


def coarsest_partition(start: Start, frozen=None) -> Partition:
    """The coarsest stable partition, by refinement (see the module docstring).

    With ``frozen`` (:func:`symderive.engine.frozen.frozen_parameters` of the same start),
    units whose pre-activation the frozen set pins share a class when their constants
    agree, whatever their outgoing weights, and units whose activation is 0 for ever
    are left out of the next layer's sums, like silent inputs."""
    L = start.depth
    sizes = start.network.layers
    pinned = Pinned.none(sizes) if frozen is None else Pinned.of(frozen, sizes)
    labels = [input_labels(start)]
    labels += [_start_labels(sizes[l], pinned.constant[l]) for l in range(1, L)]
    labels.append(output_labels(start))
    refined = list(range(1, L)) + ([L] if start.data is not None else [])
    changed = True
    while changed:
        changed = False
        for l in refined:
            new = _canonical(_signatures(start, labels, l, pinned))
            if new.max(initial=-1) != labels[l].max(initial=-1):
                changed = True
            labels[l] = new
    return Partition(tuple(labels))


__all__ = ["Partition", "Pinned", "coarsest_partition", "input_labels", "output_labels", "SILENT"]
