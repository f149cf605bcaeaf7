"""Gradient-descent optimizers for the training simulation, as in torch.optim.

Every update is elementwise: equal parameters with equal gradients and equal
optimizer state receive bitwise-equal updates.  State starts at zero, which
is tied, so an optimizer by itself never separates two tied units; only the
gradient can.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

Arrays = Sequence[np.ndarray]


Rate = float | np.ndarray


class _Optimizer:
    """What every optimizer shares: a learning rate (one for all parameters, or one per
    parameter array, itself a number or an array of per-entry rates) and weight decay
    added to the gradient, as torch.optim does (not decoupled as in AdamW)."""

    def __init__(self, lr: Rate | Sequence[Rate], weight_decay: float = 0.0) -> None:
        self.lr, self.weight_decay = lr, weight_decay

    def _rates(self, n: int) -> Sequence[Rate]:
        return self.lr if isinstance(self.lr, (list, tuple)) else [self.lr] * n

    def _decayed(self, params: Arrays, grads: Arrays) -> Arrays:
        if not self.weight_decay:
            return grads
        return [g + self.weight_decay * p for p, g in zip(params, grads)]


class SGD(_Optimizer):
    """θ ← θ − lr·g."""

    def step(self, params: Arrays, grads: Arrays) -> None:
        grads = self._decayed(params, grads)
        for p, g, lr in zip(params, grads, self._rates(len(params))):
            p -= lr * g


class Momentum(_Optimizer):
    """Heavy-ball momentum (torch.optim.SGD with momentum, no dampening):
    v ← μ·v + g,  θ ← θ − lr·v."""

    def __init__(self, lr: Rate | Sequence[Rate], mu: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.mu = mu
        self.velocity: list[np.ndarray] | None = None

    def step(self, params: Arrays, grads: Arrays) -> None:
        grads = self._decayed(params, grads)
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p in params]
        for p, g, v, lr in zip(params, grads, self.velocity, self._rates(len(params))):
            v *= self.mu
            v += g
            p -= lr * v


class Adam(_Optimizer):
    """Adam (torch.optim.Adam): bias-corrected first and second moments,
    θ ← θ − lr·m̂ / (√v̂ + ε)."""

    def __init__(self, lr: Rate | Sequence[Rate], beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.moments: list[tuple[np.ndarray, np.ndarray]] | None = None

    def step(self, params: Arrays, grads: Arrays) -> None:
        grads = self._decayed(params, grads)
        if self.moments is None:
            self.moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        self.t += 1
        c1, c2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        for p, g, (m, v), lr in zip(params, grads, self.moments, self._rates(len(params))):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


#: The optimizers by their spec name (check.optimizer).
OPTIMIZERS: dict[str, Callable[..., SGD | Momentum | Adam]] = {
    "sgd": SGD, "momentum": Momentum, "adam": Adam}


def make(name: str, lr: Rate | Sequence[Rate], weight_decay: float = 0.0
         ) -> SGD | Momentum | Adam:
    """A fresh optimizer (zero state) by its spec name."""
    return OPTIMIZERS[name](lr, weight_decay=weight_decay)
