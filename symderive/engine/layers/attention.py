"""Multi-head self-attention as a layer kind: a unit is a head.

Per sample, with tokens x_1 … x_T (rows of features) and head h's rows of the
query, key and value tensors (CONTRACT.md, "Additions (2026-12, second)"):

    q_t = Q_h x_t + bq_h,   k_s = K_h x_s + bk_h,   v_s = V_h x_s + bv_h,
    A_ts = softmax_s(q_t · k_s / √d)      (s ≤ t only when causal),
    u_t = Σ_s A_ts v_s,                   y_t = Σ_h O_h u_{t,h} + bo.

Tensors are in PyTorch's layout: ``Q``, ``K``, ``V`` [heads·head_dim,
features] with head h's rows h·d … h·d + d − 1, biases ``bq``, ``bk``,
``bv`` [heads·head_dim], ``O`` [features, heads·head_dim] (head h's columns),
``bo`` [features].  Loading ``cat(Q, K, V)`` into ``in_proj_weight`` of
``torch.nn.MultiheadAttention`` gives the same layer when heads·head_dim =
features.

This module holds the kind's pieces that need no registry: the symbolic
forward (SymPy), an independent NumPy forward and backward pass, the exchange
of two heads, and the local difference of two heads' gradients.  The NumPy
pass is written with array operations and the symbolic one with explicit sums,
so that each checks the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as _replace
from itertools import product, repeat
from typing import Any

import numpy as np
import sympy as sp

from ...spec.layers import LayerSpec
from .base import Entry, LayerKind, by_local_name, by_stack_name
from .base import symbols as tensor_symbols

#: The local derivation expands sums over token pairs up to this many tokens; above,
#: a difference is proved only when the two heads' terms cancel as it is built ...
LOCAL_TOKENS = 6
#: ... and up to this many: the model has a term per token pair (0.2 s a hypothesis at 32).
BUILT_TOKENS = 32
#: The cost model of the local derivation (:meth:`Attention.local_seconds`): seconds a
#: group, and per token pair (about twice what was measured).
LOCAL_GROUP_SECONDS, LOCAL_PAIR_SECONDS = 0.02, 2e-4
#: The tensors of an attention layer, in the order of the parameter list.
TENSORS = ("Q", "K", "V", "bq", "bk", "bv", "O", "bo")
#: The groups of a head and the tensors (with the axis that holds the head) in each.
GROUPS = {"query": (("Q", 0), ("bq", 0)), "key": (("K", 0), ("bk", 0)),
          "value": (("V", 0), ("bv", 0)), "output": (("O", 1),)}


@dataclass(frozen=True)
class AttentionShape:
    """One sample's [tokens, features] and the layer's heads."""

    tokens: int
    features: int
    heads: int
    head_dim: int
    causal: bool = False

    @property
    def width(self) -> int:
        """heads · head_dim: the rows of Q, K, V and the columns of O."""
        return self.heads * self.head_dim

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        w, f = self.width, self.features
        return {"Q": (w, f), "K": (w, f), "V": (w, f), "bq": (w,), "bk": (w,),
                "bv": (w,), "O": (f, w), "bo": (f,)}

    def head_slice(self, h: int) -> slice:
        """Head h's rows of Q, K, V (columns of O); h is 0-based."""
        return slice(h * self.head_dim, (h + 1) * self.head_dim)

    def visible(self, t: int) -> range:
        """The tokens token t attends to (0-based): all, or s ≤ t when causal."""
        return range(t + 1) if self.causal else range(self.tokens)


# ---- the symbolic forward ------------------------------------------------
def symbols(layer: int, shape: AttentionShape) -> dict[str, np.ndarray]:
    """The layer's parameter symbols as object arrays in PyTorch's layout:
    ``Q2_3_1`` is row 3, column 1 of Q of layer 2; ``bq2_3`` entry 3 (1-based)."""
    return {n: tensor_symbols(f"{n}{layer}", s) for n, s in shape.tensor_shapes().items()}


