"""The conclusion of a hypothesis as a theorem, and its proof.

- preserved: swap-invariance of the loss → swap-equivariance of the gradient →
  induction over the steps of gradient descent;
- broken: the settled (factored) difference, non-zero at the witness, and
  what one gradient step does to two equal parameters;
- undecided: no theorem, only what is missing.
"""
from __future__ import annotations

import sympy as sp

from ..engine.generic import instantiation
from ..engine.local import LocalModel, act
from ..engine.network import bias, preactivation, weight
from ..engine.symmetry import (BROKEN, CONSTANT_LOSS, DIFFERENT, PRESERVED, UNDECIDED,
                               HypothesisResult)
from ..notation import GradOf, LossOf, Step, Swap, display_order, index_sum, minus, partial
from ..spec import NetworkSpec
from .formulas import LOSS, sample
from .model import Aligned, Block, Equation, Math, Paragraph, Proof, Ref, Row, Strong, Theorem, para
from .steps import GROUP_NAMES, difference, parameter, settled

THETA = sp.Symbol("theta")
ETA = sp.Symbol("eta")


def theorem_blocks(model: LocalModel, k: int, result: HypothesisResult) -> list[Block]:
    """The theorem and proof of a preserved or broken hypothesis, else a note."""
    if result.verdict == PRESERVED:
        return [_preserved_theorem(model, k, result), _preserved_proof(model, k, result)]
    if result.verdict == BROKEN:
        return [_broken_theorem(model, k, result), _broken_proof(model, k, result)]
    return [_undecided(model, result)]


def joined(words) -> str:
    """'a', 'a and b', 'a, b and c'."""
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


P = sp.Symbol("P")


def _name(result: HypothesisResult) -> str:
    return result.hypothesis.name


def _units(model: LocalModel) -> str:
    i, j = model.hypothesis.units
    return f"units {i} and {j} of hidden layer {model.layer}"


# ------------------------------------------------------------------ preserved


def _preserved_theorem(model: LocalModel, k: int, result: HypothesisResult) -> Theorem:
    groups = joined(GROUP_NAMES[g] for g in model.network.groups())
    text = (f"If {_units(model)} satisfy hypothesis H{k} at the start of training, they stay "
            "identical at every step of gradient descent, for every input, target, learning "
            f"rate and value of the other parameters: their {groups} stay equal.")
    if result.swap_method == CONSTANT_LOSS:
        text = (f"If {_units(model)} satisfy hypothesis H{k} at the start of training, no "
                f"parameter ever moves, so the groups that H{k} ties stay equal at every step "
                "of gradient descent.")
    elif result.hypothesis.zero:
        text += " (Zeroed groups stay equal to each other, though in general not zero.)"
    return Theorem((para(text),), name=_name(result), label=f"thm:h{k}")


def constant_why(network: NetworkSpec) -> str:
    """Why :func:`~symderive.engine.symmetry.constant_loss` holds, from the loss's name."""
    if network.loss.name == "softmax_ce" and network.layers[-1] == 1:
        return "softmax cross-entropy over one output is 0 for every prediction"
    return "its derivative with respect to every output pre-activation is 0"


def _constant_loss_proof(model: LocalModel, k: int) -> Proof:
    """A constant loss: every gradient is 0, so every parameter keeps its value."""
    return Proof((para("The loss does not depend on the network's output (",
                       constant_why(model.network), "), so every gradient of the loss is "
                       "identically 0 and one step of gradient descent gives ",
                       Math(sp.Eq(Step(1), Step(0), evaluate=False)), ". By induction no "
                       f"parameter ever moves, so what hypothesis H{k} makes equal at the "
                       "start stays equal at every step, with any optimizer whose update is 0 "
                       "for a zero gradient (momentum and Adam: their state stays 0)."),))


