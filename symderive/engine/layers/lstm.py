"""An LSTM layer as a layer kind: a unit is a hidden unit.

Per sample, over steps t = 1 … T with inputs x_t, from the zero state
h_0 = c_0 = 0 (CONTRACT.md, "Additions (2026-12, second)"):

    z_t = W x_t + U h_{t−1} + b                   (4·units rows: gates i, f, g, o)
    i = σ(z_i),  f = σ(z_f),  g = tanh(z_g),  o = σ(z_o),
    c_t = f ⊙ c_{t−1} + i ⊙ g,     h_t = o ⊙ tanh(c_t),

and the layer's output is h_T.  Tensors are in PyTorch's layout (``W`` =
``weight_ih_l0`` [4·units, in], ``U`` = ``weight_hh_l0`` [4·units, units],
``b`` = ``bias_ih_l0`` + ``bias_hh_l0`` [4·units]); unit u's rows are u,
units + u, 2·units + u and 3·units + u.

This module holds the kind's pieces that need no registry: the symbolic
forward (SymPy), an independent NumPy forward and backward pass (through
time), and the exchange of two units.  A unit's column of U makes it both
incoming (its rows) and outgoing (its column, read by every unit at the next
step): exchanging two units exchanges their rows in all four gates *and* their
columns of U, and the next layer's columns that read them.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _replace
from typing import Any

import numpy as np
import sympy as sp

from ...spec.functions import sigmoid
from ...spec.layers import LayerSpec
from .base import Entry, LayerKind, by_local_name, by_stack_name
from .base import symbols as tensor_symbols

#: The tensors of an LSTM layer, in the order of the parameter list.
TENSORS = ("W", "U", "b")
#: The gates in PyTorch's order.
GATES = ("i", "f", "g", "o")


@dataclass(frozen=True)
class LSTMShape:
    """One sample's [steps, inputs] and the layer's units."""

    steps: int
    inputs: int
    units: int

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        n = 4 * self.units
        return {"W": (n, self.inputs), "U": (n, self.units), "b": (n,)}

    def rows(self, unit: int) -> list[int]:
        """Unit ``unit``'s rows (0-based) in the four gates."""
        return [gate * self.units + unit for gate in range(4)]


# ---- the symbolic forward ------------------------------------------------
def symbols(layer: int, shape: LSTMShape) -> dict[str, np.ndarray]:
    """The layer's parameter symbols as object arrays in PyTorch's layout:
    ``U2_5_1`` is row 5, column 1 of U of layer 2 (1-based)."""
    return {n: tensor_symbols(f"{n}{layer}", s) for n, s in shape.tensor_shapes().items()}


def symbolic_forward(p: dict[str, np.ndarray], x: list[list[sp.Expr]],
                     shape: LSTMShape) -> list[sp.Expr]:
    """h_T (one expression per unit) of one sample whose steps are ``x``."""
    n = shape.units
    h = [sp.S.Zero] * n
    c = [sp.S.Zero] * n
    for xt in x:
        z = [sp.Add(*[p["W"][r, k] * xt[k] for k in range(shape.inputs)],
                    *[p["U"][r, m] * h[m] for m in range(n)], p["b"][r])
             for r in range(4 * n)]
        gi, gf, go = ([sigmoid(z[gate * n + u]) for u in range(n)] for gate in (0, 1, 3))
        gg = [sp.tanh(z[2 * n + u]) for u in range(n)]
        c = [gf[u] * c[u] + gi[u] * gg[u] for u in range(n)]
        h = [go[u] * sp.tanh(c[u]) for u in range(n)]
    return h


# ---- the NumPy pass --------------------------------------------------------
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def np_forward(p: dict[str, np.ndarray], X: np.ndarray, shape: LSTMShape
               ) -> tuple[np.ndarray, dict[str, list[np.ndarray]]]:
    """h_T [N, units] for X [N, steps, inputs], and the states of every step
    (``h``, ``c`` from step 0, the gates from step 1)."""
    n, N = shape.units, X.shape[0]
    states: dict[str, list[np.ndarray]] = {
        "h": [np.zeros((N, n))], "c": [np.zeros((N, n))], "i": [], "f": [], "g": [], "o": []}
    for t in range(shape.steps):
        z = X[:, t] @ p["W"].T + states["h"][-1] @ p["U"].T + p["b"]
        gates = {"i": _sigmoid(z[:, :n]), "f": _sigmoid(z[:, n:2 * n]),
                 "g": np.tanh(z[:, 2 * n:3 * n]), "o": _sigmoid(z[:, 3 * n:])}
        for name, value in gates.items():
            states[name].append(value)
        c = gates["f"] * states["c"][-1] + gates["i"] * gates["g"]
        states["c"].append(c)
        states["h"].append(gates["o"] * np.tanh(c))
    return states["h"][-1], states


