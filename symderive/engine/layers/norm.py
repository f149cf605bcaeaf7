"""Normalisation: ``over = "features"`` (layer norm: the statistics of all of one sample's
entries, as nn.LayerNorm on a vector or nn.GroupNorm(1, C) on channels, or of each
token's features on [tokens, features], as nn.LayerNorm(features)) or ``"batch"``
(batch norm in training mode: each channel's statistics over the samples and positions,
as nn.BatchNorm1d/2d); biased variance; then ``g{l}`` times it plus ``s{l}``, one per
channel.  Its gain and shift belong to the channels of the layer before it (the units
of a dense or conv layer; after attention, the features of the residual stream it joins)."""
from __future__ import annotations

from fractions import Fraction
from dataclasses import replace
from typing import Any

import numpy as np
import sympy as sp

from ...spec.layers import LayerSpec
from ...spec.layers.norm import per_position
from .base import Entry, LayerKind


def _axes(layer: LayerSpec, ndim: int) -> tuple[int, tuple[int, ...]]:
    """(the channel axis of a batch [N, *shape], the axes the statistics run over): layer
    norm over one sample, or per position over the features when they are last
    ([tokens, features], as nn.LayerNorm); batch norm over all but the channel."""
    channel = 1 + layer.option("axis")
    if layer.option("over") == "features":
        if per_position(layer.in_shape, layer.option("axis")):
            return channel, (channel,)
        return channel, tuple(range(1, ndim))
    return channel, tuple(a for a in range(ndim) if a != channel)


def _broadcast(v: np.ndarray, channel: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[channel] = -1
    return v.reshape(shape)


class Norm(LayerKind):
    name = "norm"
    normalises = True
    seconds_per_mac, seconds_per_loop = 1e-10, 6e-5   # bench_kind_costs.py --fit

    def statistics(self, layer: LayerSpec) -> str | None:
        return layer.option("over")

    def _channels(self, layer: LayerSpec) -> int:
        return layer.in_shape[layer.option("axis")]

    def tensors(self, layer: LayerSpec) -> dict[str, tuple[int, ...]]:
        c = self._channels(layer)
        return {f"g{layer.index}": (c,)} | ({f"s{layer.index}": (c,)} if layer.bias else {})

    def reads(self, layer: LayerSpec, labels: np.ndarray, unit: int) -> dict[str, list[Entry]]:
        axis = layer.option("axis")
        channels = [c for c in range(self._channels(layer))
                    if np.any(np.take(labels, c, axis=axis) == unit)]
        out = {"gain": [(f"g{layer.index}", (c,)) for c in channels]}
        return out | ({"shift": [(f"s{layer.index}", (c,)) for c in channels]} if layer.bias else {})

    def input_axis(self, layer: LayerSpec) -> int:
        return layer.option("axis")

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        axis = layer.option("axis")
        shape = tuple(3 if a == axis else min(n, 2) for a, n in enumerate(layer.in_shape))
        return replace(layer, in_shape=shape, out_shape=shape)

    def carry(self, layer: LayerSpec, labels: np.ndarray) -> np.ndarray:
        return labels

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        channel, over = _axes(layer, x.ndim)
        eps = sp.Rational(Fraction(layer.option("eps")).limit_denominator(10**12))
        g, s = theta[f"g{layer.index}"], theta.get(f"s{layer.index}")
        out = np.empty(x.shape, dtype=object)
        kept = [a for a in range(x.ndim) if a not in over]
        for group in np.ndindex(*[x.shape[a] for a in kept]):
            index = [slice(None)] * x.ndim
            for a, v in zip(kept, group):
                index[a] = v
            block = x[tuple(index)]
            values = list(block.reshape(-1))
            mean = sp.Add(*values) / len(values)
            var = sp.Add(*[(v - mean) ** 2 for v in values]) / len(values)
            root = sp.sqrt(var + eps)
            for pos in np.ndindex(*block.shape):
                full = list(index)
                free = iter(pos)
                full = [next(free) if isinstance(i, slice) else i for i in full]
                c = full[channel]
                shift = s[c] if s is not None else sp.S.Zero
                out[tuple(full)] = g[c] * (x[tuple(full)] - mean) / root + shift
        return out

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        channel, over = _axes(layer, x.ndim)
        mean = x.mean(axis=over, keepdims=True)
        root = np.sqrt(((x - mean) ** 2).mean(axis=over, keepdims=True) + layer.option("eps"))
        xhat = (x - mean) / root
        g = _broadcast(theta[f"g{layer.index}"], channel, x.ndim)
        y = g * xhat
        if layer.bias:
            y = y + _broadcast(theta[f"s{layer.index}"], channel, x.ndim)
        return y, (xhat, root, g)

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        xhat, root, g = cache
        channel, over = _axes(layer, dout.ndim)
        others = tuple(a for a in range(dout.ndim) if a != channel)
        dxhat = dout * g
        dx = (dxhat - dxhat.mean(axis=over, keepdims=True)
              - xhat * (dxhat * xhat).mean(axis=over, keepdims=True)) / root
        grads = {f"g{layer.index}": (dout * xhat).sum(axis=others)}
        if layer.bias:
            grads[f"s{layer.index}"] = dout.sum(axis=others)
        return dx, grads

    def flops(self, layer: LayerSpec) -> int:
        return 8 * int(np.prod(layer.out_shape))

    def difference(self, layer: LayerSpec, group: str) -> str:
        if group == "gain":
            return ("a gain's gradient is the sum, over the entries it scales, of the error "
                    "there times the normalised value: the gains are part of the unit, and two "
                    "channels with different gains separate even when their filters agree")
        return "a shift's gradient is the sum of the errors over the entries it shifts"

    def symbol(self, layer: LayerSpec, tensor: str) -> str:
        head = r"\gamma" if tensor[0] == "g" else r"\beta"
        return rf"{head}^{{({tensor[1:]})}}"


KIND = Norm()
