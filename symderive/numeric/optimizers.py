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


class SGD:
    """θ ← θ − lr·g."""

    def __init__(self, lr: float) -> None:
        self.lr = lr

    def step(self, params: Arrays, grads: Arrays) -> None:
        for p, g in zip(params, grads):
            p -= self.lr * g


class Momentum:
    """Heavy-ball momentum (torch.optim.SGD with momentum, no dampening):
    v ← μ·v + g,  θ ← θ − lr·v."""

    def __init__(self, lr: float, mu: float = 0.9) -> None:
        self.lr, self.mu = lr, mu
        self.velocity: list[np.ndarray] | None = None

    def step(self, params: Arrays, grads: Arrays) -> None:
        if self.velocity is None:
            self.velocity = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocity):
            v *= self.mu
            v += g
            p -= self.lr * v


class Adam:
    """Adam (torch.optim.Adam): bias-corrected first and second moments,
    θ ← θ − lr·m̂ / (√v̂ + ε)."""

    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.t = 0
        self.moments: list[tuple[np.ndarray, np.ndarray]] | None = None

    def step(self, params: Arrays, grads: Arrays) -> None:
        if self.moments is None:
            self.moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        self.t += 1
        c1, c2 = 1 - self.beta1 ** self.t, 1 - self.beta2 ** self.t
        for p, g, (m, v) in zip(params, grads, self.moments):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


#: The optimizers by their spec name (check.optimizer).
OPTIMIZERS: dict[str, Callable[[float], SGD | Momentum | Adam]] = {
    "sgd": SGD, "momentum": Momentum, "adam": Adam}


def make(name: str, lr: float) -> SGD | Momentum | Adam:
    """A fresh optimizer (zero state) by its spec name."""
    return OPTIMIZERS[name](lr)
