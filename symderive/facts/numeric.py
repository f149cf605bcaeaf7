"""A numeric check of each ``[[fact]]``: the derivation confirmed by numbers computed another way.

Everything here is NumPy (:mod:`symderive.mlp` and central finite differences
of its loss), never the SymPy expressions of the fact; generic networks are
instantiated (σ := tanh, ℓ := ½(ŷ − y)²) as for the hypotheses' cross-check.

- ``backprop_exact``: ``mlp.loss_and_gradient`` against central finite
  differences of the NumPy loss at a random point;
- ``loss_gradient``: the closed form (softmax(z) − y, σ(z) − y, ŷ − y) in
  NumPy against finite differences of the loss in the output pre-activations;
- ``zero_init``: a few steps of gradient descent from the all-zero start:
  which parameters moved, and the largest spread between the hidden units;
- ``unit_gradient``: finite-difference gradients of the unit's groups at random
  points with the fact's groups zero: zero exactly where the fact says so;
- ``dropout``: finite-difference gradients with the masks applied, at random
  tied points: the tied units' groups differ exactly where the fact says so;
- ``optimizer``: a few steps of the optimiser (NumPy, torch's update rules) on
  the network from a tied start, with the learning rates of the fact: the gap
  between the two units stays 0 (shared rates) or grows (per-unit rates).

A check that contradicts the fact's verdict records ``problems`` (it never
raises); :attr:`symderive.api.Derivation.agreement` is then false.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from .. import mlp
from ..generic import instantiated_network, instantiation
from ..numeric import points, single_threaded_blas
from ..numeric.gradcheck import ATOL, RTOL
from ..numeric.optimizers import make
from ..numeric.training import gap
from ..spec import Hypothesis, NetworkSpec, Spec
from .result import PROVED, FactResult

#: Central-difference step (fixed; the tolerance |a − n| ≤ ATOL + RTOL |n| is the
#: hypotheses' gradient check's).
H = 1e-6
#: Training steps of zero_init and optimizer checks at most (spec.check.steps otherwise).
MAX_STEPS = 50
#: A finite-difference gradient (or difference) at most this is zero; above NONZERO it is not.
ZERO_TOL, NONZERO = 1e-7, 1e-6
#: A spread or gap between units at most this counts as identical (rounding only).
GAP_TOL = 1e-8
#: Random points tried by unit_gradient and dropout.
POINTS = 4
#: Parameters checked by finite differences at most (a seeded subset beyond).
MAX_PARAMETERS = 400
#: The optimizer check's weight decay (torch style) and per-unit learning-rate factor.
LAMBDA, PER_UNIT = 0.01, 2.0
#: Dropout masks: inverted dropout with keep probability 1/2 scales kept units by 2.
KEEP = 2.0


@dataclass(frozen=True)
class FactNumeric:
    """The numeric check of one fact: what was computed, the figures, any contradiction."""

    method: str                               # one sentence, our own words
    figures: tuple[tuple[str, Any], ...]      # (name, plain JSON value), in order
    lines: tuple[str, ...]                    # the figures in words, for the report
    problems: tuple[str, ...] = ()

    @property
    def agreement(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "agreement": self.agreement,
                "problems": list(self.problems), "figures": dict(self.figures)}


def check_facts(spec: Spec, results: tuple[FactResult, ...]) -> tuple[FactResult, ...]:
    """``results`` with their ``numeric`` field filled in (None for a kind without a check)."""
    with single_threaded_blas(), np.errstate(all="ignore"):
        return tuple(replace(r, numeric=check_fact(spec, r, k)) for k, r in enumerate(results))


def check_fact(spec: Spec, result: FactResult, index: int) -> FactNumeric | None:
    """The numeric check of fact number ``index`` (0-based), seeded from spec.check.seed."""
    net = instantiated_network(spec.network)
    rng = np.random.default_rng((spec.check.seed, index, 7))
    steps = max(1, min(spec.check.steps, MAX_STEPS))
    out = _check(net, result, rng, steps, spec.check.learning_rate)
    used = instantiation(spec.network)
    if out is not None and used:
        words = ", ".join(f"{k} := {v}" for k, v in used.items())
        out = replace(out, method=f"{out.method} Evaluated with {words}.",
                      figures=out.figures + (("instantiation", used),))
    return out


def _check(net: NetworkSpec, result: FactResult, rng, steps: int,
           lr: float) -> FactNumeric | None:
    kind = result.fact.kind
    if kind in _TRAINED:
        return _TRAINED[kind](net, result, rng, steps, lr)
    check = _AT_POINTS.get(kind)
    return check(net, result, rng) if check else None


# ------------------------------------------------------------------ helpers


def below(value: float) -> str:
    """An error as the power of ten above it ("below 1e-9"), so rounding noise does not
    change the report; exactly 0 stays 0."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return f"below 1e-{-math.ceil(math.log10(value))}" if value < 1 else f"{value:.3g}"