def symbolic_forward(p: dict[str, np.ndarray], x: list[list[sp.Expr]],
                     shape: AttentionShape) -> list[list[sp.Expr]]:
    """y_t (a list of features per token) of one sample whose tokens are ``x``."""
    T, F, d = shape.tokens, shape.features, shape.head_dim
    scale = 1 / sp.sqrt(d)

    def project(name: str, r: int, t: int) -> sp.Expr:
        return sp.Add(*[p[name][r, k] * x[t][k] for k in range(F)], p["b" + name.lower()][r])

    u = [[sp.S.Zero] * shape.width for _ in range(T)]
    for h in range(shape.heads):
        rows = range(h * d, (h + 1) * d)
        q = [[project("Q", r, t) for r in rows] for t in range(T)]
        k = [[project("K", r, s) for r in rows] for s in range(T)]
        v = [[project("V", r, s) for r in rows] for s in range(T)]
        for t in range(T):
            seen = shape.visible(t)
            e = [sp.exp(scale * sp.Add(*[q[t][c] * k[s][c] for c in range(d)])) for s in seen]
            total = sp.Add(*e)
            for c, r in enumerate(rows):
                u[t][r] = sp.Add(*[e[n] * v[s][c] for n, s in enumerate(seen)]) / total
    return [[sp.Add(*[p["O"][f, r] * u[t][r] for r in range(shape.width)], p["bo"][f])
             for f in range(F)] for t in range(T)]


# ---- the NumPy pass --------------------------------------------------------
def _split(a: np.ndarray, shape: AttentionShape) -> np.ndarray:
    """[N, T, heads·d] -> [N, heads, T, d]."""
    n, t, _ = a.shape
    return a.reshape(n, t, shape.heads, shape.head_dim).transpose(0, 2, 1, 3)


def _merge(a: np.ndarray) -> np.ndarray:
    """[N, heads, T, d] -> [N, T, heads·d] (heads concatenated in order)."""
    n, h, t, d = a.shape
    return a.transpose(0, 2, 1, 3).reshape(n, t, h * d)


def np_forward(p: dict[str, np.ndarray], X: np.ndarray, shape: AttentionShape
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Y [N, T, F] for X [N, T, F], and what the backward pass needs."""
    q = _split(X @ p["Q"].T + p["bq"], shape)
    k = _split(X @ p["K"].T + p["bk"], shape)
    v = _split(X @ p["V"].T + p["bv"], shape)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(shape.head_dim)
    if shape.causal:
        scores = np.where(np.tri(shape.tokens, dtype=bool), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    A = np.exp(scores)
    A /= A.sum(axis=-1, keepdims=True)
    u = A @ v
    Y = _merge(u) @ p["O"].T + p["bo"]
    return Y, {"X": X, "q": q, "k": k, "v": v, "A": A, "u": u}


def np_backward(p: dict[str, np.ndarray], cache: dict[str, np.ndarray], dY: np.ndarray,
                shape: AttentionShape) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """∂ℓ/∂(every tensor) and ∂ℓ/∂X from dY = ∂ℓ/∂Y, summed over the samples."""
    X, q, k, v, A, u = (cache[n] for n in ("X", "q", "k", "v", "A", "u"))
    F = shape.features
    grads = {"O": dY.reshape(-1, F).T @ _merge(u).reshape(-1, shape.width),
             "bo": dY.sum(axis=(0, 1))}
    du = _split(dY @ p["O"], shape)
    dA = du @ v.transpose(0, 1, 3, 2)
    dv = A.transpose(0, 1, 3, 2) @ du
    dS = A * (dA - (A * dA).sum(axis=-1, keepdims=True))   # the softmax Jacobian
    dq = dS @ k / np.sqrt(shape.head_dim)
    dk = dS.transpose(0, 1, 3, 2) @ q / np.sqrt(shape.head_dim)
    dX = np.zeros_like(X)
    for name, d in (("Q", dq), ("K", dk), ("V", dv)):
        flat = _merge(d)
        grads[name] = flat.reshape(-1, shape.width).T @ X.reshape(-1, F)
        grads["b" + name.lower()] = flat.sum(axis=(0, 1))
        dX += flat @ p[name]
    return grads, dX


def pass_work(shape: AttentionShape, samples: int) -> int:
    """Multiply-adds of one forward + backward pass: three products with each of
    Q, K, V, O per token, and the T×T scores, weights and their gradients per head."""
    projections = 3 * 4 * shape.width * shape.features * shape.tokens
    mixing = 6 * shape.heads * shape.tokens ** 2 * shape.head_dim
    return (projections + mixing) * samples


# ---- the exchange of two heads ---------------------------------------------
def exchange(p: dict[str, np.ndarray], a: int, b: int, shape: AttentionShape
             ) -> dict[str, np.ndarray]:
    """The parameters with heads a and b (0-based) exchanged: their rows of Q, K,
    V and the biases, their columns of O.  The layer's output is unchanged (the
    heads are summed through O), so nothing after the layer moves.  Works on
    numbers and on the object arrays of :func:`symbols` alike."""
    order = np.arange(shape.width)
    sa, sb = shape.head_slice(a), shape.head_slice(b)
    order[sa], order[sb] = order[sb].copy(), order[sa].copy()
    out = dict(p)
    for tensors in GROUPS.values():
        for name, axis in tensors:
            out[name] = np.take(p[name], order, axis=axis)
    return out


def head_values(p: dict[str, np.ndarray], h: int, group: str, shape: AttentionShape
                ) -> np.ndarray:
    """The values of head h's group (0-based), flattened in the order of GROUPS."""
    s = shape.head_slice(h)
    return np.concatenate([(p[n][s] if axis == 0 else p[n][:, s]).ravel()
                           for n, axis in GROUPS[group]])


