"""The report of a ``[[layer]]`` network: the answer first, the layers, then one section
per hypothesis (its groups, the local difference formula of the kind, the swap, a
witness) and the numeric cross-check.  Every sentence is built from the results:
the statuses, the methods, the stream's layers, the witness's figures."""
from __future__ import annotations

from ..engine.layers import layer_kind
from ..engine.layers.units import Units
from ..engine.symmetry import BROKEN, EQUAL, PRESERVED, HypothesisResult
from ..engine.symmetry import UNDECIDED as UNDECIDED_VERDICT
from ..spec import NetworkSpec, Spec
from ..spec.layers import spec_kind
from .answer import entries, verdict_lead
from .facts import extra_sections
from .layer_answer import (assumed_as, free_but_equal, group_words, judgement,
                           kind_sentences, kept_equal, separating)
from .layer_start import stack_start_blocks as start_blocks, stack_start_opening
from .model import Block, Document, Items, Paragraph, Section, Strong, Table, Text

_METHODS = {
    "swap": "the swap (every group tied or zeroed; the loss is invariant)",
    "same values": "same values (the two units compute the same function of the input)",
    "whole loss": "the whole loss differentiated and simplified",
    "witness": "a witness (a concrete point, listed in the JSON report)",
    "none": "neither proved nor refuted",
    "whole loss skipped": "undecided: the whole-loss check was skipped for its cost",
}


def build_stack_report(derivation, detail: str, key: str, name: str) -> Document:
    spec: Spec = derivation.spec
    body: list[Block] = []
    if spec.question:
        body.append(Section("Question", (Paragraph((Text(spec.question),)),),
                            label="sec:question"))
    body.append(Section("Answer", tuple(opening(derivation)), label="sec:answer"))
    body += start_blocks(derivation, detail)       # an [init] starting point
    if detail != "brief":
        body.append(_network(spec.network))
        body += [_hypothesis(spec.network, k, r) for k, r in enumerate(derivation.results, 1)]
        body += extra_sections(derivation)     # one section per [[fact]]
        if derivation.numeric:
            body.append(numeric_section(derivation))
    return Document(spec.title, tuple(body), name=name, samples=spec.network.samples, key=key)


def opening(derivation) -> list[Block]:
    """The answer about the starting point (:mod:`.layer_start_answer`, with ``[init]``), the
    one-line judgement (:mod:`.layer_answer`), then one item per hypothesis: its verdict,
    the reason and what is particular to the kind, from the results."""
    network = derivation.spec.network
    said: dict[str, str] = {}       # a kind's sentence -> the case that said it first
    items: tuple = ()
    for k, r in enumerate(derivation.results, start=1):
        words = [_reason(network, r) + _claim(r)]
        for sentence in kind_sentences(network, r):
            words.append(sentence if sentence not in said else
                         f"(The local formula of {said[sentence]} applies.)")
            said.setdefault(sentence, f"H{k}")
        items += ((Strong(f"H{k} ({r.hypothesis.name})"), Text(": " + " ".join(
            dict.fromkeys(words)))),)
    items += tuple((Strong(f"F{k} ({f.fact.name})"),
                    Text(f": {f.verdict}. {f.summary}" + _fact_check(f)))
                   for k, f in enumerate(getattr(derivation, "facts", ()), start=1))
    claimed = [e for e in entries(derivation) if e.claim is not None]
    head = judgement(derivation, verdict_lead(claimed))
    return (stack_start_opening(derivation) + ([head] if head is not None else [])
            + ([Items(items)] if items else []))


def _fact_check(f) -> str:
    """The fact's numeric check in one sentence, from its figures (none if it did not run)."""
    if f.numeric is None:
        return ""
    lines = "; ".join(f.numeric.lines)
    return (" Checked numerically: " + lines + "." if f.numeric.agreement else
            " The numeric check disagrees: " + "; ".join(f.numeric.problems) + ".")


def _claim(r: HypothesisResult) -> str:
    """What the results say of a claim: confirmed, refuted, or not settled."""
    claim = r.hypothesis.claim
    if claim is None:
        return ""
    who = f" by {claim.by}" if claim.by else ""
    if r.verdict == UNDECIDED_VERDICT:
        judged = "neither confirmed nor refuted"
    else:
        judged = "confirmed" if r.verdict == claim.verdict else "refuted"
    return f" The claim{who} that it is {claim.verdict}: {judged}."