def np_backward(p: dict[str, np.ndarray], X: np.ndarray, states: dict[str, list[np.ndarray]],
                dH: np.ndarray, shape: LSTMShape
                ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, list[np.ndarray]]]:
    """Backpropagation through time from dH = ∂ℓ/∂h_T: the gradients of W, U, b
    (summed over samples), ∂ℓ/∂X, and the deltas of every step: ``dz`` = ∂ℓ/∂z_t
    (the four gates' pre-activations), ``dc`` = ∂ℓ/∂c_t (all paths), 0-based t."""
    grads = {name: np.zeros_like(p[name]) for name in TENSORS}
    dX = np.zeros_like(X)
    steps: dict[str, list[np.ndarray]] = {"dz": [np.empty(0)] * shape.steps,
                                          "dc": [np.empty(0)] * shape.steps}
    dh, dc = dH, np.zeros_like(dH)
    for t in range(shape.steps - 1, -1, -1):
        i, f, g, o = (states[name][t] for name in GATES)
        tanh_c = np.tanh(states["c"][t + 1])
        dc = dc + dh * o * (1.0 - tanh_c ** 2)
        dz = np.concatenate([dc * g * i * (1.0 - i), dc * states["c"][t] * f * (1.0 - f),
                             dc * i * (1.0 - g ** 2), dh * tanh_c * o * (1.0 - o)], axis=1)
        steps["dz"][t], steps["dc"][t] = dz, dc
        grads["W"] += dz.T @ X[:, t]
        grads["U"] += dz.T @ states["h"][t]
        grads["b"] += dz.sum(axis=0)
        dX[:, t] = dz @ p["W"]
        dh, dc = dz @ p["U"], dc * f
    return grads, dX, steps


def pass_work(shape: LSTMShape, samples: int) -> int:
    """Multiply-adds of one forward + backward pass: three products with W and
    with U per step (forward, delta, gradient) and the gates' elementwise work."""
    per_step = 3 * 4 * shape.units * (shape.inputs + shape.units) + 30 * shape.units
    return per_step * shape.steps * samples


# ---- the exchange of two units ---------------------------------------------
def order(a: int, b: int, units: int) -> np.ndarray:
    """The units' order with a and b (0-based) exchanged: the permutation the next
    layer applies to its columns that read this layer."""
    perm = np.arange(units)
    perm[a], perm[b] = b, a
    return perm


def exchange(p: dict[str, np.ndarray], a: int, b: int, shape: LSTMShape
             ) -> dict[str, np.ndarray]:
    """The parameters with units a and b exchanged: their rows in all four gates
    of W, U and b, and their columns of U.  The output h_T then has a and b
    exchanged (the next layer exchanges its columns, :func:`order`).  Works on
    numbers and on the object arrays of :func:`symbols` alike."""
    perm = order(a, b, shape.units)
    rows = np.concatenate([gate * shape.units + perm for gate in range(4)])
    return {"W": p["W"][rows], "U": p["U"][rows][:, perm], "b": p["b"][rows]}


def unit_values(p: dict[str, np.ndarray], unit: int, group: str, shape: LSTMShape
                ) -> np.ndarray:
    """The values of a unit's group (0-based), inside the layer: ``incoming`` its
    rows of W, ``recurrent`` its rows of U, ``bias`` its entries of b,
    ``recurrent_outgoing`` its column of U.  Units i and j tie a group when
    i's values equal i's values after :func:`exchange` (the aligned tie)."""
    rows = shape.rows(unit)
    if group == "incoming":
        return p["W"][rows].ravel()
    if group == "recurrent":
        return p["U"][rows].ravel()
    if group == "bias":
        return p["b"][rows]
    if group == "recurrent_outgoing":
        return p["U"][:, unit]
    raise ValueError(f"unknown lstm group {group!r}")


# ---- the kind in a stack ------------------------------------------------------
def layer_shape(layer: LayerSpec) -> LSTMShape:
    return LSTMShape(layer.in_shape[0], layer.in_shape[1], layer.units)


def _tensors(layer: LayerSpec, theta: dict[str, np.ndarray], zeros) -> dict[str, np.ndarray]:
    """The stack's tensors by this module's names (zero biases without bias)."""
    return by_local_name(layer.index, layer_shape(layer).tensor_shapes(), theta, zeros)