def _preserved_proof(model: LocalModel, k: int, result: HypothesisResult) -> Proof:
    if result.swap_method == CONSTANT_LOSS:
        return _constant_loss_proof(model, k)
    l, (i, j), n = model.layer, model.hypothesis.units, sample(model.network)
    nxt = index_sum(lambda u: weight(l + 1, "m", u) * act(preactivation(l, n, u)), "u",
                    model.network.layers[l])
    if model.network.bias:
        nxt = nxt + bias(l + 1, "m")
    checked = ("on the whole loss" if result.swap_method == "whole loss"
               else "on this local form")
    body: list[Block] = [
        para("Let ", Math(P), f" exchange units {i} and {j}: it swaps rows {i} and {j} of ",
             Math(sp.Symbol(f"W{l}")), *_biases(model), ", and columns "
             f"{i} and {j} of ", Math(sp.Symbol(f"W{l + 1}")), ", and fixes every other "
             "parameter. ", Math(P), " is a permutation and its own inverse."),
        para(Strong("The loss is swap-invariant."), " Units of the next layer see the two "
             "units only through"),
        Equation((sp.Eq(preactivation(l + 1, n, "m"), nxt, evaluate=False),)),
        para("and ", Math(P), " exchanges the terms ", Math(sp.Eq(U, i)), " and ",
             Math(sp.Eq(U, j)), " of this sum (each pre-activation "
             "moves together with its outgoing weights). So every later quantity, and the "
             f"loss, is unchanged (verified symbolically {checked}):"),
        Equation((sp.Eq(LossOf(Swap(THETA)), LossOf(THETA), evaluate=False),)),
        _equivariance(model),
        Equation((sp.Eq(GradOf(Swap(THETA)), Swap(GradOf(THETA)), evaluate=False),)),
        para(Strong("Induction over the steps."), f" Hypothesis H{k} {_says(result)} ",
             Math(sp.Eq(Swap(Step(0)), Step(0), evaluate=False)), " for ", Math(sp.Eq(T, 0)),
             ": tied groups are equal and zeroed groups are both zero. If it holds for ",
             Math(T), ", then ",
             Math(sp.Eq(GradOf(Step(0)), Swap(GradOf(Step(0))), evaluate=False)),
             " by equivariance, and one step of gradient descent gives"),
        Aligned(_induction_rows()),
        para("So the two units are identical at every step; in particular every gradient "
             "difference computed above vanishes, as it must. The same argument covers any "
             "optimizer whose update commutes with ", Math(P), ", such as momentum and Adam "
             "(their state starts at zero, which ", Math(P), " fixes)."),
    ]
    return Proof(tuple(body))


def _says(result: HypothesisResult) -> str:
    """A hypothesis that only ties says exactly that P fixes θ₀; one that zeroes groups
    says more (both zero, not merely equal), so it only implies it."""
    return "implies" if result.hypothesis.zero else "says exactly that"


def _equivariance(model: LocalModel) -> Paragraph:
    """Why ∇L(Pθ) = P∇L(θ).  With a smooth activation, by the chain rule on the
    invariance.  With kinks the loss need not be differentiable (units pinned at a
    ReLU's z = 0), so the argument rests on what training computes: the
    backpropagation rule with H(0) = 0, which is itself swap-symmetric."""
    if not model.network.activation.kinks:
        return para(Strong("The gradient is swap-equivariant."), " Differentiating this "
                    "identity by the chain rule, and using that ", Math(P), " is its own "
                    "inverse and transpose, gives")
    return para(Strong("The gradient is swap-equivariant."), " The activation has kinks, "
                "where the loss need not be differentiable, so take the gradient to be what "
                "training computes: the backpropagation rule, with the derivative of the "
                "activation at a kink set to a fixed value (H(0) = 0 for the ReLU). That "
                "rule applies the same operations to every unit of a layer, and the value "
                "at a kink is the same for both units, so exchanging units "
                f"{model.hypothesis.units[0]} and {model.hypothesis.units[1]} before "
                "backpropagating exchanges "
                "their rows and columns of the result; where the loss is differentiable "
                "this is its gradient. Hence")


def _biases(model: LocalModel) -> list:
    return [", their biases"] if model.network.bias else []


U, T = sp.Symbol("u"), sp.Symbol("t")


def _induction_rows() -> tuple[Row, ...]:
    now, nxt = Step(0), Step(1)
    step = now - ETA * GradOf(now)
    return (Row(Swap(nxt), Swap(step)),
            Row(None, Swap(now) - ETA * Swap(GradOf(now))),
            Row(None, step),
            Row(None, nxt))


# ------------------------------------------------------------------ broken


def _separating(model: LocalModel, result: HypothesisResult):
    """The assumed groups whose difference was shown to be non-zero."""
    assumed = set(result.hypothesis.tie) | set(result.hypothesis.zero)
    return [g for g in result.groups if g.group in assumed and g.status == DIFFERENT]


