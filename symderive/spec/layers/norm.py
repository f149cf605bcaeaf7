"""The spec side of normalisation: ``over`` = features (layer norm) | batch (batch norm),
``eps``; its ``gain`` and ``shift`` belong to the units of the layer before it."""
from __future__ import annotations

import math
from typing import Any

from ...errors import SpecError
from ..fields import _type_name
from .base import LayerSpec, Shape, SpecKind

OVER = ("features", "batch")


class Norm(SpecKind):
    keys = frozenset({"over", "eps"})
    attaches = ("gain", "shift")
    applies_activation = "own"

    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]):
        if not before or not before[-1].units:
            what = (f"layer {before[-1].index} has no units" if before
                    else "it is the first layer")
            raise SpecError(f"normalises the units of the layer before it, but {what}",
                            field=f"{field}.kind")
        if not _read_by_later(before[-1]):
            raise SpecError(f"normalises the units of the layer before it, but layer "
                            f"{before[-1].index}'s units are not entries of its output",
                            field=f"{field}.kind")
        over = table.get("over", "features")
        if over not in OVER:
            raise SpecError(f"must be one of {', '.join(OVER)}, not {over!r}",
                            field=f"{field}.over")
        eps = table.get("eps", 1e-5)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) \
                or not 0 <= eps <= 1:
            raise SpecError(f"must be a number in [0, 1], not {_type_name(eps)} {eps!r}",
                            field=f"{field}.eps")
        if eps == 0 and over == "features" and math.prod(in_shape) == 1:
            raise SpecError("must be above 0 when the statistics run over a single entry "
                            "(its variance is 0)", field=f"{field}.eps")
        axis = 0 if len(in_shape) > 1 and before[-1].out_shape == in_shape \
            and _unit_axis(before[-1]) == 0 else len(in_shape) - 1
        return in_shape, 0, (("over", over), ("eps", float(eps)), ("axis", axis))

    def check_samples(self, layer: LayerSpec, samples: int, field: str) -> None:
        """eps = 0 divides by the variance: batch statistics need more than one entry."""
        axis = layer.option("axis")
        block = samples * math.prod(n for a, n in enumerate(layer.in_shape) if a != axis)
        if layer.option("eps") == 0 and layer.option("over") == "batch" and block == 1:
            raise SpecError("must be above 0 when the batch statistics run over a single "
                            "entry (one sample, one position: its variance is 0)",
                            field=f"{field}.eps")

    def tensors(self, layer: LayerSpec) -> dict[str, Shape]:
        c = layer.in_shape[layer.option("axis")]
        return {f"g{layer.index}": (c,)} | ({f"s{layer.index}": (c,)} if layer.bias else {})


def _read_by_later(layer: LayerSpec) -> bool:
    from . import spec_kind

    return spec_kind(layer.kind).read_by_later


def _unit_axis(layer: LayerSpec) -> int:
    from . import spec_kind

    return spec_kind(layer.kind).unit_axis


KIND = Norm()
