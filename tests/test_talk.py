"""Slides are a talk: the brief answer in few frames, the full derivation only as an appendix.

The frame counts and how full each frame is are measured from the compiled PDF
(pdftotext's word boxes), not from the renderer's own height estimates.
"""
from __future__ import annotations

import re
import shutil

import pytest

from report_helpers import BUNDLED, FOUNDING, IN_CI, LAYER_BUNDLED, bundled_derivation, pdf_text
from symderive.api import derive
from symderive.report.model import Aligned, Diagram, Document, Items, Paragraph, Plot, Row, \
    Section, Strong, Table, Theorem, inline, para
from symderive.report.talk import talk_report
from symderive.render import beamer
from symderive.render.frames import Frame, paginate, sentences, split
from symderive.render.preamble import HostOptions
from symderive.spec import Spec

needs_tools = pytest.mark.skipif(
    not IN_CI and not (shutil.which("pdflatex") and shutil.which("pdftotext")),
    reason="pdflatex or pdftotext missing (CI installs TeX Live and poppler-utils)")
#: The issue's limits: frames of the seed's talk, frames per hypothesis, emptiness.
SEED_FRAMES = 15
PER_CASE = 3
MOST_EMPTY = 2 / 3


def _frames(tex: str) -> int:
    return tex.count(r"\begin{frame}")


def _cases(d) -> int:
    return len(d.results) + len(d.facts)


