"""Beamer slides: frames that fit (nothing lost, nothing off a slide) and that compile."""
from __future__ import annotations

import re

import pytest
import sympy as sp

from report_helpers import (BUNDLED, EXTRA_SPECS, LAYER_BUNDLED, FOUNDING, bundled_derivation, extra_derivation,
                            pdflatex, tex_available)
from symderive.report import build_report
from symderive.report.talk import talk_report
from symderive.report.model import (Aligned, Document, Items, Paragraph, Plot, Proof, Row,
                                    Section, Table, Text, Theorem, inline, para)
from symderive.render import beamer
from symderive.render.frames import Frame, Heading, Part, paginate, sentences, split

needs_tex = pytest.mark.skipif(not tex_available(),
                               reason="pdflatex missing (CI installs TeX Live)")
#: The issue's limit: any overfull box over this many points fails.
SLIDE_OVERFULL_PT = 10.0
CASES = [(p.stem, lambda p=p: bundled_derivation(p)) for p in BUNDLED + LAYER_BUNDLED] + \
    [(name, lambda name=name: extra_derivation(name)) for name in EXTRA_SPECS]


def overfull_over(log: str, limit: float) -> list[str]:
    found = re.findall(r"Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too \w+\)[^\n]*", log)
    return [w for w in found if float(w) > limit]


def _rows(n: int) -> Aligned:
    x = sp.Symbol("x")
    return Aligned(tuple(Row(sp.Symbol(f"a{k}"), x ** k + k) for k in range(n)), label="eq:long")


def _by_rows(block) -> float:
    """A measure independent of the renderer: one line per row, item or sentence."""
    if isinstance(block, Aligned):
        return float(len(block.rows))
    if isinstance(block, (Items, Table)):
        return float(len(getattr(block, "items", None) or block.rows))
    if isinstance(block, Paragraph):
        return float(len(sentences(block.parts)))
    return 1.0


# ------------------------------------------------------------------ splitting into frames


def test_a_long_derivation_is_split_between_rows_and_keeps_every_row():
    doc = Document("t", (Section("S", (_rows(25),), label="sec:s"),))
    slides = paginate(doc, _by_rows, budget=10)
    frames = [s for s in slides if isinstance(s, Frame)]
    assert [s for s in slides if isinstance(s, Heading)] == [Heading("S", 0)]
    parts = [b for f in frames for b in f.blocks]
    assert [len(p.rows) for p in parts] == [9, 9, 7]    # shared out, not 10, 10 and 5
    assert tuple(r for p in parts for r in p.rows) == _rows(25).rows
    assert [p.label for p in parts] == [None, None, "eq:long"]   # the label on the last part
    assert [f.continued for f in frames] == [False, True, True]


def test_a_proof_runs_over_frames_with_its_theorem_first():
    proof = Proof(tuple(para(f"Step {k}.") for k in range(7)))
    theorem = Theorem((para("Claim."),), name="T", label="thm:x")
    doc = Document("t", (Section("S", (para("intro"), theorem, proof)),))
    frames = [s for s in paginate(doc, _by_rows, budget=4) if isinstance(s, Frame)]
    assert frames[0].blocks == (para("intro"),)      # a theorem opens a frame
    kinds = [(b.kind, b.first, b.last) for f in frames[1:] for b in f.blocks]
    assert kinds[0] == ("theorem", True, True)
    proofs = [b for f in frames for b in f.blocks if isinstance(b, Part) and b.kind == "proof"]
    assert len(proofs) >= 2 and proofs[0].first and proofs[-1].last
    assert not any(p.last for p in proofs[:-1]) and not any(p.first for p in proofs[1:])
    assert all(p.theorem == "thm:x" for p in proofs)
    assert sum((p.body for p in proofs), ()) == proof.body        # nothing lost, in order


def test_a_plot_gets_a_frame_of_its_own():
    plot = Plot((), "x", "y", inline("c"), Table(("a",), ()))
    doc = Document("t", (Section("S", (para("a"), plot, para("b"))),))
    frames = [s for s in paginate(doc, _by_rows, budget=50) if isinstance(s, Frame)]
    assert [f.blocks for f in frames] == [(para("a"),), (plot,), (para("b"),)]


