"""The brief answer's "Why" section: just enough of the derivation to be convinced.

Per broken hypothesis the one-line difference and a one-sentence witness; for
the preserved ones one short proof (swap invariance → equivariance →
induction); each fact's main statements; one line of numeric cross-check; and
the command that gives the full derivation.  Sized for a Q&A answer: at most
``limit`` hypotheses get their own lines, the rest are counted.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.local import LocalModel
from ..engine.output import is_output
from ..engine.witness import witness_params
from ..engine.symmetry import BROKEN, CONSTANT_LOSS, PRESERVED
from ..notation import GradOf, LossOf, Step, Swap, number, vector
from .answer import (Entry, assumption_words, constant_why, difference_words, entries, merged,
                     separating)
from .init import brief_start_blocks
from .model import (Aligned, Block, Code, Equation, Items, Math, Proof, Ref, Row, Section, Strong,
                    Text, Theorem, inline, para)
from .numeric import as_json
from .proofs import ETA, THETA, joined
from .steps import GROUP_NAMES, difference, settled

#: At most this many broken hypotheses (after merging) get their formula and witness.
MAX_BROKEN = 6
#: At most this many statements of a fact are shown.
MAX_STATEMENTS = 2


def why_section(derivation, command: str, limit: int = MAX_BROKEN) -> Section:
    """The brief answer's derivation, ending with the command for the full one."""
    body = [b for _, _, blocks in why_parts(derivation, command, limit) for b in blocks]
    return Section("Why", tuple(body), label="sec:why")


def why_parts(derivation, command: str, limit: int = MAX_BROKEN,
              theorems: bool = False) -> list[tuple[str, str, list]]:
    """The pieces of the brief derivation in order, each as (kind, title, blocks): kind
    "broken" (one per merged case, at most ``limit``), "rest" (the broken cases counted),
    "preserved", "frozen", "fact", "numeric" (one line) and "command" (the full one).
    Slides give each piece a frame of its own (:mod:`.talk`); with ``theorems`` the
    preserved cases are a theorem and the swap argument its proof."""
    network = derivation.spec.network
    groups = [g for g in merged(entries(derivation)) if g[0].result is not None]
    parts: list[tuple[str, str, list]] = []
    start = brief_start_blocks(derivation)    # the starting point's tables
    if start:
        parts.append(("start", "The starting point", start))
    broken = [g for g in groups if g[0].verdict == BROKEN]
    for group in broken[:limit]:
        parts.append(("broken", f"{few_labels(e.label for e in group)}: broken",
                      _broken(network, group)))
    if len(broken) > limit:
        others = [e.label for g in broken[limit:] for e in g]
        rest = joined(others)
        parts.append(("rest", f"{few_labels(others)}: broken", [para(
            f"{rest} break in the same way, each with its own formula and witness in the "
            "full report.")]))
    preserved = [e for g in groups if g[0].verdict == PRESERVED for e in g]
    constant = [e for e in preserved if e.result.swap_method == CONSTANT_LOSS]
    if constant:
        names = joined(e.label for e in constant)
        parts.append(("preserved", f"{few_labels(e.label for e in constant)}: preserved", [para(
            Strong(f"{names}: preserved."), " The loss does not depend on the network's output"
            f" ({constant_why(network)}), so every gradient is identically 0 and no parameter "
            "ever moves.")]))
    preserved = [e for e in preserved if e not in constant]
    swapped = [e for e in preserved if e.result is None or e.result.swap_invariant]
    if swapped:
        names = few_labels(e.label for e in swapped)
        blocks = _swap_theorem(swapped) if theorems else _preserved(swapped)
        parts.append(("preserved", f"{names}: preserved", blocks))
    frozen = [e for e in preserved if e not in swapped]
    if frozen:
        names = joined(e.label for e in frozen)
        parts.append(("frozen", f"{few_labels(e.label for e in frozen)}: preserved", [para(
            Strong(f"{names}: preserved."), " The two units never move: at this start every "
            "gradient of their parameters is zero and stays zero (the derivative of the "
            "activation vanishes where they sit), so they stay identical at every step "
            "without any exchange argument.")]))
    for group in merged([e for e in entries(derivation) if e.fact is not None]):
        labels = joined(e.label for e in group)
        blocks = fact_blocks(labels, group[0].fact)
        if blocks:
            parts.append(("fact", f"{few_labels(e.label for e in group)}: {group[0].fact.verdict}",
                          blocks))
    line = numeric_line(derivation)
    if line is not None:
        parts.append(("numeric", "Numeric cross-check", [line]))
    parts.append(("command", "The full derivation",
                  [para("The full derivation, with every step: ", Code(command), ".")]))
    return parts


