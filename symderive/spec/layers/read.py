"""Reading ``input`` and the ``[[layer]]`` tables into a tuple of :class:`LayerSpec`.

What every kind shares is checked here (``kind``, ``activation``, ``bias``, ``skip``,
the last layer); a kind's own keys by its spec room.  Every error names the layer:
``layer[k].<key>``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from ...errors import SpecError
from ..fields import _int, _type_name, _unknown
from ..model import MAX_LAYER_WIDTH
from . import KINDS, LayerSpec, spec_kind
from .groups import owner
from .shapes import describe

#: Layers in one stack at most, and entries of one sample's input.
MAX_LAYERS = 32
MAX_INPUT = 1 << 16
_COMMON = {"kind", "activation", "bias", "skip"}


def read_input(value: Any) -> tuple[int, ...]:
    """``network.input``: one sample's shape, 1 to 3 positive sizes."""
    where = "network.input"
    if not isinstance(value, list) or not 1 <= len(value) <= 3:
        raise SpecError("must be one sample's shape: [features], [channels, length] or "
                        "[channels, height, width]", field=where)
    shape = tuple(_int(n, where, 1, MAX_LAYER_WIDTH) for n in value)
    total = 1
    for n in shape:
        total *= n
    if total > MAX_INPUT:
        raise SpecError(f"has {total} entries per sample; at most {MAX_INPUT} allowed", field=where)
    return shape


def read_stack(tables: Any, shape: tuple[int, ...], default: Any, output: Any,
               bias: bool, activation: Callable[[Any, str], Any]) -> tuple[LayerSpec, ...]:
    """The layers, in order; ``default`` and ``output`` are the network's activation and
    output activation, ``activation`` reads a table's (the validator's own reader)."""
    if not isinstance(tables, list) or not tables:
        raise SpecError("must be one or more [[layer]] tables", field="layer")
    if len(tables) > MAX_LAYERS:
        raise SpecError(f"at most {MAX_LAYERS} [[layer]] tables are allowed, got {len(tables)}",
                        field="layer")
    stack: list[LayerSpec] = []
    for k, table in enumerate(tables, start=1):
        last = k == len(tables)
        layer = _layer(table, k, shape, tuple(stack), default if not last else output, bias,
                       activation)
        stack.append(layer)
        shape = layer.out_shape
    _check_output(stack[-1])
    from .groups import stack_groups

    return tuple(replace(s, groups=stack_groups(tuple(stack), s.index)) if s.units else s
                 for s in stack)


def _layer(table: Any, k: int, in_shape: tuple[int, ...], before: tuple[LayerSpec, ...],
           default: Any, bias: bool, activation: Callable[[Any, str], Any]) -> LayerSpec:
    field = f"layer[{k}]"
    if not isinstance(table, dict):
        raise SpecError("must be a table", field=field)
    name = table.get("kind")
    if name not in KINDS:
        raise SpecError(f"must be one of {', '.join(KINDS)}, not {name!r}", field=f"{field}.kind")
    kind = spec_kind(name)
    _unknown(table, set(kind.keys) | _COMMON, field)
    out_shape, units, options = kind.read(table, field, in_shape, before)
    has_bias = kind.has_units or bool(kind.attaches)
    if "bias" in table and not has_bias:
        raise SpecError("this kind of layer has no parameters", field=f"{field}.bias")
    own_bias = table.get("bias", bias) and has_bias
    if not isinstance(own_bias, bool):
        raise SpecError(f"must be true or false, not {_type_name(own_bias)}", field=f"{field}.bias")
    act = _activation(kind.applies_activation, table, field, default, activation)
    skip = _skip(table.get("skip"), field, k, out_shape, _axis(kind, before), before)
    return LayerSpec(name, k, in_shape, out_shape, units, act, own_bias, skip, options,
                     has_bias=has_bias)


def _activation(applies: str, table: dict[str, Any], field: str, default: Any,
                read: Callable[[Any, str], Any]) -> Any:
    if "activation" in table:
        if applies == "none":
            raise SpecError("this kind of layer applies no activation", field=f"{field}.activation")
        return read(table["activation"], f"{field}.activation")
    return default if applies == "default" else None


def _skip(value: Any, field: str, k: int, shape: tuple[int, ...], axis: int | None,
          before: tuple[LayerSpec, ...]) -> int | None:
    """``skip = j``: layer j's output is added to this one's; the shapes must match and
    both outputs must be channels on the same axis (of units, attention's features, or a
    norm of them): they form one residual stream."""
    if value is None:
        return None
    where = f"{field}.skip"
    if k == 1:
        raise SpecError("the first layer has no earlier layer to add", field=where)
    j = _int(value, where, 1, k - 1)
    other = before[j - 1]
    if other.out_shape != shape:
        raise SpecError(f"adds layer {j}'s output {describe(other.out_shape)} to layer {k}'s "
                        f"{describe(shape)}: a skip needs the same shape", field=where)
    source = owner(before, j)
    if axis is None or not source or \
            spec_kind(before[source - 1].kind).feature_axis % len(shape) != axis % len(shape):
        raise SpecError(f"joins layers {j} and {k}, but a residual stream joins two layers "
                        "whose outputs are channels on the same axis (of units, attention's "
                        "features, or a norm of them)", field=where)
    return j


def _axis(kind, before: tuple[LayerSpec, ...]) -> int | None:
    """The axis of the channels this layer's output carries (a norm: the layer before's)."""
    if kind.feature_axis is not None:
        return kind.feature_axis
    if kind.attaches and before:
        source = owner(before, len(before))
        return spec_kind(before[source - 1].kind).feature_axis if source else None
    return None


def _check_output(layer: LayerSpec) -> None:
    if not layer.units or len(layer.out_shape) != 1:
        raise SpecError(f"the last layer (layer {layer.index}) is the output layer: it must have "
                        f"units and give one vector per sample, not {describe(layer.out_shape)} "
                        "(pool or flatten before it)", field=f"layer[{layer.index}].kind")
