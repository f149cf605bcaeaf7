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

from functools import lru_cache

import numpy as np
import sympy as sp

from ...spec import NetworkSpec
from ...spec.layers import LayerSpec, spec_kind
from ...spec.layers.groups import heads, owner
from . import NO_UNIT, layer_kind, symbols
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
    lemmas = layer_lemmas(spec, units.stream, units.hyp.layer)
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


@lru_cache(maxsize=8)
def layer_lemmas(spec: NetworkSpec, stream: tuple[int, ...], layer: int) -> bool:
    """Does every layer the swap touches satisfy its statement?  The statements are
    checked on units 1 and 2 of each layer (every pair's formulas are the same up to
    renaming), so they hold for every pair of units of ``layer``: checked once for all
    its hypotheses.  :func:`clear_lemmas` forgets them."""
    return all(_lemma(s, role, labels) for s, role, labels in _roles(spec, stream, layer))


def clear_lemmas() -> None:
    layer_lemmas.cache_clear()


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


def roles(spec: NetworkSpec, units: Units) -> list[tuple[LayerSpec, str, np.ndarray | None]]:
    """Each layer the swap touches, the statement it must satisfy, and the unit labels
    of its input (where the stream's channels are, carried from the last layer of the
    stream; None for heads).  Heads leave their layer's output as it is ("owns heads");
    the channels of a stream are its members' output entries (an attention member's are
    features: rows of O)."""
    return _roles(spec, units.stream, units.hyp.layer)


def _roles(spec: NetworkSpec, stream: tuple[int, ...], layer: int
           ) -> list[tuple[LayerSpec, str, np.ndarray | None]]:
    stack = spec.stack
    if heads(stack, layer):
        return [(stack[layer - 1], "owns heads", None)]
    out = []
    following = False
    labels: np.ndarray | None = None
    for s in stack:
        entering = labels
        if s.index in stream:
            own = "owns" if s.index == layer else "owns channels"
            out.append((s, own + " and reads" if following else own, entering))
            following = True
        elif following and s.units:
            out.append((s, "reads", entering))
            following = False
        elif following:
            out.append((s, "carries", entering))
        labels = None if labels is None else layer_kind(s.kind).carry(s, labels)
        if s.index in stream or s.skip is not None and owner(stack, s.index) in stream:
            axis = spec_kind(stack[owner(stack, s.index) - 1].kind).feature_axis
            labels = own_labels(s.out_shape, axis)
    return out


def _lemma(layer: LayerSpec, role: str, labels: np.ndarray | None) -> bool:
    kind = layer_kind(layer.kind)
    if kind.lemma_work(layer) > LEMMA_WORK:
        axis, none = _axis_of(labels), labels is not None and not np.any(labels != NO_UNIT)
        layer = kind.reduced(layer)
        labels = np.full(layer.in_shape, NO_UNIT) if none else \
            None if axis is None else own_labels(layer.in_shape, axis)
    i, j = 1, 2
    theta = {name: symbols(f"{name}q", shape) for name, shape in kind.tensors(layer).items()}
    x = symbols("xq", (2, *layer.in_shape))
    out = kind.forward(layer, theta, x)
    own = _own_pairs(layer, role, i, j)
    if role == "owns heads":     # heads are summed through O: the output stays as it is
        return _same(kind.forward(layer, _exchange_entries(theta, own), x), out)
    out_labels = own_labels(layer.out_shape, spec_kind(layer.kind).feature_axis) if own else None
    if role in ("owns", "owns channels"):
        return _same(kind.forward(layer, _exchange_entries(theta, own), x),
                     _exchange_positions(out, out_labels, i, j))
    labels = _input_labels(layer) if labels is None else labels
    reads_i, reads_j = kind.reads(layer, labels, i), kind.reads(layer, labels, j)
    pairs = own + [(a, b) for g in reads_i for a, b in zip(reads_i[g], reads_j[g])]
    result = kind.forward(layer, _exchange_entries(theta, pairs),
                          _exchange_positions(x, labels, i, j))
    if role == "reads":
        return _same(result, out)
    carried = out_labels if own else kind.carry(layer, labels)
    return _same(result, _exchange_positions(out, carried, i, j))


def _axis_of(labels: np.ndarray | None) -> int | None:
    """The axis along which ``labels`` are a layer's own labels (unit u at index u − 1),
    None when they are not (a flattened block, or nothing followed)."""
    if labels is None:
        return None
    return next((a for a in range(labels.ndim)
                 if np.array_equal(labels, own_labels(labels.shape, a))), None)


def _own_pairs(layer: LayerSpec, role: str, i: int, j: int) -> list[tuple]:
    """The pairs of units i's and j's own entries (a stream member's: its channels')."""
    if role in ("reads", "carries"):
        return []
    kind, spec = layer_kind(layer.kind), spec_kind(layer.kind)
    if role.startswith("owns channels"):
        groups, entries = spec.stream_groups(layer.bias), kind.stream_entries
    else:
        groups, entries = spec.own_groups(layer.bias), kind.own_entries
    return [(a, b) for g in groups for a, b in zip(entries(layer, i, g), entries(layer, j, g))]


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
