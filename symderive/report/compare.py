"""Comparing activations: ``activation = ["relu", "tanh", "sigmoid"]``.

"Does it depend on the activation?"  The spec is derived once per activation
(:attr:`symderive.api.Derivation.variants`); the report opens with one sentence
that groups the activations by what was found ("stuck for relu and tanh, where
σ(0) = 0; the hidden units stay tied for sigmoid, where σ(0) ≠ 0"), a table of
the verdicts per activation, then each activation's own answer.  σ(0) is
mentioned only when it is what separates the groups.
"""
from __future__ import annotations

import dataclasses

import sympy as sp

from .init import brief_start_blocks
from .model import Block, Paragraph, Section, Strong, Table, inline, para
from .proofs import joined
from .start_answer import answer_parts, capital

#: What a starting point's verdict says, in the comparison sentence.
START_WORDS = {"stuck": "stuck", "symmetric": "the hidden units stay tied",
               "broken": "the symmetry breaks", "undecided": "not settled"}


def activation_name(f) -> str:
    """A named activation's name, or its formula as written."""
    return f.name if f.latex_source is None else f"σ(z) = {f.latex_source}"


def sigma_at_zero(f) -> sp.Expr | None:
    """σ(0), exactly (None for an undefined activation)."""
    if f.name == "any":
        return None
    value = sp.simplify(f(sp.S.Zero))
    return value if value.is_number else None


def outcome(d) -> str:
    """What one activation's derivation found, in words (the key of the grouping)."""
    parts = []
    if d.start is not None:
        words = START_WORDS[d.start.verdict]
        if d.start.verdict == "symmetric" and d.start.check is not None \
                and d.start.check.hidden_moved > 1e-9:
            words = ("not stuck (the simulation moved the hidden layer), but the hidden units "
                     "stay tied")
        parts.append(words)
    parts += [f"H{k} {r.verdict}" for k, r in enumerate(d.results, start=1)]
    parts += [f"F{k} {f.verdict}" for k, f in enumerate(d.facts, start=1)]
    return ", ".join(parts)


def comparison_sentence(derivation) -> str:
    """'Stuck for relu and tanh, where σ(0) = 0; … for sigmoid, where σ(0) ≠ 0.'"""
    groups: dict[str, list] = {}
    for v in derivation.variants:
        groups.setdefault(outcome(v), []).append(v.spec.network.activation)
    zero = {k: {_is_zero(sigma_at_zero(f)) for f in fs} for k, fs in groups.items()}
    split = len(groups) > 1 and all(len(z) == 1 and None not in z for z in zero.values())
    parts = []
    for key, fs in groups.items():
        where = ""
        if split:
            where = ", where σ(0) = 0" if zero[key] == {True} else ", where σ(0) ≠ 0"
        parts.append(f"{key} for {joined(activation_name(f) for f in fs)}{where}")
    if len(groups) == 1:
        return capital(f"the same for every activation compared: {parts[0]}") + "."
    return capital("; ".join(parts)) + "."


def _is_zero(v) -> bool | None:
    return None if v is None else bool(v == 0)


def _sigma_text(f) -> str:
    v = sigma_at_zero(f)
    return "unknown" if v is None else str(v)


def verdict_table(derivation) -> Table:
    """One row per activation: σ(0), what was found, the frozen tensors of a start."""
    from ..spec.init import tensor_names

    rows = []
    for v in derivation.variants:
        f = v.spec.network.activation
        frozen = "-"
        if v.start is not None:
            names = [n for n in tensor_names(v.spec.network)
                     if v.start.frozen.summary(n) == "all"]
            frozen = ", ".join(names) or "none"
        rows.append((inline(activation_name(f)), inline(_sigma_text(f)), inline(outcome(v)),
                     inline(frozen)))
    return Table(("activation", "σ(0)", "verdict", "frozen tensors"), tuple(rows),
                 inline("What each activation gives, from the same spec."),
                 label="tab:activations")


def comparison_blocks(derivation) -> list[Block]:
    """The comparison sentence, the table, and each activation's own answer."""
    out: list[Block] = [para(Strong("It depends on the activation." if len(
        {outcome(v) for v in derivation.variants}) > 1 else "It does not depend on the "
        "activation."), " " + comparison_sentence(derivation)), verdict_table(derivation)]
    for v in derivation.variants:
        name = activation_name(v.spec.network.activation)
        if v.start is not None:
            out.append(Paragraph(inline(Strong(f"With {name}:"), " ") + answer_parts(v)))
        else:
            out.append(para(Strong(f"With {name}:"), " " + outcome(v) + "."))
    return out


def comparison_document(derivation, question: list[Block]) -> list[Block]:
    """The body of a comparison report: question, answer, each activation's evidence (the
    starting point's tables, without their proofs) and where the rest is."""
    answer = Section("Answer", tuple(comparison_blocks(derivation)), label="sec:answer")
    why: list[Block] = []
    for v in derivation.variants:
        evidence = [dataclasses.replace(b, label=None) if hasattr(b, "label") else b
                    for b in brief_start_blocks(v)]
        if evidence:
            name = activation_name(v.spec.network.activation)
            why.append(Section(f"With {name}", tuple(evidence)))
    why.append(para("Each activation's full derivation is in the JSON report (--format json), "
                    "under variants; or write one activation in the spec and derive it alone."))
    return question + [answer, Section("Why", tuple(why), label="sec:why")]


__all__ = ["comparison_sentence", "comparison_blocks", "comparison_document", "outcome",
           "verdict_table", "activation_name", "sigma_at_zero"]
