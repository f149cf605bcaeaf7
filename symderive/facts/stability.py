"""The ``gap_stability`` fact: does a small gap between two tied units grow or shrink?

The derivation (``gap_stability``): the all-tied hypothesis of the two units is settled
by the engine (the tie must be preserved, else there is no tied trajectory to perturb);
at the starting point (the spec's ``[init]`` if it ties the units, else a seeded random
tied point) and along the tied trajectory of gradient descent (``[check]``'s learning
rate and steps, at most :data:`~.checks.MAX_STEPS`), H_A and its eigenvalues
(:mod:`.gap`); the verdict from the starting point's largest |1 − ηλ|; and the gap that
the linearisation predicts after each step for a seeded perturbation of size 1e-6.

The check (``gap_stability_check``) is the simulation: gradient descent from the tied
point plus that perturbation, in NumPy; the observed gaps must follow the predicted
ones (and a symbolic H_A must match the finite-difference one).
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.generic import instantiated_network
from ..engine.start import float_parameters, spec_start
from ..engine.symmetry import PRESERVED, settle_hypothesis
from ..notation import matrix, vector
from ..numeric.startpoint import training_data
from ..spec import Hypothesis, Spec
from ..spec.facts import FactSpec
from . import gap as G
from .checks import MAX_STEPS, FactNumeric, _point, _problem, below
from .result import UNDECIDED, FactResult

#: Size of the perturbation of the tied point.
PERTURBATION = 1e-6
#: The observed gap may differ from the predicted one by this, relative to the predicted.
MATCH_TOL = 1e-3
#: Steps whose H_A is listed in the JSON (all are used for the prediction).
LISTED = 12


def _hypothesis(spec: Spec, fact: FactSpec) -> Hypothesis:
    return Hypothesis("all tied", fact.layer, fact.units, spec.network.groups(), ())


def _start(spec: Spec, fact: FactSpec, pairs, rng):
    """(params, X, Y, where): the [init] point if it ties the units, else a drawn tied point."""
    net = instantiated_network(spec.network)
    start = spec_start(spec)
    if start is not None:
        p = float_parameters(start, rng)
        X, Y = training_data(start, net, rng)
        return p, X, Y, "given"
    p, X, Y = _point(net, _hypothesis(spec, fact), rng)
    return p, X, Y, "drawn"


#: The prediction stops where the predicted gap passes this (first order no longer holds).
GAP_LIMIT = 1e-4


def _trajectory(net, p, X, Y, pairs, eta: float, steps: int, d0: np.ndarray):
    """H_A along the tied gradient-descent trajectory and the predicted gaps, until
    ``steps``, a blow-up of the tied run, or a predicted gap over :data:`GAP_LIMIT`
    (the reason it stopped early, if it did)."""
    p = p.copy()
    gaps, radii, listed, stop = [d0], [], [], None
    for t in range(steps):
        loss, grad, _ = mlp.loss_and_gradient(net, p, X, Y)
        ha = G.numeric_ha(net, p, X, Y, pairs)
        if not (np.isfinite(loss) and np.all(np.isfinite(ha))):
            stop = f"the tied run left the finite numbers at step {t}"
            break
        lam, f = G.factors(ha, eta)
        radii.append(float(f.max(initial=0.0)))
        if t < LISTED:
            listed.append({"step": t, "eigenvalues": lam.tolist()})
        gaps.append(gaps[-1] - eta * ha @ gaps[-1])
        for a, g in zip(p.W + p.b, grad.W + grad.b):
            a -= eta * g
        if np.linalg.norm(gaps[-1]) > GAP_LIMIT:
            stop = (f"the predicted gap passed {GAP_LIMIT:g} after {t + 1} steps, where first "
                    "order stops being accurate")
            break
    return gaps, radii, listed, stop


def gap_stability(spec: Spec, fact: FactSpec, seed: int) -> FactResult:
    net = instantiated_network(spec.network)
    hyp = _hypothesis(spec, fact)
    tie = settle_hypothesis(spec.network, hyp, seed).verdict
    pairs = G.twins(net, fact.layer, fact.units)
    rng = np.random.default_rng(seed)
    p, X, Y, where = _start(spec, fact, pairs, rng)
    i, j = fact.units
    untied = float(np.abs(G.gap_vector(p, pairs)).max(initial=0.0))
    if tie != PRESERVED or untied > 0:
        why = (f"the all-tied hypothesis is {tie}, so a tied point does not stay tied"
               if tie != PRESERVED else f"the given [init] point does not tie units {i} and "
               f"{j} of layer {fact.layer} (largest gap {untied:.3g})")
        return FactResult(fact, UNDECIDED, f"No tied trajectory to perturb: {why}.",
                          details={"tie": tie})
    eta = spec.check.learning_rate
    steps = max(1, min(spec.check.steps, MAX_STEPS))
    symbolic = G.symbolic_affordable(net)
    ha = (G.evaluate_symbolic(net, G.symbolic_ha(net, pairs), p, X, Y) if symbolic
          else G.numeric_ha(net, p, X, Y, pairs))
    lam, f = G.factors(ha, eta)
    rho = float(f.max(initial=0.0))
    verdict = G.verdict_of(rho) if np.all(np.isfinite(ha)) else UNDECIDED
    direction = rng.normal(size=len(pairs))
    d0 = PERTURBATION * direction / np.linalg.norm(direction)
    gaps, radii, listed, stop = _trajectory(net, p, X, Y, pairs, eta, steps, d0)
    growth = float(np.linalg.norm(gaps[-1]) / np.linalg.norm(d0))
    details = {
        "tie": tie, "start": where, "learning_rate": eta, "method": "symbolic" if symbolic
        else "finite differences", "coordinates": [t.name for t in pairs],
        "H_A": ha.tolist(), "eigenvalues": lam.tolist(), "factors": f.tolist(),
        "largest_factor": rho, "trajectory": listed, "largest_factor_per_step": radii,
        "perturbation": d0.tolist(), "predicted_gaps": [float(np.linalg.norm(g))
                                                        for g in gaps],
        "predicted_growth": growth, "stopped": stop,
        "point": {"parameters": p.to_json(net.bias), "inputs": X.tolist(), "targets": Y.tolist()}}
    summary = _summary(fact, where, lam, rho, eta, verdict, radii, growth, symbolic)
    if stop:
        summary += f" The prediction stopped early: {stop}."
    result = FactResult(fact, verdict, summary, (), _ASSUMED + (
                            f"gradient descent without momentum, learning rate {eta:g} "
                            "([check])",), None, details,
                        computed=_computed(ha, lam, f, eta, symbolic))
    return result


def _summary(fact, where, lam, rho, eta, verdict, radii, growth, symbolic) -> str:
    i, j = fact.units
    low, high = (float(lam.min()), float(lam.max())) if lam.size else (0.0, 0.0)
    how = "from the symbolic Hessian" if symbolic else "by finite differences"
    cause = ("a negative eigenvalue: the tied point is a saddle across the tie" if low < 0
             and verdict == "gap grows" and 1 - eta * low == rho else
             f"ηλ = {eta * high:.4g} > 2: gradient descent overshoots across the tie"
             if verdict == "gap grows" else "every |1 − ηλ| is below 1"
             if verdict == "gap shrinks" else "the largest |1 − ηλ| is 1")
    return (f"At the {where} tied point of units {i} and {j} of layer {fact.layer}, H_A "
            f"({how}) has eigenvalues from {low:.4g} to {high:.4g}; with η = {eta:g} the "
            f"largest |1 − ηλ| is {rho:.6g} ({cause}), so to first order the {verdict}. "
            f"Along {len(radii)} steps of the tied trajectory the largest factor ranges "
            f"from {min(radii, default=rho):.4g} to {max(radii, default=rho):.4g}, and a "
            f"perturbation of size {PERTURBATION:g} is predicted to change by a factor "
            f"{growth:.4g}. The eigenvalues are numbers: nothing here is proved.")


_ASSUMED = ("the loss is twice differentiable at the points used (pre-activations away from "
            "kinks)",)


def _computed(ha, lam, f, eta, symbolic) -> tuple:
    words = "evaluated from the symbolic Hessian" if symbolic else "by finite differences"
    return ((f"H_A at the starting point, {words}", sp.Symbol("H_A"), matrix(ha.tolist())),
            ("the eigenvalues λ of H_A", sp.Symbol("lambda"), vector(lam.tolist(), 8)),
            (f"|1 − ηλ| for each, η = {eta:g}", sp.Symbol("rho"), vector(f.tolist(), 8)))


def gap_stability_check(net, result: FactResult, rng, steps: int, lr: float) -> FactNumeric:
    """Gradient descent from the tied point plus the perturbation: observed against predicted."""
    d = result.details
    if "perturbation" not in d:
        return FactNumeric("No simulation: there is no tied point to perturb.", (), ())
    fact = result.fact
    pairs = G.twins(net, fact.layer, fact.units)
    p = mlp.Params.from_json(net, d["point"]["parameters"])
    X, Y = (np.array(d["point"][k], dtype=float) for k in ("inputs", "targets"))
    problems = []
    if d["method"] == "symbolic":
        numeric = G.numeric_ha(net, p, X, Y, pairs)
        err = float(np.abs(numeric - np.array(d["H_A"])).max(initial=0.0))
        if not err <= 1e-5 * (1 + float(np.abs(numeric).max(initial=0.0))):
            problems.append(_problem(result, f"the symbolic H_A differs from finite "
                                     f"differences by {err:.3g}"))
    q = G.displaced(p, pairs, np.array(d["perturbation"]))
    observed = [float(np.linalg.norm(G.gap_vector(q, pairs)))]
    for _ in range(len(d["predicted_gaps"]) - 1):
        grad = mlp.loss_and_gradient(net, q, X, Y)[1]
        for a, g in zip(q.W + q.b, grad.W + grad.b):
            a -= lr * g
        observed.append(float(np.linalg.norm(G.gap_vector(q, pairs))))
    predicted = d["predicted_gaps"]
    worst = max(abs(o - e) / max(e, 1e-300) for o, e in zip(observed, predicted))
    if not worst <= MATCH_TOL:
        problems.append(_problem(result, f"the perturbed run's gap left the linear prediction "
                                 f"(relative difference {worst:.3g})"))
    steps_run = len(observed) - 1
    rate = (observed[-1] / observed[0]) ** (1 / steps_run) if steps_run else 1.0
    rate_predicted = (predicted[-1] / predicted[0]) ** (1 / steps_run) if steps_run else 1.0
    return FactNumeric(
        f"{steps_run} steps of gradient descent in NumPy (learning rate {lr:g}) from the tied "
        f"point moved by {PERTURBATION:g} across the tie, against the gaps the linearisation "
        "predicts with H_A at every step.",
        (("steps", steps_run), ("observed_gaps", observed),
         ("observed_growth", observed[-1] / observed[0]),
         ("observed_rate_per_step", rate), ("predicted_rate_per_step", rate_predicted),
         ("max_relative_difference", worst),
         ("plot", {"ylabel": "gap", "caption": "The gap between the two units during the "
                   "perturbed run, observed and as the linearisation predicts.",
                   "series": [("observed gap", observed), ("predicted gap", predicted)]})),
        (f"gap after {steps_run} steps: {observed[-1]:.4g} observed, {predicted[-1]:.4g} "
         f"predicted (from {observed[0]:.3g})",
         f"growth rate per step: {rate:.6g} observed, {rate_predicted:.6g} predicted",
         f"largest relative difference between observed and predicted gaps: {below(worst)}"),
        tuple(problems))