def _size(value: float, small: float) -> str:
    """``below(value)`` under ``small`` (rounding noise), else three significant digits."""
    return below(value) if value < small else f"{value:.3g}"


def loss(net: NetworkSpec, p: mlp.Params, X: np.ndarray, Y: np.ndarray) -> float:
    """The NumPy loss: a forward pass only (finite differences call this often)."""
    return net.loss.np_value_and_grad(mlp.forward(net, p, X)[1][-1], Y)[0]


def _slots(p: mlp.Params) -> list[tuple[str, np.ndarray]]:
    return [(f"W{l}", w) for l, w in enumerate(p.W, start=1)] + \
           [(f"b{l}", v) for l, v in enumerate(p.b, start=1)]


def central_difference(f: Callable[[], float], array: np.ndarray, index) -> float:
    """(f(θ + h) − f(θ − h)) / 2h for the entry ``index`` of ``array`` (restored after)."""
    old = array[index]
    array[index] = old + H
    up = f()
    array[index] = old - H
    down = f()
    array[index] = old
    return float((up - down) / (2 * H))


def _errors(analytic: np.ndarray, numeric: np.ndarray) -> tuple[float, float, bool]:
    """Largest absolute error, largest relative error, and whether all are within tolerance."""
    err = np.abs(analytic - numeric)
    rel = err / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-12)
    ok = bool(np.all(np.isfinite(err)) and np.all(err <= ATOL + RTOL * np.abs(numeric)))
    return float(err.max(initial=0.0)), float(rel.max(initial=0.0)), ok


def _random_params(net: NetworkSpec, hyp: Hypothesis | None, rng) -> mlp.Params:
    if hyp is None:
        hyp = Hypothesis("none", 1, (1, 1), (), ())
    return points.initial_params(net, hyp, rng)


#: Redraws of the samples near a kink before a fact's check goes ahead anyway.
REDRAWS = 30


def _point(net: NetworkSpec, hyp: Hypothesis, rng) -> tuple[mlp.Params, np.ndarray, np.ndarray]:
    """Parameters satisfying ``hyp``, inputs redrawn away from kinks, then targets."""
    p = points.initial_params(net, hyp, rng)
    X = points.inputs(net, rng, net.samples)
    points.settle_rows(net, hyp, p, X, rng, REDRAWS)
    return p, X, points.targets(net, rng)


def _problem(result: FactResult, what: str) -> str:
    return f"fact {result.fact.name!r} ({result.verdict}): {what}"


# ------------------------------------------------------------------ backprop_exact


def backprop_check(net: NetworkSpec, result: FactResult, rng) -> FactNumeric:
    p = _random_params(net, None, rng)
    X = points.inputs(net, rng, net.samples)
    Y = points.targets(net, rng)
    points.settle_rows(net, None, p, X, rng, REDRAWS)
    _, grad, _ = mlp.loss_and_gradient(net, p, X, Y)
    entries = [(name, w, g, idx) for (name, w), (_, g) in zip(_slots(p), _slots(grad))
               for idx in np.ndindex(w.shape) if name[0] == "W" or net.bias]
    if len(entries) > MAX_PARAMETERS:
        keep = sorted(rng.choice(len(entries), size=MAX_PARAMETERS, replace=False))
        entries = [entries[k] for k in keep]
    f = lambda: loss(net, p, X, Y)
    analytic = np.array([g[idx] for _, _, g, idx in entries])
    numeric = np.array([central_difference(f, w, idx) for _, w, _, idx in entries])
    abs_err, rel_err, ok = _errors(analytic, numeric)
    problems = ()
    if result.verdict == "exact" and not ok:
        problems = (_problem(result, "NumPy backpropagation disagrees with finite differences "
                             f"of the loss (largest error {abs_err:.3g})"),)
    return FactNumeric(
        "NumPy backpropagation (symderive.mlp) against central finite differences of the "
        f"NumPy loss (h = {H:g}) for each parameter, at a random point "
        f"with {net.samples} sample(s).",
        (("parameters_checked", len(entries)), ("max_abs_error", abs_err),
         ("max_rel_error", rel_err), ("passed", ok)),
        (f"{len(entries)} parameters checked: "
         + ("all within" if ok else "NOT all within") + f" |a − n| ≤ {ATOL:g} + {RTOL:g}|n|",
         f"largest absolute error {below(abs_err)}, largest relative error {below(rel_err)}"),
        problems)


