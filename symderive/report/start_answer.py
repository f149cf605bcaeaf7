"""The answer about a starting point, first: one or two sentences in the asker's terms.

"Stuck. With every weight and bias at zero, the 10 hidden units of layer 1 stay one
unit for ever; W1, b1 and W2 never move, and only b2 can learn.  Why: ..."  Every
part is read off what was computed: the verdict and the claim's judgement from
:class:`~symderive.numeric.startpoint.StartResult`, the classes from the partition,
the frozen tensors from the frozen set, the why from the factors that vanish
(:mod:`.why`), the starting point from the ``[init]`` table as written.
"""
from __future__ import annotations

from .model import Block, Inline, Paragraph, Strong, inline
from .proofs import joined
from .why import tensor_factors, words

#: The verdict's word at the head of the answer.
HEADS = {"stuck": "Stuck.", "symmetric": "The symmetry is never broken.",
         "broken": "The symmetry breaks.", "undecided": "Not settled."}


def possessive(who: str) -> str:
    return who + ("'" if who.endswith("s") else "'s")


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def start_opening(derivation) -> list[Block]:
    """The judgement of an ``[init]`` claim (if any), then the answer; [] without [init]."""
    result = derivation.start
    if result is None:
        return []
    out: list[Block] = []
    claim = derivation.spec.init.claim
    if claim is not None:
        out.append(Paragraph(claim_judgement(derivation)))
    out.append(Paragraph(answer_parts(derivation)))
    return out


def answer_parts(derivation) -> tuple[Inline, ...]:
    """'<verdict>. <the start>, <classes>; <frozen>. Why: <factors>.'"""
    result, spec = derivation.start, derivation.spec
    facts = layer_phrases(spec, result) + [frozen_phrase(spec, result)]
    sentence = capital(start_words(spec) + ", " + "; ".join(p for p in facts if p)) + "."
    if spec.data is not None:
        sentence = sentence[:-1] + " (on the given data)."
    why = why_sentence(spec, result)
    return inline(Strong(HEADS[result.verdict]), " " + sentence + (" " + why if why else ""))


def start_words(spec) -> str:
    """How the start looks, from the [init] table: 'with every weight and bias at zero'."""
    tensors = spec.init.tensors
    weights = [t for t in tensors if t.name[0] == "W"]
    biases = [t for t in tensors if t.name[0] == "b"]
    what = "every weight and bias" if biases else "every weight"
    if all(t.kind == "zero" for t in tensors):
        return f"with {what} at zero"
    w, b = _one_value(weights), _one_value(biases)
    if w is not None and (b == w or not biases):
        return f"with {what} at {w}"
    if w is not None and b is not None:
        return f"with every weight at {w} and every bias at {b}"
    if all(t.kind == "zero" for t in weights) and biases and all(t.is_random for t in biases):
        return "with zero weights and random biases"
    return "from this starting point"


def _one_value(tensors) -> str | None:
    """The one number every entry of ``tensors`` starts at (None: several, or random)."""
    values = {v for t in tensors if not t.is_random for row in t.values for v in row}
    if len(values) != 1 or any(t.is_random for t in tensors):
        return None
    v = values.pop()
    return "zero" if v == 0 else str(v.numerator) if v.denominator == 1 else f"{float(v):g}"


def layer_phrases(spec, result) -> list[str]:
    """Per hidden layer: how many units it really has, for ever (the classes)."""
    out = []
    for l in range(1, spec.network.depth):
        n, c = spec.network.layers[l], result.partition.width(l)
        units = f"the {n} hidden unit{'s' if n > 1 else ''} of layer {l}"
        if n == 1:
            continue
        if c == 1:
            out.append(f"{units} stay one unit for ever")
        elif c < n:
            out.append(f"{units} act as {c} units for ever")
        else:
            out.append(f"no two of {units} are tied together")
        pinned = [u + 1 for u, z in enumerate(result.frozen.constant[l]) if z is not None]
        if pinned and not result.stuck and len(pinned) < n:
            shown = joined(map(str, pinned[:6])) + (", ..." if len(pinned) > 6 else "")
            out.append(f"unit{'s' if len(pinned) > 1 else ''} {shown} of layer {l} "
                       f"{'are' if len(pinned) > 1 else 'is'} constant for ever (pinned by "
                       "frozen parameters)")
    return out


