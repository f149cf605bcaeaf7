"""Field primitives of spec validation: every error names its field and what is allowed.

Shared by :mod:`.validate` (network, hypotheses, check) and :mod:`.facts` (the
``[[fact]]`` tables).
"""
from __future__ import annotations

import unicodedata
from typing import Any

from ..errors import SpecError
from .model import GROUPS, NetworkSpec


def _unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise SpecError(f"unknown key; allowed keys are {', '.join(sorted(allowed))}",
                            field=f"{prefix}{key}")


def _table(value: Any, where: str, required: bool = False) -> dict[str, Any]:
    if value is None and required:
        raise SpecError(f"a [{where}] table is required", field=where)
    if not isinstance(value, dict):
        raise SpecError("must be a table", field=where)
    return value


def _string(value: Any, where: str, max_len: int = 2000) -> str:
    if not isinstance(value, str):
        raise SpecError(f"must be a string, not {_type_name(value)}", field=where)
    if len(value) > max_len:
        raise SpecError(f"is {len(value)} characters long; at most {max_len} allowed", field=where)
    return value


#: Letters that show nothing (Hangul fillers, the blank Braille pattern).
_BLANK_LETTERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800"}


def visible(text: str) -> bool:
    """Does ``text`` show anything?  Not when it is only spaces, control or format
    characters (NUL, zero-width spaces and joiners, direction marks), lone combining
    marks or blank letters."""
    return any(unicodedata.category(c)[0] not in "CZM" and c not in _BLANK_LETTERS
               for c in text)


def _shown_text(value: Any, where: str, max_len: int = 2000, what: str = "text") -> str:
    """A string a report shows (a title, a name): it must have a visible character."""
    text = _string(value, where, max_len)
    if not visible(text):
        raise SpecError(f"has no visible character (it would show as nothing): give the "
                        f"{what}, or leave the key out", field=where)
    return text


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be an integer, not {_type_name(value)}", field=where)
    if not low <= value <= high:
        raise SpecError(f"must be between {low} and {high}, got {value}", field=where)
    return value


def _groups(value: Any, where: str, network: NetworkSpec,
            layer: int | None = None) -> tuple[str, ...]:
    """Parameter groups of a unit of ``layer`` (a hidden unit when ``layer`` is None)."""
    if not isinstance(value, list):
        raise SpecError(f"must be an array of groups from {', '.join(GROUPS)}", field=where)
    out: list[str] = []
    for g in value:
        if g not in GROUPS:
            raise SpecError(f"unknown group {g!r}; allowed: {', '.join(GROUPS)}", field=where)
        if g == "bias" and not network.bias:
            raise SpecError("names the bias group, but the network has bias = false",
                            field=where)
        if g == "outgoing" and layer == network.depth:
            raise SpecError(f"names the outgoing group, but layer {layer} is the output layer: "
                            "an output unit has no outgoing weights (its groups: "
                            f"{', '.join(network.unit_groups(layer))})", field=where)
        if g in out:
            raise SpecError(f"names the group {g!r} twice", field=where)
        out.append(g)
    return tuple(sorted(out, key=GROUPS.index))


def unit_layer(value: Any, where: str, network: NetworkSpec) -> int:
    """A layer whose units a hypothesis may compare: hidden (1 to depth − 1) or the output
    layer (depth), 1-based; naming the input layer gets its own message."""
    depth = network.depth
    allowed = (f"a hidden layer, between 1 and {depth - 1}, or the output layer, {depth}"
               if depth > 1 else "the output layer, 1 (the network has no hidden layer)")
    if type(value) is int and value == 0:
        raise SpecError(f"must be {allowed}: layer 0 is the input layer", field=where)
    if type(value) is int and value > depth:
        raise SpecError(f"must be {allowed}; got {value}, past the output layer", field=where)
    return _int(value, where, 1, depth)


def unit_pair(units: Any, where: str, layer: int, network: NetworkSpec) -> tuple[int, int]:
    """Two distinct units of ``layer`` (1-based), read from the field ``where``."""
    width = network.layers[layer]
    if width < 2:
        raise SpecError(f"layer {layer} has only one unit: a hypothesis compares two units of "
                        "a layer with at least 2 (widen it in network.layers)", field=where)
    if not isinstance(units, list) or len(units) != 2:
        raise SpecError(f"must be two distinct units of layer {layer}, 1 to {width}", field=where)
    u = tuple(_int(n, where, 1, width) for n in units)
    if u[0] == u[1]:
        raise SpecError(f"must be two distinct units, got {u[0]} twice", field=where)
    return (u[0], u[1])