# ------------------------------------------------------------------ loss_gradient


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


#: The closed forms the fact claims, in NumPy: (z, y) -> ∂ℓ/∂z.
FORMULAS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "softmax_ce": lambda z, y: _softmax(z) - y,
    "bce_sigmoid": lambda z, y: _sigmoid(z) - y,
    "mse_identity": lambda z, y: z - y,
}
_FORMULA_WORDS = {"softmax_ce": "softmax(z) − y", "bce_sigmoid": "σ(z) − y",
                  "mse_identity": "ŷ − y"}


def _pair(net: NetworkSpec) -> str | None:
    loss_name, out = net.loss.name, net.output_activation.name
    return {("softmax_ce", "identity"): "softmax_ce", ("bce", "sigmoid"): "bce_sigmoid",
            ("mse", "identity"): "mse_identity"}.get((loss_name, out))


def _loss_targets(net: NetworkSpec, rng, shape) -> np.ndarray:
    if net.loss.name == "softmax_ce":
        return rng.dirichlet(np.ones(shape[1]), size=shape[0])   # targets summing to 1
    if net.loss.name in ("bce", "latex"):
        return rng.uniform(0.0, 1.0, size=shape)
    return rng.normal(size=shape)


def loss_gradient_check(net: NetworkSpec, result: FactResult, rng, rows: int = 4) -> FactNumeric:
    K = net.layers[-1]
    Z = rng.normal(0.0, 1.5, size=(rows, K))
    Y = _loss_targets(net, rng, Z.shape)
    f_out = net.output_activation
    pair = _pair(net)
    if pair is not None:
        analytic = FORMULAS[pair](Z, Y)
        what = f"the closed form {_FORMULA_WORDS[pair]}"
    else:   # no closed form claimed: the chain rule dℓ/dŷ · f'(z) in NumPy
        _, dyhat = net.loss.np_value_and_grad(f_out.np_f(Z), Y)
        analytic = dyhat * f_out.np_df(Z)
        what = "the chain rule dℓ/dŷ · f'(z)"

    def total() -> float:
        return net.loss.np_value_and_grad(f_out.np_f(Z), Y)[0]

    numeric = np.array([[central_difference(total, Z, (n, m)) for m in range(K)]
                        for n in range(rows)])
    abs_err, rel_err, ok = _errors(analytic, numeric)
    problems = ()
    if result.verdict == PROVED and not ok:
        problems = (_problem(result, f"{what} disagrees with finite differences of the loss "
                             f"(largest error {abs_err:.3g})"),)
    return FactNumeric(
        f"{what[0].upper()}{what[1:]}, evaluated in NumPy, against central finite "
        f"differences of the NumPy loss in the output pre-activations z, at {rows} random "
        f"points with {K} output(s)" + (" (targets summing to 1)" if pair == "softmax_ce"
                                         else "") + ".",
        (("points", rows), ("max_abs_error", abs_err), ("max_rel_error", rel_err),
         ("passed", ok)),
        (f"{rows * K} derivatives checked: " + ("all within" if ok else "NOT all within")
         + f" |a − n| ≤ {ATOL:g} + {RTOL:g}|n|",
         f"largest absolute error {below(abs_err)}, largest relative error {below(rel_err)}"),
        problems)



# ------------------------------------------------------------------ zero_init


def _hidden_spread(p: mlp.Params) -> float:
    """Largest difference between any hidden unit's parameters and unit 1's, over hidden layers."""
    spread = 0.0
    for l in range(len(p.W) - 1):
        parts = [p.W[l], p.b[l][:, None], p.W[l + 1].T]
        rows = np.concatenate(parts, axis=1)
        spread = max(spread, float(np.max(np.abs(rows - rows[:1]))))
    return spread


