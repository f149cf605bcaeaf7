"""The one-line judgement that opens the answer of a ``[[layer]]`` network.

A forum question about a stack asks whether two filters, heads or units that
start identical stay identical.  The judgement answers in those words, built
only from what was computed: each hypothesis's verdict, the groups it ties,
zeroes or leaves free (free groups are called *different* only when they differ
at the witness), the groups a witness separates, the swap that proves a
preserved case, and the layers of a residual stream.  The kind's own words
(:meth:`LayerKind.unit_word`, :meth:`LayerKind.difference`) say what is
particular to it; this module names no kind.
"""
from __future__ import annotations

from ..engine.layers import layer_kind
from ..engine.layers.units import Units
from ..engine.symmetry import BROKEN, DIFFERENT, EQUAL, PRESERVED, HypothesisResult
from ..spec import NetworkSpec
from ..spec.layers import spec_kind
from .model import Inline, Paragraph, Strong, Text
from .proofs import joined

#: A group in the asker's words, by what a unit is called (None: any unit).
_WORDS = {("incoming", "channel"): "filters", ("outgoing", "channel"): "outgoing slices",
          "incoming": "incoming weights", "bias": "biases", "outgoing": "outgoing weights",
          "gain": "gains", "shift": "shifts", "query": "query weights", "key": "key weights",
          "value": "value weights", "output": "output columns",
          "recurrent": "recurrent rows", "recurrent_outgoing": "recurrent columns"}


def unit_word(network: NetworkSpec, r: HypothesisResult) -> str:
    """What the hypothesis's units are called (``channel``, ``head``, ``unit``)."""
    layer = network.stack[r.hypothesis.layer - 1]
    return layer_kind(layer.kind).unit_word(layer)


def group_words(groups, word: str) -> str:
    """'filters, biases and outgoing slices'; 'query, key and value weights'."""
    names = [_WORDS.get((g, word), _WORDS.get(g, g)) for g in groups]
    out: list[str] = []
    for name in names:          # runs of "... weights" share the word
        if out and out[-1].endswith(" weights") and name.endswith(" weights") \
                and out[-1].count(" ") == 1:
            out[-1] = out[-1].removesuffix(" weights") + "|" + name
        else:
            out.append(name)
    return joined(_merged(n) for n in out)


def _merged(name: str) -> str:
    parts = name.split("|")
    if len(parts) == 1:
        return name
    heads = [p.removesuffix(" weights") for p in parts[:-1]] + [parts[-1]]
    return joined(heads)


def bases(units: Units, names) -> list[str]:
    """Base group names (``incoming@1`` → ``incoming``), each once, in order."""
    out: list[str] = []
    for n in names:
        if units.base(n) not in out:
            out.append(units.base(n))
    return out


def free_groups(units: Units) -> list[str]:
    return bases(units, [n for n in units.groups if not units.assumed(n)])


def separating(r: HypothesisResult, units: Units) -> list[str]:
    """The assumed groups a witness shows different (base names)."""
    return bases(units, [g.group for g in r.groups
                         if g.status == DIFFERENT and units.assumed(g.group)])


def kept_equal(r: HypothesisResult, units: Units) -> list[str]:
    """The assumed groups proved equal (base names) in a broken case: what the
    hypothesis keeps although the units separate (a head's queries and keys on one
    token)."""
    if r.verdict != BROKEN:
        return []
    return bases(units, [g.group for g in r.groups
                         if g.status == EQUAL and units.assumed(g.group)
                         and units.base(g.group) in units.hyp.tie])


def free_but_equal(r: HypothesisResult, units: Units, word: str) -> str:
    """Why a case whose every group is proved equal is undecided: a group is free, so
    the two units need not be the same to begin with."""
    free = group_words(free_groups(units), word)
    verb = "is" if _single(free) else "are"
    return (f"every group's gradients are proved equal, but their {free} {verb} not assumed "
            f"identical, so the two {word}s are not shown to stay identical")


def differ_at_witness(r: HypothesisResult, units: Units, group: str) -> bool:
    """Do the two units' entries of every free group named ``group`` differ at the
    first witness (read from the witness's own parameters)?"""
    w = next((g.witness for g in r.groups if g.witness is not None), None)
    if w is None:
        return False
    for name, (mine, theirs) in units.groups.items():
        if units.base(name) != group:
            continue
        try:
            pairs = [(witness_value(w.parameters[a], ia), witness_value(w.parameters[b], ib))
                     for (a, ia), (b, ib) in zip(mine, theirs)]
        except (KeyError, IndexError, TypeError):
            return False
        if all(x == y for x, y in pairs):
            return False
    return True


def witness_value(values, index):
    """``values[i][j]...`` of nested lists (a witness's tensor) at a 0-based index."""
    for i in index:
        values = values[i]
    return values