def _broken_theorem(model: LocalModel, k: int, result: HypothesisResult) -> Theorem:
    groups = _separating(model, result)
    names = joined(GROUP_NAMES[g.group] for g in groups)
    first = groups[0]
    body: list[Block] = [
        para(f"Under hypothesis H{k}, {_units(model)} separate after one step of gradient "
             "descent with learning rate ", Math(sp.StrictGreaterThan(ETA, 0, evaluate=False)),
             f"{_for_some(model)}: their {names} no longer agree. Indeed"),
        Aligned((Row(difference(model, first.group), settled(first)),)),
        para(*_unless(settled(first))),
    ]
    return Theorem(tuple(body), name=_name(result), label=f"thm:h{k}")


def _for_some(model: LocalModel) -> str:
    """The condition of a broken theorem in generic mode: an undefined σ or ℓ makes the
    difference non-zero for *some* choice (the witnesses' instantiation), not for every
    one (with σ affine, σ' is constant and differences of σ' vanish)."""
    used = instantiation(model.network)
    if not used:
        return ""
    chosen = joined(f"{'σ' if k == 'activation' else 'ℓ'} = {v}" for k, v in used.items())
    return (f", for some choices of the undefined functions (for instance {chosen}, as at "
            "the witness), though not necessarily for every one (an affine σ has a "
            "constant σ')")


def _unless(residual: sp.Expr) -> list:
    """'…which is not identically zero; the step separates them unless F₁ = 0 or …'."""
    parts: list = ["which is not identically zero; the units separate unless it vanishes at "
                   "the current parameters and data"]
    factors = display_order(f for f in sp.Mul.make_args(residual) if not f.is_Number)
    if len(factors) < 2:
        return parts + ["."]
    parts.append(", that is, unless ")
    for n, f in enumerate(factors):
        if n:
            parts.append(", or " if n == len(factors) - 1 else ", ")
        parts.append(Math(_vanishes(f)))
    return parts + ["."]


def _vanishes(factor: sp.Expr) -> sp.Expr:
    """The condition 'factor = 0', written a = b for a difference a − b."""
    if factor.is_Add and len(factor.args) == 2:
        neg = [t for t in factor.args if t.could_extract_minus_sign()]
        if len(neg) == 1:
            pos = [t for t in factor.args if t is not neg[0]][0]
            return sp.Eq(pos, -neg[0], evaluate=False)
    return sp.Eq(factor, 0, evaluate=False)


def _broken_proof(model: LocalModel, k: int, result: HypothesisResult) -> Proof:
    group = _separating(model, result)[0].group
    a, b = parameter(model, group, 0), parameter(model, group, 1)
    da, db = partial(LOSS, a), partial(LOSS, b)
    before = "both zero" if group in result.hypothesis.zero else "equal"
    after = minus(a - ETA * da, b - ETA * db)
    body: list[Block] = [
        para("The derivation in ", Ref(f"sec:h{k}-{group}", f"the {GROUP_NAMES[group]} "
             f"subsection of H{k}"), " gives the difference. At the witness given there, "
             f"which satisfies H{k}, its value is non-zero; so it is not identically zero. "
             "One step of gradient descent moves every parameter by ", Math(-ETA),
             f" times its partial derivative, so the two parameters, {before} before the step, "
             "become"),
        Equation((sp.Eq(after, -ETA * minus(da, db), evaluate=False),)),
        para("apart, which is non-zero wherever the difference is, for instance at the "
             "witness."),
    ]
    return Proof(tuple(body))


# ------------------------------------------------------------------ undecided


def _undecided(model: LocalModel, result: HypothesisResult) -> Paragraph:
    assumed = set(result.hypothesis.tie) | set(result.hypothesis.zero)
    reasons = []
    open_groups = [g.group for g in result.groups if g.group in assumed and g.status == UNDECIDED]
    if open_groups:
        reasons.append("the difference of the " + joined(GROUP_NAMES[g] for g in open_groups)
                       + " could not be settled")
    free = [g for g in model.network.groups() if g not in assumed]
    if free:
        reasons.append("the hypothesis leaves the " + joined(GROUP_NAMES[g] for g in free)
                       + " of the two units free, so the swap of the units is not a symmetry "
                       "of the starting point and no tied group was shown to separate")
    if not result.swap_invariant:
        reasons.append("the swap of the two units was not verified to leave the loss unchanged")
    return para(Strong("No theorem."), " Neither conclusion is proved: " + "; ".join(reasons)
                + ".")


__all__ = ["theorem_blocks", "joined", "THETA", "ETA"]