class LSTM(LayerKind):
    name = "lstm"
    seconds_per_mac, seconds_per_loop = 1.9e-10, 6e-5   # bench_kind_costs.py --fit
    unit_axis = -1

    def tensors(self, layer: LayerSpec) -> dict[str, tuple[int, ...]]:
        return {f"{n}{layer.index}": s for n, s in layer_shape(layer).tensor_shapes().items()
                if layer.bias or n != "b"}

    def own_entries(self, layer: LayerSpec, unit: int, group: str) -> list[Entry]:
        """Natural order; the swap composes rows and columns, so each entry's image is
        its aligned partner (U[i, i] -> U[j, j])."""
        shape, u, l = layer_shape(layer), unit - 1, layer.index
        rows = shape.rows(u)
        if group == "incoming":
            return [(f"W{l}", (r, k)) for r in rows for k in range(shape.inputs)]
        if group == "recurrent":
            return [(f"U{l}", (r, k)) for r in rows for k in range(shape.units)]
        if group == "bias":
            return [(f"b{l}", (r,)) for r in rows] if layer.bias else []
        return [(f"U{l}", (r, u)) for r in range(4 * shape.units)]

    def reads(self, layer: LayerSpec, labels: np.ndarray, unit: int) -> dict[str, list[Entry]]:
        """The columns of W (every gate's rows) that read the input features labelled
        ``unit`` (a unit of the layer before, at every step)."""
        columns = [c for c in range(labels.shape[1]) if np.any(labels[:, c] == unit)]
        rows = range(4 * layer_shape(layer).units)
        return {"outgoing": [(f"W{layer.index}", (r, c)) for c in columns for r in rows]}

    def input_axis(self, layer: LayerSpec) -> int:
        return 1

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        """Two steps, three units, one input (two when the layer has two or more: it may
        read two units of the layer before, whose exchange the lemma makes): the
        exchange lemma's small instance (the symbolic forward grows fast with steps and
        units)."""
        inputs = min(layer.in_shape[1], 2)
        return _replace(layer, in_shape=(2, inputs), out_shape=(3,), units=3,
                        options=(("units", 3),))

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        p = _tensors(layer, theta, lambda s: np.full(s, sp.S.Zero, dtype=object))
        shape = layer_shape(layer)
        out = np.empty((len(x), shape.units), dtype=object)
        for n in range(len(x)):
            out[n, :] = symbolic_forward(p, x[n].tolist(), shape)
        return out

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        H, states = np_forward(_tensors(layer, theta, np.zeros), x, layer_shape(layer))
        return H, (x, states)

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        x, states = cache
        grads, dx, _ = np_backward(_tensors(layer, theta, np.zeros), x, states, dout,
                                   layer_shape(layer))
        return dx, by_stack_name(layer.index, grads, theta)

    def flops(self, layer: LayerSpec) -> int:
        return pass_work(layer_shape(layer), 1) // 3

    def lemma_work(self, layer: LayerSpec) -> int:
        """The symbolic forward nests the gates a level per step, and its cost grows
        about eightfold a step (2 units, 2 samples: 0.3 s on 3 steps, 30 s on 6, found
        by the guards' bench_kind_costs.py --climb): past 3 steps the swap's check runs
        on :meth:`reduced`."""
        return self.flops(layer) * 8 ** max(0, layer_shape(layer).steps - 2)

    def local_seconds(self, layer: LayerSpec, group: str) -> float:
        """Measured: 0.01 s on 3 steps of 2 units, 0.1 s on 16 of 32, 0.15 s on 64 of 4."""
        shape = layer_shape(layer)
        return 0.003 * (shape.steps + shape.units)

    def pass_loops(self, layer: LayerSpec) -> int:
        """The NumPy pass loops over the steps (forward, then back through time)."""
        return layer_shape(layer).steps

    def local_zero(self, layer: LayerSpec, after: LayerSpec | None, hyp: Any,
                   group: str) -> bool:
        """A factor that vanishes (:func:`.lstm_local.by_structure`), else the induction
        over steps of :mod:`.lstm_local`, when the next layer reads the last hidden
        state linearly (a layer with units, not one that normalises it)."""
        from ...spec.layers import spec_kind
        from .lstm_local import by_structure, local_model

        if after is None or not after.units or spec_kind(after.kind).attaches:
            return False
        shape = layer_shape(layer)
        if by_structure(group, hyp.zero, shape.steps, shape.units, layer.bias):
            return True
        model = local_model(layer.index, shape, hyp.units, hyp.tie, hyp.zero,
                            readers=after.units, bias=layer.bias)
        return model.vanishes(group)

    def difference(self, layer: LayerSpec, group: str) -> str:
        if group in ("outgoing", "recurrent_outgoing"):
            return ("a weight that reads a unit gets the reader's error times the unit's hidden "
                    "state, summed over steps and samples: from the zero state, two units with "
                    "tied rows have the same states at every step, and the difference is made "
                    "of their error signals on the diagonal of U")
        return ("a unit's rows get its gate errors times the step's input (W), previous hidden "
                "state (U) or 1 (b), summed over steps; its hidden-state error at step t is its "
                "outgoing column times the next layer's error at the last step plus its "
                "recurrent_outgoing column times the gate errors of step t + 1: the difference "
                "is made of the differences of those columns, carried back through the gates")


KIND = LSTM()
