"""The groups a hypothesis may name for the units of a layer of a stack.

A unit owns its kind's groups (``incoming``, ``bias``); a norm layer right after it
attaches ``gain`` and ``shift``; it has ``outgoing`` when a later layer with
parameters reads it.  Groups of the other layers of its residual stream are named
``<group>@<layer>`` in reports, and a tie or zero of a group holds in every layer
of the stream (CONTRACT.md).
"""
from __future__ import annotations

from typing import Any

from ...errors import SpecError
from ..fields import _int
from . import LayerSpec, spec_kind


#: Every group in the order reports list them (a layer's own, then what reads it).
ORDER = ("incoming", "recurrent", "bias", "recurrent_outgoing", "query", "key", "value",
         "output", "gain", "shift", "outgoing")


def heads(stack: tuple[LayerSpec, ...], index: int) -> bool:
    """Are layer ``index``'s units not entries of its output (attention heads)?  Then
    no norm or skip acts on them and they join no stream."""
    return not spec_kind(stack[index - 1].kind).read_by_later


def stack_groups(stack: tuple[LayerSpec, ...], index: int) -> tuple[str, ...]:
    """The groups of a unit of layer ``index`` (1-based), in the order reports list them:
    those of every layer of its residual stream (a tie or zero holds in all)."""
    layer = stack[index - 1]
    if heads(stack, index):
        return spec_kind(layer.kind).own_groups(layer.bias)
    out: set[str] = set()
    for m in stream(stack, index):
        member = stack[m - 1]
        kind = spec_kind(member.kind)
        out.update(kind.own_groups(member.bias) if m == index else
                   kind.stream_groups(member.bias))
        out.update(_attached(stack, m))
        if any(s.units for s in stack[m:]):
            out.add("outgoing")
    return tuple(g for g in ORDER if g in out)


def _attached(stack: tuple[LayerSpec, ...], m: int) -> tuple[str, ...]:
    """The groups a norm right after layer ``m`` adds to its channels (gain, shift)."""
    after = stack[m:m + 1]
    if not after or not spec_kind(after[0].kind).attaches:
        return ()
    return tuple(g for g in spec_kind(after[0].kind).attaches if after[0].bias or g != "shift")


def owner(stack: tuple[LayerSpec, ...], index: int) -> int:
    """The layer whose channels layer ``index``'s output carries: itself if its output's
    entries are its own (units, or attention's features), else (a norm) the owner of the
    layer before it; 0 for none (pool, flatten)."""
    layer = stack[index - 1]
    if spec_kind(layer.kind).feature_axis is not None:
        return index
    if spec_kind(layer.kind).attaches and index > 1:
        return owner(stack, index - 1)
    return 0


def stream(stack: tuple[LayerSpec, ...], index: int) -> tuple[int, ...]:
    """The layers joined to layer ``index`` by skips (by their owners: a skip from or
    onto a norm joins the layer it normalises): exchanging two channels of one
    exchanges them in all (sorted, ``index`` included).  Heads join no stream."""
    if heads(stack, index):
        return (index,)
    members = {index}
    changed = True
    while changed:
        changed = False
        for layer in stack:
            if layer.skip is None:
                continue
            pair = {owner(stack, layer.skip), owner(stack, layer.index)}
            if pair & members and not pair <= members:
                members |= pair
                changed = True
    return tuple(sorted(members))


def stack_hypothesis(h: dict[str, Any], where: str, stack: tuple[LayerSpec, ...]
                     ) -> tuple[int, tuple[int, int], tuple[str, ...], tuple[str, ...]]:
    """(layer, units, tie, zero) of a hypothesis on a stack: a layer with units, two
    distinct units of it, groups the units have."""
    with_units = [s.index for s in stack if s.units]
    if "layer" not in h:
        raise SpecError(f"is required: a layer with units ({_listed(with_units)})",
                        field=f"{where}.layer")
    layer = _int(h["layer"], f"{where}.layer", 1, len(stack))
    if layer not in with_units:
        raise SpecError(f"layer {layer} has no units; layers with units: {_listed(with_units)}",
                        field=f"{where}.layer")
    width = stack[layer - 1].units
    units = h.get("units")
    if width < 2:
        raise SpecError(f"layer {layer} has only one unit: a hypothesis compares two",
                        field=f"{where}.units")
    if not isinstance(units, list) or len(units) != 2:
        raise SpecError(f"must be two distinct units of layer {layer}, 1 to {width}",
                        field=f"{where}.units")
    u = tuple(_int(n, f"{where}.units", 1, width) for n in units)
    if u[0] == u[1]:
        raise SpecError(f"must be two distinct units, got {u[0]} twice", field=f"{where}.units")
    allowed = stack[layer - 1].groups
    tie = _named(h.get("tie", []), f"{where}.tie", allowed)
    zero = _named(h.get("zero", []), f"{where}.zero", allowed)
    return layer, (u[0], u[1]), tie, zero


def _named(value: Any, where: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if not isinstance(value, list) or any(g not in allowed for g in value):
        bad = next((g for g in value if g not in allowed), None) if isinstance(value, list) \
            else None
        what = f"unknown group {bad!r}; " if bad is not None else "must be an array of groups; "
        raise SpecError(f"{what}the units of this layer have {', '.join(allowed)}", field=where)
    if len(set(value)) != len(value):
        raise SpecError("names a group twice", field=where)
    return tuple(sorted(value, key=allowed.index))


def _listed(layers: list[int]) -> str:
    return ", ".join(str(k) for k in layers)