def sixty_four():
    """64 hypotheses on the pairs of an 8-unit hidden layer, four assumptions."""
    ties = [["incoming", "bias"], ["outgoing"], ["incoming", "bias", "outgoing"], ["incoming"]]
    hyps = [{"name": f"case {k + 1}", "layer": 1, "units": [k % 8 + 1, (k + 1) % 8 + 1],
             "tie": ties[k // 16], "zero": []} for k in range(64)]
    return derive(Spec.from_dict({
        "title": "Sixty-four cases", "question": "Which pairs of hidden units stay identical?",
        "network": {"layers": [2, 8, 1], "activation": "tanh", "output_activation": "identity",
                    "bias": True, "loss": "mse", "samples": 1}, "hypothesis": hyps}))


# ------------------------------------------------------------------ the talk's document


def test_the_talk_follows_the_brief_answer_with_the_pictures():
    d = bundled_derivation(FOUNDING)
    doc = talk_report(d)
    titles = [b.title for b in doc.body if isinstance(b, Section)]
    assert titles == ["Question", "Answer", "The network", "Why", "Numeric cross-check"]
    network = doc.body[2]
    assert [type(b) for b in network.body] == [Diagram]
    assert network.body[0].sizes == (2, 2, 1)
    assert network.body[0].classes[1] == (0, 0)          # the compared units are shaded
    why = doc.body[3]
    cases = [s.title for s in why.body]
    assert cases == ["H1 and H5: broken", "H2: broken", "H3 and H4: preserved", "F1: exact"]
    preserved = why.body[2].body
    assert isinstance(preserved[0], Theorem) and preserved[0].label is None
    plot = doc.body[4].body[0]
    assert isinstance(plot, Plot) and plot.label is None
    assert [s.name for s in plot.series] == ["H1", "H2", "H5"]     # H3, H4: exactly 0
    assert "H3 and H4 are not drawn" in "".join(getattr(p, "text", "") for p in plot.caption)


def test_the_seed_talk_is_short_and_the_full_one_adds_the_derivation():
    d = bundled_derivation(FOUNDING)
    talk, full = beamer.render(d), beamer.render(d, detail="full")
    assert _frames(talk) <= SEED_FRAMES
    assert r"\appendix" not in talk and "\\label{" not in talk
    title = "\\begin{frame}\n\\titlepage\n\\end{frame}\n\n"
    frames = talk.split(title, 1)[1].split("\\end{document}")[0]
    assert full.split(title, 1)[1].split("\\appendix\n", 1)[0] == frames   # the talk, first
    assert _frames(full) > 3 * _frames(talk)
    assert full.count(r"\begin{theorem}") > talk.count(r"\begin{theorem}") >= 1


@pytest.mark.parametrize("path", BUNDLED + LAYER_BUNDLED,
                         ids=[p.stem for p in BUNDLED + LAYER_BUNDLED])
def test_at_most_three_frames_per_case(path):
    d = bundled_derivation(path)
    assert _frames(beamer.render(d)) - 1 <= PER_CASE * max(_cases(d), SEED_FRAMES // PER_CASE)


def test_sixty_four_hypotheses_stay_bounded():
    d = sixty_four()
    assert len(d.results) == 64
    frames = _frames(beamer.render(d))
    assert frames <= PER_CASE * 64 and frames <= 2 * SEED_FRAMES


# ------------------------------------------------------------------ pagination


def _by_rows(block) -> float:
    return float(len(block.rows)) if isinstance(block, (Aligned, Table)) else 1.0


def test_a_sentence_stays_with_the_value_it_announces():
    x = [para(f"Filler {k}.") for k in range(4)]
    value = Aligned((Row(1, 2),))
    doc = Document("t", (Section("S", (*x, para("There the difference is"), value)),))
    frames = [s for s in paginate(doc, _by_rows, budget=5) if isinstance(s, Frame)]
    ending = [f.blocks[-1] for f in frames]
    assert para("There the difference is") not in ending
    holder = next(f for f in frames if value in f.blocks)
    assert para("There the difference is") in holder.blocks
    tail = para("that is, the rest of the sentence.")
    doc = Document("t", (Section("S", (*x, value, tail)),))
    frames = [s for s in paginate(doc, _by_rows, budget=5) if isinstance(s, Frame)]
    holder = next(f for f in frames if tail in f.blocks)
    assert holder.blocks.index(tail) == holder.blocks.index(value) + 1


def test_no_frame_is_left_with_a_remainder():
    """Greedy packing would leave the last line alone; the run is shared out instead."""
    lines = [para(f"Line {k}.") for k in range(13)]
    doc = Document("t", (Section("S", tuple(lines)),))
    frames = [s for s in paginate(doc, lambda b: 1.0, budget=10) if isinstance(s, Frame)]
    assert [len(f.blocks) for f in frames] == [6, 7]      # greedily: 10 and 3
    assert [b for f in frames for b in f.blocks] == lines          # nothing lost, in order


def test_a_long_item_is_split_between_its_sentences():
    text = "".join(f"Sentence {k} of the item. " for k in range(8)).rstrip()
    doc = Document("t", (Section("S", (para("Lead."), Items((inline(text),)))),))

    def count(block):        # a line per sentence
        return float(sum(len(sentences(i)) for i in block.items)) if isinstance(
            block, Items) else 1.0

    frames = [s for s in paginate(doc, count, budget=6) if isinstance(s, Frame)]
    lists = [b for f in frames for b in f.blocks if isinstance(b, Items)]
    assert len(lists) == 2 and not lists[0].continued and lists[1].continued
    assert "".join(p.text for x in lists for p in x.items[0]) == text
    tex = beamer.BeamerRenderer(doc, "", HostOptions()).block(lists[1])
    assert tex.count(r"\item") == 1 and r"\item[] Sentence" in tex


def test_a_table_that_fits_a_frame_is_not_split():
    table = Table(("a",), tuple((inline(str(k)),) for k in range(6)))
    doc = Document("t", (Section("S", (para("a."), para("b."), para("c."), table)),))
    frames = [s for s in paginate(doc, _by_rows, budget=8) if isinstance(s, Frame)]
    assert [f.blocks[-1] for f in frames] == [para("c."), table]
    big = Table(("a",), tuple((inline(str(k)),) for k in range(12)))
    doc = Document("t", (Section("S", (big,)),))
    frames = [s for s in paginate(doc, _by_rows, budget=8) if isinstance(s, Frame)]
    assert len(frames) == 2          # taller than a frame: split, nothing lost
    assert sum(len(f.blocks[0].rows) for f in frames) == 12


#: A judgement of one long sentence (no seams but its clauses), as the transformer
#: block's talk gives it.
JUDGEMENT = ("Identical query, key and value weights are not enough: heads 1 and 2 of layer 2 "
             "separate while their output columns differ (H1: a witness), and stay identical "
             "once those are identical too (H2), because exchanging them then leaves the loss "
             "unchanged; units 1 and 2 of layer 1 with identical incoming weights and biases "
             "but different outgoing weights, gains and shifts separate (H3: a witness); units "
             "1 and 2 of layer 1 with identical incoming weights, biases, gains, shifts and "
             "outgoing weights stay identical (H4), because exchanging them in every layer of "
             "their residual stream (layers 1 and 2) leaves the loss unchanged.")


def _answer(judgement: str, cases: int = 4) -> tuple:
    """A talk's question and answer: the question, a bold heading, a judgement of one
    sentence, then one line per case."""
    question = para("Do two heads that start alike stay alike, and two features, and why?")
    lines = tuple(inline(Strong(f"H{k}"), f" (heads {k} and {k + 1}, queries tied): broken.")
                  for k in range(1, cases + 1))
    return question, Paragraph((Strong("Answer"),)), para(judgement), Items(lines)


def test_a_sentence_too_long_for_its_frame_is_split_between_its_clauses():
    """The transformer block's answer: a judgement of one sentence that, whole, fills the
    frame under the question and leaves the four cases alone on the next one; split after
    a clause ('; '), it shares both frames with them."""
    doc = Document("t", (Section("Question", _answer(JUDGEMENT)),))
    renderer = beamer.BeamerRenderer(doc, "", HostOptions())
    frames = [s for s in paginate(doc, renderer.height, beamer.FRAME_LINES, merge=True)
              if isinstance(s, Frame)]
    assert len(frames) == 2
    head, tail = frames[0].blocks[-1], frames[1].blocks[0]
    assert _plain(head).endswith(";") and _plain(head) + " " + _plain(tail) == JUDGEMENT
    assert isinstance(frames[1].blocks[-1], Items) and len(frames[1].blocks[-1].items) == 4
    for f in frames:             # neither frame estimated less than a third full
        assert sum(renderer.height(b) for b in f.blocks) > beamer.FRAME_LINES / 3


def test_only_a_paragraph_of_one_sentence_is_split_between_clauses():
    def chars(block):
        return float(len(_plain(block)))

    one = para("Aa; bbbbbbbbbb; cc.")
    assert [_plain(b) for b in split(one, 5, chars)] == ["Aa;", "bbbbbbbbbb; cc."]
    two = para("Aa; bbbbbbbbbb. Cc.")                     # sentences: its only seams
    assert split(two, 5, chars) == (None, two)
    assert [_plain(b) for b in split(two, 16, chars)] == ["Aa; bbbbbbbbbb.", "Cc."]


def _plain(block: Paragraph) -> str:
    return "".join(p.text for p in block.parts).strip()


# ------------------------------------------------------------------ compiled


def compiled_pages(tex: str) -> list[tuple[float, list[tuple[float, float, str]]]]:
    """Compile ``tex``; per page its height and its words as (top, bottom, text)."""
    html = pdf_text(tex, "-bbox")
    pages = []
    for page in re.findall(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', html, re.S):
        words = re.findall(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" '
                           r'yMax="([\d.]+)">([^<]*)</word>', page[1])
        pages.append((float(page[0]), [(float(a), float(b), w) for a, b, w in words]))
    return pages


def emptiness(height: float, words) -> float:
    """How much of a frame's body is empty below its lowest word: the body runs from the
    frame title's band (the top tenth) to the footline (the frame number)."""
    foot = height - 12.0
    body = [bottom for top, bottom, _ in words if top < foot]
    top = 0.1 * height
    lowest = max(body, default=top)
    return 1.0 - max(0.0, lowest - top) / (foot - top)


def _limit(path, d) -> int:
    """The issue's bound on a deck's frames: the seed's, or three per case (and title)."""
    if path == FOUNDING:
        return SEED_FRAMES
    return 1 + PER_CASE * max(_cases(d), SEED_FRAMES // PER_CASE)


@needs_tools
@pytest.mark.parametrize("path", [*BUNDLED, *LAYER_BUNDLED, "sixty-four"],
                         ids=[p.stem for p in BUNDLED + LAYER_BUNDLED] + ["sixty-four"])
def test_compiled_talk_frames_are_few_and_none_mostly_empty(path):
    d = sixty_four() if path == "sixty-four" else bundled_derivation(path)
    tex = beamer.render(d)
    pages = compiled_pages(tex)
    assert len(pages) == _frames(tex)          # one page per frame, the title's included
    assert len(pages) <= (PER_CASE * 64 if path == "sixty-four" else _limit(path, d))
    empty = {k: round(emptiness(h, w), 2) for k, (h, w) in enumerate(pages[1:], start=2)
             if emptiness(h, w) > MOST_EMPTY}
    assert empty == {}, f"pages more than two-thirds empty: {empty}"
    words = {w for _, ws in pages for _, _, w in ws}
    assert "??" not in words


def overflowing(height: float, words) -> list[str]:
    """The words of a frame's body that run into its footline (all but the frame number)."""
    foot = height - 12.0
    return [w for _, bottom, w in words if bottom > foot and not re.fullmatch(r"\d+(/\d+)?", w)]


@needs_tools
@pytest.mark.parametrize("cases", [4, 40], ids=["four-cases", "forty-cases"])
def test_compiled_lists_fill_every_frame_and_none_overflows(cases):
    """A long judgement, then the cases: four (alone they would leave a frame mostly empty)
    or forty (split between frames). Measured from the PDF: every frame more than a third
    full, none running into its footline when compiled without beamer's shrink, every case
    there in order."""
    doc = Document("Cases", (Section("Question", _answer(JUDGEMENT, cases)),))
    tex = beamer.render_document(doc)
    pages = compiled_pages(tex)[1:]
    assert len(pages) >= 2 and _frames(tex) == len(pages) + 1
    empty = [round(emptiness(h, w), 2) for h, w in pages if emptiness(h, w) > MOST_EMPTY]
    assert empty == []
    unshrunk = compiled_pages(tex.replace("[t,shrink]", "[t]"))[1:]
    assert [overflowing(h, w) for h, w in unshrunk] == [[]] * len(pages)
    labels = [w for _, ws in unshrunk for _, _, w in ws if re.fullmatch(r"H\d+", w)]
    assert labels == [f"H{k}" for k in range(1, cases + 1)]
    assert "(cont.)" in tex


def test_emptiness_is_measured_from_the_lowest_word():
    height = 272.0
    title = [(11.0, 24.0, "Title")]
    foot = [(264.0, 270.0, "3/9")]
    assert emptiness(height, title + foot) == 1.0
    assert emptiness(height, title + [(100.0, 110.0, "x")] + foot) == pytest.approx(
        1 - (110 - 27.2) / (260 - 27.2))
    assert emptiness(height, title + [(250.0, 259.0, "x")] + foot) < 0.01
    assert overflowing(height, title + [(250.0, 259.0, "x")] + foot) == []
    assert overflowing(height, title + [(258.0, 266.0, "x")] + foot) == ["x"]


def test_the_cli_gives_the_talk_by_default_and_the_appendix_with_detail_full(cli):
    status, talk, _ = cli("derive", "weight-symmetry", "--format", "beamer", "-q")
    assert status == 0
    status, full, _ = cli("derive", "weight-symmetry", "--format", "beamer", "--detail",
                          "full", "-q")
    assert status == 0 and r"\appendix" in full and r"\appendix" not in talk
    assert talk == beamer.render(bundled_derivation(FOUNDING))
    assert _frames(talk) <= SEED_FRAMES < _frames(full)
