"""Field helpers the spec rooms of layer kinds share: sizes per spatial axis."""
from __future__ import annotations

from typing import Any

from ...errors import SpecError
from ..fields import _int, _type_name

#: A kernel, stride or padding at most this on an axis (a question needs small ones).
MAX_WINDOW = 64


def per_axis(value: Any, where: str, axes: int, low: int) -> tuple[int, ...]:
    """An integer (the same on every spatial axis) or one integer per axis."""
    if isinstance(value, list):
        if len(value) != axes:
            raise SpecError(f"must be an integer or {axes} integer{'s' if axes > 1 else ''} "
                            f"(one per spatial axis), got {len(value)}", field=where)
        return tuple(_int(v, where, low, MAX_WINDOW) for v in value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be an integer or an array of {axes}, not {_type_name(value)}",
                        field=where)
    return (_int(value, where, low, MAX_WINDOW),) * axes


def describe(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def sequence_input(in_shape: tuple[int, ...], field: str, before, what: str) -> None:
    """A SpecError naming ``field.kind`` unless one sample is [tokens or steps, features]."""
    if len(in_shape) != 2:
        got = (f"layer {before[-1].index} gives {describe(in_shape)}" if before
               else f"the input is {describe(in_shape)}")
        raise SpecError(f"{what}, but {got}", field=f"{field}.kind")
