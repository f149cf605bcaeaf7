"""S7: optimisers.  One update maps the tied set to itself when the optimiser state is tied.

Each update rule is written symbolically for one scalar parameter θ with
gradient g and state (momentum buffer b; Adam moments m, v at step t), as in
torch.optim (weight decay λ added to the gradient).  Unit j's update is the
same function of (θ_j, g_j, state_j) as unit i's, so after substituting the tie
the two new values and states are equal identically; the gradients of fully
tied units are equal (the all-tied hypothesis, proved by the local derivation),
and optimiser state starts at zero, which is tied: by induction the units stay
identical at every step.  Per-unit learning rates η_i ≠ η_j break this: the
difference of the updated values is shown and evaluated at a witness.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.symmetry import BROKEN, PRESERVED, UNDECIDED, settle_hypothesis
from ..numeric import points
from ..numeric.optimizers import make
from ..numeric.training import gap
from ..spec import Hypothesis, NetworkSpec
from ..spec.facts import FactSpec
from .checks import GAP_TOL
from .checks import LAMBDA as DECAY
from .checks import PER_UNIT, FactNumeric, _problem, _slots, below
from .result import FactResult, Statement

MU, BETA1, BETA2, EPS, LAMBDA = sp.symbols("mu beta_1 beta_2 epsilon lambda", positive=True)
T = sp.Symbol("t", integer=True, positive=True)
_WORDS = {"theta": "the parameter θ", "b": "the momentum buffer ν", "m": "Adam's first moment",
          "v": "Adam's second moment"}
#: The witness for per-unit learning rates (fresh state: zero buffers, t = 1).
WITNESS = {"theta": sp.Rational(1, 2), "g": sp.Rational(1, 4), "eta_i": sp.Rational(1, 10),
           "eta_j": sp.Rational(1, 5), "mu": sp.Rational(9, 10), "beta_1": sp.Rational(9, 10),
           "beta_2": sp.Rational(999, 1000), "epsilon": sp.Rational(1, 10**8),
           "lambda": sp.Rational(1, 100), "t": 1}


#: Symbol names (printed θ, g, ν, m, v) of the parameter, its gradient and the state.
_NAMES = {"theta": "theta", "g": "g", "b": "nu", "m": "m", "v": "v"}


def _symbol(key: str, u: str, new: bool = False) -> sp.Symbol:
    """θ_i, ν_i ... or, with ``new``, the value after the step θ^+_i."""
    head = _NAMES[key]
    index = f"{{{u}}}" if head == "m" else u   # braces keep m_i apart from the mask names
    return sp.Symbol(f"{head}^+_{index}" if new else f"{head}_{index}", real=not new)


def unit_symbols(u: str, optimizer: str) -> dict[str, sp.Symbol]:
    """θ_u, g_u and the optimiser state of unit u (momentum buffer ν; Adam moments)."""
    names = {"sgd": (), "momentum": ("b",), "adam": ("m", "v")}[optimizer]
    return {k: _symbol(k, u) for k in ("theta", "g", *names)}


def update(optimizer: str, s: dict[str, sp.Symbol], eta: sp.Symbol,
           decay: bool) -> dict[str, sp.Expr]:
    """The new value of θ and of each state variable, after one step."""
    g = s["g"] + (LAMBDA * s["theta"] if decay else 0)
    if optimizer == "sgd":
        return {"theta": s["theta"] - eta * g}
    if optimizer == "momentum":
        b = MU * s["b"] + g
        return {"theta": s["theta"] - eta * b, "b": b}
    m = BETA1 * s["m"] + (1 - BETA1) * g
    v = BETA2 * s["v"] + (1 - BETA2) * g ** 2
    step = (m / (1 - BETA1 ** T)) / (sp.sqrt(v / (1 - BETA2 ** T)) + EPS)
    return {"theta": s["theta"] - eta * step, "m": m, "v": v}


def optimizer_fact(network: NetworkSpec, fact: FactSpec, seed: int) -> FactResult:
    si, sj = unit_symbols("i", fact.optimizer), unit_symbols("j", fact.optimizer)
    per_unit = fact.learning_rates == "per_unit"
    eta_i = sp.Symbol("eta_i", positive=True) if per_unit else sp.Symbol("eta", positive=True)
    eta_j = sp.Symbol("eta_j", positive=True) if per_unit else eta_i
    ui = update(fact.optimizer, si, eta_i, fact.weight_decay)
    uj = update(fact.optimizer, sj, eta_j, fact.weight_decay)
    tie = {sj[k]: si[k] for k in si}
    diffs = {k: sp.simplify((ui[k] - uj[k]).xreplace(tie)) for k in ui}
    tied = all(d == 0 for d in diffs.values())
    statements = [Statement(f"the update of {_WORDS[k]} for unit i (unit j's is the same rule "
                            "in its own variables)", _symbol(k, "i", True), e)
                  for k, e in ui.items()]
    statements += [Statement(f"{_WORDS[k]} after the step, unit i minus unit j, with θ, g "
                             "and the state tied", _symbol(k, "i", True) - _symbol(k, "j", True),
                             sp.factor(d)) for k, d in diffs.items()]
    hyp = Hypothesis("all tied", fact.layer, fact.units, network.groups(), ())
    gradient = settle_hypothesis(network, hyp, seed).verdict
    witness = None if tied else _witness(diffs["theta"], si)
    if tied and gradient == PRESERVED:
        verdict = PRESERVED
    elif not tied and witness is not None and witness["difference"] != 0:
        verdict = BROKEN
    else:
        verdict = UNDECIDED
    name = fact.optimizer + (" with weight decay" if fact.weight_decay else "")
    summary = (f"{name}: with θ, g and the optimiser state tied, one update gives equal new values "
               "and equal new state; fully tied units have equal gradients (" + gradient + "), "
               "and the state starts at zero, so the units stay identical at every step."
               if verdict == PRESERVED else
               f"{name} with per-unit learning rates: equal parameters and gradients give "
               "different new values when η_i ≠ η_j, so the units separate after one step."
               if verdict == BROKEN else f"{name}: not settled.")
    return FactResult(fact, verdict, summary, tuple(statements),
                      ("weight decay is added to the gradient (torch's weight_decay)"
                       if fact.weight_decay else "no weight decay",
                       "the optimiser state of every parameter starts at zero"),
                      witness, details={"all_tied_gradients": gradient})


def _witness(diff: sp.Expr, s: dict[str, sp.Symbol]) -> dict:
    """θ, g as in :data:`WITNESS`, zero state, t = 1, and η_i ≠ η_j: the new θ's differ."""
    point = {s["theta"]: WITNESS["theta"], s["g"]: WITNESS["g"]}
    point.update({v: 0 for k, v in s.items() if k not in ("theta", "g")})
    point.update({MU: WITNESS["mu"], BETA1: WITNESS["beta_1"], BETA2: WITNESS["beta_2"],
                  EPS: WITNESS["epsilon"], LAMBDA: WITNESS["lambda"], T: 1,
                  sp.Symbol("eta_i", positive=True): WITNESS["eta_i"],
                  sp.Symbol("eta_j", positive=True): WITNESS["eta_j"]})
    value = float(sp.N(diff.xreplace(point)))
    return {"theta": float(WITNESS["theta"]), "g": float(WITNESS["g"]), "state": 0.0, "t": 1,
            "eta_i": float(WITNESS["eta_i"]), "eta_j": float(WITNESS["eta_j"]),
            "difference": value}


# ------------------------------------------------------------- the numeric check


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
    opt = make(fact.optimizer, rates, DECAY if fact.weight_decay else 0.0)
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
        + (f" with weight decay {DECAY:g}" if fact.weight_decay else "")
        + f" in NumPy ({rate_words}), on the network from a random start with units "
        f"{fact.units[0]} and {fact.units[1]} of layer {fact.layer} fully tied and zero "
        "optimiser state.",
        (("steps", steps), ("max_gap", largest), ("final_gap", last)),
        (f"largest gap between the two units' parameters: "
         f"{below(largest) if largest <= GAP_TOL else f'{largest:.3g}'}"
         + (" (they stay identical)" if largest <= GAP_TOL else ""),
         f"gap after the last step: {below(last) if last <= GAP_TOL else f'{last:.3g}'}"),
        problems)
