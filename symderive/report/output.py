"""One section per output-layer hypothesis: why equal output units get different updates.

The derivation mirrors the hidden units' (:mod:`.hypothesis`): chain rule,
the output delta ∂ℓ/∂z in ŷ and y, the hypothesis, the settled difference.
The conclusion explains the one thing that differs from hidden units: the
tie makes the two units' predictions equal, but each is compared with its own
target, so the difference is (y_j − y_i) times a factor, and the exchange of
the two units is a symmetry of the loss only on data whose targets agree.
"""
from __future__ import annotations

import sympy as sp

from ..engine.output import FROZEN, OutputModel, same_targets
from ..engine.symmetry import BROKEN, DIFFERENT, EQUAL, PRESERVED, GroupResult, HypothesisResult
from ..engine.network import delta, output_value, preactivation, softmax_value, target
from ..notation import IndexRange, LossOf, Swap, index_sum, minus
from ..spec import NetworkSpec
from .formulas import sample
from .hypothesis import status_blocks
from .model import (Aligned, Block, Equation, Math, Paragraph, Proof, Ref, Row, Section, Strong,
                    Theorem, para)
from .proofs import THETA, _broken_proof, _unless, joined
from .steps import GROUP_NAMES, _chain, _final, assumption_exprs, component, difference, settled

_EQUAL_WHY = {
    "local, output layer": " for every network before the output layer: only the hypothesis "
                           "and the output delta were used, the layers before enter through "
                           "arbitrary values of their activations.",
    "whole loss": ": differentiating the whole loss and simplifying gives 0.",
}


def output_section(network: NetworkSpec, k: int, result: HypothesisResult,
                   targets=None) -> Section:
    """Section H{k} for two units of the output layer."""
    model = OutputModel(network, result.hypothesis, same_targets(targets, result.hypothesis.units))
    body: list[Block] = list(_assumption(model, k))
    body += [_group_section(model, k, g) for g in result.groups]
    body += _conclusion(model, k, result)
    return Section(f"Hypothesis H{k}: {result.hypothesis.name}", tuple(body), label=f"sec:h{k}")


def _where(model: OutputModel) -> str:
    i, j = model.hypothesis.units
    return f"units {i} and {j} of the output layer (layer {model.layer})"


def _assumption(model: OutputModel, k: int) -> list[Block]:
    out: list[Block] = []
    exprs = assumption_exprs(model)
    if exprs:
        out += [para(f"Hypothesis H{k} concerns {_where(model)}, which have no outgoing "
                     "weights: they feed the loss directly. It assumes, for every component,"),
                Equation(exprs)]
    else:
        out.append(para(f"Hypothesis H{k} concerns {_where(model)} and assumes nothing about "
                        "their parameters."))
    if model.same_z():
        n, (i, j) = sample(model.network), model.hypothesis.units
        same = [sp.Eq(preactivation(model.layer, n, i), preactivation(model.layer, n, j),
                      evaluate=False),
                sp.Eq(output_value(n, i), output_value(n, j), evaluate=False)]
        out += [para("Then the two units make the same prediction for every input:"),
                Equation(tuple(same))]
    return out


def _group_section(model: OutputModel, k: int, result: GroupResult) -> Section:
    c = component(model, result.group)
    intro: list = [f"The gradients of the two units' {GROUP_NAMES[result.group]}"]
    if isinstance(c, str):
        intro += [" (component ", Math(IndexRange(sp.Symbol(c), model.fan_in)), ")"]
    body: list[Block] = [para(*intro, " differ by:"),
                         *group_blocks(model, result, f"eq:h{k}-{result.group}")]
    body += _verdict(model, result)
    return Section(GROUP_NAMES[result.group].capitalize(), tuple(body),
                   label=f"sec:h{k}-{result.group}")


def _cores(model: OutputModel, n) -> list[tuple[sp.Expr, str]]:
    """δ_i − δ_j: by name, as ∂ℓ/∂z in ŷ and y, and with the hypothesis imposed."""
    (i, j), L = model.hypothesis.units, model.layer
    raw = minus(model.raw_delta(n, 0), model.raw_delta(n, 1))
    imposed = model.error_difference(n)
    return [(minus(delta(L, n, i), delta(L, n, j)), "chain rule"),
            (raw, "output delta"),
            (imposed if imposed == 0 else sp.factor_terms(imposed), "hypothesis")]