def _reason(network: NetworkSpec, r: HypothesisResult) -> str:
    units = Units(network, r.hypothesis)
    layer = network.stack[r.hypothesis.layer - 1]
    word = layer_kind(layer.kind).unit_word(layer)
    i, j = r.hypothesis.units
    stream = _stream_phrase(network, units)
    if r.verdict == PRESERVED:
        return (f"preserved. Every group of {word}s {i} and {j} is tied or zeroed, and "
                f"exchanging the two {word}s leaves the loss unchanged (checked "
                f"{r.swap_method}), so their gradients stay equal at every step{stream}.")
    if r.verdict == BROKEN:
        moved, kept = separating(r, units), kept_equal(r, units)
        also = (f" Their {group_words(kept, word)} get equal gradients all the same (proved)."
                if kept else "")
        return (f"broken. Their {group_words(moved, word)}, assumed {assumed_as(r, moved)}, get "
                f"different gradients at a concrete point (a witness), so one step of gradient "
                f"descent separates {word}s {i} and {j}{stream}.{also}")
    open_ = [g.group for g in r.groups if g.status != EQUAL]
    if r.swap_method == "output layer":
        why = "exchanging the two output units does not leave the loss unchanged in general"
    elif open_:
        why = f"{_listed(open_)} not proved equal"
    else:       # every gradient equal, but a free group: the units need not be the same
        why = free_but_equal(r, units, word)
    return f"undecided: {why}{stream}."


def _stream_phrase(network: NetworkSpec, units: Units) -> str:
    """Where else the swap exchanges the two channels: each other layer of the stream,
    with what its channels are (an attention layer's: its output features)."""
    also = units.layers_tied()
    if not also:
        return ""
    i, j = units.hyp.units
    words = {m: layer_kind(network.stack[m - 1].kind).channel_word(network.stack[m - 1])
             for m in also}
    where = (f"layer{'s' if len(also) > 1 else ''} {_listed(also)}, where the swap exchanges "
             f"{words[also[0]]}s {i} and {j} too" if len(set(words.values())) == 1 else
             _listed([f"layer {m} ({words[m]}s {i} and {j})" for m in also]) +
             ", where the swap exchanges them too")
    return f"; a residual stream joins layer {units.hyp.layer} to {where}"


def _network(network: NetworkSpec) -> Section:
    rows = []
    for s in network.stack:
        kind = layer_kind(s.kind)
        tensors = ", ".join(f"{n} {list(shape)}" for n, shape in kind.tensors(s).items())
        act = s.activation.name if s.activation is not None else "none"
        rows.append(((Text(str(s.index)),), (Text(s.kind),), (Text(str(list(s.in_shape))),),
                     (Text(str(list(s.out_shape))),), (Text(tensors or "none"),),
                     (Text(act + (f", plus layer {s.skip}" if s.skip else "")),)))
    caption = (Text(f"One sample's input is {list(network.input)}; the loss is "
                    f"{network.loss.name}, summed over {network.samples} sample"
                    f"{'s' if network.samples > 1 else ''}. Tensors in PyTorch's layout."),)
    table = Table(("layer", "kind", "input", "output", "tensors", "activation"), tuple(rows),
                  caption)
    return Section("The network", (table,), label="sec:network")


def _hypothesis(network: NetworkSpec, k: int, r: HypothesisResult) -> Section:
    h = r.hypothesis
    units = Units(network, h)
    layer = network.stack[h.layer - 1]
    kind = layer_kind(layer.kind)
    assumed = ", ".join([f"tie {g}" for g in h.tie] + [f"zero {g}" for g in h.zero]) or "none"
    rows = tuple(((Text(g.group),), (Text(str(len(units.groups[g.group][0]))),),
                  (Text(g.status),), (Text(_METHODS.get(g.method, g.method)),))
                 for g in r.groups)
    body: list[Block] = [
        Paragraph((Text(f"Layer {h.layer} ({layer.kind}), {kind.unit_word(layer)}s "
                        f"{h.units[0]} and {h.units[1]}; assumed: {assumed}. Verdict: "),
                   Strong(r.verdict), Text("."))),
        Table(("group", "entries per unit", "status", "how"), rows,
              (Text("Each group's entries of the two units, compared pair by pair."),)),
        Paragraph((Text("Local difference formula. " + _sentence(network, units, r)),)),
        Paragraph((Text(_swap_sentence(network, units, r)),)),
    ]
    body += [Paragraph((Text(_witness_sentence(g)),)) for g in r.groups if g.witness][:3]
    body += [Paragraph((Text(f"Group {g.group}: {g.note}"),)) for g in r.groups if g.note]
    return Section(f"Hypothesis {k}: {h.name}", tuple(body), label=f"sec:hyp{k}")


