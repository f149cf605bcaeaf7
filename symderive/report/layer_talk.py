"""The talk of a ``[[layer]]`` network: question and answer, the stack drawn, one frame
per case, the numeric check.

What a lecturer would show, built from the results as the reports are: the
judgement (:mod:`.layer_answer`) with one line per case; the stack as boxes
(kind, activation, output shape; the two units each hypothesis compares
coloured, in every layer of their residual stream; skip arrows); per broken
case the largest gradient difference at its witness, written as a formula, and
the kind's local formula; per preserved case a theorem with the swap argument
as its proof; the numeric check from the kinds' NumPy passes.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from ..engine.layers import layer_kind
from ..engine.layers.units import Units
from ..engine.symmetry import BROKEN, PRESERVED, HypothesisResult
from ..notation import GradOf, LossOf, Step, Swap, number, partial
from ..spec import NetworkSpec
from .answer import entries, verdict_lead
from .brief import fact_blocks, few_labels
from .builder import build_report, full_command
from .formulas import LOSS
from .layers import numeric_section
from .layer_start_answer import stack_start_opening
from .layer_answer import (assumption, bases, described, free_but_equal, group_words,
                           judgement, kind_sentences, stream_words, unit_word, witness_value)
from .model import (Block, Code, Diagram, Document, Equation, Items, Math, Proof, Section,
                    Strong, Theorem, inline, para)
from .proofs import ETA, THETA, joined

#: Cases that get a frame of their own (the rest are counted on the last one).
STACK_CASES = 8


@dataclass(frozen=True)
class StackDiagram(Diagram):
    """A stack as boxes: ``boxes[k]`` the lines of box k (box 0 the input); ``sizes`` and
    ``classes`` as for a :class:`Diagram` (units per box, their colour classes);
    ``skips`` the residual connections as (from box, to box)."""

    boxes: tuple[tuple[str, ...], ...] = ()
    skips: tuple[tuple[int, int], ...] = ()


def stack_talk(derivation) -> Document:
    """The talk's document (see the module docstring)."""
    spec = derivation.spec
    network = spec.network
    body: list[Block] = []
    if spec.question:
        body.append(Section("Question", (para(spec.question),), label="sec:question"))
    body.append(Section("Answer", tuple(_answer(derivation)), label="sec:answer"))
    body.append(Section("The network", (stack_diagram(derivation),)))
    cases = _cases(network, list(derivation.results))
    for k, f in enumerate(getattr(derivation, "facts", ()), start=1):
        blocks = fact_blocks(f"F{k}", f)
        if blocks:
            cases.append(Section(f"F{k}: {f.verdict}", tuple(blocks)))
    if cases:
        body.append(Section("Why", tuple(cases)))
    body.append(Section("Numeric cross-check", tuple(_closing(derivation))))
    return replace(build_report(derivation, "brief"), body=tuple(body))


def _answer(derivation) -> list[Block]:
    """The answer as the report opens it (:func:`.layers.opening`): the starting point's,
    with ``[init]``, then the judgement, then one short line per case."""
    claimed = [e for e in entries(derivation) if e.claim is not None]
    head = judgement(derivation, verdict_lead(claimed))
    lines = tuple(inline(Strong(f"H{k}"), f" ({r.hypothesis.name}): {r.verdict}.")
                  for k, r in enumerate(derivation.results, start=1))
    lines += tuple(inline(Strong(f"F{k}"), f" ({f.fact.name}): {f.verdict}.")
                   for k, f in enumerate(getattr(derivation, "facts", ()), start=1))
    return (stack_start_opening(derivation) + ([head] if head is not None else [])
            + ([Items(lines)] if lines else []))


# ------------------------------------------------------------------ the cases


def _cases(network: NetworkSpec, results: list[HypothesisResult]) -> list[Section]:
    """A section per broken or undecided case (at most :data:`STACK_CASES`, the rest
    counted), then one for the preserved cases: a theorem, the swap its proof."""
    labelled = [(f"H{k}", r) for k, r in enumerate(results, start=1)]
    others = [(l, r) for l, r in labelled if r.verdict != PRESERVED]
    said: dict[str, str] = {}
    out = [_case(network, l, r, said) for l, r in others[:STACK_CASES]]
    if len(others) > STACK_CASES:
        more = joined(l for l, _ in others[STACK_CASES:])
        out[-1] = Section(out[-1].title, out[-1].body + (para(
            f"{more}: each has its witness in the full report."),))
    kept = [(l, r) for l, r in labelled if r.verdict == PRESERVED]
    if kept:
        out.append(Section(f"{few_labels([l for l, _ in kept])}: preserved",
                           tuple(_preserved(network, kept))))
    return out