def test_a_table_keeps_its_header_on_every_frame_and_its_caption_on_the_last():
    table = Table(("h1", "h2"), tuple((inline(str(k)), inline("v")) for k in range(9)),
                  inline("cap"), label="tab:t")
    head, tail = split(table, 4, _by_rows)
    assert head.header == tail.header == ("h1", "h2")
    assert len(head.rows) == 4 and head.caption == () and head.label is None
    assert head.rows + tail.rows == table.rows and tail.caption == inline("cap")


def test_sentences_split_text_but_not_math():
    parts = (Text("One. Two is "), sp.Symbol("x"), Text(" here. Three."))
    runs = sentences(parts)
    assert len(runs) == 3
    assert "".join(p.text if isinstance(p, Text) else "$" for r in runs for p in r) == \
        "One. Two is $ here. Three."


def test_every_theorem_and_the_plot_reach_the_slides():
    d = bundled_derivation(FOUNDING)
    doc = build_report(d)
    tex = beamer.render(d, detail="full")
    theorems = [b for b in doc.blocks() if isinstance(b, Theorem)]
    talk = [b for b in talk_report(d).blocks() if isinstance(b, Theorem)]
    assert tex.count(r"\begin{theorem}") == len(theorems) + len(talk) and len(theorems) >= 4
    assert tex.count(r"\begin{proof}") >= len([b for b in doc.blocks() if isinstance(b, Proof)])
    assert r"\begin{semilogyaxis}" in tex and "allowframebreaks" not in tex
    for section in (b for b in doc.body if isinstance(b, Section)):
        assert rf"\section{{{section.title}}}" in tex or section.title.startswith("Hypothesis")
    assert tex.count(r"\begin{frame}") == tex.count(r"\end{frame}") > 20
    assert beamer.render(d, detail="full") == tex                    # deterministic


def test_fragment_is_frames_alone_and_follows_the_host():
    d = bundled_derivation(FOUNDING)
    tex = beamer.render(d, fragment=True, heading_level="subsection", theorem_env="satz",
                        detail="full")
    assert r"\documentclass" not in tex and r"\begin{document}" not in tex
    assert r"\newtheorem" not in tex and r"\begin{theorem}" not in tex
    assert r"\appendix" not in tex            # it goes between the host's frames
    talk = sum(isinstance(b, Theorem) for b in talk_report(d).blocks())
    assert tex.count(r"\begin{satz}") == talk + sum(isinstance(b, Theorem)
                                                    for b in build_report(d).blocks())
    assert re.search(r"^\\subsection\{Do identical", tex, re.M)
    assert not re.search(r"^\\section\{", tex, re.M)
    outside = re.sub(r"\\begin\{frame\}.*?\\end\{frame\}", "", tex, flags=re.S)
    stray = [line for line in outside.splitlines()
             if line and not line.startswith(("%", "\\")) and not line.startswith(" ")]
    assert stray == []          # nothing but definitions and headings between frames


# ------------------------------------------------------------------ compiled


@needs_tex
@pytest.mark.parametrize("name,get", CASES, ids=[c[0] for c in CASES])
def test_slides_compile_with_no_overfull_box_over_10pt(name, get):
    log = pdflatex(beamer.render(get(), detail="full"))     # the talk and the appendix
    assert overfull_over(log, SLIDE_OVERFULL_PT) == []
    assert "undefined references" not in log and "Missing character" not in log


def test_legend_columns_follow_the_names_length():
    """Short names (H1, H2, ...) sit four to a row; long ones fewer, so the legend fits the
    slide (three 'scale, layer 1 channel k' side by side ran 11pt past it)."""
    from symderive.render.beamer import legend_columns
    from symderive.report.model import Plot, Series, Table

    def plot(names):
        return Plot(tuple(Series(n, ((0.0, 1.0),)) for n in names), "x", "y", (), Table((), ()))

    assert legend_columns(plot([f"H{k}" for k in range(1, 7)])) == 4
    assert legend_columns(plot(["H1", "H2"])) == 2
    assert legend_columns(plot([f"scale, layer 1 channel {k}" for k in (1, 2, 3)])) == 2
    assert legend_columns(plot(["x" * 80])) == 1
