"""A NumPy multilayer perceptron, forward and backward written by hand (float64).

This is the numeric twin of :mod:`symderive.network`, written independently of
the SymPy expressions: witnesses are evaluated with it and the numeric
cross-check compares it with the symbolic gradients.  Shapes follow the spec:
``W[l]`` is (units of layer l, units of layer l-1) as in torch.nn.Linear;
``X`` has one row per sample.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..spec import Hypothesis, NetworkSpec
from . import BLAS_THREAD_VARIABLES

#: A pre-activation closer than this to a kink makes the derivative there depend on
#: the H(0) convention and finite differences unreliable.
KINK = 1e-3


@dataclass
class Params:
    """Weights and biases; index 0 is layer 1."""

    W: list[np.ndarray]
    b: list[np.ndarray]

    def copy(self) -> "Params":
        return Params([w.copy() for w in self.W], [v.copy() for v in self.b])

    def to_json(self, bias: bool) -> dict[str, list]:
        out: dict[str, list] = {}
        for l, (w, v) in enumerate(zip(self.W, self.b), start=1):
            out[f"W{l}"] = w.tolist()
            if bias:
                out[f"b{l}"] = v.tolist()
        return out

    @classmethod
    def from_json(cls, spec: NetworkSpec, values: dict[str, list]) -> "Params":
        """The inverse of :meth:`to_json` (zero biases when the network has none)."""
        depth = len(spec.layers) - 1
        W = [np.asarray(values[f"W{l}"], dtype=float) for l in range(1, depth + 1)]
        b = [np.asarray(values[f"b{l}"], dtype=float) if spec.bias
             else np.zeros(spec.layers[l]) for l in range(1, depth + 1)]
        return cls(W, b)


def forward(spec: NetworkSpec, p: Params, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations zs[l] and activations acts[l] (acts[0] = X; zs[0] unused)."""
    acts, zs = [X], [X]
    depth = len(p.W)
    for l in range(depth):
        z = acts[-1] @ p.W[l].T + p.b[l]
        f = spec.output_activation if l == depth - 1 else spec.activation
        zs.append(z)
        acts.append(f.np_f(z))
    return zs, acts


def dead_units(spec: NetworkSpec, p: Params, X: np.ndarray, layer: int,
               units: tuple[int, ...]) -> bool:
    """Are ``units`` of hidden ``layer`` (1-based) all dead on every sample: σ'(z) = 0?

    A dead unit passes no gradient back (δ = σ'(z)·Σ W δ' = 0), so its incoming
    weights and bias do not move; two dead units cannot separate, whatever
    the symmetry is in general.  A ReLU unit with z ≤ 0 on all the data is one."""
    zs, _ = forward(spec, p, X)
    with np.errstate(all="ignore"):
        slopes = spec.activation.np_df(zs[layer][:, [u - 1 for u in units]])
    return bool(np.all(slopes == 0.0))


def loss_and_gradient(spec: NetworkSpec, p: Params, X: np.ndarray,
                      Y: np.ndarray) -> tuple[float, Params, list[np.ndarray]]:
    """Total loss (summed over samples), its gradient, and the deltas per layer."""
    value, grad, deltas, _ = forward_backward(spec, p, X, Y)
    return value, grad, deltas


def forward_backward(spec: NetworkSpec, p: Params, X: np.ndarray, Y: np.ndarray
                     ) -> tuple[float, Params, list[np.ndarray], list[np.ndarray]]:
    """:func:`loss_and_gradient` plus the pre-activations zs of the forward pass."""
    zs, acts = forward(spec, p, X)
    depth = len(p.W)
    value, dyhat = spec.loss.np_value_and_grad(acts[-1], Y)
    delta = dyhat * spec.output_activation.np_df(zs[-1])
    deltas: list[np.ndarray] = [np.empty(0)] * (depth + 1)
    gW: list[np.ndarray] = [np.empty(0)] * depth
    gb: list[np.ndarray] = [np.empty(0)] * depth
    for l in range(depth, 0, -1):
        deltas[l] = delta
        gW[l - 1] = delta.T @ acts[l - 1]
        gb[l - 1] = delta.sum(axis=0) if spec.bias else np.zeros_like(p.b[l - 1])
        if l > 1:
            delta = (delta @ p.W[l - 1]) * spec.activation.np_df(zs[l - 1])
    return value, Params(gW, gb), deltas, zs