def zero_init_check(net: NetworkSpec, result: FactResult, rng, steps: int,
                    lr: float) -> FactNumeric:
    sizes = net.layers
    depth = len(sizes) - 1
    p = mlp.Params([np.zeros((sizes[l], sizes[l - 1])) for l in range(1, depth + 1)],
                   [np.zeros(sizes[l]) for l in range(1, depth + 1)])
    if net.bias:
        p.b[-1][...] = rng.normal(size=sizes[-1])     # the output biases are free
    X = points.inputs(net, rng, net.samples)
    Y = points.targets(net, rng)
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
    if expect_stuck is not None and spread > GAP_TOL:
        problems.append(_problem(result, f"hidden units became different (spread {spread:.3g})"))
    return FactNumeric(
        f"{steps} steps of full-batch gradient descent (learning rate {lr:g}) in NumPy from "
        "all-zero weights and biases (random output biases), on random data with "
        f"{net.samples} sample(s).",
        (("steps", steps), ("moved", moved), ("max_change", change),
         ("max_hidden_unit_spread", spread), ("sigma_at_0", sigma0)),
        (("parameters that moved (output biases aside): " + (", ".join(moved) or "none")),
         f"largest spread between the hidden units of a layer: {below(spread)}"
         + (" (identical)" if spread <= GAP_TOL else "")),
        tuple(problems))


# ------------------------------------------------------------------ unit_gradient


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
    for _ in range(POINTS):
        p, X, Y = _point(net, hyp, rng)
        for g in groups:
            v = _fd_group(net, p, X, Y, fact.layer, fact.unit, g)
            largest[g] = max(largest[g], float(np.max(np.abs(v), initial=0.0)))
    problems = []
    for g in groups:
        zero = status[g] == "zero" or (status[g] == "zero iff sigma(0) = 0" and sigma0 == 0.0)
        if zero and largest[g] > ZERO_TOL:
            problems.append(_problem(result, f"the {g} gradient is {largest[g]:.3g}, not 0"))
        if not zero and largest[g] <= NONZERO:
            problems.append(_problem(result, f"the {g} gradient was 0 at {POINTS} random points"))
    lines = tuple(f"{g}: largest |∂L/∂θ| {_size(largest[g], NONZERO)} (fact: {status[g]})"
                  for g in groups)
    if kink:
        lines += ("incoming and bias not checked: the unit's pre-activation is pinned at the "
                  "activation's kink",)
    return FactNumeric(
        f"Central finite differences of the NumPy loss for unit {fact.unit}'s groups, at "
        f"{POINTS} random points with its groups {', '.join(fact.zero) or '(none)'} set to "
        "zero.",
        (("points", POINTS), ("max_abs_gradient", largest), ("sigma_at_0", sigma0)),
        lines, tuple(problems))


# ------------------------------------------------------------------ dropout


def _masked_loss(net, p, X, Y, layer: int, units, values) -> Callable[[], float]:
    """The loss with unit u of ``layer`` passing on m_u a_u (the mask folded into its
    outgoing weights), as a function of the unmasked parameters ``p``."""
    def f() -> float:
        q = p.copy()
        for u, mu in zip(units, values):
            q.W[layer][:, u - 1] *= mu
        return loss(net, q, X, Y)
    return f


