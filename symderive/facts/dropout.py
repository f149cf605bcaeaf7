"""S6: dropout masks as symbols.  Equal masks keep two tied units tied; different masks break them.

With dropout, unit u of layer l passes on m_u σ(z_u), so backpropagation gives
δ_u = m_u σ'(z_u) Σ_m V_{mu} δ^{(l+1)}_m and ∂L/∂V_{mu} = Σ_n δ^{(l+1)}_m m_u σ(z_u).
The local derivation is re-run with these: masks m_i, m_j are free symbols
(``masks = "different"``) or one symbol (``"equal"``).  A non-zero difference is
shown by a witness with m_i = 1, m_j = 0 (unit j dropped).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.generic import instantiated_network, instantiation
from ..engine.local import LocalModel, act, concrete, dact, is_identically_zero
from ..engine.network import weight
from ..engine.residual import tidy
from ..engine.symmetry import BROKEN, DIFFERENT, EQUAL, PRESERVED, UNDECIDED
from ..engine.witness import random_point
from ..spec import Hypothesis, NetworkSpec
from ..spec.facts import FactSpec
from .checks import KEEP, POINTS, FactNumeric, _point, judged, loss
from .result import FactResult, Statement
from .zero import _fd_group, _lhs

#: The witness's masks for "different": unit i kept, unit j dropped.
WITNESS_MASKS = (1.0, 0.0)


def mask(layer: int, unit: int) -> sp.Symbol:
    """m^{(l)}_u, the dropout mask of a unit (printed as m^{(l)}_u)."""
    return sp.Symbol(f"m{layer}_n_{unit}", real=True)   # one mask per sample n


def masks(fact: FactSpec) -> tuple[sp.Symbol, sp.Symbol]:
    i, j = fact.units
    mi = mask(fact.layer, i)
    return (mi, mi) if fact.masks == "equal" else (mi, mask(fact.layer, j))


def masked_difference(model: LocalModel, fact: FactSpec, group: str) -> sp.Expr:
    """The group's difference (per sample, component k or m generic) with masks."""
    n, m = "n", "m"
    mi, mj = masks(fact)
    if group == "outgoing":
        return model.next_delta(n, m) * (mi * act(model.z(n, 0)) - mj * act(model.z(n, 1)))
    d = model.next_delta(n, m)
    core = (mi * dact(model.z(n, 0)) * model.V(m, 0) - mj * dact(model.z(n, 1)) * model.V(m, 1)) * d
    return model.input(n, "k") * core if group == "incoming" else core


def dropout(network: NetworkSpec, fact: FactSpec, seed: int) -> FactResult:
    if network.stack:
        from .stack_dropout import dropout_stack

        return dropout_stack(network, fact, seed)
    hyp = Hypothesis(fact.name, fact.layer, fact.units, fact.tie, ())
    model = LocalModel(network, hyp)
    diffs = {g: masked_difference(model, fact, g) for g in network.groups()}
    status = {}
    for g, e in diffs.items():
        status[g] = EQUAL if is_identically_zero(e) or is_identically_zero(concrete(e, network)) \
            else DIFFERENT
    witness = _witness(network, hyp, fact, [g for g in status if status[g] == DIFFERENT], seed)
    if witness is None:
        status = {g: (UNDECIDED if s == DIFFERENT else s) for g, s in status.items()}
    covered = set(fact.tie) == set(network.groups())
    if any(status[g] == DIFFERENT for g in fact.tie):
        verdict = BROKEN
    elif covered and fact.masks == "equal" and all(s == EQUAL for s in status.values()):
        verdict = PRESERVED
    else:
        verdict = UNDECIDED
    statements = tuple(Statement(f"{g}: {status[g]} (masks as symbols; each term of the sums "
                                 "over samples n and next-layer units m)",
                                 group_difference_lhs(fact.layer, fact.units, g), tidy(e))
                       for g, e in diffs.items())
    summary = _summary(fact, verdict)
    return FactResult(fact, verdict, summary, statements,
                      ("dropout multiplies a_u by a mask m_u (0 or a keep-scale) after the "
                       "activation; masks are fixed during one step",
                       "the rest of the network is arbitrary: a^(l-1) and delta^(l+1) opaque"),
                      witness, details={"groups": status})


def group_difference_lhs(layer: int, units: tuple[int, int], group: str) -> sp.Expr:
    """∂L/∂θ_i − ∂L/∂θ_j for one component (k or m) of a group, unevaluated."""
    return sp.Add(*[sign * _lhs(layer, u, group) for sign, u in zip((1, -1), units)],
                  evaluate=False)


def _summary(fact: FactSpec, verdict: str) -> str:
    if verdict == PRESERVED:
        return ("With equal dropout masks the two fully tied units receive equal gradients and "
                "stay tied: a step whose masks agree on i and j keeps the symmetry.")
    if verdict == BROKEN:
        return (f"With {fact.masks} masks the gradients of the tied units differ"
                + (" by a factor m_i − m_j: one step in which dropout keeps one unit and drops "
                   "the other breaks the symmetry." if fact.masks == "different" else "."))
    return "Neither conclusion could be established."


def _witness(network: NetworkSpec, hyp: Hypothesis, fact: FactSpec, groups: list[str],
             seed: int) -> dict | None:
    if not groups:
        return None
    net = instantiated_network(network)
    values = WITNESS_MASKS if fact.masks == "different" else (1.0, 1.0)
    rng = np.random.default_rng(seed)
    for _ in range(64):
        point = random_point(net, hyp, rng)
        grad = masked_gradient(net, point.params, point.X, point.Y, fact.layer, fact.units, values)
        diff = {g: mlp.group_values(grad, fact.layer, hyp.units[0], g)
                - mlp.group_values(grad, fact.layer, hyp.units[1], g) for g in groups}
        if all(np.all(np.isfinite(d)) and np.max(np.abs(d)) > 1e-9 for d in diff.values()):
            out = {"parameters": point.params.to_json(network.bias), "inputs": point.X.tolist(),
                   "targets": point.Y.tolist(), "masks": list(values),
                   "difference": {g: [float(x) for x in d] for g, d in diff.items()}}
            if instantiation(network):
                out["instantiation"] = instantiation(network)
            return out
    return None


def masked_gradient(net: NetworkSpec, p: mlp.Params, X, Y, layer: int, units, values) -> mlp.Params:
    """The gradient with masks on units of ``layer``: the mask folds into the outgoing
    weights (V' = V m) for the forward pass, and ∂L/∂V = m ∂L/∂V' by the chain rule."""
    q = p.copy()
    for u, mu in zip(units, values):
        q.W[layer][:, u - 1] *= mu
    _, grad, _ = mlp.loss_and_gradient(net, q, X, Y)
    for u, mu in zip(units, values):
        grad.W[layer][:, u - 1] *= mu
    return grad


__all__ = ["dropout", "mask", "masked_difference", "masked_gradient", "weight"]


# ------------------------------------------------------------- the numeric check


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
    if net.stack:
        from .stack_dropout import dropout_stack_check

        return dropout_stack_check(net, result, rng)
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
    return judged(result, status, largest, values,
                  f"Central finite differences of the NumPy loss with masks m_i = {values[0]:g}, "
                  f"m_j = {values[1]:g} on units {fact.units[0]} and {fact.units[1]}, at "
                  f"{POINTS} random points with {', '.join(fact.tie) or 'no group'} tied.")