def assumption(r: HypothesisResult, units: Units, word: str, free: bool = True) -> str:
    """'identical filters and biases but different outgoing slices'."""
    h = r.hypothesis
    parts = ([f"identical {group_words(h.tie, word)}"] if h.tie else []) + \
        ([f"zero {group_words(h.zero, word)}"] if h.zero else [])
    text = " and ".join(parts) or "no assumption"
    rest = free_groups(units)
    if not free or not rest:
        return text
    differ = r.verdict == BROKEN and all(differ_at_witness(r, units, g) for g in rest)
    return text + f" but {'different' if differ else 'free'} {group_words(rest, word)}"


def stream_words(units: Units) -> str:
    """' in every layer of their residual stream (layers 1 and 2)': the swap exchanges the
    two channels in each layer a skip joins to theirs; nothing outside a stream."""
    if len(units.stream) < 2:
        return ""
    return (" in every layer of their residual stream (layers "
            f"{joined(str(m) for m in units.stream)})")


def described(network: NetworkSpec, r: HypothesisResult) -> tuple[Units, str, str]:
    """The hypothesis's units, what they are called, and 'channels 1 and 2 of layer 1'."""
    word = unit_word(network, r)
    i, j = r.hypothesis.units
    return Units(network, r.hypothesis), word, f"{word}s {i} and {j} of layer {r.hypothesis.layer}"


def clause(network: NetworkSpec, label: str, r: HypothesisResult) -> str:
    """One hypothesis in the asker's words, with its label."""
    units, word, who = described(network, r)
    if r.verdict == BROKEN:
        return f"{who} with {assumption(r, units, word)} separate ({label}: a witness)"
    if r.verdict == PRESERVED:
        return (f"{who} with {assumption(r, units, word, free=False)} stay identical ({label}),"
                f" because exchanging them{stream_words(units)} leaves the loss unchanged")
    return f"{label} ({who}, {assumption(r, units, word)}) is undecided"


def _assumed(r: HypothesisResult) -> set[str]:
    return set(r.hypothesis.tie) | set(r.hypothesis.zero)


def contrast(results: list[HypothesisResult]) -> tuple[int, int] | None:
    """A broken and a preserved case on the same units, the broken one's assumption inside
    the preserved one's and as large as possible: the pair that says what decides."""
    pairs = [(len(_assumed(b)), -k, -m, k, m) for k, b in enumerate(results)
             for m, p in enumerate(results)
             if b.verdict == BROKEN and p.verdict == PRESERVED
             and (b.hypothesis.layer, b.hypothesis.units) == (p.hypothesis.layer,
                                                              p.hypothesis.units)
             and _assumed(b) < _assumed(p)]
    return max(pairs)[3:] if pairs else None


def contrasted(network: NetworkSpec, results, b: int, p: int) -> str:
    """'Identical filters and biases are not enough: channels 1 and 2 of layer 1 separate
    while their outgoing slices differ (H1: a witness), and stay identical once those are
    identical too (H2), because exchanging them then leaves the loss unchanged'."""
    rb, rp = results[b], results[p]
    units = Units(network, rb.hypothesis)
    word = unit_word(network, rb)
    i, j = rb.hypothesis.units
    given = assumption(rb, units, word, free=False)
    extra = [g for g in bases(units, units.groups) if g in _assumed(rp) - _assumed(rb)]
    differ = all(differ_at_witness(rb, units, g) for g in extra)
    how = assumed_as(rp, extra)
    return (f"{given[:1].upper()}{given[1:]} {'is' if _single(given) else 'are'} not enough: "
            f"{word}s {i} and {j} of layer {rb.hypothesis.layer} separate while their "
            f"{group_words(extra, word)} {'differ' if differ else 'are free'} (H{b + 1}: a "
            f"witness), and stay identical once those are {how} too (H{p + 1}), because "
            f"exchanging them{stream_words(units)} then leaves the loss unchanged")


def _inside(r: HypothesisResult, broken: HypothesisResult) -> bool:
    """Is ``r`` a broken case on the same units assuming less than ``broken``?"""
    return r.verdict == BROKEN and (r.hypothesis.layer, r.hypothesis.units) == \
        (broken.hypothesis.layer, broken.hypothesis.units) and _assumed(r) < _assumed(broken)


def _weaker(network: NetworkSpec, k: int, r: HypothesisResult) -> str:
    """'with only identical incoming weights, … they separate too (H1: a witness)'."""
    units = Units(network, r.hypothesis)
    return (f"with only {assumption(r, units, unit_word(network, r), free=False)} they "
            f"separate too (H{k + 1}: a witness)")


def assumed_as(r: HypothesisResult, groups) -> str:
    """How ``r`` assumes ``groups``: 'identical', 'zero' or 'identical and zero'."""
    return joined(w for w, given in (("identical", r.hypothesis.tie), ("zero", r.hypothesis.zero))
                  if set(groups) & set(given))


def _single(words: str) -> bool:
    return " and " not in words and not words.endswith("s")


