"""The spec side of the convolution: ``channels``, ``kernel``, ``stride``, ``padding``
on a [channels, length] or [channels, height, width] input (nn.Conv1d, nn.Conv2d)."""
from __future__ import annotations

from typing import Any

from ...errors import SpecError
from ..fields import _int
from ..model import MAX_LAYER_WIDTH
from .base import LayerSpec, Shape, SpecKind
from .shapes import describe, per_axis


class Conv(SpecKind):
    keys = frozenset({"channels", "kernel", "stride", "padding"})
    has_units = True
    groups = ("incoming", "bias")
    applies_activation = "default"
    unit_axis = 0
    feature_axis = 0

    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]):
        if len(in_shape) not in (2, 3):
            got = (f"layer {before[-1].index} gives {describe(in_shape)}" if before
                   else f"the input is {describe(in_shape)}")
            raise SpecError(f"needs [channels, length] or [channels, height, width] before it, "
                            f"but {got}", field=f"{field}.kind")
        for key in ("channels", "kernel"):
            if key not in table:
                raise SpecError("is required", field=f"{field}.{key}")
        channels = _int(table["channels"], f"{field}.channels", 1, MAX_LAYER_WIDTH)
        axes = len(in_shape) - 1
        kernel = per_axis(table["kernel"], f"{field}.kernel", axes, 1)
        stride = per_axis(table.get("stride", 1), f"{field}.stride", axes, 1)
        padding = per_axis(table.get("padding", 0), f"{field}.padding", axes, 0)
        sizes = []
        for n, k, s, p in zip(in_shape[1:], kernel, stride, padding):
            if n + 2 * p < k:
                raise SpecError(f"is {k}, larger than the padded input ({n} + 2·{p})",
                                field=f"{field}.kernel")
            sizes.append((n + 2 * p - k) // s + 1)
        options = (("channels", channels), ("kernel", kernel), ("stride", stride), ("padding", padding))
        return (channels, *sizes), channels, options

    def tensors(self, layer: LayerSpec) -> dict[str, Shape]:
        out = {f"W{layer.index}": (layer.units, layer.in_shape[0], *layer.option("kernel"))}
        return out | ({f"b{layer.index}": (layer.units,)} if layer.bias else {})


KIND = Conv()
