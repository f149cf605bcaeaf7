"""A starting point as the engine sees it: per layer, exact weights and biases or "random".

"random" is generic: its entries are distinct, unrelated numbers, so no sum of them
equals another sum unless the two sums are over the same entries.  Concrete
tensors are exact rationals, stored as integers over one common denominator per
tensor (equal sums are then decided by integer arithmetic, never by floats).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..spec import DataSpec, InitSpec, NetworkSpec, Spec

#: Integers up to this size are kept in int64 (sums of a row stay far below 2**63).
_INT64_SAFE = 2 ** 40


@dataclass(frozen=True)
class Tensor:
    """An exact tensor as integers over ``scale`` (None: random)."""

    ints: np.ndarray | None
    scale: int = 1

    @property
    def is_random(self) -> bool:
        return self.ints is None

    def fraction(self, row: int, col: int = 0) -> Fraction:
        assert self.ints is not None
        return Fraction(int(self.ints[row, col]), self.scale)

    def zero_mask(self) -> np.ndarray | None:
        """Entries that are exactly 0 (None when random)."""
        return None if self.ints is None else self.ints == 0


def exact_tensor(values) -> Tensor:
    """Integers over the common denominator of ``values`` (rows of Fractions)."""
    if values is None:
        return Tensor(None)
    scale = 1
    for row in values:
        for v in row:
            scale = math.lcm(scale, v.denominator)
    ints = [[int(v * scale) for v in row] for row in values]
    big = max((abs(v) for row in ints for v in row), default=0)
    dtype = np.int64 if big < _INT64_SAFE and scale < _INT64_SAFE else object
    return Tensor(np.array(ints, dtype=dtype).reshape(len(values), -1), scale)


@dataclass(frozen=True)
class Start:
    """The starting point of a network: W[l], b[l] for l = 1..L (index 0 unused)."""

    network: NetworkSpec
    W: tuple[Tensor, ...]
    b: tuple[Tensor | None, ...]       # None when the network has no biases
    data: DataSpec | None = None

    @property
    def depth(self) -> int:
        return self.network.depth


def start_of(network: NetworkSpec, init: InitSpec, data: DataSpec | None = None) -> Start:
    """The engine's view of an ``[init]`` table (and the ``[data]``, if any)."""
    W: list[Tensor] = [Tensor(None)]
    b: list[Tensor | None] = [None]
    for l in range(1, network.depth + 1):
        W.append(exact_tensor(init.tensor(f"W{l}").values))
        b.append(exact_tensor(init.tensor(f"b{l}").values) if network.bias else None)
    return Start(network, tuple(W), tuple(b), data)


def spec_start(spec: Spec) -> Start | None:
    """The starting point of a spec with an ``[init]`` table, else None."""
    if spec.init is None:
        return None
    return start_of(spec.network, spec.init, spec.data)


def float_parameters(start: Start, rng: np.random.Generator):
    """Concrete float64 parameters: the given numbers, random tensors drawn from ``rng``
    (normal, scaled by 1/sqrt(fan-in)); for simulations of the starting point."""
    from .mlp import Params

    sizes = start.network.layers
    Ws, bs = [], []
    for l in range(1, start.depth + 1):
        shape = (sizes[l], sizes[l - 1])
        Ws.append(_floats(start.W[l], shape, rng, 1 / math.sqrt(sizes[l - 1])))
        t = start.b[l]
        bs.append(np.zeros(sizes[l]) if t is None
                  else _floats(t, (sizes[l], 1), rng, 0.5)[:, 0])
    return Params(Ws, bs)


def _floats(t: Tensor, shape: tuple[int, int], rng: np.random.Generator,
            spread: float) -> np.ndarray:
    if t.ints is None:
        return rng.normal(scale=spread, size=shape)
    return np.array([[int(v) / t.scale for v in row] for row in t.ints], dtype=float)


__all__ = ["Tensor", "Start", "exact_tensor", "start_of", "spec_start", "float_parameters"]