def judgement(derivation, claims: tuple[Inline, ...] = ()) -> Paragraph | None:
    """One paragraph: who is right (``claims``), then the cases in one sentence: the
    contrast that decides (:func:`contrast`) first, the other cases after it."""
    network = derivation.spec.network
    results = list(derivation.results)
    if not results:
        return _fact_judgement(derivation, claims)
    pair = contrast(results)
    rest = [k for k in range(len(results)) if pair is None or k not in pair]
    others = [_weaker(network, k, results[k]) if pair is not None and
              _inside(results[k], results[pair[0]]) else
              clause(network, f"H{k + 1}", results[k]) for k in rest]
    if pair is not None:
        lead, _, first = contrasted(network, results, *pair).partition(": ")
        body = "; ".join([first] + others)
    else:
        verdicts = frozenset(r.verdict for r in results)
        lead = {frozenset({BROKEN}): "They separate",
                frozenset({PRESERVED}): "They stay identical",
                frozenset({BROKEN, PRESERVED}): "It depends on what is tied"
                }.get(verdicts, "Not all settled")
        body = "; ".join(others)
    return Paragraph(tuple(claims) + (Strong(lead + ":"), Text(f" {body}.")))


def _fact_judgement(derivation, claims) -> Paragraph | None:
    """A derivation of facts only: the scale laws of a conservation fact in the asker's
    terms (from its proved laws), else each fact's verdict and first sentence."""
    facts = list(getattr(derivation, "facts", ()))
    if not facts:
        return None
    parts: list[Inline] = list(claims)
    for f in facts:
        scale = [l for l in f.details.get("laws", ()) if l.get("symmetry") == "scale"
                 and l.get("status") == "proved"] if isinstance(f.details, dict) else []
        if scale:
            parts += [Strong("The growth is forced by the network:"), Text(" " + _scale(scale))]
        else:
            first = " ".join(f.summary.split()).split(". ")[0].rstrip(".")
            parts += [Strong(f"{f.fact.name}: {f.verdict}."), Text(f" {first}. ")]
    return Paragraph(tuple(parts))


def _scale(laws) -> str:
    layers = joined(str(l) for l in sorted({int(l["layer"]) for l in laws}))
    decay = all("per_step_change_weight_decay_latex" in l for l in laws)
    n = len(laws)
    text = (f"the weights of layer {layers} feed a norm, so the loss does not change when "
            f"they are scaled ({n} scale law{'s' if n > 1 else ''}, proved); then ⟨θ, ∇L⟩ = "
            "0 and each step of gradient descent makes ‖θ‖² grow by exactly η²‖∇L‖², "
            "whatever the loss does.")
    if decay:
        text += (" Weight decay λ stops the growth: a step leaves ‖θ‖² unchanged exactly at "
                 "‖θ‖² = η‖∇L‖²/(λ(2 − ηλ)).")
    return text


def kind_sentences(network: NetworkSpec, r: HypothesisResult,
                   short: bool = False) -> list[str]:
    """What is particular to the kind, for a broken case: the local formula of the first
    group a witness separates, then of the first free group other than ``outgoing`` that
    is not proved equal (a norm's gains, a head's output columns, an LSTM unit's
    recurrent column), then of the first tied group proved equal all the same
    (:func:`kept_equal`: it says why); ``short`` (a slide): of a free group only when a
    following layer attaches it (a norm's gains), and of no group kept equal."""
    if r.verdict != BROKEN:
        return []
    units = Units(network, r.hypothesis)
    layer = network.stack[r.hypothesis.layer - 1]
    own = spec_kind(layer.kind).own_groups(layer.bias)
    settled = {units.base(g.group) for g in r.groups if g.status == EQUAL}
    chosen = separating(r, units)[:1] + \
        [g for g in free_groups(units) if g != "outgoing" and not (short and g in own)
         and g not in settled][:1] + ([] if short else kept_equal(r, units)[:1])
    out: list[str] = []
    for g in chosen:
        text = _kind_text(network, layer, g)
        if text and text not in out:
            out.append(text)
    return [t[:1].upper() + t[1:] + "." for t in out]


def _kind_text(network: NetworkSpec, layer, group: str) -> str:
    """The local formula of ``group`` of a unit of ``layer``, from the kind that owns the
    group: the layer's own kind, or the following layer's for a group it attaches."""
    own = spec_kind(layer.kind).own_groups(layer.bias)
    if group in own or group == "outgoing":
        return layer_kind(layer.kind).difference(layer, group)
    after = network.stack[layer.index] if layer.index < len(network.stack) else None
    if after is not None and group in spec_kind(after.kind).attaches:
        return layer_kind(after.kind).difference(after, group)
    return ""


__all__ = ["judgement", "clause", "described", "contrast", "kind_sentences", "group_words",
           "kept_equal", "free_but_equal", "unit_word", "stream_words", "witness_value", "assumed_as"]
