"""Identical units of a ``[[layer]]`` network, read with the engine's own groups.

The layer kinds define a unit's groups (``incoming``, ``bias``, ``recurrent``,
``query``, ``gain``@…, ``outgoing``, …) and pair each entry of unit i with its
image for unit j (:class:`~symderive.engine.layers.units.Units`).  Two units are
identical now when every group that makes the unit's own value (all but what
reads it: ``outgoing``, ``recurrent_outgoing``, a head's ``output``) is equal entry
by entry in the model's exact parameters; the pair then ties the groups equal now
and zeroes those that are 0 in both.  Using the kinds' pairing means the
hypotheses the bridge writes are the ones the engine derives, group for group.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..spec.model import Hypothesis, NetworkSpec
from .builder import Builder

#: Groups through which a unit is read, not computed: they may differ in identical units.
READ_BY = ("outgoing", "recurrent_outgoing", "output")


def stack_pairs(b: Builder, network: NetworkSpec) -> list[tuple[Any, ...]]:
    """Every pair of identical units of every layer with units: (layer, units, tie, zero)."""
    from ..engine.layers.units import Units

    found = []
    for s in network.stack:
        if s.units and _speaker(network, s.index) != s.index:
            continue
        for i in range(1, s.units + 1):
            for j in range(i + 1, s.units + 1):
                groups = Units(network, Hypothesis("", s.index, (i, j))).groups
                state = {name: _state(b.tensors, ei, ej) for name, (ei, ej) in groups.items()}
                if all(state[n] != "differ" for n in state if _base(n) not in READ_BY):
                    tie, zero = _tie_zero(state)
                    found.append((s.index, (i, j), tuple(g for g in tie if g in s.groups),
                                  tuple(g for g in zero if g in s.groups)))
    return found


def _speaker(network: NetworkSpec, index: int) -> int:
    """The layer of a residual stream whose hypotheses can name every group of the
    stream (a norm's ``gain`` belongs to the layer before it): the member with the most
    groups, the last on a tie.  The same two channels are one pair in all members."""
    from ..spec.layers.groups import heads, stream

    members = [m for m in stream(network.stack, index) if not heads(network.stack, m)] or [index]
    return max(reversed(members), key=lambda m: len(network.stack[m - 1].groups))


def _base(name: str) -> str:
    return name.split("@")[0]


def _state(tensors: dict[str, np.ndarray], ei: list, ej: list) -> str:
    """"zero" (every entry of both units 0), "equal" (entry = its image) or "differ"."""
    a = [tensors[t][i] for t, i in ei]
    c = [tensors[t][i] for t, i in ej]
    if a != c:
        return "differ"
    return "zero" if all(v == 0 for v in a) else "equal"


def _tie_zero(state: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A hypothesis names a group for every layer of the stream (``incoming`` covers
    ``incoming@3``): zero when 0 in all of them, tied when equal in all of them."""
    bases: dict[str, list[str]] = {}
    for name, s in state.items():
        bases.setdefault(_base(name), []).append(s)
    zero = tuple(g for g, ss in bases.items() if all(s == "zero" for s in ss))
    tie = tuple(g for g, ss in bases.items() if g not in zero and "differ" not in ss)
    return tie, zero


__all__ = ["READ_BY", "stack_pairs"]