def pass_work(spec: NetworkSpec) -> int:
    """Multiply-adds of one forward + backward pass over every sample: three products
    with each weight matrix (forward, backpropagated delta, weight gradient)."""
    sizes = spec.layers
    weights = sum(sizes[l] * sizes[l - 1] for l in range(1, len(sizes)))
    return 3 * weights * spec.samples


def pinned_at_zero(spec: NetworkSpec, hyp: Hypothesis) -> bool:
    """Does the hypothesis force z = 0 for units i and j (incoming and bias zeroed)?"""
    return "incoming" in hyp.zero and ("bias" in hyp.zero or not spec.bias)


def kink_rows(spec: NetworkSpec, hyp: Hypothesis | None, zs: list[np.ndarray]) -> np.ndarray:
    """One flag per sample: is a pre-activation of a non-smooth activation within
    :data:`KINK` of a kink (NaN counts as near)?  Units the hypothesis pins at
    z = 0 are left out: their place is forced, not drawn."""
    depth = len(zs) - 1
    rows = np.zeros(zs[0].shape[0], dtype=bool)
    for l in range(1, depth + 1):
        f = spec.output_activation if l == depth else spec.activation
        if f.smooth:
            continue
        d = f.distance_to_kink(zs[l])
        if hyp is not None and l == hyp.layer and pinned_at_zero(spec, hyp):
            d = np.delete(d, [hyp.units[0] - 1, hyp.units[1] - 1], axis=1)
        rows |= np.any(~(d >= KINK), axis=1)
    return rows


def group_values(p: Params, layer: int, unit: int, group: str) -> np.ndarray:
    """The values of a parameter group of a hidden unit (layer, unit 1-based)."""
    if group == "incoming":
        return p.W[layer - 1][unit - 1, :]
    if group == "bias":
        return p.b[layer - 1][unit - 1:unit]
    return p.W[layer][:, unit - 1]


def distinct_targets(spec: NetworkSpec, hyp: Hypothesis, Y: np.ndarray) -> np.ndarray:
    """Targets in which an output-layer hypothesis's two outputs differ in some sample.

    Two tied output units separate exactly through y_i − y_j; a random draw with
    equal targets for them in every sample (likely with one-hot targets over many
    classes) hides that, so sample 1's target of unit i is changed: class i for
    softmax targets, 1 − y_j otherwise (0.25 when y_j = 0.5).  Other draws are kept."""
    i, j = hyp.units[0] - 1, hyp.units[1] - 1
    if hyp.layer != len(spec.layers) - 1 or np.any(Y[:, i] != Y[:, j]):
        return Y
    Y = Y.copy()
    if spec.loss.name == "softmax_ce":
        Y[0] = 0.0
        Y[0, i] = 1.0
    else:
        Y[0, i] = 1.0 - Y[0, j] if Y[0, j] != 0.5 else 0.25
    return Y


def apply_hypothesis(p: Params, layer: int, units: tuple[int, int],
                     tie: tuple[str, ...], zero: tuple[str, ...]) -> None:
    """Make ``p`` satisfy a hypothesis in place: copy unit i's tied groups to j, zero the zeroed."""
    i, j = units
    for group in tie:
        group_values(p, layer, j, group)[...] = group_values(p, layer, i, group)
    for group in zero:
        group_values(p, layer, i, group)[...] = 0.0
        group_values(p, layer, j, group)[...] = 0.0


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread: for these small matrices threads only cost time
    (10-20x on two busy cores), and the figures no longer depend on how many
    cores the machine has.  Nothing to do when the environment already asked every
    BLAS for one thread before NumPy loaded it (the command line does:
    :data:`BLAS_THREAD_VARIABLES`)."""
    controller = blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


def blas_controller():
    """The controller :func:`single_threaded_blas` limits: None when the environment
    already asked every BLAS for one thread (or without threadpoolctl)."""
    if all(os.environ.get(v) == "1" for v in BLAS_THREAD_VARIABLES):
        return None
    return _blas_controller()


_CONTROLLER: list = []


def _blas_controller():
    """threadpoolctl's controller of the BLAS libraries NumPy loaded, found once per
    process (finding them reads the process's memory map: 0.5 ms, as much as the
    symbolic work of a small hypothesis); None without threadpoolctl, which is optional:
    the results are the same, only slower."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]
