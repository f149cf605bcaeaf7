"""Notebooks: a real kernel displays two derivations; the MIME bundles are what a notebook
(and nbconvert's LaTeX/PDF export) can use: math only, a brief answer, a few lines."""
from __future__ import annotations

import os
import re

import pytest

from report_helpers import FOUNDING, ROOT, bundled_derivation, pdflatex, tex_available
from symderive.render.latex import render as render_latex

SECOND = ROOT / "derivations" / "zero_outgoing_weight.toml"
#: A brief answer fits a notebook cell (the full Markdown report is ~30 times longer).
BRIEF_LIMIT = 12_000
needs_tex = pytest.mark.skipif(not tex_available(),
                               reason="pdflatex missing (CI installs TeX Live)")


def _math_only(latex: str) -> None:
    """One $$...$$ display, with nothing but an aligned environment and math inside."""
    assert latex.startswith("$$") and latex.endswith("$$") and latex.count("$$") == 2
    inner = latex[2:-2]
    assert set(re.findall(r"\\begin\{(\w+)\}", inner)) <= {"aligned"}
    for command in ("section", "label", "ref", "tikz", "tabular", "documentclass", "theorem"):
        assert f"\\{command}" not in inner


def test_repr_latex_is_the_key_result_as_math():
    d = bundled_derivation(FOUNDING)
    latex = d._repr_latex_()
    _math_only(latex)
    rows = latex.count("&=")
    statements = sum(len(f.statements) for f in d.facts)
    assert rows == sum(len(r.groups) for r in d.results) + statements >= 12
    assert latex.count(r"\text{(H") == len(d.results)
    for k, r in enumerate(d.results, start=1):
        assert f"H{k} {r.verdict}" in latex


@needs_tex
@pytest.mark.parametrize("spec", [FOUNDING, SECOND, ROOT / "derivations" /
                                  "backprop_is_exact.toml"], ids=lambda p: p.stem)
def test_repr_latex_compiles_in_a_minimal_article(spec):
    body = bundled_derivation(spec)._repr_latex_()
    doc = "\n".join([r"\documentclass{article}", r"\usepackage{amsmath,amssymb}",
                     r"\begin{document}", "Result:", body, r"\end{document}", ""])
    log = pdflatex(doc)
    assert "Undefined control sequence" not in log


def test_repr_markdown_is_the_brief_answer():
    d = bundled_derivation(FOUNDING)
    md = d._repr_markdown_()
    assert md.startswith("# Do identical") and "## Answer" in md
    assert "## The network" not in md and "Proof" not in md
    assert len(md) < BRIEF_LIMIT


def test_repr_is_a_few_lines():
    d = bundled_derivation(FOUNDING)
    lines = repr(d).splitlines()
    assert lines[0] == f"<Derivation {d.spec.title!r}" and len(lines) <= 8
    verdicts = [line.split("': ", 1)[1].split(" (")[0] for line in lines[1:]
                if line.startswith("  hypothesis ")]
    assert verdicts == [r.verdict for r in d.results]


CELL = """
import symderive
from symderive.api import derive
from symderive.spec import load_spec
from pathlib import Path
def run(path):
    p = Path(path)
    return derive(load_spec(p.name, p.read_bytes()))
a = run({a!r})
b = run({b!r})
"""


def test_a_notebook_displays_two_derivations():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELL.format(a=str(FOUNDING), b=str(SECOND))),
                nbformat.v4.new_code_cell("a"), nbformat.v4.new_code_cell("b"),
                nbformat.v4.new_code_cell("print(symderive.__file__)")]
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)
    try:
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    assert nb.cells[3].outputs[0]["text"].strip().startswith(str(ROOT / "symderive"))
    bundles = [next(o for o in cell.outputs if o["output_type"] == "execute_result")["data"]
               for cell in nb.cells[1:3]]
    for bundle, spec in zip(bundles, (FOUNDING, SECOND)):
        d = bundled_derivation(spec)
        _math_only(bundle["text/latex"])
        assert bundle["text/latex"] == d._repr_latex_()
        assert bundle["text/markdown"] == d._repr_markdown_()
        assert len(bundle["text/markdown"]) < BRIEF_LIMIT
        plain = bundle["text/plain"].splitlines()
        assert len(plain) <= 8 and plain[0] == f"<Derivation {d.spec.title!r}"
        assert len(nbformat.writes(nb)) < 100_000
    # labels: none in the displays; the two derivations' fragments share none either
    assert not any("\\label" in b["text/latex"] for b in bundles)
    labels = [set(re.findall(r"\\label\{([^}]*)\}", render_latex(bundled_derivation(s),
                                                                 fragment=True)))
              for s in (FOUNDING, SECOND)]
    assert labels[0] and labels[1] and not labels[0] & labels[1]
