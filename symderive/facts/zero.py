"""Zeros: a unit with zeroed parameters (S3), and the all-zero initialisation (S4).

``unit_gradient``: for one hidden unit u whose groups ``zero`` are 0 (the rest of
the network arbitrary), the local formulas give its gradients
∂L/∂W^{(l)}_{uk} = Σ_n a_k σ'(z_u) Σ_m V_{mu} δ_m, ∂L/∂b_u = Σ_n σ'(z_u) Σ_m V_{mu} δ_m,
∂L/∂V_{mu} = Σ_n δ_m σ(z_u).  A zero outgoing weight kills the first two but not
the third: the unit comes back.  A unit with every group zero has z_u = 0 and
∂L/∂V_{mu} = Σ_n δ_m σ(0): it stays at zero exactly when σ(0) = 0.

``zero_init``: every weight and bias 0 except the output biases (left free).
The frozen-parameter engine decides it at every width: if every parameter but
the output biases is frozen, the hidden layers never move (stuck); σ(0) ≠ 0 lets
the last layer's weights move, but the hidden units of each layer stay one
class of the coarsest stable partition for ever (the layer acts as width 1).
With ``[data]`` the fact is decided on those data instead (:mod:`.zero_data`), and on
a ``[[layer]]`` network through the layer kinds (:mod:`.stack_zero`).
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.frozen import frozen_parameters
from ..engine.generic import instantiated_network, instantiation
from ..engine.local import LocalModel, act, concrete, is_identically_zero
from ..engine.network import bias, delta, weight
from ..engine.partition import coarsest_partition
from ..engine.residual import _sum, tidy
from ..engine.start import Start, start_of
from ..engine.witness import random_point
from ..notation import partial
from ..numeric import points
from ..spec import Hypothesis, NetworkSpec, Spec
from ..spec.facts import FactSpec
from .checks import GAP_TOL
from .checks import NONZERO as NONZERO_TOL
from .checks import (POINTS, ZERO_TOL, FactNumeric, _point, _problem, _size, _slots, below,
                     central_difference, counted, loss)
from .result import FactResult, Statement
from .zero_data import evaluable, summed_output_delta, zero_init_on_data

LOSS = sp.Symbol("L")
ZERO, NONZERO, IFF = "zero", "nonzero", "zero iff sigma(0) = 0"


# ------------------------------------------------------------------ one unit (S3)


def _unit_hypothesis(network: NetworkSpec, fact: FactSpec) -> Hypothesis:
    other = fact.unit % network.layers[fact.layer] + 1   # any other unit (or itself if alone)
    return Hypothesis(fact.name, fact.layer, (fact.unit, other), (), fact.zero)


def unit_expressions(model: LocalModel) -> dict[str, sp.Expr]:
    """The per-sample gradient of unit i's groups (generic sample n, components k and m)."""
    n = "n"
    signal = model.error_signal(n, 0)
    out = {"incoming": model.input(n, "k") * signal, "bias": signal,
           "outgoing": model.next_delta(n, "m") * act(model.z(n, 0))}
    return {g: out[g] for g in model.network.groups()}


def _status(expr: sp.Expr, network: NetworkSpec) -> str:
    if is_identically_zero(expr) or is_identically_zero(concrete(expr, network)):
        return ZERO
    if network.activation.name == "any" and is_identically_zero(expr.subs(act(0), 0)):
        return IFF
    return NONZERO


