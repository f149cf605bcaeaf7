"""The spec side of flatten: [C, ...] -> [C·...], channel by channel (torch.flatten)."""
from __future__ import annotations

import math
from typing import Any

from .base import LayerSpec, Shape, SpecKind


class Flatten(SpecKind):
    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]):
        return (math.prod(in_shape),), 0, ()


KIND = Flatten()
