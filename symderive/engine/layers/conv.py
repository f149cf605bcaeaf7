"""The convolution (1-D and 2-D, stride, zero padding; nn.Conv1d / nn.Conv2d): a unit is
an output channel, its ``incoming`` group its whole kernel ``W{l}[c]`` [in, *k], its
``outgoing`` group the kernel slice ``W{m}[:, c]`` that reads it at every position.

The symbolic forward builds each output entry as a sum over input channels and
kernel offsets; the NumPy pass loops over kernel offsets and multiplies whole
strided slices, a different order of the same sums.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import sympy as sp

from ...spec.layers import LayerSpec
from .base import Entry, LayerKind, product


def _geometry(layer: LayerSpec) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    return layer.option("kernel"), layer.option("stride"), layer.option("padding")


class Conv(LayerKind):
    name = "conv"
    seconds_per_mac, seconds_per_loop = 2.2e-9, 3.5e-5   # bench_kind_costs.py --fit
    linear_in_parameters = True
    unit_axis = 0

    def tensors(self, layer: LayerSpec) -> dict[str, tuple[int, ...]]:
        kernel = _geometry(layer)[0]
        out = {f"W{layer.index}": (layer.units, layer.in_shape[0], *kernel)}
        return out | ({f"b{layer.index}": (layer.units,)} if layer.bias else {})

    def own_entries(self, layer: LayerSpec, unit: int, group: str) -> list[Entry]:
        if group == "incoming":
            shape = (layer.in_shape[0], *_geometry(layer)[0])
            return [(f"W{layer.index}", (unit - 1, *idx)) for idx in np.ndindex(*shape)]
        return [(f"b{layer.index}", (unit - 1,))] if layer.bias else []

    def reads(self, layer: LayerSpec, labels: np.ndarray, unit: int) -> dict[str, list[Entry]]:
        """The kernel slice W[:, c] of every input channel c that carries ``unit``."""
        kernel = _geometry(layer)[0]
        channels = [c for c in range(layer.in_shape[0]) if np.any(labels[c] == unit)]
        return {"outgoing": [(f"W{layer.index}", (o, c, *k)) for c in channels
                             for o in range(layer.units) for k in np.ndindex(*kernel)]}

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        kernel, stride, padding = _geometry(layer)
        sizes = tuple(k + s for k, s in zip(kernel, stride))
        out = tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(sizes, kernel, stride, padding))
        return replace(layer, in_shape=(3, *sizes), out_shape=(3, *out), units=3)

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        kernel, stride, padding = _geometry(layer)
        W, b = theta[f"W{layer.index}"], theta.get(f"b{layer.index}")
        pad = [(0, 0), (0, 0)] + [(p, p) for p in padding]
        xp = np.pad(x, pad, constant_values=sp.S.Zero)
        out = np.empty((x.shape[0],) + layer.out_shape, dtype=object)
        taps = [(c, k) for c in range(layer.in_shape[0]) for k in np.ndindex(*kernel)]
        filters = [[W[(o, c, *k)] for c, k in taps] for o in range(layer.units)]
        for n in range(x.shape[0]):
            for t in np.ndindex(*layer.out_shape[1:]):
                start = [ti * s for ti, s in zip(t, stride)]
                window = [xp[(n, c, *[a + d for a, d in zip(start, k)])] for c, k in taps]
                for o, weights in enumerate(filters):
                    terms = [product(w, v) for w, v in zip(weights, window)]
                    out[(n, o, *t)] = sp.Add(*terms, b[o] if b is not None else sp.S.Zero)
        return out

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        kernel, stride, padding = _geometry(layer)
        W = theta[f"W{layer.index}"]
        xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
        z = np.zeros((x.shape[0],) + layer.out_shape)
        for k in np.ndindex(*kernel):
            window = xp[_window(k, stride, layer.out_shape[1:])]
            z += np.einsum("nc...,oc->no...", window, W[(slice(None), slice(None), *k)])
        if layer.bias:
            z += theta[f"b{layer.index}"].reshape((-1,) + (1,) * (len(kernel)))
        return z, xp

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        kernel, stride, padding = _geometry(layer)
        W, xp = theta[f"W{layer.index}"], cache
        dW, dxp = np.zeros_like(W), np.zeros_like(xp)
        for k in np.ndindex(*kernel):
            where = _window(k, stride, layer.out_shape[1:])
            window = xp[where].reshape(xp.shape[0], xp.shape[1], -1)
            dW[(slice(None), slice(None), *k)] = np.einsum(
                "nop,ncp->oc", dout.reshape(dout.shape[0], dout.shape[1], -1), window)
            dxp[where] += np.einsum("no...,oc->nc...", dout, W[(slice(None), slice(None), *k)])
        inner = tuple(slice(p, p + n) for p, n in zip(padding, layer.in_shape[1:]))
        grads = {f"W{layer.index}": dW}
        if layer.bias:
            grads[f"b{layer.index}"] = dout.sum(axis=(0, *range(2, dout.ndim)))
        return dxp[(slice(None), slice(None), *inner)], grads

    def flops(self, layer: LayerSpec) -> int:
        return int(np.prod(layer.out_shape)) * layer.in_shape[0] * int(np.prod(_geometry(layer)[0]))

    def pass_loops(self, layer: LayerSpec) -> int:
        """The NumPy pass loops over the kernel's offsets."""
        return int(np.prod(_geometry(layer)[0]))

    def unit_word(self, layer: LayerSpec) -> str:
        return "channel"

    def difference(self, layer: LayerSpec, group: str) -> str:
        if group == "outgoing":
            return ("a kernel entry that reads a channel gets, summed over the samples and over "
                    "every position of the next layer, that layer's error times the channel's "
                    "activation at the position the entry meets: the difference of two paired "
                    "entries' gradients is a sum over positions of the next layer's error times "
                    "the difference of the two channels' activations")
        return ("a filter's gradient is a sum over positions: at each one, the channel's error "
                "times the input window the filter meets; the channel's error at a position is "
                "the slope of its activation times its outgoing kernel slice applied to the "
                "next layer's errors around it. The difference of two filters' gradients is "
                "therefore a sum over positions, proportional to the difference of their "
                "outgoing slices when their pre-activations agree")

    def symbol(self, layer: LayerSpec, tensor: str) -> str:
        return rf"{'K' if tensor[0] == 'W' else tensor[0]}^{{({tensor[1:]})}}"


def _window(k: tuple[int, ...], stride: tuple[int, ...], out: tuple[int, ...]) -> tuple:
    """The strided slice of a padded input that kernel offset ``k`` meets at every output
    position: positions s·t + k for t = 0 .. out − 1, on every spatial axis."""
    return (slice(None), slice(None)) + tuple(slice(d, d + s * (n - 1) + 1, s)
                                              for d, s, n in zip(k, stride, out))


KIND = Conv()
