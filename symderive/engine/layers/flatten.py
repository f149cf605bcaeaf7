"""Flatten: [C, ...] -> [C·...], channel by channel (torch.flatten of one sample); a
channel's label goes to its block of features, so a dense layer after it reads a
channel through a block of columns."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...spec.layers import LayerSpec
from .base import LayerKind


class Flatten(LayerKind):
    name = "flatten"

    def carry(self, layer: LayerSpec, labels: np.ndarray) -> np.ndarray:
        return labels.reshape(-1)

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        return x.reshape(x.shape[0], -1), x.shape

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return dout.reshape(cache), {}


KIND = Flatten()