def dropout_check(net: NetworkSpec, result: FactResult, rng) -> FactNumeric:
    fact = result.fact
    hyp = Hypothesis("dropout", fact.layer, fact.units, fact.tie, ())
    values = (KEEP, 0.0) if fact.masks == "different" else (KEEP, KEEP)
    status = {g: s for g, s in result.details.get("groups", {}).items()
              if s in ("equal", "different")}
    largest = {g: 0.0 for g in status}
    for _ in range(POINTS):
        p, X, Y = _point(net, hyp, rng)
        f = _masked_loss(net, p, X, Y, fact.layer, fact.units, values)
        for g in status:
            gi, gj = (_fd_group(net, p, X, Y, fact.layer, u, g, f) for u in fact.units)
            largest[g] = max(largest[g], float(np.max(np.abs(gi - gj), initial=0.0)))
    problems = []
    for g, s in status.items():
        if s == "equal" and largest[g] > NONZERO:
            problems.append(_problem(result, f"the {g} gradients differ by {largest[g]:.3g}"))
        if s == "different" and largest[g] <= NONZERO:
            problems.append(_problem(result, f"the {g} gradients were equal at {POINTS} "
                                     "random points"))
    return FactNumeric(
        f"Central finite differences of the NumPy loss with masks m_i = {values[0]:g}, "
        f"m_j = {values[1]:g} on units {fact.units[0]} and {fact.units[1]}, at {POINTS} random "
        f"points with {', '.join(fact.tie) or 'no group'} tied.",
        (("points", POINTS), ("masks", list(values)), ("max_abs_difference", largest)),
        tuple(f"{g}: largest |∂L/∂θ_i − ∂L/∂θ_j| "
              f"{_size(largest[g], NONZERO)} "
              f"(fact: {s})" for g, s in status.items()),
        tuple(problems))


# ------------------------------------------------------------------ optimizer


def _unit_mask(p: mlp.Params, layer: int, unit: int) -> mlp.Params:
    """1 on the unit's incoming weights, bias and outgoing weights, 0 elsewhere."""
    m = mlp.Params([np.zeros_like(w) for w in p.W], [np.zeros_like(v) for v in p.b])
    m.W[layer - 1][unit - 1, :] = 1.0
    m.b[layer - 1][unit - 1] = 1.0
    m.W[layer][:, unit - 1] = 1.0
    return m


def optimizer_check(net: NetworkSpec, result: FactResult, rng, steps: int,
                    lr: float) -> FactNumeric:
    fact = result.fact
    hyp = Hypothesis("all tied", fact.layer, fact.units, net.groups(), ())
    p = points.initial_params(net, hyp, rng)
    X = points.inputs(net, rng, net.samples)
    Y = points.targets(net, rng)
    per_unit = fact.learning_rates == "per_unit"
    rates = _unit_mask(p, fact.layer, fact.units[1])
    rates = [lr * (1 + (PER_UNIT - 1) * r) if per_unit else lr
             for _, r in _slots(rates)]
    opt = make(fact.optimizer, rates, LAMBDA if fact.weight_decay else 0.0)
    groups = net.groups()
    gaps = [gap(p, hyp, groups)]
    for _ in range(steps):
        _, grad, _ = mlp.loss_and_gradient(net, p, X, Y)
        opt.step(p.W + p.b, grad.W + grad.b)
        gaps.append(gap(p, hyp, groups))
    largest, last = max(gaps), gaps[-1]
    problems = ()
    if result.verdict == "preserved" and largest > GAP_TOL:
        problems = (_problem(result, f"the tied units separated (gap {largest:.3g})"),)
    if result.verdict == "broken" and last <= GAP_TOL:
        problems = (_problem(result, f"the units stayed tied for {steps} steps"),)
    rate_words = (f"learning rate {lr:g} for unit {fact.units[0]} and {PER_UNIT * lr:g} for "
                  f"unit {fact.units[1]}" if per_unit else f"learning rate {lr:g}")
    return FactNumeric(
        f"{steps} steps of {fact.optimizer}"
        + (f" with weight decay {LAMBDA:g}" if fact.weight_decay else "")
        + f" in NumPy ({rate_words}), on the network from a random start with units "
        f"{fact.units[0]} and {fact.units[1]} of layer {fact.layer} fully tied and zero "
        "optimiser state.",
        (("steps", steps), ("max_gap", largest), ("final_gap", last)),
        (f"largest gap between the two units' parameters: "
         f"{below(largest) if largest <= GAP_TOL else f'{largest:.3g}'}"
         + (" (they stay identical)" if largest <= GAP_TOL else ""),
         f"gap after the last step: {below(last) if last <= GAP_TOL else f'{last:.3g}'}"),
        problems)


#: The checks by fact kind: at random points, and by training.
_AT_POINTS = {"backprop_exact": backprop_check, "loss_gradient": loss_gradient_check,
              "unit_gradient": unit_gradient_check, "dropout": dropout_check}
_TRAINED = {"zero_init": zero_init_check, "optimizer": optimizer_check}


__all__ = ["FactNumeric", "check_facts", "check_fact", "FORMULAS", "below"]
