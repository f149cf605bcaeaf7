"""The report as a talk: the brief answer, with the network and the training drawn.

What a lecturer would present, in this order: the question; the answer (the
brief report's own Answer section, whatever it holds); the network as a
diagram; for each case the one difference formula that decides it (or, for the
preserved cases, the theorem with the swap argument as its proof), one case
per frame; each fact's statements; the training plot; the numeric check and
the command for the full derivation.  At most :data:`TALK_CASES` cases are
listed in the answer and :data:`TALK_BROKEN` broken ones get a frame, so a
spec with many hypotheses still gives a short talk.  Slides with
``detail="full"`` append the full report (:func:`build_report`) to this.
"""
from __future__ import annotations

from dataclasses import replace

from .answer import entries, merged
from .brief import why_parts
from .builder import build_report, full_command, network_sentence
from .model import Block, Diagram, Document, Items, Plot, Proof, Section, Text, inline, para
from .numeric import gap_plot

#: Cases the talk's answer names one by one (the rest are counted).
TALK_CASES = 8
#: Broken cases that get a frame of their own (the rest are counted on one).
TALK_BROKEN = 6


def talk_report(derivation) -> Document:
    """The talk's document: the brief report with its Why split into one section per case,
    the network's diagram after the answer and the training plot at the end."""
    if derivation.spec.network.stack:     # a [[layer]] network: its own talk
        from .layer_talk import stack_talk

        return stack_talk(derivation)
    brief = build_report(derivation, "brief", limit=TALK_CASES)
    parts = why_parts(derivation, full_command(derivation.spec), TALK_BROKEN, theorems=True)
    closing = [p for p in parts if p[0] in ("numeric", "command")]
    body: list[Block] = []
    for block in brief.body:
        if isinstance(block, Section) and block.label == "sec:why":
            cases: list[Section] = []
            for kind, title, blocks in parts:
                if kind == "rest" and cases:      # counted: on the last broken case's frame
                    cases[-1] = replace(cases[-1], body=cases[-1].body + tuple(blocks))
                elif kind not in ("numeric", "command"):
                    cases.append(Section(title, tuple(blocks)))
            if cases:
                body.append(Section("Why", tuple(cases)))
            continue
        if isinstance(block, Section) and block.label == "sec:question":
            block = replace(block, body=block.body + _checked(derivation))
        if isinstance(block, Section) and not block.body:
            continue                                  # an empty answer (a starting point's)
        body.append(_without_proofs(block))
        drawn = any(isinstance(b, Diagram) for b in brief.blocks())
        if isinstance(block, Section) and block.label == "sec:answer" and not drawn:
            body.append(network_section(derivation))
    lines = [b for _, _, blocks in closing for b in blocks]
    plot = gap_plot(derivation.numeric)
    if isinstance(plot, Plot):
        body.append(_closing(plot, lines))
    elif body and isinstance(body[-1], Section):   # a frame of two lines would stand empty
        body[-1] = _appended(body[-1], ([plot] if plot is not None else []) + lines)
    else:
        body.append(Section("The full derivation", tuple(lines)))
    return replace(brief, body=tuple(body))


def _without_proofs(block: Block) -> Block:
    """A section without its long proofs (a starting point's): a talk states the theorem;
    the full derivation, whose command closes the talk, proves it."""
    if isinstance(block, Section):
        return replace(block, body=tuple(_without_proofs(b) for b in block.body
                                         if not isinstance(b, Proof)))
    return block


def _appended(section: Section, blocks: list[Block]) -> Section:
    """``blocks`` at the end of ``section``'s last frame: in its last subsection if it ends
    with one (after a subsection they would open a frame of their own)."""
    last = section.body[-1] if section.body else None
    if isinstance(last, Section):
        return replace(section, body=section.body[:-1] + (_appended(last, blocks),))
    return replace(section, body=section.body + tuple(blocks))


def _checked(derivation) -> tuple[Block, ...]:
    """What the talk settles, one line per hypothesis and fact (at most TALK_CASES); none
    when the answer's own list names every case (it would say the same twice)."""
    items = entries(derivation)
    if len(merged(items)) <= TALK_CASES:
        return ()
    lines = [inline(f"{e.label}: {e.name}") for e in items[:TALK_CASES]]
    if len(items) > TALK_CASES:
        lines.append(inline(f"and {len(items) - TALK_CASES} more"))
    return (para("Checked, symbolically:"), Items(tuple(lines))) if lines else ()


def network_section(derivation) -> Section:
    """The network drawn, the units the hypotheses compare shaded, one pair per colour."""
    network = derivation.spec.network
    pairs: list[tuple[int, tuple[int, int]]] = []
    for r in derivation.results:
        key = (r.hypothesis.layer, tuple(sorted(r.hypothesis.units)))
        if key not in pairs:
            pairs.append(key)
    classes = [[None] * n for n in network.layers]
    for c, (layer, units) in enumerate(pairs):
        for u in units:
            classes[layer][u - 1] = c
    dashed = ((),) + tuple(tuple((False,) * network.layers[l - 1] for _ in range(n))
                           for l, n in enumerate(network.layers) if l > 0)
    caption = network_sentence(network) + " " + _shaded(network, pairs)
    diagram = Diagram(tuple(network.layers), tuple(tuple(c) for c in classes), dashed,
                      inline(caption.strip()))
    return Section("The network", (diagram,))


def _shaded(network, pairs: list[tuple[int, tuple[int, int]]]) -> str:
    if not pairs:
        return ""
    if len(pairs) > 1:
        return "Units that a hypothesis compares share a colour, one colour per pair."
    layer, (i, j) = pairs[0]
    where = "the output layer" if layer == network.depth else f"hidden layer {layer}"
    return f"Shaded: units {i} and {j} of {where}, which the hypotheses compare."


def _closing(plot: Plot, lines: list[Block]) -> Section:
    """The training plot on a frame of its own, the numeric line and the command for the
    full derivation under it (in its caption: a frame with two lines would stand empty)."""
    words = tuple(p for b in lines for p in (Text(" "), *b.parts))
    plot = replace(plot, caption=plot.caption + words, label=None)   # the appendix labels
    return Section("Numeric cross-check", (plot,))


__all__ = ["talk_report", "network_section", "TALK_CASES", "TALK_BROKEN"]
