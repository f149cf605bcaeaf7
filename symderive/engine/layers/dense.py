"""The dense layer as a kind of a stack: ``W{l}`` [units, in], ``b{l}`` [units], acting on
the last axis (per position or token, as nn.Linear).  A unit is one output.

The ``layers = [...]`` shorthand keeps its own fast path (:mod:`..network`,
:mod:`..local`, :mod:`..mlp`); ``tests/test_layer_kinds.py`` checks that this kind
gives the same gradients.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import sympy as sp

from ...spec.layers import LayerSpec
from .base import Entry, LayerKind, product


class Dense(LayerKind):
    name = "dense"
    seconds_per_mac, seconds_per_loop = 1.6e-10, 2e-5   # bench_kind_costs.py --fit
    linear_in_parameters = True
    unit_axis = -1

    def tensors(self, layer: LayerSpec) -> dict[str, tuple[int, ...]]:
        out = {f"W{layer.index}": (layer.units, layer.in_shape[-1])}
        return out | ({f"b{layer.index}": (layer.units,)} if layer.bias else {})

    def own_entries(self, layer: LayerSpec, unit: int, group: str) -> list[Entry]:
        if group == "incoming":
            return [(f"W{layer.index}", (unit - 1, k)) for k in range(layer.in_shape[-1])]
        return [(f"b{layer.index}", (unit - 1,))] if layer.bias else []

    def reads(self, layer: LayerSpec, labels: np.ndarray, unit: int) -> dict[str, list[Entry]]:
        """Unit ``unit`` of an earlier layer reaches the columns of W whose input positions
        carry its label: ``outgoing`` is those columns, column by column."""
        columns = [k for k in range(layer.in_shape[-1]) if np.any(labels[..., k] == unit)]
        return {"outgoing": [(f"W{layer.index}", (m, k)) for k in columns
                             for m in range(layer.units)]}

    def input_axis(self, layer: LayerSpec) -> int:
        return len(layer.in_shape) - 1

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        lead = tuple(min(n, 2) for n in layer.in_shape[:-1])
        return replace(layer, in_shape=lead + (3,), out_shape=lead + (3,), units=3)

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        W = theta[f"W{layer.index}"]
        b = theta.get(f"b{layer.index}")
        out = np.empty(x.shape[:-1] + (layer.units,), dtype=object)
        for idx in np.ndindex(*x.shape[:-1]):
            row = x[idx]
            for u in range(layer.units):
                terms = [product(W[u, k], row[k]) for k in range(len(row))]
                out[idx + (u,)] = sp.Add(*terms, b[u] if b is not None else sp.S.Zero)
        return out

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        z = x @ theta[f"W{layer.index}"].T
        if layer.bias:
            z = z + theta[f"b{layer.index}"]
        return z, x

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        x, W = cache, theta[f"W{layer.index}"]
        flat_d, flat_x = dout.reshape(-1, dout.shape[-1]), x.reshape(-1, x.shape[-1])
        grads = {f"W{layer.index}": flat_d.T @ flat_x}
        if layer.bias:
            grads[f"b{layer.index}"] = flat_d.sum(axis=0)
        return dout @ W, grads

    def flops(self, layer: LayerSpec) -> int:
        return int(np.prod(layer.out_shape)) * layer.in_shape[-1]

    def difference(self, layer: LayerSpec, group: str) -> str:
        if group == "outgoing":
            return ("a weight that reads a unit gets the next layer's error times the unit's "
                    "activation, summed over the samples: the difference of two paired weights' "
                    "gradients is the next layer's error times the difference of the two units' "
                    "activations")
        return ("a unit's weights get its error times its inputs, summed over the samples, and "
                "its error is the slope of its activation times its outgoing weights applied "
                "to the next layer's errors: the difference is made of the two units' "
                "pre-activations and outgoing weights")


KIND = Dense()
