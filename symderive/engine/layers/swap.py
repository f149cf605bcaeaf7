"""The swap proof: exchanging two units (every pair of their entries, :class:`.units.Units`)
leaves the loss unchanged.

The loss is a composition of layers, so it is invariant when every layer is:

- a layer of the units' residual stream, with the two units' own entries exchanged,
  exchanges their two output channels (*owns*); if it also reads the stream's channels,
  with its reading entries exchanged too and its input's channels exchanged
  (*owns and reads*);
- a layer without units between (pool, flatten, a norm with the two channels' gains
  and shifts exchanged) passes the exchange on to the positions the channels' labels
  reach (*carries*);
- a layer that reads the two units, with its reading entries exchanged, gives the
  same output (*reads*); a skip adds two exchanged tensors, which is exchanged.

Each statement is checked symbolically on the layer with its kind's own forward
(two samples; a layer of more than :data:`LEMMA_WORK` multiply-adds is checked on
its kind's small instance of the same geometry, :meth:`LayerKind.reduced`, since
every channel's formula is the same).  Small whole networks are also checked
directly: L(Pθ) − L(θ) expanded to 0.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ...spec import NetworkSpec
from ...spec.layers import LayerSpec, spec_kind
from . import layer_kind, symbols
from .stack import Stack
from .units import Units, own_labels

LEMMA_WORK = 4000
WHOLE_LIMIT = 120


def swap_check(spec: NetworkSpec, units: Units) -> tuple[bool, str]:
    """(is the loss invariant under the swap, how that was checked).  Output units
    reach the loss through their own targets: exchanging them does not leave the
    loss unchanged in general, so no swap is claimed for them."""
    if spec.stack[-1].index in units.stream:
        return False, "output layer"
    lemmas = all(_lemma(layer, role) for layer, role in roles(spec, units))
    stack = Stack(spec)
    if not lemmas or not whole_loss_small(spec):
        return lemmas, "layer by layer"
    loss = stack.loss()
    swap = {stack.theta[a][ia]: stack.theta[b][ib] for (a, ia), (b, ib) in units.swap()}
    swapped = loss.xreplace(swap)
    if swapped == loss:
        return True, "whole loss"
    if not expand_affordable(loss):     # the lemmas proved it; the confirmation is skipped
        return lemmas, "layer by layer"
    return sp.expand(swapped - loss) == 0, "whole loss"


def expand_affordable(loss: sp.Expr) -> bool:
    """The cost hook (:func:`..expansion.expand_seconds`): is expanding the difference
    of ``loss`` and its swapped copy within the whole-loss step's limit?"""
    from ..expansion import expand_seconds
    from ..gradients import WHOLE_LOSS_SECONDS

    return expand_seconds(loss) <= WHOLE_LOSS_SECONDS


def whole_loss_small(spec: NetworkSpec) -> bool:
    """Is the whole SymPy loss cheap to build: at most :data:`WHOLE_LIMIT` parameter-
    samples, and no layer whose formulas cost far more than their multiply-adds
    (:meth:`LayerKind.lemma_work`: a maximum over 36 positions took minutes)?"""
    return Stack(spec).parameter_count() * spec.samples <= WHOLE_LIMIT and all(
        layer_kind(s.kind).lemma_work(s) <= max(LEMMA_WORK, layer_kind(s.kind).flops(s))
        for s in spec.stack)


def roles(spec: NetworkSpec, units: Units) -> list[tuple[LayerSpec, str]]:
    """Each layer the swap touches and the statement it must satisfy."""
    out = []
    following = False
    for s in spec.stack:
        if s.index in units.stream:
            out.append((s, "owns and reads" if following else "owns"))
            following = layer_kind(s.kind).unit_axis is not None   # heads: nothing reads one
        elif following and s.units:
            out.append((s, "reads"))
            following = False
        elif following:
            out.append((s, "carries"))
    return out


def _lemma(layer: LayerSpec, role: str) -> bool:
    kind = layer_kind(layer.kind)
    if kind.lemma_work(layer) > LEMMA_WORK:
        layer = kind.reduced(layer)
    i, j = 1, 2
    theta = {name: symbols(f"{name}q", shape) for name, shape in kind.tensors(layer).items()}
    x = symbols("xq", (2, *layer.in_shape))
    out = kind.forward(layer, theta, x)
    own = [(a, b) for g in spec_kind(layer.kind).own_groups(layer.bias)
           for a, b in zip(kind.own_entries(layer, i, g), kind.own_entries(layer, j, g))] \
        if role.startswith("owns") else []
    out_labels = own_labels(layer.out_shape, kind.unit_axis) \
        if own and kind.unit_axis is not None else None
    if role == "owns":   # units without an output axis (heads) leave the output as it is
        expected = out if out_labels is None else _exchange_positions(out, out_labels, i, j)
        return _same(kind.forward(layer, _exchange_entries(theta, own), x), expected)
    labels = _input_labels(layer)
    reads_i, reads_j = kind.reads(layer, labels, i), kind.reads(layer, labels, j)
    pairs = own + [(a, b) for g in reads_i for a, b in zip(reads_i[g], reads_j[g])]
    result = kind.forward(layer, _exchange_entries(theta, pairs),
                          _exchange_positions(x, labels, i, j))
    if role == "reads":
        return _same(result, out)
    carried = out_labels if own else kind.carry(layer, labels)
    return _same(result, _exchange_positions(out, carried, i, j))


def _input_labels(layer: LayerSpec) -> np.ndarray:
    """Unit labels of the layer's input along the axis its kind reads units on."""
    return own_labels(layer.in_shape, layer_kind(layer.kind).input_axis(layer))


def _exchange_entries(theta, pairs) -> dict[str, np.ndarray]:
    """``theta`` with the pairs exchanged one after the other (a layer that owns and
    reads the channels: rows, then columns, composed)."""
    out = {k: v.copy() for k, v in theta.items()}
    for (a, ia), (b, ib) in pairs:
        out[a][ia], out[b][ib] = out[b][ib], out[a][ia]
    return out


def _exchange_positions(values: np.ndarray, labels: np.ndarray, i: int, j: int) -> np.ndarray:
    """``values`` [samples, *shape] with the positions labelled i and j exchanged (the
    labels of the two must pair up in order, as own labels do)."""
    out = values.copy()
    where_i, where_j = np.argwhere(labels == i), np.argwhere(labels == j)
    if len(where_i) != len(where_j):
        raise ValueError("the two units' positions do not pair up")
    for pi, pj in zip(map(tuple, where_i), map(tuple, where_j)):
        out[(slice(None), *pi)], out[(slice(None), *pj)] = values[(slice(None), *pj)], \
            values[(slice(None), *pi)]
    return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and all(
        x == y or sp.expand(x - y) == 0 for x, y in zip(a.reshape(-1), b.reshape(-1)))
