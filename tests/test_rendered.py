"""The committed reports in derivations/rendered/ are those the code renders today.

After a change that alters the reports, regenerate them with

    SYMDERIVE_UPDATE_RENDERED=1 python -m pytest tests/test_rendered.py

Markdown, LaTeX and the beamer slides (NAME-slides.tex, NAME-slides.pdf) must
match byte for byte; a PDF must exist for every .tex (PDFs are reproducible on one TeX Live, SOURCE_DATE_EPOCH being fixed,
but differ between TeX Live versions, so their bytes are not compared).
"""
from __future__ import annotations

import os

import pytest

import json
import re

from report_helpers import BUNDLED, LAYER_BUNDLED, ROOT, bundled_derivation
from symderive.render import beamer
from symderive.render import json as json_render
from symderive.render import latex
from symderive.render import markdown
from symderive.render import pdf

RENDERED = ROOT / "derivations" / "rendered"
UPDATE = bool(os.environ.get("SYMDERIVE_UPDATE_RENDERED"))
SPECS = BUNDLED + LAYER_BUNDLED        # derivations/*.toml and derivations/layers/*.toml
NAMES = {p: p.stem.replace("_", "-") for p in SPECS}


def _check(path, text: str) -> None:
    if UPDATE:
        RENDERED.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path.name} missing: regenerate (see {__name__}'s docstring)"
    assert path.read_text(encoding="utf-8") == text, \
        f"{path.name} is stale: regenerate (see tests/test_rendered.py)"


@pytest.mark.parametrize("spec", SPECS, ids=list(NAMES.values()))
def test_markdown_is_current(spec):
    """NAME.md is the brief answer (Markdown's default), NAME.full.md the full report."""
    d = bundled_derivation(spec)
    _check(RENDERED / f"{NAMES[spec]}.md", markdown.render(d))
    _check(RENDERED / f"{NAMES[spec]}.full.md", markdown.render(d, detail="full"))


@pytest.mark.parametrize("spec", SPECS, ids=list(NAMES.values()))
def test_latex_is_current_and_compiled(spec):
    _check_compiled(NAMES[spec], latex.render(bundled_derivation(spec)))


def _check_compiled(stem: str, tex: str) -> None:
    """STEM.tex is ``tex``; STEM.pdf exists (compiled from it when updating)."""
    _check(RENDERED / f"{stem}.tex", tex)
    target = RENDERED / f"{stem}.pdf"
    if UPDATE:
        target.write_bytes(pdf.compile_pdf(tex))
    assert target.read_bytes().startswith(b"%PDF-"), f"{target.name} missing or not a PDF"


@pytest.mark.parametrize("spec", SPECS, ids=list(NAMES.values()))
def test_slides_are_current_and_compiled(spec):
    _check_compiled(f"{NAMES[spec]}-slides", beamer.render(bundled_derivation(spec)))


def test_nothing_stale_is_left_behind():
    wanted = {f"{name}{suffix}" for name in NAMES.values()
              for suffix in (".md", ".full.md", ".tex", ".pdf", "-slides.tex", "-slides.pdf")}
    present = {p.name for p in RENDERED.iterdir()} - {"README.md"}
    assert present <= wanted, f"no bundled derivation for {sorted(present - wanted)}"


#: Where each committed format's answer starts, and what ends it.
_ANSWERS = {".md": (r"^## Answer\n", r"^## "), ".full.md": (r"^## Answer\n", r"^## "),
            ".tex": (r"\\section\{Answer\}", r"\\section\{|\\end\{document\}"),
            "-slides.tex": (r"\\textbf\{Answer\}\n|\\frametitle\{Answer\}\n\\small\n",
                            r"\\end\{frame\}")}


def answer_text(text: str, start: str, end: str) -> str | None:
    """What stands between an answer's heading and the next heading (None: no heading)."""
    found = re.search(start, text, re.M)
    if found is None:
        return None
    rest = text[found.end():]
    stop = re.search(end, rest, re.M)
    return rest[:stop.start() if stop else len(rest)].strip()


def test_the_answer_finder_sees_an_empty_answer():
    assert answer_text("## Answer\n\n## Why\nx", *_ANSWERS[".md"]) == ""
    assert answer_text("\\textbf{Answer}\n\n\\end{frame}", *_ANSWERS["-slides.tex"]) == ""
    assert answer_text("## Answer\n\nYes.\n## Why", *_ANSWERS[".md"]) == "Yes."


@pytest.mark.parametrize("spec", SPECS, ids=list(NAMES.values()))
def test_no_bundled_report_has_an_empty_answer(spec):
    """Every committed format (brief and full Markdown, LaTeX, the talk) and the JSON report
    has an answer with something in it."""
    for suffix, (start, end) in _ANSWERS.items():
        text = (RENDERED / f"{NAMES[spec]}{suffix}").read_text(encoding="utf-8")
        found = answer_text(text, start, end)
        assert found, f"{NAMES[spec]}{suffix}: {'empty' if found == '' else 'no'} answer"
    assert json.loads(json_render.render(bundled_derivation(spec)))["answer"].strip()