def group_blocks(model: OutputModel, result: GroupResult, label: str) -> list[Block]:
    """The chain of equalities of one group, per sample first when there are several."""
    group, samples = result.group, model.network.samples
    lhs = difference(model, group)
    factor = model.input(sample(model.network), component(model, group)) \
        if group == "incoming" else sp.S.One
    if samples == 1:
        steps = [(core * factor, note) for core, note in _cores(model, 1)] + [_final(result)]
        return [Aligned(_chain(lhs, steps, samples), label)]
    cores = _cores(model, "n")
    total = index_sum(lambda n: cores[0][0] * factor, "n", samples)
    return [Aligned(_chain(lhs, [(total, "chain rule")], samples)),
            para("where, for every sample ", Math(sp.Symbol("n")), ","),
            Aligned(_chain(cores[0][0], cores[1:], samples)),
            para("so that"),
            Aligned(_chain(lhs, [_final(result)], samples), label)]


def _verdict(model: OutputModel, result: GroupResult) -> list[Block]:
    return status_blocks(model.network, result, _EQUAL_WHY)


# ------------------------------------------------------------------ conclusion


def _conclusion(model: OutputModel, k: int, result: HypothesisResult) -> list[Block]:
    if result.verdict == BROKEN:
        return [_broken_theorem(model, k, result), _broken_proof(model, k, result),
                why_targets(model)]
    if result.verdict == PRESERVED and result.swap_method == FROZEN:
        return [_preserved_theorem(model, k, result), _frozen_proof(model, k)]
    if result.verdict == PRESERVED:
        return [_preserved_theorem(model, k, result), _preserved_proof(model, k)]
    return [_undecided(model, result), why_targets(model)]


def _separating(result: HypothesisResult) -> GroupResult:
    assumed = set(result.hypothesis.tie) | set(result.hypothesis.zero)
    return next(g for g in result.groups if g.group in assumed and g.status == DIFFERENT)


def _broken_theorem(model: OutputModel, k: int, result: HypothesisResult) -> Theorem:
    first = _separating(result)
    body: list[Block] = [
        para(f"Under hypothesis H{k}, {_where(model)} separate after one step of gradient "
             f"descent: their {GROUP_NAMES[first.group]} no longer agree. Indeed"),
        Aligned((Row(difference(model, first.group), settled(first)),)),
        para(*_unless(settled(first)))]
    return Theorem(tuple(body), name=result.hypothesis.name, label=f"thm:h{k}")


def target_gap(model: OutputModel) -> sp.Expr:
    """y_j − y_i of the generic sample: what separates two output units with equal outputs."""
    n, (i, j) = sample(model.network), model.hypothesis.units
    return target(n, j) - target(n, i)


def why_targets(model: OutputModel) -> Paragraph:
    """Why the targets separate two output units, and when they would not."""
    n, (i, j) = sample(model.network), model.hypothesis.units
    parts: list = [Strong("Why the targets separate them."), " "]
    if model.same_z():
        parts += ["The hypothesis makes the two units' predictions equal, ",
                  Math(sp.Eq(output_value(n, i), output_value(n, j), evaluate=False)),
                  *_softmax_too(model, n), ", but backpropagation compares each prediction "
                  "with its own target: the output delta is prediction minus target (times the "
                  "output activation's slope), so the equal predictions cancel and what "
                  "remains is proportional to ", Math(target_gap(model)), ". "]
    parts += ["Hidden units stay identical because exchanging them leaves the loss unchanged; "
              "exchanging two output units also exchanges which target each is compared with, "
              "so the loss is unchanged only if the targets are exchanged too. The units "
              "therefore stay identical forever only on data where ",
              Math(sp.Eq(target(n, i), target(n, j), evaluate=False)),
              " for every sample",
              " (for one-hot targets: neither class ever occurs)"
              if model.network.loss.name == "softmax_ce" else "",
              "; with generic targets they separate at the first step, as the witness shows."]
    return para(*parts)


def _softmax_too(model: OutputModel, n) -> list:
    if model.network.loss.name != "softmax_ce":
        return []
    i, j = model.hypothesis.units
    return [" and so ", Math(sp.Eq(softmax_value(n, i), softmax_value(n, j), evaluate=False))]


def _preserved_theorem(model: OutputModel, k: int, result: HypothesisResult) -> Theorem:
    groups = joined(GROUP_NAMES[g] for g in model.network.unit_groups(model.layer))
    data = (" on the given data, whose targets agree for the two units in every sample"
            if model.tied_targets else
            ", whatever the targets: both stay at 0" if result.swap_method == FROZEN else
            ", because the loss does not depend on the targets")
    return Theorem((para(f"If {_where(model)} satisfy hypothesis H{k} at the start of "
                         f"training, they stay identical at every step of gradient descent{data}: "
                         f"their {groups} stay equal."),), name=result.hypothesis.name,
                   label=f"thm:h{k}")