def unit_gradient(network: NetworkSpec, fact: FactSpec, seed: int) -> FactResult:
    hyp = _unit_hypothesis(network, fact)
    model = LocalModel(network, hyp)
    exprs = unit_expressions(model)
    status = {g: _status(e, network) for g, e in exprs.items()}
    stays = all(status[g] == ZERO for g in fact.zero) and bool(fact.zero)
    witness = _unit_witness(network, hyp, fact.unit, [g for g in exprs if status[g] == NONZERO],
                            seed)
    statements = tuple(Statement(f"{g}: {status[g]}", _lhs(fact.layer, fact.unit, g),
                                 _over_samples(tidy(concrete(e, network)) if status[g] == ZERO
                                               else tidy(e), network))
                       for g, e in exprs.items())
    verdict = "stays at zero" if stays else "comes back"
    if any(status[g] == IFF for g in fact.zero) and all(status[g] in (ZERO, IFF)
                                                        for g in fact.zero):
        verdict = "stays at zero iff sigma(0) = 0"
    zeroed = ", ".join(fact.zero) or "no group"
    summary = (f"Unit {fact.unit} of layer {fact.layer} with {zeroed} set to zero: "
               + ", ".join(f"dL/d({g}) is {status[g]}" for g in exprs) + f"; it {verdict}.")
    return FactResult(fact, verdict, summary, statements,
                      ("the rest of the network is arbitrary: a^(l-1) and delta^(l+1) opaque",),
                      witness, details={"gradients": status})


def _over_samples(expr: sp.Expr, network: NetworkSpec) -> sp.Expr:
    """Σ_n of a per-sample expression (written for sample 1 when there is only one)."""
    if expr == 0:
        return expr
    if network.samples == 1:
        return expr.xreplace({s: sp.Symbol(s.name.replace("_n_", "_1_"), **s.assumptions0)
                              for s in expr.free_symbols if "_n_" in s.name})
    return _sum(expr, "n", network.samples)


def _lhs(layer: int, unit: int, group: str) -> sp.Expr:
    if group == "incoming":
        return partial(LOSS, weight(layer, unit, "k"))
    if group == "bias":
        return partial(LOSS, bias(layer, unit))
    return partial(LOSS, weight(layer + 1, "m", unit))


def _unit_witness(network: NetworkSpec, hyp: Hypothesis, unit: int, groups: list[str],
                  seed: int) -> dict | None:
    """A grid point where each of ``groups`` of ``unit`` has a non-zero gradient."""
    if not groups:
        return None
    concrete_net = instantiated_network(network)
    rng = np.random.default_rng(seed)
    for _ in range(64):
        point = random_point(concrete_net, hyp, rng)
        values = {g: mlp.group_values(point.grad, hyp.layer, unit, g) for g in groups}
        if all(np.all(np.isfinite(v)) and np.max(np.abs(v)) > 1e-9 for v in values.values()):
            out = {"parameters": point.params.to_json(network.bias), "inputs": point.X.tolist(),
                   "targets": point.Y.tolist(),
                   "gradients": {g: [float(x) for x in v] for g, v in values.items()}}
            if instantiation(network):
                out["instantiation"] = instantiation(network)
            return out
    return None


# ------------------------------------------------------------------ all-zero init (S4)


def zero_start(network: NetworkSpec) -> Start:
    """Every weight and bias 0 except the output biases (random: free)."""
    from ..spec import InitSpec, TensorInit
    from ..spec.init import tensor_names, tensor_shape

    tensors = []
    for name in tensor_names(network):
        if name == f"b{network.depth}":
            tensors.append(TensorInit(name, "random"))
            continue
        rows, cols = tensor_shape(network, name)
        zero = tuple(tuple(Fraction(0) for _ in range(cols)) for _ in range(rows))
        tensors.append(TensorInit(name, "zero", zero))
    return start_of(network, InitSpec(tuple(tensors)))


def zero_init(spec: Spec, fact: FactSpec, seed: int) -> FactResult:
    """On the spec's ``[data]`` when it has one and its deltas can be evaluated
    (:mod:`.zero_data`); otherwise for any data, with the output biases free."""
    network, data = spec.network, spec.data
    if network.stack:
        from .stack_zero import zero_init_stack

        return zero_init_stack(spec, fact, seed)
    if data is not None and evaluable(network):
        sums = summed_output_delta(network, data)
        if sums is not None:
            return zero_init_on_data(network, data, fact, sums, _identical_layers)
    unused = None if data is None else (
        "the given data are not used: the loss or the output function is undefined"
        if not evaluable(network) else
        "the given data are not used: the loss is not a finite number at the prediction f(0)")
    return _zero_init_any_data(network, fact, unused)


