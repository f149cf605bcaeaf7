"""S8: backpropagation computes the exact gradient, term by term.

For every parameter θ of the spec's network, the direct derivative of the
whole loss ∂L/∂θ and backpropagation's Σ_n δ^{(l)}_{n,i} a^{(l-1)}_{n,k} are
expanded into sums of products and compared as *sets of terms*: the two
computations are the same chain rule, organised differently, and agree term
by term (not merely after simplification).  With ``activation = "any"`` and
``loss = "any"`` this holds for every differentiable σ and ℓ.  So the layer-wise
computation cannot cause a symmetry: it is a property of the loss.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.gradients import _locate, backprop_gradient, direct_gradient
from ..engine.network import Network, activation_value, delta, weight
from ..notation import partial
from ..numeric import points
from ..numeric.gradcheck import ATOL, RTOL
from ..spec import NetworkSpec
from ..spec.facts import FactSpec
from .checks import (MAX_PARAMETERS, REDRAWS, FactNumeric, H, _errors, _problem, _random_params,
                     _slots, below, central_difference, counted, loss)
from .result import PROVED, UNDECIDED, FactResult, Statement

#: Whole-loss differentiation is attempted up to this many parameters times samples.
LIMIT = 80
LOSS = sp.Symbol("L")


def term_by_term(a: sp.Expr, b: sp.Expr) -> bool:
    """Do ``a`` and ``b`` expand to the same sum of terms (the same multiset of
    structurally equal terms)?"""
    terms = lambda e: Counter(sp.Add.make_args(sp.expand(e)))
    return terms(a) == terms(b)


def backprop_exact(network: NetworkSpec, fact: FactSpec) -> FactResult:
    net = Network(network)
    count = net.parameter_count()
    if count * network.samples > LIMIT:
        return FactResult(fact, UNDECIDED, f"The network has {count} parameters; whole-loss "
                          f"differentiation is attempted up to {LIMIT} parameter-samples.",
                          details={"parameters_checked": 0, "parameters": count})
    params = net.parameters()
    direct, backprop = direct_gradient(net, params), backprop_gradient(net, params)
    agree = [term_by_term(a, b) for a, b in zip(direct, backprop)]
    terms = [len(sp.Add.make_args(sp.expand(a))) for a in direct]
    ok = all(agree)
    statements = tuple(_layer_statement(network, layer, params, agree, terms)
                       for layer in range(1, network.depth + 1))
    summary = (f"For all {count} parameters of this {network.depth}-layer network, "
               "backpropagation's gradient equals the derivative of the whole loss, term by "
               "term after expansion: backpropagation is the chain rule, evaluated layer by "
               "layer, and adds or loses nothing." if ok else
               "Backpropagation and direct differentiation did not match term by term.")
    return FactResult(fact, "exact" if ok else UNDECIDED, summary, statements,
                      _assumptions(network),
                      details={"parameters_checked": count, "parameters_equal": sum(agree),
                               "terms": sum(terms)})


def _layer_statement(network: NetworkSpec, layer: int, params, agree, terms) -> Statement:
    """∂L/∂W^{(l)}_{11} = Σ_n δ^{(l)}_{n,1} a^{(l-1)}_{n,1}, for every weight of the layer."""
    idx = [k for k, p in enumerate(params) if _locate(p)[0] == layer]
    n = 1 if network.samples == 1 else "n"
    rhs = delta(layer, n, 1) * activation_value(layer - 1, n, 1)
    if network.samples > 1:
        rhs = sp.Sum(rhs, (sp.Symbol("n", integer=True, positive=True), 1, network.samples))
    ok = all(agree[k] for k in idx)
    claim = (f"layer {layer}: all {len(idx)} parameters (weights and biases), "
             f"{sum(terms[k] for k in idx)} terms after expansion, agree term by term")
    return Statement(claim, partial(LOSS, weight(layer, 1, 1)), rhs,
                     PROVED if ok else UNDECIDED)


def _assumptions(network: NetworkSpec) -> tuple[str, ...]:
    out = []
    if network.activation.name == "any":
        out.append("σ is an arbitrary differentiable activation (undefined), σ' its derivative")
    if network.loss.name == "any":
        out.append("the loss is Σ_m ℓ(ŷ_m, y_m) with ℓ an arbitrary differentiable function")
    return tuple(out)


# ------------------------------------------------------------- the numeric check


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
        f"with {counted(net.samples, 'sample')}.",
        (("parameters_checked", len(entries)), ("max_abs_error", abs_err),
         ("max_rel_error", rel_err), ("passed", ok)),
        (f"{len(entries)} parameters checked: "
         + ("all within" if ok else "NOT all within") + f" |a − n| ≤ {ATOL:g} + {RTOL:g}|n|",
         f"largest absolute error {below(abs_err)}, largest relative error {below(rel_err)}"),
        problems)
