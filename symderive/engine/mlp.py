"""A NumPy multilayer perceptron, forward and backward written by hand (float64).

This is the numeric twin of :mod:`symderive.network`, written independently of
the SymPy expressions: witnesses are evaluated with it and the numeric
cross-check compares it with the symbolic gradients.  Shapes follow the spec:
``W[l]`` is (units of layer l, units of layer l-1) as in torch.nn.Linear;
``X`` has one row per sample.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import Hypothesis, NetworkSpec

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


def apply_hypothesis(p: Params, layer: int, units: tuple[int, int],
                     tie: tuple[str, ...], zero: tuple[str, ...]) -> None:
    """Make ``p`` satisfy a hypothesis in place: copy unit i's tied groups to j, zero the zeroed."""
    i, j = units
    for group in tie:
        group_values(p, layer, j, group)[...] = group_values(p, layer, i, group)
    for group in zero:
        group_values(p, layer, i, group)[...] = 0.0
        group_values(p, layer, j, group)[...] = 0.0