def _zero_init_any_data(network: NetworkSpec, fact: FactSpec,
                        unused: str | None) -> FactResult:
    """Decided for every width by the frozen-parameter engine (:mod:`symderive.engine.frozen`)
    and the classes of units (:mod:`symderive.engine.partition`): the local formulas with
    everything outside the frozen set arbitrary, the data too."""
    start = zero_start(network)
    generic = network.activation.name == "any"
    frozen = frozen_parameters(start, sigma_at_zero=None)
    moving = _moving(network, frozen)
    frozen0 = frozen_parameters(start, sigma_at_zero=sp.S.Zero) if generic else None
    statements = tuple(_layer_rows(network, frozen, frozen0))
    identical = _identical_layers(start, frozen)
    if not moving:
        verdict = "stuck"
        summary = ("From all-zero weights and biases, every gradient except the output "
                   "biases' is zero, for any output bias: the hidden layers never move.")
    elif generic and not _moving(network, frozen0):
        verdict = "stuck iff sigma(0) = 0"
        summary = ("From all-zero weights and biases, only the last layer's weights can move, "
                   "with gradient proportional to σ(0): stuck exactly when σ(0) = 0; otherwise "
                   "it trains, with the hidden units of each layer identical.")
    else:
        verdict = "trains, units identical"
        summary = ("From all-zero weights and biases the last layer's weights move (σ(0) ≠ 0), "
                   "so the network trains, but the hidden units of each layer stay identical "
                   "for ever: each hidden layer acts as a layer of width 1.")
    return FactResult(fact, verdict, summary, statements,
                      ("every weight and bias is 0 except the output biases, which are free",
                       unused or "the inputs and targets are arbitrary",
                       "any width: the proof uses the "
                       "local backpropagation formulas, the rest of the network opaque"),
                      details={"moving": moving, "hidden_units_identical": identical})


def _moving(network: NetworkSpec, frozen) -> list[str]:
    """Tensors (output biases aside) with an entry not proved frozen."""
    from ..spec.init import tensor_names

    return [n for n in tensor_names(network)
            if n != f"b{network.depth}" and frozen.summary(n) != "all"]


def _layer_rows(network: NetworkSpec, frozen, frozen0=None) -> list[Statement]:
    """∂L/∂W^{(l)}_{11} at the zero point, from the local formula δ^{(l)} a^{(l-1)}; each
    row's words from the frozen sets: ``frozen``, and ``frozen0`` (σ(0) = 0 assumed) for
    an undefined activation, whose rows then say what depends on σ(0)."""
    rows = []
    L = network.depth
    for l in range(1, L + 1):
        w = weight(l, 1, 1)
        all_frozen = frozen.summary(f"W{l}") == "all"
        if l < L:   # δ^{(l)} = σ'(0) Σ_m W^{(l+1)}_{m1} δ^{(l+1)}_m = 0: W^{(l+1)} = 0
            rhs = sp.S.Zero
        else:       # δ^{(L)} a^{(L-1)} with a^{(L-1)} = σ(0)
            rhs = _over_samples(concrete(delta(L, "n", 1) * act(sp.S.Zero), network), network)
        if_zero = frozen0 is not None and frozen0.summary(f"W{l}") == "all"
        what = ("every entry of W^({l}) has zero gradient, at every step" if all_frozen
                else "proportional to σ(0): these weights move unless σ(0) = 0" if if_zero
                and l == L
                else "non-zero in general: these weights move" if l == L
                else "zero at the start; they can move only once the weights after them have "
                     "moved, which needs σ(0) ≠ 0; with σ(0) = 0 they never move" if if_zero
                else "zero at the start, and not proved frozen: they can move once the "
                     "weights after them have moved").format(l=l)
        rows.append(Statement(f"layer {l} weights at the zero point: {what}",
                              partial(LOSS, w), rhs))
    return rows


