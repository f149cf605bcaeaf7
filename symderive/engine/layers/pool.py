"""Global pooling, ``mean`` or ``max`` over every position of a channel: [C, ...] -> [C].
No parameters and no units: a channel's label passes to its pooled value."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import sympy as sp

from ...spec.layers import LayerSpec
from .base import NO_UNIT, LayerKind


class Pool(LayerKind):
    name = "pool"
    seconds_per_mac, seconds_per_loop = 1e-10, 1.2e-4   # bench_kind_costs.py --fit

    def carry(self, layer: LayerSpec, labels: np.ndarray) -> np.ndarray:
        flat = labels.reshape(labels.shape[0], -1)
        return np.where(np.all(flat == flat[:, :1], axis=1), flat[:, 0], NO_UNIT)

    def flops(self, layer: LayerSpec) -> int:
        return int(np.prod(layer.in_shape))

    def lemma_work(self, layer: LayerSpec) -> int:
        """A maximum over P positions costs SymPy about P² comparisons, and more: its
        check took 1.9 s on 16 positions, 10 s on 36, over 100 s on 64 (the guards'
        bench_kind_costs.py); counted as 32 C P², so that 3 × 3 positions or more are
        checked on the small instance."""
        if layer.option("mode") != "max":
            return self.flops(layer)
        positions = int(np.prod(layer.in_shape[1:]))
        return 32 * layer.in_shape[0] * positions ** 2

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        return replace(layer, in_shape=(3, *[min(n, 2) for n in layer.in_shape[1:]]),
                       out_shape=(3,))

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        out = np.empty(flat.shape[:2], dtype=object)
        for n, c in np.ndindex(*flat.shape[:2]):
            values = list(flat[n, c])
            out[n, c] = (sp.Max(*values) if layer.option("mode") == "max"
                         else sp.Mul(sp.Rational(1, len(values)), sp.Add(*values)))
        return out

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        flat = x.reshape(x.shape[0], x.shape[1], -1)
        if layer.option("mode") == "max":
            return flat.max(axis=2), (x.shape, flat.argmax(axis=2))
        return flat.mean(axis=2), (x.shape, None)

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        shape, where = cache
        positions = int(np.prod(shape[2:]))
        if where is None:
            dx = np.repeat(dout[:, :, None] / positions, positions, axis=2)
        else:     # the gradient goes to the (first) largest position, as torch's max does
            dx = np.zeros((shape[0], shape[1], positions))
            np.put_along_axis(dx, where[:, :, None], dout[:, :, None], axis=2)
        return dx.reshape(shape), {}

    def difference(self, layer: LayerSpec, group: str) -> str:
        return ("a pooled channel passes its error to every position "
                + ("equally (mean)" if layer.option("mode") == "mean" else "where it is largest (max)"))


KIND = Pool()
