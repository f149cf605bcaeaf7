"""The numeric check of the ``conservation`` fact: train the network and watch each law.

NumPy only (the hand-written :mod:`symderive.engine.mlp` gradients), never the SymPy
formulas of the derivation: from a seeded random start it runs ``steps`` steps of plain
gradient descent, of momentum (torch's rule, μ = 0.9) and of gradient descent with weight
decay λ, and integrates gradient flow for the same time (η × steps) with classical
Runge-Kutta (four sub-steps per step).  Per law it compares the observed change of Q at
every step with the exact formula of the derivation evaluated on that step's numbers, and
records how far Q drifted along the flow.  A mismatch beyond rounding is a problem.
"""
from __future__ import annotations

import numpy as np

from ..engine import mlp
from ..numeric import points
from ..numeric.optimizers import make
from ..spec import Hypothesis, NetworkSpec
from .checks import LAMBDA, FactNumeric, _problem, below
from .result import FactResult

MU = 0.9
#: Runge-Kutta sub-steps per gradient-descent step of the flow integration.
RK_SUBSTEPS = 4
#: A step's observed change may differ from the formula by this, relative to 1 + |Q|.
STEP_TOL = 1e-9
#: Gradient flow may drift by this (Runge-Kutta's own error, larger at ReLU kinks), relative to
#: 1 + |Q|: a quantity that is not conserved moves by far more over the same time.
FLOW_TOL = 1e-3
#: Laws drawn in the report's plot at most.
PLOTTED = 6


def bilinear(law: dict, p: mlp.Params, q: mlp.Params) -> np.ndarray:
    """B(p, q) of a quadratic law (Q(θ) = B(θ, θ)), or Q(p) of a linear one (q unused)."""
    l, i = law["layer"] - 1, law["index"]
    if law["symmetry"] == "rescale":
        u = i - 1
        out = p.W[l][u] @ q.W[l][u] + p.b[l][u] * q.b[l][u] - p.W[l + 1][:, u] @ q.W[l + 1][:, u]
        return np.asarray(out)
    if law["symmetry"] == "linear":
        return p.W[l] @ q.W[l].T + np.outer(p.b[l], q.b[l]) - p.W[l + 1].T @ q.W[l + 1]
    return np.asarray(p.b[l].sum() if i is None else p.W[l][:, i - 1].sum())


def _quadratic(law: dict) -> bool:
    return law["symmetry"] != "translation"


def value(law: dict, p: mlp.Params) -> np.ndarray:
    return bilinear(law, p, p)


def _cross(law: dict, p: mlp.Params, q: mlp.Params) -> np.ndarray:
    return bilinear(law, p, q) + bilinear(law, q, p)


def predicted(law: dict, rule: str, p: mlp.Params, g: mlp.Params, nu: mlp.Params | None,
              eta: float) -> np.ndarray:
    """The derivation's exact change of Q over one step from p (gradient g, buffer nu)."""
    zero = np.zeros_like(value(law, p))
    if not _quadratic(law):
        return -eta * LAMBDA * value(law, p) if rule == "weight_decay" else zero
    if rule == "gd":
        return eta ** 2 * value(law, g)
    if rule == "weight_decay":
        return ((1 - eta * LAMBDA) ** 2 - 1) * value(law, p) + eta ** 2 * value(law, g)
    after = _combine(nu, g, MU)
    return -eta * MU * _cross(law, p, nu) + eta ** 2 * value(law, after)


def _combine(a: mlp.Params, b: mlp.Params, c: float) -> mlp.Params:
    """c·a + b, entry by entry."""
    return mlp.Params([c * x + y for x, y in zip(a.W, b.W)], [c * x + y for x, y in zip(a.b, b.b)])


def _gradient(net, p, X, Y) -> mlp.Params:
    return mlp.loss_and_gradient(net, p, X, Y)[1]


def run(net: NetworkSpec, laws: list[dict], rule: str, start: mlp.Params, X, Y, steps: int,
        eta: float) -> tuple[list[list[np.ndarray]], list[float], float, list[np.ndarray]]:
    """Q of every law after each step, the largest step error per law, the final loss, and
    per law the sum of the formula's changes over the run."""
    p = start.copy()
    opt = make("momentum" if rule == "momentum" else "sgd", eta,
               LAMBDA if rule == "weight_decay" else 0.0)
    nu = mlp.Params([np.zeros_like(w) for w in p.W], [np.zeros_like(b) for b in p.b])
    values = [[value(law, p)] for law in laws]
    errors = [0.0] * len(laws)
    totals = [np.zeros_like(v[0]) for v in values]
    for _ in range(steps):
        g = _gradient(net, p, X, Y)
        expected = [predicted(law, rule, p, g, nu, eta) for law in laws]
        opt.step(p.W + p.b, g.W + g.b)
        if rule == "momentum":
            nu = _combine(nu, g, MU)
        for k, law in enumerate(laws):
            now = value(law, p)
            totals[k] = totals[k] + expected[k]
            step_error = np.max(np.abs(now - values[k][-1] - expected[k]))
            scale = 1 + np.max(np.abs(now))
            errors[k] = max(errors[k], float(step_error / scale))
            values[k].append(now)
    final = float(mlp.loss_and_gradient(net, p, X, Y)[0])
    return values, errors, final, totals


