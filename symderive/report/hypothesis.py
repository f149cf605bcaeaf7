"""One section per hypothesis: the assumption, each group's derivation, theorem and proof."""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine.local import LocalModel
from ..engine.symmetry import DIFFERENT, EQUAL, GroupResult, HypothesisResult
from ..engine.witness import Witness
from ..notation import IndexRange, matrix, number, vector
from ..spec import NetworkSpec
from .model import Block, Equation, Math, Section, Strong, para
from .proofs import theorem_blocks
from .steps import GROUP_NAMES, assumption_exprs, component, consequence, group_blocks

#: Witnesses with more values than this are summarised, not printed in full.
WITNESS_LIMIT = 40
_EQUAL_WHY = {
    "local, any activation": " for every activation function: only the hypothesis was used, "
                             "and the rest of the network enters through arbitrary values "
                             "of the other symbols.",
    "local, this activation": " for this network's activation function.",
    "whole loss": ": differentiating the whole loss and simplifying gives 0.",
    "constant loss": ": the loss of a sample does not depend on the output layer's values "
                     "(as for softmax cross-entropy with one output unit: the softmax of a "
                     "single value is 1, and -y ln 1 = 0), so every gradient of the loss is identically 0.",
}


def hypothesis_section(network: NetworkSpec, k: int, result: HypothesisResult) -> Section:
    """Section H{k}: assumption, one subsection per group, then the conclusion."""
    model = LocalModel(network, result.hypothesis)
    body: list[Block] = list(_assumption(model, k))
    body += [_group_section(model, k, g) for g in result.groups]
    body += theorem_blocks(model, k, result)
    return Section(f"Hypothesis H{k}: {result.hypothesis.name}", tuple(body), label=f"sec:h{k}")


def _assumption(model: LocalModel, k: int) -> list[Block]:
    hyp, i, j = model.hypothesis, *model.hypothesis.units
    out: list[Block] = []
    exprs = assumption_exprs(model)
    if exprs:
        out.append(para(f"Hypothesis H{k} concerns units {i} and {j} of hidden layer "
                        f"{hyp.layer}. It assumes, for every component,"))
        out.append(Equation(exprs))
    else:
        out.append(para(f"Hypothesis H{k} concerns units {i} and {j} of hidden layer "
                        f"{hyp.layer} and assumes nothing about their parameters."))
    same = consequence(model)
    if same:
        out.append(para("Then the two units have the same pre-activation for every input:"))
        out.append(Equation(same))
    return out


def _group_section(model: LocalModel, k: int, result: GroupResult) -> Section:
    name = GROUP_NAMES[result.group]
    body: list[Block] = [para(*_intro(model, result.group)),
                         *group_blocks(model, result, label=f"eq:h{k}-{result.group}")]
    body += _verdict(model, result)
    return Section(name.capitalize(), tuple(body), label=f"sec:h{k}-{result.group}")


def _intro(model: LocalModel, group: str) -> list:
    c = component(model, group)
    width = model.fan_in if group == "incoming" else model.fan_out
    parts = [f"The gradients of the two units' {GROUP_NAMES[group]}"]
    if isinstance(c, str):
        parts += [" (component ", Math(IndexRange(sp.Symbol(c), width)), ")"]
    return parts + [" differ by:"]


def _verdict(model: LocalModel, result: GroupResult) -> list[Block]:
    return status_blocks(model.network, result, _EQUAL_WHY)


def status_blocks(network: NetworkSpec, result: GroupResult,
                  reasons: dict[str, str]) -> list[Block]:
    """A group's status in words, with its witness when different; ``reasons`` says,
    per proof method, why an equal difference vanishes."""
    if result.status == EQUAL:
        return [para(Strong("Equal."), " The difference vanishes identically"
                     + reasons.get(result.method, "."))]
    if result.status == DIFFERENT:
        return [para(Strong("Different."), " The difference is not identically zero. A witness: "
                     "at the values below, which satisfy the hypothesis, it is non-zero "
                     "(computed independently, by a NumPy forward and backward pass)."),
                *witness_blocks(network, result.witness)]
    skipped = f" {result.note}" if result.note else ""
    return [para(Strong("Undecided."), " symderive could neither prove that this difference "
                 "vanishes nor find values where it does not." + skipped)]


def witness_blocks(network: NetworkSpec, witness: Witness) -> list[Block]:
    """The witness's parameters and data (when small), then the difference there."""
    if witness.generator is not None:
        out = [para("The network is large: the JSON report (--format json) gives the two "
                    "units' parameter groups, the inputs and targets, and a seed that "
                    "regenerates every other parameter.")]
    else:
        out = _witness_values(network, witness)
    out.append(para("There the difference, component by component, is"))
    out.append(Equation((vector(witness.difference),)))
    return out


def _witness_values(network: NetworkSpec, witness: Witness) -> list[Block]:
    """Every parameter, input and target of a witness, or a pointer to the JSON if many."""
    values = [*witness.parameters.values(), witness.inputs, witness.targets]
    count = sum(int(np.asarray(v).size) for v in values)
    if count > WITNESS_LIMIT:
        return [para(f"The witness has {count} values (all parameters, inputs and "
                     "targets); the JSON report lists them (--format json).")]
    out: list[Block] = []
    for l in range(1, network.depth + 1):
        exprs = [_named(f"W{l}", matrix(witness.parameters[f"W{l}"]))]
        if f"b{l}" in witness.parameters:
            exprs.append(_named(f"b{l}", _column(witness.parameters[f"b{l}"])))
        out.append(Equation(tuple(exprs)))
    out.append(para("with inputs and targets (one row per sample)"))
    out.append(Equation((_named("X", matrix(witness.inputs)),
                         _named("Y", matrix(witness.targets)))))
    return out


def _named(name: str, value: sp.MatrixBase) -> sp.Expr:
    """``name = value`` for a matrix value (W^{(1)} = (...))."""
    if not isinstance(value, (sp.MatrixBase, sp.MatrixExpr)):
        return sp.Eq(sp.Symbol(name), value, evaluate=False)
    value = sp.ImmutableMatrix(value) if isinstance(value, sp.MatrixBase) else value
    return sp.Eq(sp.MatrixSymbol(name, *value.shape), value, evaluate=False)


def _column(values) -> sp.Expr:
    """A vector written as a transposed row, to save vertical space; one value as itself."""
    if len(values) == 1:
        return number(values[0])
    return sp.Transpose(sp.ImmutableMatrix([[number(v) for v in values]]))


__all__ = ["hypothesis_section", "witness_blocks", "WITNESS_LIMIT"]
