"""The spec side of an LSTM layer: ``units`` on a [steps, inputs] input; its output is
the last hidden state [units]."""
from __future__ import annotations

from typing import Any

from ...errors import SpecError
from ..fields import _int
from ..model import MAX_LAYER_WIDTH
from .base import LayerSpec, Shape, SpecKind
from .shapes import sequence_input


class LSTM(SpecKind):
    keys = frozenset({"units"})
    has_units = True
    groups = ("incoming", "recurrent", "bias", "recurrent_outgoing")
    unit_axis = -1
    feature_axis = -1

    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]):
        sequence_input(in_shape, field, before, "runs over [steps, inputs]")
        if "units" not in table:
            raise SpecError("is required: the number of units", field=f"{field}.units")
        units = _int(table["units"], f"{field}.units", 1, MAX_LAYER_WIDTH)
        return (units,), units, (("units", units),)

    def tensors(self, layer: LayerSpec) -> dict[str, Shape]:
        n, l = 4 * layer.units, layer.index
        out = {f"W{l}": (n, layer.in_shape[1]), f"U{l}": (n, layer.units)}
        return out | ({f"b{l}": (n,)} if layer.bias else {})


KIND = LSTM()
