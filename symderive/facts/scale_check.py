"""The numeric check of the ``scale`` laws of a ``[[layer]]`` network.

Through the kinds' NumPy passes (:class:`symderive.engine.layers.stack.Stack`), never the
SymPy formulas: from a seeded random start, ``steps`` steps of gradient descent and of
gradient descent with weight decay λ; per law, at every step, the observed change of
Q = ‖θ‖² against the derivation's exact formula evaluated on that step's gradient
(η²‖g‖², and ((1 − ηλ)² − 1)Q + η²‖g‖²), and ⟨θ, g⟩ relative to ‖θ‖‖g‖; gradient flow
for the same time (classical Runge-Kutta) and Q's drift along it.  A proved law off its
formula beyond rounding is a problem; a law not proved (eps > 0) is only measured.
"""
from __future__ import annotations

import numpy as np

from ..engine.layers.settle import _draw
from ..engine.layers.stack import Stack
from ..engine.witness import random_targets
from ..spec import NetworkSpec
from .checks import LAMBDA, FactNumeric, _problem, below
from .conservation_check import FLOW_TOL, RK_SUBSTEPS, STEP_TOL
from .result import PROVED, FactResult


def _entries(law: dict) -> list[tuple[str, tuple[int, ...]]]:
    """A law's parameters as (tensor, index): ``W1_2_3`` is W1[1, 2]."""
    out = []
    for name in law["parameters"]:
        tensor, *idx = name.split("_")
        out.append((tensor, tuple(int(i) - 1 for i in idx)))
    return out


def _q(theta, entries) -> float:
    return float(sum(theta[t][i] ** 2 for t, i in entries))


def _dot(a, b, entries) -> float:
    return float(sum(a[t][i] * b[t][i] for t, i in entries))


def _step(stack, theta, X, Y, eta: float, decay: float):
    _, g, _ = stack.np_gradient(theta, X, Y)
    return {k: v - eta * (g[k] + decay * v) for k, v in theta.items()}, g


def _run(stack, laws, theta, X, Y, steps: int, eta: float, decay: float) -> dict:
    """Per law: Q after each step, the largest error of the formula relative to 1 + |Q|,
    and the largest |⟨θ, g⟩|/(‖θ‖‖g‖)."""
    values = [[_q(theta, e)] for e in laws]
    errors, cosines, totals = [0.0] * len(laws), [0.0] * len(laws), [0.0] * len(laws)
    for _ in range(steps):
        new, g = _step(stack, theta, X, Y, eta, decay)
        for k, e in enumerate(laws):
            q, gg = values[k][-1], _dot(g, g, e)
            expected = ((1 - eta * decay) ** 2 - 1) * q + eta ** 2 * gg
            now = _q(new, e)
            totals[k] += expected
            miss = abs(now - q - expected) / (1 + abs(now))
            errors[k] = max(errors[k], miss if np.isfinite(miss) else np.inf)
            cosines[k] = max(cosines[k], abs(_dot(theta, g, e)) / max(np.sqrt(q * gg), 1e-300))
            values[k].append(now)
        theta = new
    return {"values": values, "errors": errors, "cosines": cosines, "totals": totals}


def _flow(stack, laws, theta, X, Y, steps: int, eta: float,
          substeps: int = RK_SUBSTEPS) -> list[float]:
    """Per law, Q's distance from its start after gradient flow θ' = −∇L for η × steps."""
    h = eta / substeps
    start = [_q(theta, e) for e in laws]
    drift = [0.0] * len(laws)

    def grad(t):
        return stack.np_gradient(t, X, Y)[1]

    def move(t, g, c):
        return {k: t[k] - c * g[k] for k in t}
    for _ in range(steps * substeps):
        k1 = grad(theta)
        k2 = grad(move(theta, k1, h / 2))
        k3 = grad(move(theta, k2, h / 2))
        k4 = grad(move(theta, k3, h))
        theta = {k: theta[k] - h / 6 * (k1[k] + 2 * k2[k] + 2 * k3[k] + k4[k]) for k in theta}
    for k, e in enumerate(laws):
        drift[k] = max(drift[k], abs(_q(theta, e) - start[k]))
    return drift


#: A drift over the tolerance is integrated again with sub-steps this many times shorter:
#: Runge-Kutta's own error shrinks (a sample's variance near 0 makes the flow stiff when
#: eps = 0), a quantity that is not conserved keeps drifting.
REFINE = 4


def _refined(stack, entries, theta, X, Y, steps, lr, drift, gd) -> list[float | None]:
    scale = [1 + abs(v[0]) for v in gd["values"]]
    if all(d <= FLOW_TOL * s for d, s in zip(drift, scale)):
        return list(drift)
    return _flow(stack, entries, theta, X, Y, steps, lr, RK_SUBSTEPS * REFINE)