def _sentence(network: NetworkSpec, units: Units, r: HypothesisResult) -> str:
    layer = network.stack[units.hyp.layer - 1]
    kind = layer_kind(layer.kind)
    own = list(spec_kind(layer.kind).own_groups(layer.bias))   # a head's are not "incoming"
    if any(units.base(g.group) == "outgoing" for g in r.groups):
        own.append("outgoing")
    parts = list(dict.fromkeys(kind.difference(layer, g) for g in own))
    for g in ("gain", "shift"):
        owners = [int(n.partition("@")[2] or units.hyp.layer) for n in units.groups
                  if units.base(n) == g]
        if owners:
            norm = network.stack[owners[0]]        # a norm follows the layer it normalises
            parts.append(layer_kind(norm.kind).difference(norm, g))
    parts += _stream_sentences(network, units)
    return " ".join(p[0].upper() + p[1:] + "." for p in parts if p)


def _stream_sentences(network: NetworkSpec, units: Units) -> list[str]:
    """The residual stream's part of the formula: the skip sends a channel's error back
    unchanged, and each other layer's own groups, in that layer's words."""
    also = units.layers_tied()
    if not also:
        return []
    out = [f"in the residual stream (layers {_listed(units.stream)}) a skip adds one "
           "layer's output to a later one's, so a channel's error is the sum of the errors "
           "every later layer of the stream sends back to it: the difference of two "
           "channels' gradients in one layer of the stream is made of their differences "
           "in all of them"]
    for m in also:
        member = network.stack[m - 1]
        text = layer_kind(member.kind).difference(member, "incoming")
        if text:
            out.append(f"in layer {m} ({member.kind}), {text}")
    return out


def _swap_sentence(network: NetworkSpec, units: Units, r: HypothesisResult) -> str:
    i, j = units.hyp.units
    layer = network.stack[units.hyp.layer - 1]
    word = layer_kind(layer.kind).unit_word(layer)
    names = ", ".join(units.groups)
    if r.swap_method == "output layer":
        return (f"The swap of output units {i} and {j} is not a symmetry of the loss: each "
                "output is compared with its own target.")
    verdict = "leaves the loss unchanged" if r.swap_invariant else "was not shown to leave the loss unchanged"
    return (f"The swap P exchanges {word}s {i} and {j}: every pair of their entries in "
            f"{names}. It {verdict} (checked {r.swap_method}: each layer that owns the "
            f"{word}s exchanges its outputs, each layer without units carries the exchange, and "
            f"the layer that reads them gives the same output).")


def _witness_sentence(g) -> str:
    w = g.witness
    largest = max(abs(v) for v in w.difference)
    return (f"Witness for {g.group}: at the point listed in the JSON report the two gradients "
            f"differ by up to {largest:.4g} (over {len(w.difference)} paired "
            f"entr{'y' if len(w.difference) == 1 else 'ies'}).")


def numeric_section(derivation) -> Section:
    """The kinds' NumPy checks, one row per hypothesis (the talk shows it too)."""
    rows = []
    for r, n in zip(derivation.results, derivation.numeric):
        moved = max((d for _, d in n.separation), default=0.0)
        rows.append(((Text(r.hypothesis.name),), (Text(f"{n.gradient_error:.2g}"),),
                     (Text(f"{n.steps}"),), (Text(f"{moved:.3g}"),),
                     (Text("agrees" if n.agreement else "; ".join(n.problems)),)))
    caption = (Text("The kinds' NumPy passes against finite differences, then gradient "
                    "descent from a point satisfying each hypothesis: the largest relative "
                    "difference of the two units' paired entries at the end."),)
    return Section("Numeric cross-check", (Table(
        ("hypothesis", "gradient error", "steps", "largest difference", "result"),
        tuple(rows), caption),), label="sec:numeric")


def _listed(values) -> str:
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]
