"""The numeric check of ``zero_init`` on a ``[[layer]]`` network (:mod:`.stack_zero`).

Gradient descent from the zero start through the layer kinds' NumPy passes, written
apart from their symbolic forward: the tensors the fact calls frozen must not move,
those it says move at the first step must, and units it says stay identical must.
"""
from __future__ import annotations

import numpy as np

from ..engine.layers.stack import Stack
from ..engine.layers.units import Units
from ..engine.symmetry import PRESERVED
from ..engine.witness import random_targets
from ..spec import Hypothesis
from .checks import GAP_TOL, FactNumeric, _problem, below, counted
from .result import FactResult
from .stack_zero import _entries, _flat, free_entries

def _floats_of(data, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    X = np.array([[float(v) for v in _flat(row)] for row in data.inputs])
    Y = np.array([[float(v) for v in _flat(row)] for row in data.targets])
    return X.reshape((len(X), *shape)), Y


def zero_init_stack_check(net, result: FactResult, rng, steps: int, lr: float,
                          data=None) -> FactNumeric:
    """Gradient descent from the zero start through the kinds' NumPy passes (written apart
    from their symbolic forward): the frozen tensors must not move, the first-step ones
    must, and units said to stay identical must."""
    stack = Stack(net)
    free = free_entries(net)
    theta = {n: np.zeros(s) for n, s in stack.shapes.items()}
    for n, idx in free:
        theta[n][idx] = rng.normal()
    X, Y = (_floats_of(data, net.input) if data is not None else
            (rng.normal(size=(net.samples, *net.input)), random_targets(net, rng)))
    start = {n: t.copy() for n, t in theta.items()}
    first, spread = {}, 0.0
    pairs = [Units(net, Hypothesis("zero start", int(l), (1, 2), net.stack[int(l) - 1].groups,
                                   ())) for l, v in result.details.get(
                                       "hidden_units_identical", {}).items() if v == PRESERVED]
    for step in range(steps):
        _, grads, _ = stack.np_gradient(theta, X, Y)
        for n in theta:
            theta[n] = theta[n] - lr * grads[n]
        if step == 0:
            first = _changes(stack, theta, start, free)
        spread = max([spread] + [float(np.max(np.abs(u.difference(theta, g)), initial=0.0))
                                 for u in pairs for g in u.groups])
    change = _changes(stack, theta, start, free)
    moved = [n for n, c in change.items() if c > 1e-12]
    problems = [_problem(result, f"{n} moved by {change[n]:.3g}, but it is frozen")
                for n in result.details.get("frozen", []) if change.get(n, 0.0) > 1e-12]
    problems += [_problem(result, f"{n} did not move at the first step")
                 for n in result.details.get("first_step", []) if not first.get(n, 0.0) > 0]
    if spread > GAP_TOL:
        problems.append(_problem(result, f"units said to stay identical separated "
                                 f"(spread {spread:.3g})"))
    where = "the given data" if data is not None else "random data"
    return FactNumeric(
        f"{steps} steps of full-batch gradient descent (learning rate {lr:g}) through the "
        "layer kinds' NumPy passes, from all-zero parameters (random output-layer biases), "
        f"on {where} with {counted(len(X), 'sample')}.",
        (("steps", steps), ("moved", moved), ("max_change", change),
         ("max_unit_spread", spread)),
        ("parameters that moved (output-layer biases aside): " + (", ".join(moved) or "none"),
         f"largest spread between units said to stay identical: {below(spread)}"),
        tuple(problems))


def _changes(stack: Stack, theta: dict, start: dict, free: set) -> dict[str, float]:
    """Largest change of each tensor's entries (the free output biases left out)."""
    out = {}
    for n in stack.shapes:
        entries = _entries(stack, n, free)
        if entries:
            out[n] = max(abs(float(theta[n][i] - start[n][i])) for _, i in entries)
    return out

__all__ = ["zero_init_stack_check"]