def scale_check(net: NetworkSpec, result: FactResult, rng, steps: int,
                lr: float) -> FactNumeric:
    laws = result.details.get("laws", [])
    stack = Stack(net)
    entries = [_entries(law) for law in laws]
    theta = {name: _draw(rng, shape) for name, shape in stack.shapes.items()}
    X = np.round(rng.uniform(-2, 2, size=(net.samples, *net.input)) * 4) / 4
    Y = random_targets(net, rng)
    gd = _run(stack, entries, theta, X, Y, steps, lr, 0.0)
    wd = _run(stack, entries, theta, X, Y, steps, lr, LAMBDA)
    drift = _flow(stack, entries, theta, X, Y, steps, lr)
    refined = _refined(stack, entries, theta, X, Y, steps, lr, drift, gd)
    items, problems = [], []
    for k, law in enumerate(laws):
        q = gd["values"][k]
        item = {"flow_drift": drift[k], "flow_drift_refined": refined[k], "gd_change_predicted": gd["totals"][k],
                "gd_change_observed": float(q[-1] - q[0]),
                "gd_step_error": gd["errors"][k], "weight_decay_step_error": wd["errors"][k],
                "max_cosine_theta_gradient": gd["cosines"][k],
                "weight_decay_final_norm_squared": wd["values"][k][-1]}
        items.append(item)
        if law["status"] == PROVED:
            problems += _problems(result, law, item, 1 + abs(q[0]))
    return _numeric(laws, items, problems, steps, lr, gd)


def _problems(result, law: dict, item: dict, scale: float) -> list[str]:
    out = []
    who = f"scale, layer {law['layer']}" + (f" channel {law['index']}" if law["index"] else "")
    if not np.isfinite(item["gd_change_observed"]):
        return [_problem(result, f"{who}: the NumPy run left the finite numbers (with eps = 0 "
                         "a norm divides by its variance)")]
    for rule in ("gd", "weight_decay"):
        if not item[f"{rule}_step_error"] <= STEP_TOL:
            out.append(_problem(result, f"{who}: a step of {rule} changed ‖θ‖² by "
                                f"{item[f'{rule}_step_error']:.3g} (relative) more than its "
                                "formula"))
    drift, finer = item["flow_drift"], item["flow_drift_refined"]
    if not drift <= FLOW_TOL * scale and not (finer <= FLOW_TOL * scale or finer <= drift / 2):
        out.append(_problem(result, f"{who}: ‖θ‖² drifted by {drift:.3g} along gradient flow, "
                            f"and by {finer:.3g} with sub-steps {REFINE} times shorter"))
    return out


def _numeric(laws, items, problems, steps: int, lr: float, gd: dict) -> FactNumeric:
    worst = max((max(i["gd_step_error"], i["weight_decay_step_error"]) for i in items),
                default=0.0)
    drift = max((i["flow_drift"] for i in items), default=0.0)
    finer = max((i["flow_drift_refined"] for i in items), default=0.0)
    cosine = max((i["max_cosine_theta_gradient"] for i in items), default=0.0)
    growth = [i["gd_change_observed"] for i in items]
    lines = (f"laws watched: {len(laws)}",
             f"largest error of the per-step formulas (gradient descent, weight decay), "
             f"relative to 1 + |Q|: {below(worst)}",
             f"largest |⟨θ, ∇L⟩|/(‖θ‖‖∇L‖) over the steps: {below(cosine)}",
             f"largest drift of ‖θ‖² along gradient flow (Runge-Kutta): {below(drift)}"
             + (f", {below(finer)} with sub-steps {REFINE} times shorter" if finer != drift
                else ""),
             "growth of ‖θ‖² over the gradient-descent run, law by law: "
             + ", ".join(f"{g:.4g}" for g in growth))
    method = (f"{steps} steps in NumPy (the layer kinds' passes) from a random start, "
              f"learning rate {lr:g}, of gradient descent and of weight decay (λ = {LAMBDA:g}), "
              f"and gradient flow for the same time (Runge-Kutta, {RK_SUBSTEPS} sub-steps a "
              "step); each step's change of ‖θ‖² against its formula.")
    series = [(f"scale, layer {l['layer']}" + (f" channel {l['index']}" if l["index"] else ""),
               list(map(float, v))) for l, v in zip(laws, gd["values"])][:6]
    plot = {"ylabel": "‖θ‖²", "series": series,
            "caption": f"‖θ‖² of the parameters feeding each norm over the steps of gradient "
                       f"descent; the first {len(series)} laws are drawn."}
    return FactNumeric(method, (("steps", steps), ("learning_rate", lr),
                                ("weight_decay", LAMBDA), ("max_step_error", worst),
                                ("max_cosine", cosine), ("max_flow_drift", drift),
                                ("plot", plot)),
                       lines, tuple(problems), items_key="laws", items=tuple(items))