def few_labels(labels, shown: int = 3) -> str:
    """'H1 and H2', or 'H1, H2, H3 and 31 more' for a title that must stay one line."""
    labels = list(labels)
    if len(labels) <= shown + 1:
        return joined(labels)
    return f"{', '.join(labels[:shown])} and {len(labels) - shown} more"


def _broken(network, group: list[Entry]) -> list[Block]:
    first = group[0]
    r = first.result
    if is_output(network, r.hypothesis):     # output units: their targets separate them
        from .output import output_answer

        blocks = output_answer(network, int(first.label[1:]), r)
        parts = [Text("proved in the full report") if isinstance(p, Ref) else p
                 for p in blocks[0].parts[1:]]    # the brief answer has no theorems to cite
        return [para(Strong(f"{joined(e.label for e in group)}: broken."), *parts)] + \
            list(blocks[1:])
    model = LocalModel(network, r.hypothesis)
    g = separating(r)
    labels = joined(e.label for e in group)
    return [
        para(Strong(f"{labels}: broken."), f" With {assumption_words(network, r.hypothesis)},"
             f" the gradients of the two units' {GROUP_NAMES[g.group]} differ by"),
        Aligned((Row(difference(model, g.group), settled(g)),)),
        para("that is, ", *difference_words(model, settled(g)), ". ",
             *witness_sentence(model, first.label, g)),
    ]


def witness_sentence(model: LocalModel, label: str, g) -> tuple:
    """'For instance, where unit 1's outgoing weights are … and unit 2's …, it is ….'"""
    w = g.witness
    if w is None:
        return ()
    h, (i, j) = model.hypothesis, model.hypothesis.units
    free = [x for x in model.network.groups() if x not in h.tie and x not in h.zero]
    params = witness_params(model.network, w)
    parts: list = [f"For instance, at a point satisfying {label}"]
    for n, group in enumerate(free[:2]):
        a, b = (_values(params, model.layer, u, group) for u in (i, j))
        verb = "is" if group == "bias" else "are"
        parts += [" where" if n == 0 else " and", f" unit {i}'s {GROUP_NAMES[group]} {verb} ",
                  Math(_shown(a)), f" and unit {j}'s {verb} ", Math(_shown(b))]
    parts += [", the difference is ", Math(_shown(w.difference)),
              " (every value of this witness is in the JSON report, --format json)."]
    if dead_at_witness(model, w):
        parts.append(f" There units {i} and {j} are both dead on every sample (σ'(z) = 0), "
                     "so the difference comes from their activations, not from gradients "
                     "passed back through them.")
    return tuple(parts)


def dead_at_witness(model: LocalModel, w) -> bool:
    """Both units with σ'(z) = 0 on every sample of the witness (NumPy forward pass)."""
    from ..engine.generic import instantiated_network

    network = instantiated_network(model.network)
    p = witness_params(network, w)
    return mlp.dead_units(network, p, np.asarray(w.inputs, float), model.layer,
                          model.hypothesis.units)


def _values(p: mlp.Params, layer: int, unit: int, group: str) -> list[float]:
    if group == "incoming":
        return [float(v) for v in p.W[layer - 1][unit - 1]]
    if group == "bias":
        return [float(p.b[layer - 1][unit - 1])]
    return [float(v) for v in p.W[layer][:, unit - 1]]


def _shown(values) -> sp.Basic:
    values = list(np.ravel(values))
    return number(values[0]) if len(values) == 1 else vector(values)


def _preserved(labels: list[Entry], lead: bool = True) -> list[Block]:
    """The swap argument; ``lead`` opens it with the cases' names in bold."""
    names = joined(e.label for e in labels)
    theta = THETA
    head = (Strong(f"{names}: preserved."), " Each") if lead else ("Each",)
    return [
        para(*head, " ties (or zeroes) every parameter group of its two units, so the "
             "exchange P of the two units maps the starting point to itself. Then:"),
        Items((
            inline(Strong("swap invariance:"), " P only reorders the terms of the next "
                   "layer's pre-activations, so ", Math(sp.Eq(LossOf(Swap(theta)),
                                                             LossOf(theta), evaluate=False)),
                   ";"),
            inline(Strong("equivariance:"), " by the chain rule, ",
                   Math(sp.Eq(GradOf(Swap(theta)), Swap(GradOf(theta)), evaluate=False)), ";"),
            inline(Strong("induction:"), " if ", Math(sp.Eq(Swap(Step(0)), Step(0),
                                                            evaluate=False)),
                   " then ", Math(sp.Eq(Swap(Step(1)), Swap(Step(0)) - ETA * Swap(GradOf(
                       Step(0))), evaluate=False)), " equals ", Math(Step(1)),
                   ", so the two units are identical at every step."),
        )),
    ]