def _case(network: NetworkSpec, label: str, r: HypothesisResult,
          said: dict[str, str]) -> Section:
    units, word, who = described(network, r)
    if r.verdict == BROKEN:
        return Section(f"{label}: broken", tuple(_broken(network, label, r, units, who, said)))
    open_ = [g.group for g in r.groups if g.status != "equal"]
    why = (f"the difference of {joined(open_)} of {who} was neither proved zero nor shown "
           "non-zero; the full report says what is missing" if open_ else
           free_but_equal(r, units, word))
    return Section(f"{label}: {r.verdict}", (para(
        Strong(f"{label}: {r.verdict}."), f" With {assumption(r, units, word)}, {why}."),))


def _broken(network: NetworkSpec, label: str, r: HypothesisResult, units: Units,
            who: str, said: dict[str, str]) -> list[Block]:
    """The case's largest witness difference as a formula, and the kind's local formula
    (``said``: each formula given so far, and the case that gave it; a later case cites it)."""
    word = unit_word(network, r)
    g = next(g for g in r.groups if g.witness is not None and units.assumed(g.group))
    d = g.witness.difference
    n = largest(d)
    lhs = paired_difference(network, units, g.group, n)
    gap = _free_gap(r, units, g.witness)
    where = f", where their {gap[0]} differ by up to {gap[1]:.4g}" if gap else ""
    out: list[Block] = [
        para(Strong(f"{label}: broken."), f" With {assumption(r, units, word)}, one step of "
             f"gradient descent separates {who}. At the witness{where} (every value in the "
             "JSON report, --format json), " + (f"the largest of the {len(d)} paired "
             "differences" if len(d) > 1 else "the difference") + " of the gradients of "
             f"their {group_words([units.base(g.group)], word)} is"),
        _equation(lhs, d[n]),
    ]
    formula = " ".join(kind_sentences(network, r, short=True))
    if formula and formula in said:
        out.append(para(Strong("The local formula"), f" is that of {said[formula]}."))
    elif formula:
        said[formula] = label
        out.append(para(Strong("The local formula: "), formula))
    return out


def _free_gap(r: HypothesisResult, units: Units, witness) -> tuple[str, float] | None:
    """The free groups in words and the largest difference of the two units' entries of
    them at the witness (None when nothing is free or the witness does not list them)."""
    word = unit_word(units.spec, r)
    free = [n for n in units.groups if not units.assumed(n)]
    gaps = []
    for name in free:
        for (a, ia), (b, ib) in zip(*units.groups[name]):
            try:
                gaps.append(abs(witness_value(witness.parameters[a], ia)
                                - witness_value(witness.parameters[b], ib)))
            except (KeyError, IndexError, TypeError):
                return None
    if not gaps:
        return None
    return group_words(bases(units, free), word), max(gaps)


def _equation(lhs: sp.Expr, value: float) -> Block:
    return Equation((sp.Eq(lhs, number(value), evaluate=False),))


def largest(d) -> int:
    """The index of a witness's largest paired difference (the first of equals)."""
    return max(range(len(d)), key=lambda m: (abs(d[m]), -m))


def paired_difference(network: NetworkSpec, units: Units, group: str, n: int) -> sp.Expr:
    """∂L/∂θ_i − ∂L/∂θ_j of the ``n``-th pair of entries of ``group``, in the kind's symbols."""
    (ta, ia), (tb, ib) = units.groups[group][0][n], units.groups[group][1][n]
    return partial(LOSS, entry_symbol(network, ta, ia)) - \
        partial(LOSS, entry_symbol(network, tb, ib))


def entry_symbol(network: NetworkSpec, tensor: str, index: tuple[int, ...]) -> sp.Symbol:
    """One parameter entry as reports write it: the kind's symbol of its tensor with the
    1-based index (``K^{(1)}_{1,1,2}``)."""
    digits = len(tensor) - len(tensor.rstrip("0123456789"))
    layer = network.stack[int(tensor[-digits:]) - 1]
    sub = ",".join(str(i + 1) for i in index)
    symbol = layer_kind(layer.kind).symbol(layer, tensor)
    return sp.Symbol(f"{{{symbol}}}_{{{sub}}}" if "_" in symbol else f"{symbol}_{{{sub}}}")


