"""The gradient of a loss with respect to the output layer's pre-activations, in closed form.

The pairs that make backpropagation's first step read "prediction minus target":

- softmax cross-entropy on logits z: ∂ℓ/∂z_m = softmax(z)_m Σ_k y_k − y_m, which is
  softmax(z)_m − y_m when the targets sum to 1 (one-hot or a distribution);
- binary cross-entropy after a sigmoid output: ∂ℓ/∂z_m = σ(z_m) − y_m;
- squared error after the identity: ∂ℓ/∂z_m = ŷ_m − y_m.

Each is proved by differentiating the loss as defined in :mod:`symderive.functions`
and simplifying the difference to 0; other pairs get their derivative written out.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import sympy as sp

from ..engine.network import output_value, preactivation, softmax_value, target
from ..notation import partial
from ..numeric.gradcheck import ATOL, RTOL
from ..spec import NetworkSpec
from ..spec.facts import FactSpec
from ..spec.functions import sigmoid
from .checks import FactNumeric, _errors, counted, _problem, below, central_difference
from .result import PROVED, UNDECIDED, FactResult, Statement

ELL = sp.Symbol("ell")


def _zero(expr: sp.Expr) -> bool:
    e = sp.expand(expr)
    if e == 0:
        return True
    e = e.replace(sigmoid, lambda u: 1 / (1 + sp.exp(-u)))
    return sp.simplify(e) == 0


def loss_gradient(network: NetworkSpec, fact: FactSpec) -> FactResult:
    L, K = network.depth, network.layers[-1]
    zs = [preactivation(L, 1, m + 1) for m in range(K)]
    ys = [target(1, m + 1) for m in range(K)]
    f = network.output_activation
    ell = network.loss.per_sample([f(u) for u in zs], ys)
    derived = sp.diff(ell, zs[0])
    lhs = partial(ELL, zs[0])
    kind = _pair(network)
    if kind == "softmax_ce":
        return _softmax(fact, derived, lhs, zs, ys)
    if kind in ("bce_sigmoid", "mse_identity"):
        claim = f(zs[0]) - ys[0]
        ok = _zero(derived - claim)
        if kind == "mse_identity":
            claim = output_value(1, 1) - ys[0]  # shown as ŷ − y
        name = ("σ(z) − y for the sigmoid output with binary cross-entropy"
                if kind == "bce_sigmoid" else "ŷ − y for the identity output with squared error")
        summary = (f"The output delta is {name}: the sigmoid's derivative σ(1 − σ) cancels the "
                   "cross-entropy's denominators." if kind == "bce_sigmoid" else
                   f"The output delta is {name}.")
        return FactResult(fact, PROVED if ok else UNDECIDED, summary,
                          (Statement("∂ℓ/∂z for one output unit, from the loss's definition",
                                     lhs, claim, PROVED if ok else UNDECIDED),),
                          details={"outputs": K})
    rhs = sp.factor(derived) if network.loss.name != "any" else derived
    return FactResult(fact, PROVED, "The output delta for this loss and output activation "
                      "(no prediction-minus-target form is claimed for this pair).",
                      (Statement("∂ℓ/∂z for one output unit, by differentiation", lhs, rhs),),
                      details={"outputs": K})


def _pair(network: NetworkSpec) -> str | None:
    loss, out = network.loss.name, network.output_activation.name
    if loss == "softmax_ce" and out == "identity":
        return "softmax_ce"
    if loss == "bce" and out == "sigmoid":
        return "bce_sigmoid"
    if loss == "mse" and out == "identity":
        return "mse_identity"
    return None


def _softmax(fact: FactSpec, derived, lhs, zs, ys) -> FactResult:
    total = sp.Add(*[sp.exp(z) for z in zs])
    p = sp.exp(zs[0]) / total
    general = _zero(derived - (p * sp.Add(*ys) - ys[0]))
    one_hot = {ys[-1]: 1 - sp.Add(*ys[:-1])} if len(ys) > 1 else {ys[0]: 1}
    onehot_ok = _zero((derived - (p - ys[0])).xreplace(one_hot))
    shown = softmax_value(1, 1)
    statements = (
        Statement("∂ℓ/∂z_1 for softmax cross-entropy on the logits z, any targets",
                  lhs, shown * sp.Add(*ys) - ys[0], PROVED if general else UNDECIDED),
        Statement("the same when the targets sum to 1 (one-hot labels or a distribution)",
                  lhs, shown - ys[0], PROVED if onehot_ok else UNDECIDED))
    ok = general and onehot_ok
    return FactResult(fact, PROVED if ok else UNDECIDED,
                      f"With {len(zs)} classes, the gradient of the softmax cross-entropy with "
                      "respect to the logits is ŷ − y, where ŷ = softmax(z), whenever the "
                      "targets sum to 1.", statements, ("the targets sum to 1",),
                      details={"outputs": len(zs)})


# ------------------------------------------------------------- the numeric check


def _np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


#: The closed forms the fact claims, in NumPy: (z, y) -> ∂ℓ/∂z.
FORMULAS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "softmax_ce": lambda z, y: _np_softmax(z) - y,
    "bce_sigmoid": lambda z, y: _np_sigmoid(z) - y,
    "mse_identity": lambda z, y: z - y,
}


_FORMULA_WORDS = {"softmax_ce": "softmax(z) − y", "bce_sigmoid": "σ(z) − y",
                  "mse_identity": "ŷ − y"}



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
        f"points with {counted(K, 'output')}" + (" (targets summing to 1)" if pair == "softmax_ce"
                                         else "") + ".",
        (("points", rows), ("max_abs_error", abs_err), ("max_rel_error", rel_err),
         ("passed", ok)),
        (f"{rows * K} derivatives checked: " + ("all within" if ok else "NOT all within")
         + f" |a − n| ≤ {ATOL:g} + {RTOL:g}|n|",
         f"largest absolute error {below(abs_err)}, largest relative error {below(rel_err)}"),
        problems)