def frozen_phrase(spec, result) -> str:
    """Which tensors never move, and which are left to learn."""
    from ..spec.init import tensor_names

    names = tensor_names(spec.network)
    summary = {n: result.frozen.summary(n) for n in names}
    frozen = [n for n in names if summary[n] == "all"]
    partly = [n for n in names if isinstance(summary[n], list)]
    free = [n for n in names if summary[n] == "none"]
    if not frozen and not partly:
        return "no parameter is proved frozen"
    if not free and not partly:
        return "no parameter ever moves"
    parts = [f"{joined(frozen)} never move{'s' if len(frozen) == 1 else ''}"] if frozen else []
    parts += [f"some entries of {joined(partly)} never move"] if partly else []
    learn = free + partly
    return ", ".join(parts) + f", and only {joined(learn)} can learn"


def why_sentence(spec, result) -> str:
    """'Why: W1 and b1: <factor>; W2: <factor>.' for the frozen hidden-layer tensors (the
    output layer's too), each from the factor that vanishes, tensors with the same why
    together."""
    from ..spec.init import tensor_names

    by_text: dict[str, list[str]] = {}
    for name in tensor_names(spec.network):
        factors = tensor_factors(result, name)
        if factors:
            text = "; ".join(words(spec.network, f) for f in factors)
            by_text.setdefault(text, []).append(name)
    if not by_text:
        return ""
    return "Why: " + "; ".join(f"{joined(names)}, because {text}"
                               for text, names in by_text.items()) + "."


# ------------------------------------------------------------------ the claim


def claim_judgement(derivation, reason=None) -> tuple[Inline, ...]:
    """'The lecturer is wrong. No — the lecturer's claim (the start is stuck) is false: …'
    (``reason``: why, as :func:`claim_reason`; a ``[[layer]]`` network has its own)."""
    result, claim = derivation.start, derivation.spec.init.claim
    reason = reason or claim_reason
    holds = result.holds(claim.verdict)
    who = claim.by
    head = []
    if who:
        word = {True: "is right", False: "is wrong", None: "cannot be judged yet"}[holds]
        head = [Strong(f"{capital(who)} {word}."), " "]
    whose = possessive(who) if who else "the"
    status = {True: "Yes", False: "No", None: "Undecided"}[holds]
    verb = {True: "is right", False: "is false", None: "can be neither confirmed nor refuted"}
    return inline(*head, f"{status} — {whose} claim (the starting point is {claim.verdict}) "
                  f"{verb[holds]}: {reason(derivation, claim.verdict, holds)}.")


def claim_reason(derivation, claim: str, holds: bool | None) -> str:
    """Why the claim holds or fails, from the proof (classes, frozen set) or the witness."""
    result = derivation.start
    big = [(l, len(c)) for l in range(1, result.start.depth)
           for c in result.partition.classes(l) if len(c) > 1]
    if holds is None:
        return ("this analysis neither proves it nor found a witness against it (the full "
                "report lists what is proved)")
    if claim == "stuck":
        if holds:
            return "every hidden-layer parameter is proved frozen"
        return (f"a hidden-layer parameter moved in the simulation (by "
                f"{result.check.hidden_moved:.3g}, relative)")
    if big and claim in ("symmetric", "broken"):
        l, k = big[0]
        return f"layer {l} keeps a class of {k} units that stay identical for ever (proved)"
    return ("no two hidden units are tied, and the simulation separated every pair of them "
            f"within {result.check.steps} steps")


__all__ = ["start_opening", "answer_parts", "possessive", "capital", "HEADS"]
