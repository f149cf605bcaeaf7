"""The article's typography: quotes, plurals, tolerances as math, the plot kept with its text,
exactly-zero curves said in words."""
from __future__ import annotations

import re
import shutil

import pytest
import sympy as sp

from report_helpers import BUNDLED, FOUNDING, IN_CI, FakeNumeric, bundled_derivation, pdf_text
from symderive.facts.checks import counted
from symderive.numeric.gradcheck import ATOL, RTOL
from symderive.render import latex
from symderive.report.facts import with_tolerance
from symderive.report.model import Math, Paragraph, Plot
from symderive.report.numeric import gap_plot

needs_tools = pytest.mark.skipif(
    not IN_CI and not (shutil.which("pdflatex") and shutil.which("pdftotext")),
    reason="pdflatex or pdftotext missing (CI installs TeX Live and poppler-utils)")


def test_quoted_words_open_and_close_with_tex_quotes():
    tex = latex.render(bundled_derivation(FOUNDING))
    assert "``backpropagation''" in tex
    assert "''backpropagation''" not in tex
    assert not re.search(r"(^|\s)''\w", tex)        # no closing quote opening a word


def test_counts_agree_with_their_nouns():
    assert [counted(n, "sample") for n in (0, 1, 2)] == ["0 samples", "1 sample", "2 samples"]
    for path in BUNDLED:
        tex = latex.render(bundled_derivation(path))
        assert "(s)" not in tex, path.name
        assert not re.search(r"\b1 (samples|outputs)\b", tex), path.name


def test_the_tolerance_is_math_and_means_what_gradcheck_tests():
    parts = with_tolerance(f"checked: all within |a − n| ≤ {ATOL:g} + {RTOL:g}|n|")
    maths = [p.expr for p in parts if isinstance(p, Math)]
    assert len(maths) == 1 and isinstance(maths[0], sp.Le)
    a, n = sp.Symbol("a"), sp.Symbol("n")
    bound = maths[0].rhs
    for value in (0.0, 2.0, -7.5):        # the bound, against the constants themselves
        assert float(bound.subs(n, value)) == pytest.approx(ATOL + RTOL * abs(value))
    assert maths[0].lhs == sp.Abs(a - n)
    tex = latex.render(bundled_derivation(next(p for p in BUNDLED
                                               if p.stem == "backprop_is_exact")))
    assert r"\textbar{}a" not in tex and r"\leq 1e-05" not in tex
    assert re.search(r"all within \\\(\\left\|\{a - n\}\\right\| \\leq", tex)


def test_curves_that_are_exactly_zero_are_said_not_drawn():
    zero, grows = FakeNumeric([0.0] * 5), FakeNumeric([0.0, 1e-3, 2e-3, 5e-20, 1.0])
    plot = gap_plot([grows, zero, zero])
    assert isinstance(plot, Plot) and [s.name for s in plot.series] == ["H1"]
    assert [p for p in plot.series[0].points] == [(1.0, 1e-3), (2.0, 2e-3), (3.0, 1e-18),
                                                   (4.0, 1.0)]
    caption = "".join(getattr(p, "text", "") for p in plot.caption)
    assert "H2 and H3 are not drawn: their gaps are exactly 0 at every step." in caption
    assert "exactly 0 are left out" in caption and "are drawn at" in caption
    only = gap_plot([zero])
    assert isinstance(only, Paragraph)
    assert "H1 is not drawn: its gap is exactly 0 at every step." in only.parts[0].text
    assert gap_plot([]) is None


def _pages(tex: str) -> list[str]:
    return pdf_text(tex, "-layout").split("\f")


@needs_tools
@pytest.mark.parametrize("paper", ["letter", "a4"])
def test_the_plot_is_never_alone_on_its_page(paper):
    tex = latex.render(bundled_derivation(FOUNDING), paper=paper)
    pages = _pages(tex)
    page = next(p for p in pages if "Figure 1: Gap between" in p)
    before = page.split("Figure 1:")[0]
    legend = re.search(r"^\s*H1\s*$", before, re.M)   # the plot starts with its legend
    assert legend is not None
    words_before_plot = before[:legend.start()].split()
    assert len(words_before_plot) >= 20, page[:400]