def flow(net: NetworkSpec, laws: list[dict], start: mlp.Params, X, Y, steps: int,
         eta: float) -> list[list[np.ndarray]]:
    """Q along gradient flow θ' = −∇L, classical Runge-Kutta, at the times η, 2η, ..."""
    p = start.copy()
    h = eta / RK_SUBSTEPS
    values = [[value(law, p)] for law in laws]
    for _ in range(steps):
        for _ in range(RK_SUBSTEPS):
            k1 = _gradient(net, p, X, Y)
            k2 = _gradient(net, _combine(k1, p, -h / 2), X, Y)
            k3 = _gradient(net, _combine(k2, p, -h / 2), X, Y)
            k4 = _gradient(net, _combine(k3, p, -h), X, Y)
            total = _combine(_combine(k2, k3, 1.0), _combine(k1, k4, 1.0), 2.0)
            p = _combine(total, p, -h / 6)
        for k, law in enumerate(laws):
            values[k].append(value(law, p))
    return values


def _size(a: np.ndarray) -> float:
    """A scalar's absolute value, a matrix's Frobenius norm."""
    return float(np.sqrt(np.sum(np.square(a))))


def conservation_check(net: NetworkSpec, result: FactResult, rng, steps: int,
                       lr: float) -> FactNumeric:
    laws = result.details.get("laws", [])
    p = points.initial_params(net, Hypothesis("none", 1, (1, 1), (), ()), rng)
    X, Y = points.inputs(net, rng, net.samples), points.targets(net, rng)
    runs = {rule: run(net, laws, rule, p, X, Y, steps, lr)
            for rule in ("gd", "momentum", "weight_decay")}
    flows = flow(net, laws, p, X, Y, steps, lr)
    items, problems, series = [], [], []
    for k, law in enumerate(laws):
        q0 = runs["gd"][0][k][0]
        drift = max(_size(v - q0) for v in flows[k])
        item = {"flow_drift": drift}
        for rule, (values, errors, _, totals) in runs.items():
            item[f"{rule}_change_predicted"] = _size(totals[k])
            item[f"{rule}_change_observed"] = _size(values[k][-1] - q0)
            item[f"{rule}_step_error"] = errors[k]
        items.append(item)
        problems += _law_problems(result, law, item, 1 + _size(q0))
        if k < PLOTTED:
            series.append((_label(law), [float(_size(v)) if v.ndim else float(v)
                                         for v in runs["gd"][0][k]]))
    worst = max((max(i[f"{r}_step_error"] for r in runs) for i in items), default=0.0)
    drift = max((i["flow_drift"] for i in items), default=0.0)
    lines = (f"laws watched: {len(laws)}",
             f"largest error of the per-step formulas (gradient descent, momentum, weight "
             f"decay), relative to 1 + |Q|: {below(worst)}",
             f"largest drift of a law along gradient flow (Runge-Kutta): {below(drift)}",
             f"final loss: gradient descent {runs['gd'][2]:.4g}, momentum "
             f"{runs['momentum'][2]:.4g}, weight decay {runs['weight_decay'][2]:.4g}")
    method = (f"{steps} steps in NumPy from a random start, learning rate {lr:g}, of gradient "
              f"descent, of momentum (μ = {MU:g}) and of weight decay (λ = {LAMBDA:g}), and "
              f"gradient flow for the same time (Runge-Kutta, {RK_SUBSTEPS} sub-steps a step); "
              "each step's change of every law against its formula.")
    return FactNumeric(method, (("steps", steps), ("learning_rate", lr), ("momentum", MU),
                                ("weight_decay", LAMBDA), ("max_step_error", worst),
                                ("max_flow_drift", drift), ("plot", _plot(series))),
                       lines, tuple(problems), items_key="laws", items=tuple(items))


def _plot(series: list) -> dict:
    norm = (" (a matrix law by its Frobenius norm)"
            if any("(norm)" in name for name, _ in series) else "")
    return {"ylabel": "Q", "series": series,
            "caption": f"The conserved quantities Q over the steps of gradient descent{norm}; "
                       f"the first {len(series)} laws are drawn."}


def _label(law: dict) -> str:
    if law["symmetry"] == "rescale":
        return f"rescale, layer {law['layer']} unit {law['index']}"
    if law["symmetry"] == "linear":
        return f"linear, layer {law['layer']} (norm)"
    return "translation, " + ("biases" if law["index"] is None else f"column {law['index']}")


def _law_problems(result: FactResult, law: dict, item: dict, scale: float) -> list[str]:
    out = []
    for rule in ("gd", "momentum", "weight_decay"):
        if not item[f"{rule}_step_error"] <= STEP_TOL:
            out.append(_problem(result, f"{_label(law)}: a step of {rule} changed Q by "
                                f"{item[f'{rule}_step_error']:.3g} (relative) more than "
                                "its formula"))
    if not item["flow_drift"] <= FLOW_TOL * scale:
        out.append(_problem(result, f"{_label(law)}: Q drifted by {item['flow_drift']:.3g} "
                            "along gradient flow"))
    return out