def _preserved(network: NetworkSpec, kept: list[tuple[str, HypothesisResult]]) -> list[Block]:
    """The preserved cases as one theorem, the swap argument its proof."""
    said, methods, streams = [], [], []
    for label, r in kept:
        units = Units(network, r.hypothesis)
        word = unit_word(network, r)
        i, j = r.hypothesis.units
        said.append(f"under {label} ({assumption(r, units, word, free=False)}), {word}s {i} "
                    f"and {j} of layer {r.hypothesis.layer}")
        how = {"whole loss": "the whole loss differentiated"}.get(r.swap_method,
                                                                   r.swap_method)
        methods += [how] if how not in methods else []
        streams += [stream_words(units)] if stream_words(units) not in streams else []
    statement = para("; ".join(said)[:1].upper() + "; ".join(said)[1:]
                     + " stay identical at every step of gradient descent.")
    where = streams[0] if len(streams) == 1 else ""
    proof = Items((
        inline(Strong("swap invariance:"), " P exchanges the two units' entries in every "
               f"group{where}; the layers after them carry the exchange and the layer that "
               "reads them gives the same output, so ",
               Math(sp.Eq(LossOf(Swap(THETA)), LossOf(THETA), evaluate=False)),
               f" (checked: {joined(methods)});"),
        inline(Strong("equivariance:"), " by the chain rule, ",
               Math(sp.Eq(GradOf(Swap(THETA)), Swap(GradOf(THETA)), evaluate=False)), ";"),
        inline(Strong("induction:"), " the hypothesis makes ",
               Math(sp.Eq(Swap(Step(0)), Step(0), evaluate=False)), ", so ",
               Math(sp.Eq(Swap(Step(1)), Swap(Step(0)) - ETA * Swap(GradOf(Step(0))),
                          evaluate=False)), " equals ", Math(Step(1)), "."),
    ))
    return [Theorem((statement,), name=few_labels([l for l, _ in kept])), Proof((proof,))]


# ------------------------------------------------------------------ the closing


def _closing(derivation) -> list[Block]:
    """The numeric check's table (the full report's), each fact's numeric lines, and the
    command for the full derivation."""
    out: list[Block] = []
    if derivation.numeric:
        out += list(numeric_section(derivation).body)
    for f in getattr(derivation, "facts", ()):
        if f.numeric is not None:
            out.append(para(Strong(f"{f.fact.name}:"), " " + "; ".join(f.numeric.lines) + "."))
    out.append(para("The full derivation, with every step: ",
                    Code(full_command(derivation.spec)), "."))
    return out


# ------------------------------------------------------------------ the picture


def stack_diagram(derivation) -> StackDiagram:
    """The stack as boxes, the units each hypothesis compares coloured (one colour per pair,
    in every layer of its residual stream)."""
    network = derivation.spec.network
    stack = network.stack
    classes = [[None] * s.units for s in stack]
    pairs: list[tuple[tuple[int, ...], tuple[int, int]]] = []
    for r in derivation.results:
        units = Units(network, r.hypothesis)
        key = (units.stream, tuple(sorted(r.hypothesis.units)))
        if key not in pairs:
            pairs.append(key)
        c = pairs.index(key)
        for layer in units.stream:
            for u in r.hypothesis.units:
                if classes[layer - 1][u - 1] is None:
                    classes[layer - 1][u - 1] = c
    boxes = (("input", _shape(network.input)),) + tuple(_box(s) for s in stack)
    skips = tuple((s.skip, s.index) for s in stack if s.skip is not None)
    return StackDiagram(sizes=(0,) + tuple(s.units for s in stack),
                        classes=((),) + tuple(tuple(c) for c in classes), dashed=(),
                        caption=inline(_caption(derivation, pairs)), boxes=boxes, skips=skips)


def _box(s) -> tuple[str, ...]:
    kind = layer_kind(s.kind)
    title = f"{s.index}: {s.kind}" + (f", {s.activation.name}" if s.activation is not None
                                      and s.activation.name != "identity" else "")
    count = f"{s.units} {kind.unit_word(s)}{'s' if s.units > 1 else ''}" if s.units else ""
    return tuple(x for x in (title, count, "out " + _shape(s.out_shape)) if x)


def _unit_words(derivation) -> str:
    """'channels', 'heads', or 'units' when the hypotheses compare several kinds of unit."""
    words = {unit_word(derivation.spec.network, r) for r in derivation.results}
    return f"{words.pop()}s" if len(words) == 1 else "units"


def _shape(shape) -> str:
    return "[" + ", ".join(str(n) for n in shape) + "]"


def _caption(derivation, pairs) -> str:
    network = derivation.spec.network
    words = ("One box per layer: its number, kind and activation, its units and one sample's "
             "output shape; arrows between boxes carry each layer's output to the next.")
    if any(s.skip is not None for s in network.stack):
        words += " An arrow above the boxes is a skip: that layer's output is added to the " \
                 "later one's."
    if pairs:
        words += (f" Coloured squares: the two {_unit_words(derivation)} a hypothesis compares" +
                  (", one colour per pair" if len(pairs) > 1 else "") +
                  (", in every layer of their residual stream" if any(len(s) > 1 for s, _ in
                                                                       pairs) else "") + ".")
    return words


__all__ = ["stack_talk", "stack_diagram", "StackDiagram", "entry_symbol", "STACK_CASES"]
