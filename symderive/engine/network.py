"""The symbolic multilayer perceptron: parameter symbols, forward pass, loss.

Symbols get generated, Python-safe names (``W1_2_1`` is row 2, column 1 of
W_1; ``x_3_1`` is input component 1 of sample 3) so that any code generated
from an expression never contains a name taken from user input.
:mod:`symderive.printing` turns the names into notation (W^{(1)}_{21}).
Layers are 1-based as in the spec: layer 0 is the input, layer ``depth`` the
output.  Symbols are created on demand, so a wide network costs nothing until
an expression needs its parameters.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import sympy as sp

from ..spec import NetworkSpec


def weight(layer: int, row: int, col: int) -> sp.Symbol:
    """Entry (row, col) of W_layer, 1-based."""
    return sp.Symbol(f"W{layer}_{row}_{col}", real=True)


def bias(layer: int, unit: int) -> sp.Symbol:
    return sp.Symbol(f"b{layer}_{unit}", real=True)


def input_(sample: int, k: int) -> sp.Symbol:
    return sp.Symbol(f"x_{sample}_{k}", real=True)


def target(sample: int, m: int) -> sp.Symbol:
    return sp.Symbol(f"y_{sample}_{m}", real=True)


# Opaque local quantities used by the local (fast) derivation.
def activation_value(layer: int, sample: int, unit: int) -> sp.Symbol:
    """a^{(layer)}_unit of a sample; layer 0 is the input x."""
    if layer == 0:
        return input_(sample, unit)
    return sp.Symbol(f"a{layer}_{sample}_{unit}", real=True)


def preactivation(layer: int, sample: int, unit: int) -> sp.Symbol:
    return sp.Symbol(f"z{layer}_{sample}_{unit}", real=True)


def delta(layer: int, sample: int, unit: int) -> sp.Symbol:
    """δ^{(layer)}_unit = ∂ℓ/∂z^{(layer)}_unit for one sample."""
    return sp.Symbol(f"d{layer}_{sample}_{unit}", real=True)


def output_value(sample: int, m: int) -> sp.Symbol:
    """ŷ_m of a sample, as an opaque symbol."""
    return sp.Symbol(f"haty_{sample}_{m}", real=True)


def softmax_value(sample: int, m: int) -> sp.Symbol:
    """softmax(ŷ)_m of a sample, as an opaque symbol."""
    return sp.Symbol(f"p_{sample}_{m}", real=True)


@dataclass(frozen=True)
class Network:
    """A concrete-width MLP described by a :class:`NetworkSpec`."""

    spec: NetworkSpec

    @property
    def depth(self) -> int:
        return self.spec.depth

    @property
    def samples(self) -> int:
        return self.spec.samples

    def width(self, layer: int) -> int:
        return self.spec.layers[layer]

    def W(self, layer: int) -> sp.Matrix:
        n, m = self.spec.layers[layer], self.spec.layers[layer - 1]
        return sp.Matrix(n, m, lambda i, k: weight(layer, i + 1, k + 1))

    def b(self, layer: int) -> list[sp.Expr]:
        n = self.spec.layers[layer]
        return [bias(layer, i + 1) if self.spec.bias else sp.S.Zero for i in range(n)]

    def parameter_count(self) -> int:
        """How many parameters there are, without creating their symbols."""
        sizes = self.spec.layers
        return sum(sizes[l] * sizes[l - 1] + (sizes[l] if self.spec.bias else 0)
                   for l in range(1, len(sizes)))

    def parameters(self) -> list[sp.Symbol]:
        """Every parameter in a fixed order: W1 (row-major), b1, W2, b2, ..."""
        out: list[sp.Symbol] = []
        for layer in range(1, self.depth + 1):
            out.extend(self.W(layer))
            if self.spec.bias:
                out.extend(self.b(layer))
        return out

    def group(self, layer: int, unit: int, name: str) -> list[sp.Symbol]:
        """The symbols of parameter group ``name`` of hidden ``unit`` (1-based)."""
        if name == "incoming":
            return [weight(layer, unit, k + 1) for k in range(self.width(layer - 1))]
        if name == "bias":
            return [bias(layer, unit)] if self.spec.bias else []
        if name == "outgoing":
            return [weight(layer + 1, m + 1, unit) for m in range(self.width(layer + 1))]
        raise ValueError(f"unknown group {name!r}")

    def x(self, sample: int) -> list[sp.Symbol]:
        return [input_(sample, k + 1) for k in range(self.spec.layers[0])]

    def y(self, sample: int) -> list[sp.Symbol]:
        return [target(sample, m + 1) for m in range(self.spec.layers[-1])]

    def activation(self, layer: int):
        """The activation applied after weight layer ``layer``."""
        return self.spec.output_activation if layer == self.depth else self.spec.activation

    def forward(self, sample: int) -> tuple[list[list[sp.Expr]], list[list[sp.Expr]]]:
        """Pre-activations z[l] and activations a[l] (a[0] = x) of one sample."""
        a: list[list[sp.Expr]] = [list(self.x(sample))]
        z: list[list[sp.Expr]] = [[]]
        for layer in range(1, self.depth + 1):
            W, b, f = self.W(layer), self.b(layer), self.activation(layer)
            zl = [sp.Add(*[W[i, k] * a[-1][k] for k in range(W.cols)], b[i])
                  for i in range(W.rows)]
            z.append(zl)
            a.append([f(u) for u in zl])
        return z, a

    def sample_loss(self, sample: int) -> sp.Expr:
        _, a = self.forward(sample)
        return self.spec.loss.per_sample(a[-1], self.y(sample))

    @cached_property
    def loss(self) -> sp.Expr:
        """The total loss: sum over samples (no 1/N), as in CONTRACT.md."""
        return sp.Add(*[self.sample_loss(n + 1) for n in range(self.samples)])

    def output_delta(self, sample: int) -> list[sp.Expr]:
        """δ^{(L)}_m = ∂ℓ/∂z^{(L)}_m written in ŷ (opaque) and y where possible."""
        L = self.depth
        if self.spec.loss.name == "softmax_ce":
            # softmax(ŷ)_m Σ_k y_k − y_m: reads as p − y for one-hot targets.
            ys = self.y(sample)
            total = sp.Add(*ys)
            fprime = [self.activation(L).derivative(preactivation(L, sample, m + 1))
                      for m in range(len(ys))]
            return [(softmax_value(sample, m + 1) * total - t) * fp
                    for m, (t, fp) in enumerate(zip(ys, fprime))]
        zs = [preactivation(L, sample, m + 1) for m in range(self.width(L))]
        f = self.activation(L)
        ell = self.spec.loss.per_sample([f(u) for u in zs], self.y(sample))
        deltas = [sp.diff(ell, u) for u in zs]
        back = {f(u): output_value(sample, m + 1) for m, u in enumerate(zs)}
        return [_in_terms_of_output(d, back, f, zs) for d in deltas]


@lru_cache(maxsize=128)
def per_output_delta(spec: NetworkSpec, sample: int | str, m: int | str) -> sp.Expr:
    """δ^{(L)}_{sample,m} of a per-output loss (not softmax_ce), for any indices.

    δ_m depends on output m alone, so it is δ_1 of the same network with one
    output, renamed: differentiating the whole output layer would cost O(width²).
    """
    assert spec.loss.name != "softmax_ce", "softmax couples the outputs"
    L = spec.depth
    d = Network(replace(spec, layers=spec.layers[:-1] + (1,))).output_delta(1)[0]
    return d.xreplace({target(1, 1): target(sample, m), output_value(1, 1): output_value(sample, m),
                       preactivation(L, 1, 1): preactivation(L, sample, m)})


def _in_terms_of_output(d: sp.Expr, back: dict, f, zs) -> sp.Expr:
    """Rewrite ``d`` with ŷ = f(z) as a symbol, keeping it only if z disappears."""
    d = sp.expand(d)
    candidate = sp.factor(sp.expand(d.xreplace(back)))
    if f.is_identity:
        return candidate
    if not (candidate.free_symbols & set(zs)):
        return sp.simplify(candidate)
    return d
