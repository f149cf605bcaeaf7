"""The answer about a ``[[layer]]`` network's starting point, first: one or two sentences
in the asker's terms ("Stuck. With every tensor at zero: the 3 channels of layer 1 stay
identical for ever (proved); ..."), each part read off
:class:`~symderive.numeric.layer_verdict.StackStartResult`: the verdict, the classes, the
frozen tensors, the dead units, the exchange that keeps a class and the factor that
vanishes.
"""
from __future__ import annotations

from ..engine.layers import layer_kind
from ..engine.layers.units import Units
from ..spec import Hypothesis
from .model import Block, Inline, Paragraph, Strong, inline
from .proofs import joined
from .start_answer import HEADS, capital, claim_judgement

#: Classes written out at most (the JSON report has them all).
SHOWN = 12


def stack_start_opening(derivation) -> list[Block]:
    """The judgement of an ``[init]`` claim (if any), then the answer; [] without [init]."""
    result = getattr(derivation, "start", None)
    if result is None:
        return []
    out: list[Block] = []
    if derivation.spec.init.claim is not None:
        out.append(Paragraph(claim_judgement(derivation, claim_reason)))
    return out + [Paragraph(answer_parts(derivation))]


def claim_reason(derivation, claim: str, holds: bool | None) -> str:
    """Why an ``[init]`` claim holds or fails: the proof, or the witness against it."""
    result = derivation.start
    if holds is None:
        return ("this analysis neither proves it nor found a witness against it (the full "
                "report lists what is proved)")
    if claim == "stuck":
        if holds:
            return "every parameter of the layers before the last is proved frozen"
        moved = [n for n in result.hidden_tensors() if n in result.frozen.moved
                 and result.frozen.moved[n].any()]
        if moved:
            return f"the gradient of {moved[0]} at the start is not 0, so it moves at step 1"
        return (f"a parameter of a layer before the last moved in the simulation (by "
                f"{result.check.hidden_moved:.3g}, relative)")
    big = [(l, c) for l, lc in result.classes.items() for c in lc.classes if len(c) > 1]
    if big:
        l, c = big[0]
        return (f"{unit_word(result, l)}s {joined(map(str, c))} of layer {l} stay identical for "
                "ever (proved)")
    return "every two units were separated by a witness in the simulation"


def answer_parts(derivation) -> tuple[Inline, ...]:
    """'<verdict>. <the start>, <classes>; <frozen>; <dead>. Why: <exchange; factors>.'"""
    result, spec = derivation.start, derivation.spec
    facts = layer_phrases(result) + [frozen_phrase(result)] + dead_phrases(result)
    sentence = capital(start_words(spec) + ": " + "; ".join(p for p in facts if p)) + "."
    if spec.data is not None:
        sentence = sentence[:-1] + " (on the given data)."
    why = why_sentence(result)
    return inline(Strong(HEADS[result.verdict]), " " + sentence + (" " + why if why else ""))


def start_words(spec) -> str:
    """How the start looks, from the [init] table: 'from W1 and b1 at zero, W3 at 1/2, ...'."""
    how: dict[str, list[str]] = {}
    for t in spec.init.tensors:
        if t.is_random:
            word = "random"
        elif t.kind == "zero" or (t.kind == "number" and t.values[0][0] == 0):
            word = "at zero"
        elif t.kind == "number":
            word = f"at {_number(t.values[0][0])} in every entry"
        else:
            word = "as given"
        how.setdefault(word, []).append(t.name)
    if len(how) == 1:
        return f"with every tensor {next(iter(how))}"
    return "from " + ", ".join(f"{joined(names)} {word}" for word, names in how.items())


def _number(v) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


def unit_word(result, l: int) -> str:
    layer = result.layer(l)
    return layer_kind(layer.kind).unit_word(layer)