def _identical_layers(start: Start, frozen) -> dict[str, str]:
    """layer -> "preserved" when all its units are one class (they stay identical), for
    every width, by the coarsest stable partition."""
    partition = coarsest_partition(start, frozen)
    network = start.network
    return {str(l): "preserved" if partition.width(l) == 1 else "broken"
            for l in range(1, network.depth) if network.layers[l] >= 2}


__all__ = ["unit_gradient", "zero_init", "unit_expressions", "zero_start"]


# ------------------------------------------------------------- the numeric check


def _hidden_spread(p: mlp.Params) -> float:
    """Largest difference between any hidden unit's parameters and unit 1's, over hidden layers."""
    spread = 0.0
    for l in range(len(p.W) - 1):
        parts = [p.W[l], p.b[l][:, None], p.W[l + 1].T]
        rows = np.concatenate(parts, axis=1)
        spread = max(spread, float(np.max(np.abs(rows - rows[:1]))))
    return spread


def zero_init_check(net: NetworkSpec, result: FactResult, rng, steps: int,
                    lr: float, data=None) -> FactNumeric:
    if net.stack:
        from .stack_zero_check import zero_init_stack_check

        return zero_init_stack_check(net, result, rng, steps, lr, data)
    sizes = net.layers
    depth = len(sizes) - 1
    p = mlp.Params([np.zeros((sizes[l], sizes[l - 1])) for l in range(1, depth + 1)],
                   [np.zeros(sizes[l]) for l in range(1, depth + 1)])
    on_data = data is not None and "on_data" in result.details
    if net.bias and not on_data:
        p.b[-1][...] = rng.normal(size=sizes[-1])     # the output biases are free
    X, Y = (_floats(data.inputs), _floats(data.targets)) if on_data else (
        points.inputs(net, rng, net.samples), points.targets(net, rng))
    start = p.copy()
    spread = 0.0
    for _ in range(steps):
        _, grad, _ = mlp.loss_and_gradient(net, p, X, Y)
        for (_, w), (_, g) in zip(_slots(p), _slots(grad)):
            w -= lr * g
        spread = max(spread, _hidden_spread(p))
    change = {name: float(np.max(np.abs(w - w0), initial=0.0))
              for (name, w), (_, w0) in zip(_slots(p), _slots(start))}
    moved = [name for name, c in change.items() if c > 1e-12 and name != f"b{depth}"]
    sigma0 = float(net.activation.np_f(np.zeros(1))[0])
    expect_stuck = {"stuck": True, "trains, units identical": False,
                    "stuck iff sigma(0) = 0": sigma0 == 0.0}.get(result.verdict)
    problems = []
    if expect_stuck is True and moved:
        problems.append(_problem(result, f"{', '.join(moved)} moved during {steps} steps of "
                                 "gradient descent"))
    if expect_stuck is False and not moved:
        problems.append(_problem(result, f"nothing but the output biases moved during {steps} "
                                 "steps of gradient descent"))
    if on_data and result.details["on_data"]["stationary"] and change.get(f"b{depth}", 0) > 1e-12:
        problems.append(_problem(result, f"the output biases moved by {change[f'b{depth}']:.3g}"
                                 " from a start said to be a fixed point"))
    if expect_stuck is not None and spread > GAP_TOL:
        problems.append(_problem(result, f"hidden units became different (spread {spread:.3g})"))
    where = (f"all-zero weights and biases, the output biases too, on the given data "
             f"({counted(len(X), 'sample')})" if on_data else
             "all-zero weights and biases (random output biases), on random data with "
             f"{counted(net.samples, 'sample')}")
    return FactNumeric(
        f"{steps} steps of full-batch gradient descent (learning rate {lr:g}) in NumPy from "
        f"{where}.",
        (("steps", steps), ("moved", moved), ("max_change", change),
         ("max_hidden_unit_spread", spread), ("sigma_at_0", sigma0)),
        (("parameters that moved (output biases aside): " + (", ".join(moved) or "none")),
         f"largest spread between the hidden units of a layer: {below(spread)}"
         + (" (identical)" if spread <= GAP_TOL else "")),
        tuple(problems))