def _swap_theorem(labels: list[Entry]) -> list[Block]:
    """The preserved cases as a theorem (unlabelled: the full report has the labelled ones)
    with the swap argument as its proof."""
    names = joined(e.label for e in labels)
    cases = f"each of {names}" if len(labels) > 1 else names
    statement = para(f"Under {cases}, the two units stay identical at every step of gradient "
                     "descent.")
    return [Theorem((statement,), name=few_labels(e.label for e in labels)),
            Proof(tuple(_preserved(labels, lead=False)))]


def fact_blocks(labels: str, f) -> list[Block]:
    """One fact's statements, or several facts' when they are the same table (``labels``)."""
    shown = f.statements[:MAX_STATEMENTS]
    if not shown:
        return _computed(labels, f)
    more = len(f.statements) - len(shown)
    out: list[Block] = [para(Strong(f"{labels}: {f.verdict}."))]
    for s in shown:
        out += [para(_claim_words(s.claim) + ":"), Equation((sp.Eq(s.lhs, s.rhs, evaluate=False),))]
    if more:
        out.append(para(f"and {more} more statement{'s' if more > 1 else ''} in the full "
                        "report."))
    return out


def _computed(labels: str, f) -> list[Block]:
    """A fact whose result is numbers (gap stability's H_A): its last computed values, the
    eigenvalues and factors the verdict is made of."""
    shown = tuple(getattr(f, "computed", ()))[-MAX_STATEMENTS:]
    if not shown:
        return []
    out: list[Block] = [para(Strong(f"{labels}: {f.verdict}."))]
    for words, lhs, rhs in shown:
        out += [para(_claim_words(words) + " (computed numbers, not proved):"),
                Equation((sp.Eq(lhs, rhs, evaluate=False),))]
    return out


def _claim_words(text: str) -> str:
    return text[:1].upper() + text[1:]


def numeric_line(derivation) -> Block | None:
    """One line: did the NumPy checks agree with every verdict?"""
    data = [as_json(n) for n in derivation.numeric or ()]
    facts = [f.numeric for f in getattr(derivation, "facts", ()) if f.numeric is not None]
    if not any(data) and not facts:
        return None
    errors = [d["gradient_check"].get("max_abs_error") for d in data if d]
    errors = [e for e in errors if isinstance(e, (int, float)) and math.isfinite(e)]
    bad = [f"H{k}" for k, d in enumerate(data, start=1) if d and not d.get("agreement")]
    bad += [f"F{k}" for k, f in enumerate(getattr(derivation, "facts", ()), start=1)
            if f.numeric is not None and not f.numeric.agreement]
    parts: list = [Strong("Numeric cross-check:"), " "]
    if bad:
        parts.append(f"the NumPy computations CONTRADICT {joined(bad)}; do not trust those "
                     "verdicts until this is resolved (see the full report).")
        return para(*parts)
    count = len([d for d in data if d])
    checked = [f"{count} hypothes{'is' if count == 1 else 'es'}"] if count else []
    checked += [f"{len(facts)} fact{'s' if len(facts) != 1 else ''}"] if facts else []
    parts.append(f"finite differences, training runs and NumPy checks of {joined(checked)} "
                 "agree with every verdict")
    if errors:
        exponent = math.ceil(math.log10(max(errors))) if max(errors) > 0 else None
        parts += [" (gradient error below ", Math(sp.Pow(10, exponent, evaluate=False)), ")"] \
            if exponent is not None else [" (gradient error 0)"]
    parts.append("; numbers can only contradict a proof, never replace one.")
    dead = [f"H{k}" for k, d in enumerate(data, start=1)
            if d and (d.get("training") or {}).get("dead_at_start")]
    if dead:
        parts.append(f" At the training start of {joined(dead)} both units were dead on the "
                     "samples (σ'(z) = 0 on every sample), so their incoming weights and bias "
                     "got no gradient there.")
    return para(*parts)


__all__ = ["why_section", "why_parts", "numeric_line", "witness_sentence", "fact_blocks",
           "few_labels", "MAX_BROKEN"]
