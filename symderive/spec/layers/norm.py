"""The spec side of normalisation: ``over`` = features (layer norm) | batch (batch norm),
``eps``; its ``gain`` and ``shift`` belong to the channels of the layer before it (its
units; after attention, whose output entries are features, the channels of the residual
stream the attention joins, or no unit).

Layer norm's statistics: with the channels first ([C, ...]) all of one sample's entries
(nn.GroupNorm(1, C)); with the channels last on [positions, features] each position's
features (nn.LayerNorm(features) on tokens); on a vector, the vector."""
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
        if not before or _feature_axis(before[-1]) is None:
            what = (f"layer {before[-1].index} has no units" if before
                    else "it is the first layer")
            raise SpecError(f"normalises the units of the layer before it, but {what}",
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
        axis = 0 if len(in_shape) > 1 and _feature_axis(before[-1]) == 0 else len(in_shape) - 1
        if eps == 0 and over == "features" and feature_block(in_shape, axis) == 1:
            raise SpecError("must be above 0 when the statistics run over a single entry "
                            "(its variance is 0)", field=f"{field}.eps")
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


def per_position(in_shape: Shape, axis: int) -> bool:
    """Does layer norm run per position (channels last on [positions, features])?"""
    return len(in_shape) > 1 and axis == len(in_shape) - 1


def feature_block(in_shape: Shape, axis: int) -> int:
    """How many entries one layer-norm statistic runs over."""
    return in_shape[axis] if per_position(in_shape, axis) else math.prod(in_shape)


def _feature_axis(layer: LayerSpec) -> int | None:
    """The axis of the channels the layer's output has (units, attention's features)."""
    from . import spec_kind

    return spec_kind(layer.kind).feature_axis


KIND = Norm()
