"""The opening of every report: who is right, then one sentence per hypothesis and fact.

A forum question asks "X says this, Y says that: who is right?".  The opening
answers that first: a judgement of each claim (``claim``/``claimed_by`` of a
table), then one sentence per hypothesis and per ``[[fact]]``, the asked cases
(those carrying a claim) first, the rest in spec order.  Hypotheses that make
the same assumption about the same layer and reach the same verdict share a
sentence.  Every sentence about a difference is generated from the factored
difference itself (:mod:`.difference`), so it is true of the formula shown.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sympy as sp

from ..engine.generic import instantiation
from ..engine.local import LocalModel
from ..engine.output import OutputModel, is_output
from ..engine.symmetry import BROKEN, CONSTANT_LOSS, DIFFERENT, PRESERVED, HypothesisResult
from ..spec import NetworkSpec
from .difference import ACTIVATION, SINGLE, SLOPE, SUM, shape
from .model import Block, Inline, Items, Math, Paragraph, Strong, Text, inline
from .proofs import constant_why, joined
from .start_answer import capital, possessive, start_opening
from .steps import GROUP_NAMES, settled

#: At most this many sentences; the rest are counted (the full report lists each).
MAX_SENTENCES = 24


@dataclass(frozen=True)
class Entry:
    """One hypothesis (``result``) or fact (``fact``), numbered as in the full report."""

    label: str                      # "H2" or "F1"
    result: HypothesisResult | None = None
    fact: object | None = None      # a symderive.facts.FactResult

    @property
    def claim(self):
        table = self.result.hypothesis if self.result is not None else self.fact.fact
        return table.claim

    @property
    def verdict(self) -> str:
        return self.result.verdict if self.result is not None else self.fact.verdict

    @property
    def name(self) -> str:
        return self.result.hypothesis.name if self.result is not None else self.fact.fact.name

    def key(self) -> tuple:
        """Entries with the same key get one sentence: the same units, assumption and result."""
        if self.result is None:   # the same table but for its name: the same fact
            return ("F", dataclasses.replace(self.fact.fact, name=""), self.verdict)
        h = self.result.hypothesis
        statuses = tuple(g.status for g in self.result.groups)
        return ("H", h.layer, h.units, h.tie, h.zero, self.verdict, statuses)


def entries(derivation) -> list[Entry]:
    """Every hypothesis and fact, the claimed ones first, each part in spec order."""
    items = [Entry(f"H{k}", result=r) for k, r in enumerate(derivation.results, start=1)]
    items += [Entry(f"F{k}", fact=f) for k, f in enumerate(getattr(derivation, "facts", ()),
                                                          start=1)]
    return [e for e in items if e.claim is not None] + [e for e in items if e.claim is None]


def merged(items: list[Entry]) -> list[list[Entry]]:
    """Entries grouped by :meth:`Entry.key`, in order of first appearance."""
    groups: dict[tuple, list[Entry]] = {}
    for e in items:
        groups.setdefault(e.key(), []).append(e)
    return list(groups.values())


def opening(derivation, limit: int = MAX_SENTENCES) -> list[Block]:
    """The judgement of the claims (if any), then the one-sentence answers."""
    network = derivation.spec.network
    items = entries(derivation)
    out: list[Block] = start_opening(derivation)     # a starting point is asked about first
    claimed = [e for e in items if e.claim is not None]
    if claimed:
        judgements = _judgements(network, claimed[:limit])
        if claimed[limit:]:
            judgements += inline(" " + _count_claims(claimed[limit:]))
        out.append(Paragraph(verdict_lead(claimed) + judgements))
    groups = merged(items)
    judged = {e.label for e in claimed[:limit]}
    lines = [_sentence(network, g, judged) for g in groups[:limit]]
    rest = [e for g in groups[limit:] for e in g]
    if rest:
        lines.append(inline(_count_rest(rest)))
    if lines:
        out.append(Paragraph((Strong("In short:"),)))
        out.append(Items(tuple(lines)))
    return out


# ------------------------------------------------------------------ claims


def verdict_lead(claimed: list[Entry]) -> tuple[Inline, ...]:
    """'The student is right; the lecturer is wrong.' from who claimed what."""
    people: dict[str, list] = {}
    for e in claimed:
        if e.claim.by:
            people.setdefault(e.claim.by, []).append(e.claim.holds(e.verdict))
    words = []
    for who, holds in people.items():
        if all(h is True for h in holds):
            words.append(f"{who} is right")
        elif all(h is False for h in holds):
            words.append(f"{who} is wrong")
        elif any(h is None for h in holds) and not any(h is False for h in holds):
            words.append(f"{who} cannot be judged yet")
        else:
            words.append(f"{who} is partly right")
    if not words:
        return ()
    return inline(Strong(capital("; ".join(words)) + "."), " ")


def _judgements(network: NetworkSpec, claimed: list[Entry]) -> tuple[Inline, ...]:
    """'No — the lecturer's claim (H1: …) is false: <why>.' per claim; a claim about a
    case already explained refers to that explanation instead of repeating it."""
    parts: list[Inline | str] = []
    explained: dict[tuple, str] = {}
    for e in claimed:
        holds = e.claim.holds(e.verdict)
        whose = possessive(e.claim.by) if e.claim.by else "the"
        head = {True: "Yes", False: "No", None: "Undecided"}[holds]
        status = {True: "is right", False: "is false", None: "can be neither confirmed nor "
                  "refuted"}[holds]
        parts.append(f"{head} — {whose} claim ({e.label}: {_claimed(e)}) {status}")
        if e.key() in explained:
            parts.append(f", for the reason just given ({explained[e.key()]} is the same "
                         f"case: {e.verdict}). ")
            continue
        explained[e.key()] = e.label
        parts += [": "] + list(_reason(network, e, lower=True)) + [" "]
    if parts and isinstance(parts[-1], str):
        parts[-1] = parts[-1].rstrip()
    return inline(*(p for p in parts if p != ""))


def _claimed(e: Entry) -> str:
    """The claim in words."""
    if e.result is None:
        return f"{e.name} gives “{e.claim.verdict}”"
    if e.claim.verdict == PRESERVED:
        return "the two units stay identical during training"
    return "the units become different during training"


# ------------------------------------------------------------------ sentences


def _sentence(network: NetworkSpec, group: list[Entry], judged: set[str]) -> tuple[Inline, ...]:
    """One sentence; short for a case the judgement of a claim (``judged``) has explained."""
    first = group[0]
    labels = joined(e.label for e in group)
    head = Strong(f"{labels} ({first.name}): {first.verdict}.")
    if any(e.label in judged for e in group) and first.result is not None:
        return inline(head, " " + _SHORT.get(first.verdict, "See above."))
    return inline(head, " ", *_reason(network, first))


_SHORT = {BROKEN: "The two units separate after one step of gradient descent (why: above).",
          PRESERVED: "The two units stay identical at every step (why: above)."}


def _count_claims(rest: list[Entry]) -> str:
    held = sum(e.claim.holds(e.verdict) is True for e in rest)
    failed = sum(e.claim.holds(e.verdict) is False for e in rest)
    open_ = len(rest) - held - failed
    return (f"Of the {len(rest)} further claims ({joined(e.label for e in rest[:3])}"
            f"{', …' if len(rest) > 3 else ''}), {held} hold, {failed} are false and {open_} "
            "are undecided; the full report (--detail full) judges each.")


def _count_rest(rest: list[Entry]) -> str:
    counts: dict[str, int] = {}
    for e in rest:
        counts[e.verdict] = counts.get(e.verdict, 0) + 1
    tally = ", ".join(f"{n} {v}" for v, n in counts.items())
    return (f"… and {len(rest)} more ({tally}), summarised here to keep this answer short; "
            "the full report (--detail full) gives each.")


def _reason(network: NetworkSpec, e: Entry, lower: bool = False) -> tuple[Inline, ...]:
    """Why this verdict, in one sentence (ends with a full stop); ``lower``: it continues
    a sentence, so it starts in lower case."""
    parts = _why(network, e)
    if lower and parts and isinstance(parts[0], Text) and parts[0].text[:2].istitle():
        parts = (Text(parts[0].text[:1].lower() + parts[0].text[1:]),) + parts[1:]
    return parts


def _why(network: NetworkSpec, e: Entry) -> tuple[Inline, ...]:
    output = e.result is not None and is_output(network, e.result.hypothesis)
    dead = (" " + _DEAD) if dead_at_zero(network, output) and zero_preactivations(network, e) \
        else ""
    if e.result is None:
        if dead and e.fact.fact.kind == "zero_init":
            dead = (" Every hidden unit is dead on every sample: at the all-zero start its "
                    "pre-activation is z = 0, where this activation has σ'(0) = 0.")
        return inline(_fact_reason(e.fact) + dead)
    generic = (" " + _generic(network, e.result)) if e.result.assumptions else ""
    return _hypothesis_why(network, e) + ((Text(dead + generic),) if dead or generic else ())


def _generic(network: NetworkSpec, r: HypothesisResult) -> str:
    """Generic mode (activation or loss "any"): what the verdict covers, and no more."""
    words = [w for w, f in (("activation", network.activation), ("loss", network.loss))
             if f.name == "any"]
    undefined = joined(words) if words else ""
    if not undefined:     # no generic mode: what was assumed is the given data
        said = "; ".join(a.removeprefix("the given data has ") for a in r.assumptions)
        return f"This is proved on the given data, which has {said}."
    it = "them" if " and " in undefined else "it"
    if r.verdict == PRESERVED:
        return (f"This is proved with the {undefined} left undefined, so it holds for every "
                f"differentiable choice of {it} (the full report lists what was assumed).")
    used = ", ".join(f"{k} := {v}" for k, v in instantiation(network).items())
    return (f"The formula is for an undefined {undefined}; the witness that shows it is not "
            f"identically zero uses {used} (generic mode).")



#: What σ'(0) = 0 means for units whose pre-activation is 0 on every sample.
_DEAD = ("The units concerned are dead on every sample: their pre-activation is z = 0, where "
         "this activation has σ'(0) = 0, so no gradient passes back through them to their "
         "incoming weights and bias.")


def dead_at_zero(network: NetworkSpec, output: bool = False) -> bool:
    """σ'(0) = 0 for the hidden activation, or the output activation when ``output``
    (ReLU, with H(0) = 0 as in PyTorch)."""
    f = network.output_activation if output else network.activation
    slope = f.derivative(sp.S.Zero)
    return slope.is_number and slope == 0


def zero_preactivations(network: NetworkSpec, e: Entry) -> bool:
    """Does this case put z = 0 on every sample for the units it is about?"""
    if e.result is not None:
        h = e.result.hypothesis
        return "incoming" in h.zero and ("bias" in h.zero or not network.bias)
    fact = e.fact.fact
    if fact.kind == "zero_init":
        return True
    return fact.kind == "unit_gradient" and "incoming" in fact.zero and \
        ("bias" in fact.zero or not network.bias)


def _hypothesis_why(network: NetworkSpec, e: Entry) -> tuple[Inline, ...]:
    r = e.result
    units = _units(r, network)
    assumption = assumption_words(network, r.hypothesis)
    if r.verdict == PRESERVED and r.swap_method == CONSTANT_LOSS:
        return inline(f"The loss does not depend on the network's output ({constant_why(network)}), so "
                      f"every gradient is 0: nothing moves, and {units} keep whatever they "
                      "share at every step (proved for all steps).")
    if r.verdict == PRESERVED and not r.swap_invariant:
        return inline(f"With {assumption}, {units} never move: every gradient of their "
                      "parameters is zero at this start and stays zero, so they stay identical "
                      "at every step of gradient descent (proved for all steps; the exchange "
                      "of the two units is not needed).")
    if r.verdict == PRESERVED:
        return inline(f"With {assumption}, {units} have every parameter group tied or zeroed, "
                      "so exchanging them leaves the loss unchanged; the gradient then treats "
                      "them alike, and they stay identical at every step of gradient descent "
                      "(proved for all steps).")
    if r.verdict == BROKEN and is_output(network, r.hypothesis):
        g = separating(r)
        return inline(f"With {assumption}, the gradients of the {GROUP_NAMES[g.group]} of "
                      f"{units} differ: " + _output_why(network, r))
    if r.verdict == BROKEN:
        g = separating(r)
        return inline(f"With {assumption}, the gradients of the {GROUP_NAMES[g.group]} of "
                      f"{units} differ: the difference is ",
                      *difference_words(LocalModel(network, r.hypothesis), settled(g)),
                      ", so one step of gradient descent separates the units wherever it is "
                      "non-zero.")
    return inline(f"With {assumption}, neither conclusion could be proved for {units}; the "
                  "full report says what is missing.")


def _output_why(network: NetworkSpec, r: HypothesisResult) -> str:
    """Why two output units' updates differ, from whether the hypothesis makes their
    predictions equal (:meth:`OutputModel.same_z`)."""
    if OutputModel(network, r.hypothesis).same_z():
        return ("the hypothesis makes their predictions equal, but each output is compared "
                "with its own target, so the updates differ by a multiple of the difference "
                "of the two targets, wherever the targets differ.")
    return ("the hypothesis leaves their pre-activations different (a group it does not "
            "tie), so their predictions, their errors and their updates differ.")


def _fact_reason(fact) -> str:
    summary = " ".join(fact.summary.split())
    summary = summary[:1].upper() + summary[1:]
    return summary if summary.endswith(".") else summary + "."


def _units(r: HypothesisResult, network: NetworkSpec) -> str:
    i, j = r.hypothesis.units
    if is_output(network, r.hypothesis):
        return f"output units {i} and {j}"
    return f"units {i} and {j} of hidden layer {r.hypothesis.layer}"


def assumption_words(network: NetworkSpec, h) -> str:
    """'identical incoming weights and bias but the outgoing weights left free'."""
    tied = [GROUP_NAMES[g] for g in h.tie]
    zeroed = [GROUP_NAMES[g] for g in h.zero]
    free = [GROUP_NAMES[g] for g in network.unit_groups(h.layer)
            if g not in h.tie and g not in h.zero]
    parts = (["identical " + joined(tied)] if tied else []) + \
            (["zero " + joined(zeroed)] if zeroed else [])
    if not parts:
        return "no assumption on the two units' parameters"
    text = " and ".join(parts)
    return text + (f" but the {joined(free)} left free" if free else "")


def separating(r: HypothesisResult):
    """The first assumed group whose difference was shown to be non-zero."""
    assumed = set(r.hypothesis.tie) | set(r.hypothesis.zero)
    return next(g for g in r.groups if g.group in assumed and g.status == DIFFERENT)


def difference_words(model: LocalModel, residual) -> tuple[Inline, ...]:
    """What the difference is made of, true of ``residual`` (see :mod:`.difference`)."""
    s = shape(model, residual)
    summed = "summed over the samples, " if s.samples else ""
    output = model.layer + 1 == model.network.depth
    nxt = "output units m" if output else f"units m of layer {model.layer + 1}"
    if s.kind == SINGLE:
        return inline(f"{summed}proportional to ", Math(s.factor),
                      ", the difference of their outgoing weights")
    if s.kind == SUM:
        times = (" times ", Math(s.error), " (the error of output unit m)" if output else "") \
            if s.error is not None else (" times a coefficient free of the outgoing weights",)
        return inline(f"{summed}a sum, over the {s.count} {nxt}, of ", Math(s.factor), *times,
                      ", which vanishes when their outgoing weights are equal")
    # a factor of one sample's term is a factor of the total only when it is the same for all
    per_sample = "a sum over the samples of terms proportional to " if s.samples \
        else "proportional to "
    if s.kind == SLOPE:
        return inline(per_sample, Math(s.factor), ", the difference of the activation's slopes "
                      "at the two units' pre-activations, which vanishes when those are equal")
    if s.kind == ACTIVATION:
        return inline(per_sample, Math(s.factor), ", the difference of the two units' "
                      "activations, which vanishes when their pre-activations are equal")
    return inline("not identically zero")


__all__ = ["Entry", "entries", "merged", "opening", "assumption_words", "separating",
           "difference_words", "verdict_lead", "possessive", "constant_why", "MAX_SENTENCES"]