# ---- the kind in a stack ------------------------------------------------------
def layer_shape(layer: LayerSpec) -> AttentionShape:
    tokens, features = layer.in_shape
    return AttentionShape(tokens, features, layer.option("heads"), layer.option("head_dim"),
                          layer.option("causal"))


def _tensors(layer: LayerSpec, theta: dict[str, np.ndarray], zeros) -> dict[str, np.ndarray]:
    """The stack's tensors by this module's names (zero biases without bias)."""
    return by_local_name(layer.index, layer_shape(layer).tensor_shapes(), theta, zeros)


class Attention(LayerKind):
    name = "attention"
    seconds_per_mac, seconds_per_loop = 1.1e-10, 4.7e-5   # bench_kind_costs.py --fit
    unit_axis = None      # the heads are summed through O: the output has no head axis

    def tensors(self, layer: LayerSpec) -> dict[str, tuple[int, ...]]:
        return {f"{n}{layer.index}": s for n, s in layer_shape(layer).tensor_shapes().items()
                if layer.bias or not n.startswith("b")}

    def own_entries(self, layer: LayerSpec, unit: int, group: str) -> list[Entry]:
        shape, out = layer_shape(layer), []
        rows = range((unit - 1) * shape.head_dim, unit * shape.head_dim)
        for name, axis in GROUPS[group]:
            if name.startswith("b") and not layer.bias:
                continue
            t, dims = f"{name}{layer.index}", shape.tensor_shapes()[name]
            if len(dims) == 1:
                out += [(t, (r,)) for r in rows]
            elif axis == 0:
                out += zip(repeat(t), product(rows, range(dims[1])))
            else:
                out += [(t, (k, r)) for r in rows for k in range(dims[0])]
        return out

    def stream_entries(self, layer: LayerSpec, channel: int, group: str) -> list[Entry]:
        """Output feature ``channel`` in a residual stream: its row of O (``incoming``)
        and its entry of bo (``bias``)."""
        if group == "bias":
            return [(f"bo{layer.index}", (channel - 1,))]
        return [(f"O{layer.index}", (channel - 1, r)) for r in range(layer_shape(layer).width)]

    def reads(self, layer: LayerSpec, labels: np.ndarray, unit: int) -> dict[str, list[Entry]]:
        """The columns of Q, K and V that read the input features labelled ``unit``."""
        columns = [c for c in range(labels.shape[1]) if np.any(labels[:, c] == unit)]
        rows = range(layer_shape(layer).width)
        return {"outgoing": [(f"{n}{layer.index}", (r, c)) for n in "QKV"
                             for c in columns for r in rows]}

    def input_axis(self, layer: LayerSpec) -> int:
        return 1

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        options = (("heads", 2), ("head_dim", 1), ("causal", layer.option("causal")))
        shape = (min(layer.in_shape[0], 2), 2)
        return _replace(layer, in_shape=shape, out_shape=shape, units=2, options=options)

    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
        p = _tensors(layer, theta, lambda s: np.full(s, sp.S.Zero, dtype=object))
        shape = layer_shape(layer)
        return np.array([symbolic_forward(p, x[n].tolist(), shape) for n in range(len(x))],
                        dtype=object).reshape(x.shape)

    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        return np_forward(_tensors(layer, theta, np.zeros), x, layer_shape(layer))

    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        grads, dx = np_backward(_tensors(layer, theta, np.zeros), cache, dout, layer_shape(layer))
        return dx, by_stack_name(layer.index, grads, theta)

    def flops(self, layer: LayerSpec) -> int:
        return pass_work(layer_shape(layer), 1) // 3

    def local_seconds(self, layer: LayerSpec, group: str) -> float:
        """Measured (2026-12-06, SymPy's cache cleared, every tie and zero of the four
        groups): the difference is decided on one feature and one value component at an
        exact point first, so the head size does not count: at most 0.01 s a group up to
        6 tokens, 0.08 to 0.12 s on 32 (head sizes 1 to 32); a term per token pair.  (The
        expansion that took 6 s on 4 tokens of head size 4 now runs only when the exact
        point gives 0; none of the combinations measured reached it.)  Not tried past
        :data:`BUILT_TOKENS`."""
        tokens = layer_shape(layer).tokens
        return 0.0 if tokens > BUILT_TOKENS else LOCAL_GROUP_SECONDS + \
            LOCAL_PAIR_SECONDS * tokens ** 2

    def lemma_seconds(self, layer: LayerSpec) -> float:
        """The swap's check of the heads costs more a multiply-add as the tokens grow (the
        softmax's sums; a fresh process, 2026-12-06, one sample): 4.3e-4 to 4.6e-4 s a
        multiply-add and sample on 3 tokens, 6.4e-4 on 6, 8.4e-4 on 8, 9.5e-4 on 20,
        1.06e-3 on 24 (5.7 s for 2688 multiply-adds); counted at 1.5 times that line."""
        rate = 1.5 * (4e-4 + 3e-5 * layer_shape(layer).tokens)
        return rate * 2 * max(self.lemma_work(layer), 1)

    def zero_test_factor(self, layer: LayerSpec, earlier: tuple[LayerSpec, ...]) -> float:
        """After a norm, the softmax exponentiates normalised values (square roots of
        variances in denominators), which SymPy's zero test does not cancel term by term:
        a pre-norm block's gains, estimated at 2 s, took 47 s (4 tokens, 3 features)."""
        from . import layer_kind

        return 30.0 if any(layer_kind(s.kind).normalises for s in earlier) else 1.0

    def symbolic_spread(self, layer: LayerSpec) -> int:
        """Each output entry is a softmax-weighted sum over the tokens."""
        return layer_shape(layer).tokens

    def local_zero(self, layer: LayerSpec, after: LayerSpec | None, hyp: Any,
                   group: str) -> bool:
        """:mod:`.attention_local`: proved by what the gradient is made of
        (:func:`.attention_local.by_structure`) at any sequence length; otherwise one
        entry stands for all (a head's rows and a generic input feature differ only by
        renaming), decided on one feature and one value component
        (:func:`.attention_local.one_feature_one_component`); proved when the
        difference is 0 as built or, up to :data:`LOCAL_TOKENS`, expanded; not tried
        past :data:`BUILT_TOKENS`."""
        from .attention_local import by_structure, proved_zero

        if by_structure(group, hyp.tie, hyp.zero):   # no formula to build, at any length
            return True
        shape = layer_shape(layer)
        if shape.tokens > BUILT_TOKENS:
            return False
        biases = (False,) if group == "output" or not layer.bias else (False, True)
        return all(proved_zero(layer.index, shape, hyp.units, hyp.tie, hyp.zero, group, b,
                               shape.tokens <= LOCAL_TOKENS) for b in biases)

    def unit_word(self, layer: LayerSpec) -> str:
        return "head"

    def channel_word(self, layer: LayerSpec) -> str:
        return "output feature"

    def difference(self, layer: LayerSpec, group: str) -> str:
        if group in ("incoming", "bias"):     # an output feature in a residual stream
            return ("an output feature's row of O gets the feature's error times every "
                    "head's output, summed over tokens and samples, and its entry of bo the "
                    "error alone: the difference of two features' gradients is the difference "
                    "of their errors, carried through the same head outputs")
        if group == "output":
            return ("a head's output columns get the layer's error times the head's output "
                    "(its attention-weighted values), summed over tokens and samples: the "
                    "difference is the error times the difference of the two heads' outputs")
        if group == "value":
            return ("a head's value rows get its output columns' share of the error, carried "
                    "back by its attention weights to each token: with the same attention, the "
                    "difference is the attention-weighted difference of the output columns "
                    "times the error")
        return ("a head's query and key rows get the error through the softmax Jacobian: "
                "each weight times the error carried by the output columns, applied to the "
                "value's deviation from the token's attention mean; with tied queries, keys "
                "and values the difference is that Jacobian applied to the difference of the "
                "output columns, and it vanishes where every value equals its attention mean "
                "(one visible token)")

    def symbol(self, layer: LayerSpec, tensor: str) -> str:
        head, number = tensor.rstrip("0123456789"), tensor[len(tensor.rstrip("0123456789")):]
        return rf"{head[0]}^{{({number})}}" if len(head) == 1 else \
            rf"{head[0]}_{{\mathrm{{{head[1:]}}}}}^{{({number})}}"


KIND = Attention()
