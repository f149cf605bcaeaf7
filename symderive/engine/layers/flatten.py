"""Flatten: [C, ...] -> [C·...], channel by channel (torch.flatten of one sample); a
channel's label goes to its block of features, so a dense layer after it reads a
channel through a block of columns."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ...spec.layers import LayerSpec
from .base import LayerKind


class Flatten(LayerKind):
    name = "flatten"
    seconds_per_mac, seconds_per_loop = 0.0, 5e-5   # bench_kind_costs.py --fit

    def carry(self, layer: LayerSpec, labels: np.ndarray) -> np.ndarray:
        return labels.reshape(-1)

    def flops(self, layer: LayerSpec) -> int:
        return int(np.prod(layer.in_shape))

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        shape = (3, *[min(n, 2) for n in layer.in_shape[1:]])
        return replace(layer, in_shape=shape, out_shape=(int(np.prod(shape)),))

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        return x.reshape(x.shape[0], -1), x.shape

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return dout.reshape(cache), {}


KIND = Flatten()
