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
weights from it are left out of the sums.
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


def _indicator(labels: np.ndarray, dtype) -> np.ndarray:
    """units × classes, 1 where a unit is in a class (silent units in none)."""
    count = int(labels.max(initial=-1)) + 1
    ind = np.zeros((len(labels), count), dtype=dtype)
    for u, c in enumerate(labels):
        if c != SILENT:
            ind[u, c] = 1
    return ind


def _incoming(start: Start, layer: int, prev: np.ndarray) -> list:
    """Per unit of ``layer``: its sums of incoming weights from each class of layer − 1."""
    W = start.W[layer]
    width = start.network.layers[layer]
    if not np.any(prev != SILENT):
        return [()] * width                 # every input is silent: nothing comes in
    if W.is_random:
        return [("random", u) for u in range(width)]
    sums = W.ints @ _indicator(prev, W.ints.dtype)
    return [tuple(row) for row in sums.tolist()]


def _outgoing(start: Start, layer: int, nxt: np.ndarray) -> list:
    """Per unit of ``layer``: its sums of outgoing weights into each class of layer + 1."""
    W = start.W[layer + 1]
    width = start.network.layers[layer]
    if W.is_random:
        return [("random", u) for u in range(width)]
    sums = _indicator(nxt, W.ints.dtype).T @ W.ints
    return [tuple(col) for col in sums.T.tolist()]


def _bias(start: Start, layer: int) -> list:
    t = start.b[layer]
    width = start.network.layers[layer]
    if t is None:
        return [0] * width
    if t.is_random:
        return [("random", u) for u in range(width)]
    return t.ints[:, 0].tolist()


def _signatures(start: Start, labels: list[np.ndarray], layer: int) -> list:
    L = start.depth
    incoming, bias = _incoming(start, layer, labels[layer - 1]), _bias(start, layer)
    outgoing = (_outgoing(start, layer, labels[layer + 1]) if layer < L
                else [()] * len(bias))
    return [(int(c), i, b, o) for c, i, b, o in zip(labels[layer], incoming, bias, outgoing)]


def coarsest_partition(start: Start) -> Partition:
    """The coarsest stable partition, by refinement (see the module docstring)."""
    L = start.depth
    sizes = start.network.layers
    labels = [input_labels(start)] + [np.zeros(sizes[l], dtype=np.int64) for l in range(1, L)]
    labels.append(output_labels(start))
    refined = list(range(1, L)) + ([L] if start.data is not None else [])
    changed = True
    while changed:
        changed = False
        for l in refined:
            new = _canonical(_signatures(start, labels, l))
            if new.max(initial=-1) != labels[l].max(initial=-1):
                changed = True
            labels[l] = new
    return Partition(tuple(labels))


__all__ = ["Partition", "coarsest_partition", "input_labels", "output_labels", "SILENT"]