def _preserved_proof(model: OutputModel, k: int) -> Proof:
    i, j = model.hypothesis.units
    return Proof((
        para("Let ", Math(sp.Symbol("P")), f" exchange rows {i} and {j} of ",
             Math(sp.Symbol(f"W{model.layer}")), " and of the output bias, fixing every other "
             f"parameter. It exchanges the outputs {i} and {j}; since the targets of the two "
             "outputs agree (or do not enter the loss), the loss is unchanged (verified "
             "symbolically):"),
        Equation((sp.Eq(LossOf(Swap(THETA)), LossOf(THETA), evaluate=False),)),
        para("so the gradient is swap-equivariant, and by induction over the steps, as for "
             "hidden units, a starting point that ", Math(sp.Symbol("P")), f" fixes (H{k}) "
             "stays fixed: the two units' parameters get equal updates at every step."),
    ))


def _frozen_proof(model: OutputModel, k: int) -> Proof:
    """Both units pinned at z = 0 where δ = 0: their gradients vanish, so they never move."""
    L, n, (i, j) = model.layer, sample(model.network), model.hypothesis.units
    return Proof((
        para(f"Hypothesis H{k} makes the incoming weights and the bias of both units 0, so ",
             Math(sp.Eq(preactivation(L, n, i), 0, evaluate=False)), " and ",
             Math(sp.Eq(preactivation(L, n, j), 0, evaluate=False)),
             " for every input. There the output delta vanishes for both units (the output "
             "activation's slope at 0 is 0), so every gradient of their parameters is 0, as "
             "derived above for every input and target. A step of gradient descent therefore "
             "leaves them at 0, and by induction they stay 0 at every step (also under "
             "momentum or Adam, whose state starts at 0 and receives only zero gradients). "
             "The exchange of the two units is not needed: their targets may differ."),))


def _undecided(model: OutputModel, result: HypothesisResult) -> Paragraph:
    assumed = set(result.hypothesis.tie) | set(result.hypothesis.zero)
    free = [g for g in model.network.unit_groups(model.layer) if g not in assumed]
    reasons = []
    if free:
        reasons.append("the hypothesis leaves the " + joined(GROUP_NAMES[g] for g in free)
                       + " of the two units free, and no assumed group was shown to separate")
    if any(g.status not in (EQUAL, DIFFERENT) for g in result.groups):
        reasons.append("a difference could not be settled")
    if not result.swap_invariant:
        reasons.append("exchanging the two output units changes the loss (their targets "
                       "differ), so the swap argument does not apply")
    return para(Strong("No theorem."), " Neither conclusion is proved: "
                + "; ".join(reasons or ["the differences were not settled"]) + ".")


def output_answer(network: NetworkSpec, k: int, r: HypothesisResult) -> list[Block]:
    """The answer's paragraph for a broken output-layer hypothesis."""
    model = OutputModel(network, r.hypothesis)
    g = _separating(r)
    i, j = r.hypothesis.units
    return [para(Strong(f"H{k} ({r.hypothesis.name}): {r.verdict}."), " Output units "
                 f"{i} and {j} separate after one step (", Ref(f"thm:h{k}", f"Theorem H{k}"),
                 f"): the gradients of their {GROUP_NAMES[g.group]} differ by"),
            Aligned((Row(difference(model, g.group), settled(g)),)),
            _answer_why(model, k)]


def _answer_why(model: OutputModel, k: int) -> Paragraph:
    if not model.same_z():
        return para("The hypothesis leaves the two units' pre-activations different (it does "
                    "not tie or zero both their incoming weights and their bias), so their "
                    "predictions, and with them their deltas, differ; and even equal "
                    "predictions would be compared with different targets (",
                    Ref(f"sec:h{k}", f"Hypothesis H{k}"), ").")
    each = "each sample's term" if model.network.samples > 1 else "the difference"
    return para("The tie makes their predictions equal, but each is compared with its own "
                f"target, so {each} is proportional to ", Math(target_gap(model)),
                ": the units stay identical only on data whose targets for them agree in "
                "every sample.")


__all__ = ["output_section", "output_answer", "why_targets", "target_gap", "group_blocks"]