def _floats(rows) -> np.ndarray:
    return np.array([[float(v) for v in row] for row in rows], dtype=float)


def _group_entries(p: mlp.Params, layer: int, unit: int, group: str):
    """(array, index) of every entry of a unit's group."""
    if group == "incoming":
        return [(p.W[layer - 1], (unit - 1, k)) for k in range(p.W[layer - 1].shape[1])]
    if group == "bias":
        return [(p.b[layer - 1], (unit - 1,))]
    return [(p.W[layer], (m, unit - 1)) for m in range(p.W[layer].shape[0])]


def _fd_group(net, p, X, Y, layer: int, unit: int, group: str,
              f: Callable[[], float] | None = None) -> np.ndarray:
    f = f or (lambda: loss(net, p, X, Y))
    return np.array([central_difference(f, a, idx)
                     for a, idx in _group_entries(p, layer, unit, group)])


def _witness_point(net: NetworkSpec, result: FactResult) -> list:
    """The fact's own witness as one more point, re-evaluated by finite differences: random
    points can all miss where a gradient is non-zero (a ReLU unit dead at each of them),
    and a non-zero gradient is then confirmed there or nowhere."""
    w = result.witness
    if not w:
        return []
    p = mlp.Params.from_json(net, w["parameters"])
    return [(p, np.asarray(w["inputs"], dtype=float), np.asarray(w["targets"], dtype=float))]


def unit_gradient_check(net: NetworkSpec, result: FactResult, rng) -> FactNumeric:
    fact = result.fact
    other = fact.unit % net.layers[fact.layer] + 1
    hyp = Hypothesis("unit", fact.layer, (fact.unit, other), (), fact.zero)
    status = dict(result.details.get("gradients", {}))
    sigma0 = float(net.activation.np_f(np.zeros(1))[0])
    kink = (not net.activation.smooth and mlp.pinned_at_zero(net, hyp)
            and 0.0 in net.activation.kinks)
    groups = [g for g in status if not (kink and g in ("incoming", "bias"))]
    largest = {g: 0.0 for g in groups}
    for p, X, Y in [_point(net, hyp, rng) for _ in range(POINTS)] + _witness_point(net, result):
        for g in groups:
            v = _fd_group(net, p, X, Y, fact.layer, fact.unit, g)
            largest[g] = max(largest[g], float(np.max(np.abs(v), initial=0.0)))
    problems = []
    for g in groups:
        zero = status[g] == "zero" or (status[g] == "zero iff sigma(0) = 0" and sigma0 == 0.0)
        if zero and largest[g] > ZERO_TOL:
            problems.append(_problem(result, f"the {g} gradient is {largest[g]:.3g}, not 0"))
        if not zero and largest[g] <= NONZERO_TOL:
            problems.append(_problem(result, f"the {g} gradient was 0 at {POINTS} random points "
                                     "and at the witness"))
    lines = tuple(f"{g}: largest |∂L/∂θ| {_size(largest[g], NONZERO_TOL)} (fact: {status[g]})"
                  for g in groups)
    if kink:
        lines += ("incoming and bias not checked: the unit's pre-activation is pinned at the "
                  "activation's kink",)
    return FactNumeric(
        f"Central finite differences of the NumPy loss for unit {fact.unit}'s groups, at "
        f"{POINTS} random points and at its witness, with its groups "
        f"{', '.join(fact.zero) or '(none)'} set to zero.",
        (("points", POINTS), ("max_abs_gradient", largest), ("sigma_at_0", sigma0)),
        lines, tuple(problems))
