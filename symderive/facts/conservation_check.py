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


Group = tuple[str, int]     # (symmetry, layer): the laws computed together


def bilinear(group: Group, p: mlp.Params, q: mlp.Params) -> np.ndarray:
    """B(p, q) of every law of a group at once (Q(θ) = B(θ, θ)), or Q(p) of a linear one:
    rescale, one entry per unit; linear, the r × r matrix; translation, the output biases'
    sum then each column's sum of the last weight matrix."""
    symmetry, layer = group
    l = layer - 1
    if symmetry == "rescale":
        return ((p.W[l] * q.W[l]).sum(axis=1) + p.b[l] * q.b[l]
                - (p.W[l + 1] * q.W[l + 1]).sum(axis=0))
    if symmetry == "linear":
        return p.W[l] @ q.W[l].T + np.outer(p.b[l], q.b[l]) - p.W[l + 1].T @ q.W[l + 1]
    return np.concatenate([[p.b[l].sum()], p.W[l].sum(axis=0)])


def pick(law: dict, values: np.ndarray) -> np.ndarray:
    """The law's own entries of its group's array."""
    if law["symmetry"] == "rescale":
        return values[..., law["index"] - 1]
    if law["symmetry"] == "linear":
        return values
    column = 0 if law["index"] is None else law["index"]
    return values[..., column]


def value(group: Group, p: mlp.Params) -> np.ndarray:
    return bilinear(group, p, p)


def predicted(group: Group, rule: str, p: mlp.Params, g: mlp.Params,
              nu: mlp.Params | None, eta: float) -> np.ndarray:
    """The derivation's exact change of Q over one step from p (gradient g, buffer nu)."""
    if group[0] == "translation":
        decay = -eta * LAMBDA * value(group, p)
        return decay if rule == "weight_decay" else np.zeros_like(decay)
    if rule == "gd":
        return eta ** 2 * value(group, g)
    if rule == "weight_decay":
        return ((1 - eta * LAMBDA) ** 2 - 1) * value(group, p) + eta ** 2 * value(group, g)
    after = _combine(nu, g, MU)
    cross = bilinear(group, p, nu) + bilinear(group, nu, p)
    return -eta * MU * cross + eta ** 2 * value(group, after)


def _combine(a: mlp.Params, b: mlp.Params, c: float) -> mlp.Params:
    """c·a + b, entry by entry."""
    return mlp.Params([c * x + y for x, y in zip(a.W, b.W)], [c * x + y for x, y in zip(a.b, b.b)])


def _gradient(net, p, X, Y) -> mlp.Params:
    return mlp.loss_and_gradient(net, p, X, Y)[1]


def run(net: NetworkSpec, groups: list[Group], rule: str, start: mlp.Params, X, Y,
        steps: int, eta: float) -> dict:
    """Per group: Q after each step (``values``), the largest error of the formula per entry
    relative to 1 + |Q| (``errors``), the sum of the formula's changes (``totals``); and
    the final loss."""
    p = start.copy()
    opt = make("momentum" if rule == "momentum" else "sgd", eta,
               LAMBDA if rule == "weight_decay" else 0.0)
    nu = mlp.Params([np.zeros_like(w) for w in p.W], [np.zeros_like(b) for b in p.b])
    values = {k: [value(k, p)] for k in groups}
    errors = {k: np.zeros_like(values[k][0]) for k in groups}
    totals = {k: np.zeros_like(values[k][0]) for k in groups}
    for _ in range(steps):
        g = _gradient(net, p, X, Y)
        expected = {k: predicted(k, rule, p, g, nu, eta) for k in groups}
        opt.step(p.W + p.b, g.W + g.b)
        if rule == "momentum":
            nu = _combine(nu, g, MU)
        for k in groups:
            now = value(k, p)
            miss = np.abs(now - values[k][-1] - expected[k]) / (1 + np.abs(now))
            errors[k] = np.fmax(errors[k], np.where(np.isfinite(miss), miss, np.inf))
            totals[k] = totals[k] + expected[k]
            values[k].append(now)
    final = float(mlp.loss_and_gradient(net, p, X, Y)[0])
    return {"values": values, "errors": errors, "totals": totals, "final": final}


def flow(net: NetworkSpec, groups: list[Group], start: mlp.Params, X, Y, steps: int,
         eta: float) -> dict:
    """Q along gradient flow θ' = −∇L, classical Runge-Kutta, at the times η, 2η, ..."""
    p = start.copy()
    h = eta / RK_SUBSTEPS
    values = {k: [value(k, p)] for k in groups}
    for _ in range(steps):
        for _ in range(RK_SUBSTEPS):
            k1 = _gradient(net, p, X, Y)
            k2 = _gradient(net, _combine(k1, p, -h / 2), X, Y)
            k3 = _gradient(net, _combine(k2, p, -h / 2), X, Y)
            k4 = _gradient(net, _combine(k3, p, -h), X, Y)
            total = _combine(_combine(k2, k3, 1.0), _combine(k1, k4, 1.0), 2.0)
            p = _combine(total, p, -h / 6)
        for k in groups:
            values[k].append(value(k, p))
    return values