def layer_phrases(result) -> list[str]:
    """Per layer with classes: how many different units it keeps for ever."""
    out = []
    apart = _apart(result)
    for l, lc in result.classes.items():
        n, c, word = result.layer(l).units, len(lc.classes), unit_word(result, l)
        if n == 1:
            continue
        units = f"the {n} {word}s of layer {l}"
        if c == 1:
            out.append(f"{units} stay identical for ever (proved)")
        elif c < n:
            out.append(f"{units} stay {c} different {word}s for ever at most (proved classes "
                       f"{classes_text(lc.classes)})")
        elif all((l, a, b) in apart for a in range(1, n + 1) for b in range(a + 1, n + 1)):
            out.append(f"every two of {units} come apart (a witness for each pair)")
        elif not lc.proved:
            out.append(f"no class of {units} could be proved ({lc.proof})")
        else:
            out.append(f"no two of {units} are proved to stay identical")
    return out


def classes_text(classes) -> str:
    text = ", ".join("{" + ", ".join(map(str, c)) + "}" for c in classes[:SHOWN])
    return text + (f", ... ({len(classes) - SHOWN} more)" if len(classes) > SHOWN else "")


def _apart(result) -> set:
    return set() if result.check is None else {(w.layer, *w.units)
                                               for w in result.check.witnesses}


def frozen_phrase(result) -> str:
    """Which tensors never move, and which are left to learn (or that it was not done)."""
    f = result.frozen
    if not f.done:
        return f"which parameters stay frozen was not analysed ({f.note})"
    names = list(result.start.tensors)
    summary = {n: f.summary(n) for n in names}
    frozen = [n for n in names if summary[n] == "all"]
    partly = [n for n in names if isinstance(summary[n], list)]
    free = [n for n in names if summary[n] == "none"]
    unsure = f" ({joined(f.unverified)} not verified)" if f.unverified else ""
    if not frozen and not partly:
        return "no parameter is proved frozen" + unsure
    if not free and not partly:
        return "no parameter ever moves"
    parts = [f"{joined(frozen)} never move{'s' if len(frozen) == 1 else ''}"] if frozen else []
    parts += [f"some entries of {joined(partly)} never move"] if partly else []
    learn = ([joined(free)] if free else []) + \
        ([f"the other entries of {joined(partly)}"] if partly else [])
    return ", ".join(parts) + f", and only {' and '.join(learn)} can learn"


def dead_phrases(result) -> list[str]:
    out = []
    for l, units in (result.dead or {}).items():
        if units:
            word = unit_word(result, l)
            out.append(f"{word}{'s' if len(units) > 1 else ''} {joined(map(str, units))} of "
                       f"layer {l} {'are' if len(units) > 1 else 'is'} dead at the start (the "
                       "activation's slope is exactly 0 at every sample and position)")
    return out


def why_sentence(result) -> str:
    """The exchange that keeps the proved classes, and the factor that vanishes for each
    frozen tensor."""
    parts = []
    for l, lc in result.classes.items():
        big = [c for c in lc.classes if len(c) > 1]
        if big:
            a, b = big[0][:2]
            parts.append(f"exchanging {unit_word(result, l)}s {a} and {b} of layer {l} "
                         f"({exchange_words(result, l, a, b)}) maps this start to itself, and "
                         "the loss is unchanged by that exchange at every parameter point")
    by_factor: dict[tuple[str, ...], list[str]] = {}
    for name, factor in result.frozen.factors.items():
        by_factor.setdefault(factor, []).append(name)
    for factor, names in by_factor.items():
        parts.append(f"the gradient of {joined(names)} is identically 0 while "
                     f"{joined(factor)} {'keeps its' if len(factor) == 1 else 'keep their'} "
                     f"starting value{'' if len(factor) == 1 else 's'} (moving "
                     f"{'it' if len(factor) == 1 else 'any one of them'} alone gives "
                     f"{'it' if len(names) == 1 else 'them'} a non-zero gradient)")
    return ("Why: " + "; ".join(parts) + ".") if parts else ""


def exchange_words(result, l: int, a: int, b: int) -> str:
    """The groups the exchange moves: 'incoming, bias, outgoing, gain@2'."""
    units = Units(result.start.network, Hypothesis("start", l, (a, b)))
    return "their " + ", ".join(units.groups) + " groups"


__all__ = ["stack_start_opening", "answer_parts", "claim_reason", "dead_phrases", "classes_text",
           "unit_word"]
