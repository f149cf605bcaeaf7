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

from report_helpers import BUNDLED, ROOT, bundled_derivation
from symderive.render import beamer
from symderive.render import latex
from symderive.render import markdown
from symderive.render import pdf

RENDERED = ROOT / "derivations" / "rendered"
UPDATE = bool(os.environ.get("SYMDERIVE_UPDATE_RENDERED"))
#: Layer derivations rendered too (derivations/layers/; the others are checked by
#: tests/test_layer_specs.py).
LAYER_SPECS = [ROOT / "derivations" / "layers" / "weight_norms_batch_norm.toml"]
SPECS = BUNDLED + LAYER_SPECS
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