def _size(a: np.ndarray) -> float:
    """A scalar's absolute value, a matrix's Frobenius norm."""
    return float(np.sqrt(np.sum(np.square(a))))


RULES = ("gd", "momentum", "weight_decay")


#: Halvings of the learning rate tried while a run blows up (as the hypotheses' training).
HALVINGS = 20


def _runs(net, groups, p, X, Y, steps: int, lr: float) -> tuple[float, dict]:
    """The three runs at the learning rate, halved while one of them leaves the finite
    numbers (so that a blow-up is never mistaken for a broken law)."""
    for _ in range(HALVINGS):
        runs = {rule: run(net, groups, rule, p, X, Y, steps, lr) for rule in RULES}
        if all(np.isfinite(r["final"]) for r in runs.values()):
            break
        lr /= 2
    return lr, runs


def _drifts(flows: dict) -> dict:
    """Per group, how far Q got from its start along the flow: entry by entry (a matrix law
    by its Frobenius norm)."""
    out = {}
    for key, values in flows.items():
        moved = [v - values[0] for v in values]
        out[key] = (max(_size(m) for m in moved) if key[0] == "linear"
                    else np.max(np.abs(moved), axis=0))
    return out


def _law_figures(law: dict, runs: dict, drifts: dict) -> dict:
    """The numbers of one law: flow drift, and per rule the predicted and observed change."""
    key = (law["symmetry"], law["layer"])
    drift = drifts[key]
    item = {"flow_drift": float(drift if law["symmetry"] == "linear" else pick(law, drift))}
    for rule in RULES:
        values = runs[rule]["values"][key]
        item[f"{rule}_change_predicted"] = _size(pick(law, runs[rule]["totals"][key]))
        item[f"{rule}_change_observed"] = _size(pick(law, values[-1] - values[0]))
        item[f"{rule}_step_error"] = float(np.max(pick(law, runs[rule]["errors"][key])))
    return item


def conservation_check(net: NetworkSpec, result: FactResult, rng, steps: int,
                       lr: float) -> FactNumeric:
    laws = result.details.get("laws", [])
    groups = list(dict.fromkeys((law["symmetry"], law["layer"]) for law in laws))
    p = points.initial_params(net, Hypothesis("none", 1, (1, 1), (), ()), rng)
    X, Y = points.inputs(net, rng, net.samples), points.targets(net, rng)
    requested, lr, runs = lr, *_runs(net, groups, p, X, Y, steps, lr)
    drifts = _drifts(flow(net, groups, p, X, Y, steps, lr))
    smooth = net.activation.smooth and net.output_activation.smooth
    items, problems, series = [], [], []
    for k, law in enumerate(laws):
        item = _law_figures(law, runs, drifts)
        items.append(item)
        q0 = pick(law, runs["gd"]["values"][(law["symmetry"], law["layer"])][0])
        problems += _law_problems(result, law, item, 1 + _size(q0), smooth)
        if k < PLOTTED:
            series.append((_label(law), [_size(pick(law, v)) if law["symmetry"] ==
                                         "linear" else float(pick(law, v))
                                         for v in runs["gd"]["values"][(law["symmetry"],
                                                                        law["layer"])]]))
    worst = max((max(i[f"{r}_step_error"] for r in RULES) for i in items), default=0.0)
    drift = max((i["flow_drift"] for i in items), default=0.0)
    final = {rule: runs[rule]["final"] for rule in RULES}
    lines = (f"laws watched: {len(laws)}",
             f"largest error of the per-step formulas (gradient descent, momentum, weight "
             f"decay), relative to 1 + |Q|: {below(worst)}",
             f"largest drift of a law along gradient flow (Runge-Kutta): {below(drift)}"
             + ("" if smooth else " (not held against a tolerance: the activation has kinks)"),
             f"final loss: gradient descent {final['gd']:.4g}, momentum "
             f"{final['momentum']:.4g}, weight decay {final['weight_decay']:.4g}")
    halved = f" (halved from {requested:g}: the runs blew up)" if lr != requested else ""
    method = (f"{steps} steps in NumPy from a random start, learning rate {lr:g}{halved}, of "
              "gradient "
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


def _law_problems(result: FactResult, law: dict, item: dict, scale: float,
                  smooth: bool) -> list[str]:
    """A step off its formula; a drift along the flow (smooth networks only: at a ReLU kink
    Runge-Kutta's own error is first order and may exceed any fixed tolerance)."""
    out = []
    for rule in ("gd", "momentum", "weight_decay"):
        if not item[f"{rule}_step_error"] <= STEP_TOL:
            out.append(_problem(result, f"{_label(law)}: a step of {rule} changed Q by "
                                f"{item[f'{rule}_step_error']:.3g} (relative) more than "
                                "its formula"))
    if smooth and not item["flow_drift"] <= FLOW_TOL * scale:
        out.append(_problem(result, f"{_label(law)}: Q drifted by {item['flow_drift']:.3g} "
                            "along gradient flow"))
    return out
