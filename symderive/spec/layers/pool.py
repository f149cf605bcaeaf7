"""The spec side of global pooling: ``mode`` = mean | max over the positions, [C, ...] -> [C]."""
from __future__ import annotations

from typing import Any

from ...errors import SpecError
from .base import LayerSpec, Shape, SpecKind
from .shapes import describe

MODES = ("mean", "max")


class Pool(SpecKind):
    keys = frozenset({"mode"})

    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]):
        if len(in_shape) < 2:
            raise SpecError(f"pools over positions, but its input {describe(in_shape)} has "
                            "none (it needs [channels, positions...])", field=f"{field}.kind")
        mode = table.get("mode", "mean")
        if mode not in MODES:
            raise SpecError(f"must be one of {', '.join(MODES)}, not {mode!r}",
                            field=f"{field}.mode")
        return (in_shape[0],), 0, (("mode", mode),)


KIND = Pool()
