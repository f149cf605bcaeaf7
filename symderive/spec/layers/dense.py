"""The spec side of the dense layer: ``units``; it acts on the last axis (nn.Linear)."""
from __future__ import annotations

from typing import Any

from ...errors import SpecError
from ..fields import _int
from ..model import MAX_LAYER_WIDTH
from .base import LayerSpec, Shape, SpecKind


class Dense(SpecKind):
    keys = frozenset({"units"})
    has_units = True
    groups = ("incoming", "bias")
    applies_activation = "default"
    unit_axis = -1
    feature_axis = -1

    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]):
        if "units" not in table:
            raise SpecError("is required: the number of units", field=f"{field}.units")
        units = _int(table["units"], f"{field}.units", 1, MAX_LAYER_WIDTH)
        return in_shape[:-1] + (units,), units, (("units", units),)

    def tensors(self, layer: LayerSpec) -> dict[str, Shape]:
        out = {f"W{layer.index}": (layer.units, layer.in_shape[-1])}
        return out | ({f"b{layer.index}": (layer.units,)} if layer.bias else {})


KIND = Dense()
