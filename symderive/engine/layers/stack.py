"""A network given by ``[[layer]]`` tables: its parameters, symbolic loss and NumPy pass.

Each layer goes through its kind (:func:`layer_kind`): the stack only applies the
activations, adds the residual connections (``skip``) and the loss.  Parameters are
a dict of tensors by name (``W1``, ``b1``, ``g2``, ...) in PyTorch's layout: SymPy
symbols for the symbolic loss, floats for the NumPy pass.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import sympy as sp

from ...spec import NetworkSpec
from ..network import target
from . import layer_kind, symbols

Theta = dict[str, np.ndarray]


@dataclass(frozen=True)
class Stack:
    """The layers of a ``[[layer]]`` network (``spec.stack`` is not empty)."""

    spec: NetworkSpec

    @cached_property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor's PyTorch shape, in the parameters' order (layer by layer)."""
        out: dict[str, tuple[int, ...]] = {}
        for layer in self.spec.stack:
            out.update(layer_kind(layer.kind).tensors(layer))
        return out

    def parameter_count(self) -> int:
        return sum(int(np.prod(s)) for s in self.shapes.values())

    @cached_property
    def theta(self) -> Theta:
        """The parameters as generated symbols (``W1_2_1_3`` is W1[1, 0, 2])."""
        return {name: symbols(name, shape) for name, shape in self.shapes.items()}

    def inputs(self) -> np.ndarray:
        """The input symbols [samples, *input]: ``x_n_k`` with k the flat index (1-based)."""
        n, shape = self.spec.samples, self.spec.input
        flat = [[sp.Symbol(f"x_{s + 1}_{k + 1}", real=True) for k in range(int(np.prod(shape)))]
                for s in range(n)]
        out = np.empty((n, int(np.prod(shape))), dtype=object)
        out[:] = flat
        return out.reshape((n, *shape))

    def outputs(self, theta: Theta, x: np.ndarray) -> np.ndarray:
        """The symbolic outputs [samples, K] (object array)."""
        values: list[np.ndarray] = [x]
        for layer in self.spec.stack:
            z = layer_kind(layer.kind).forward(layer, theta, values[-1])
            a = z if layer.activation is None or layer.activation.is_identity \
                else np.vectorize(layer.activation, otypes=[object])(z)
            if layer.skip is not None:
                a = a + values[layer.skip]
            values.append(a)
        return values[-1]

    def loss(self, theta: Theta | None = None, x: np.ndarray | None = None) -> sp.Expr:
        """The total loss, summed over samples (CONTRACT.md), as a SymPy expression."""
        theta = self.theta if theta is None else theta
        out = self.outputs(theta, self.inputs() if x is None else x)
        width = out.shape[1]
        return sp.Add(*[self.spec.loss.per_sample(list(out[n]),
                                                  [target(n + 1, m + 1) for m in range(width)])
                        for n in range(out.shape[0])])

    # ---- NumPy ---------------------------------------------------------------------
    def np_forward(self, theta: Theta, X: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """The outputs [samples, K] and what the backward pass needs, layer by layer."""
        values, tape = [X], []
        for layer in self.spec.stack:
            z, cache = layer_kind(layer.kind).np_forward(layer, theta, values[-1])
            f = layer.activation
            a = z if f is None else f.np_f(z)
            if layer.skip is not None:
                a = a + values[layer.skip]
            values.append(a)
            tape.append((z, cache))
        return values[-1], tape

    def np_loss(self, theta: Theta, X: np.ndarray, Y: np.ndarray) -> float:
        """The loss alone: the forward pass of :meth:`np_gradient`, bit for bit, without
        the backward pass (finite differences need only this)."""
        return self.np_loss_and_zs(theta, X, Y)[0]

    def np_loss_and_zs(self, theta: Theta, X: np.ndarray, Y: np.ndarray
                       ) -> tuple[float, list[np.ndarray]]:
        """:meth:`np_loss` and the pre-activations z of every layer (as
        :meth:`np_gradient` gives them)."""
        out, tape = self.np_forward(theta, X)
        return float(self.spec.loss.np_value_and_grad(out, Y)[0]), [z for z, _ in tape]

    def np_gradient(self, theta: Theta, X: np.ndarray, Y: np.ndarray
                    ) -> tuple[float, Theta, list[np.ndarray]]:
        """The loss, ∂L/∂θ per tensor, and the pre-activations z of every layer."""
        out, tape = self.np_forward(theta, X)
        value, dout = self.spec.loss.np_value_and_grad(out, Y)
        grads: Theta = {}
        carried: dict[int, np.ndarray] = {}       # errors a skip sends back to layer j
        for layer, (z, cache) in zip(reversed(self.spec.stack), reversed(tape)):
            dout = dout + carried.pop(layer.index, 0.0)
            if layer.skip is not None:
                carried[layer.skip] = carried.get(layer.skip, 0.0) + dout
            f = layer.activation
            dz = dout if f is None else dout * f.np_df(z)
            dout, own = layer_kind(layer.kind).np_backward(layer, theta, cache, dz)
            grads.update(own)
        return float(value), grads, [z for z, _ in tape]

    def flops(self) -> int:
        """Multiply-adds of one sample's forward pass, summed over the layers."""
        return sum(layer_kind(s.kind).flops(s) for s in self.spec.stack)
