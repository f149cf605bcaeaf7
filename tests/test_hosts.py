"""Fragments that follow their host (article, KOMA-Script in German, beamer); labels unique
per derivation; paper size and PDF metadata."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from symderive.report import Theorem, build_report

from report_helpers import (FOUNDING, IN_CI, ROOT, bundled_derivation, extra_derivation,
                            overfull, pdflatex, tex_available)
from symderive.api import derive
from symderive.render import beamer, latex, pdf
from symderive.render.preamble import HostOptions, OptionError
from symderive.report import build_report
from symderive.spec import load_spec, parse_spec

needs_tex = pytest.mark.skipif(not tex_available(),
                               reason="pdflatex missing (CI installs TeX Live)")


def _koma_german_missing() -> str:
    """What a German KOMA-Script host with amsthm needs that TeX Live lacks here ("" if none).

    babel's ngerman is Debian's texlive-lang-german; KOMA-Script patches amsthm with
    xpatch, which is texlive-latex-extra. CI installs both, and fails rather than skips.
    """
    if IN_CI or not tex_available():
        return ""
    wanted = {"ngerman.ldf": "texlive-lang-german", "xpatch.sty": "texlive-latex-extra"}
    found = {f: shutil.which("kpsewhich") and subprocess.run(
        ["kpsewhich", f], capture_output=True, text=True).stdout.strip() for f in wanted}
    return ", ".join(f"{f} missing (install {wanted[f]})" for f, path in found.items()
                     if not path)


needs_german = pytest.mark.skipif(
    not tex_available() or bool(_koma_german_missing()),
    reason=_koma_german_missing() or "pdflatex missing (CI installs TeX Live)")
SECOND = ROOT / "derivations" / "zero_outgoing_weight.toml"
PACKAGES = r"\usepackage{amsmath,amssymb,amsthm,booktabs,tabularx,pgfplots}" + "\n" + \
    r"\pgfplotsset{compat=1.18}"


def _labels(tex: str) -> list[str]:
    return re.findall(r"\\label\{([^}]*)\}", tex)


def _pdftext(tex: str, files: dict[str, str]) -> str:
    """Compile and return the PDF's text (pdftotext), asserting a clean log."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "doc.tex").write_text(tex, encoding="ascii")
        for name, text in files.items():
            (Path(tmp) / name).write_text(text, encoding="ascii")
        for _ in range(2):
            subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode",
                            "-halt-on-error", "doc.tex"], cwd=tmp, capture_output=True,
                           env=pdf.tex_environment(), timeout=240, check=True)
        log = (Path(tmp) / "doc.log").read_text(encoding="latin-1")
        assert "multiply defined" not in log and "undefined references" not in log
        assert overfull(log) == [] or all(float(w) <= 10 for w in re.findall(
            r"Overfull \\[hv]box \((\d+(?:\.\d+)?)pt", log))
        if shutil.which("pdftotext") is None:
            return ""
        return subprocess.run(["pdftotext", "doc.pdf", "-"], cwd=tmp, capture_output=True,
                              text=True, check=True).stdout


# ------------------------------------------------------------------ labels


def test_labels_are_unique_per_derivation_and_stable():
    a, b = bundled_derivation(FOUNDING), bundled_derivation(SECOND)
    la, lb = _labels(latex.render(a, fragment=True)), _labels(latex.render(b, fragment=True))
    assert la and lb and not set(la) & set(lb)
    assert la == _labels(latex.render(a, fragment=True))
    again = load_spec(FOUNDING.name, FOUNDING.read_bytes())
    assert build_report(derive(again, numeric=False)).key == build_report(a).key


def test_two_specs_of_the_same_file_name_get_different_keys():
    one = parse_spec('title = "A"\n[network]\nlayers = [2, 2, 1]\n[[hypothesis]]\nlayer = 1\n'
                     'units = [1, 2]\ntie = ["incoming"]\n', "spec.toml")
    two = parse_spec('title = "A"\n[network]\nlayers = [2, 2, 1]\n[[hypothesis]]\nlayer = 1\n'
                     'units = [1, 2]\ntie = ["bias"]\n', "spec.toml")
    k1, k2 = (build_report(derive(s, numeric=False)).key for s in (one, two))
    assert k1 != k2 and k1.startswith("spec-") and re.fullmatch(r"[a-z0-9-]+", k1)


def test_a_spec_without_a_file_is_named_after_its_title():
    spec = parse_spec('title = "Über $x$ & y!"\n[network]\nlayers = [2, 2, 1]\n'
                      '[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["incoming"]\n', "<spec>")
    key = build_report(derive(spec, numeric=False)).key
    assert re.fullmatch(r"ber-x-y-[0-9a-f]{8}", key)


# ------------------------------------------------------------------ options


@pytest.mark.parametrize("level,first,inner", [
    ("chapter", "chapter", "section"), ("section", "section", "subsection"),
    ("subsection", "subsection", "subsubsection"), ("subsubsection", "subsubsection",
                                                    "paragraph")])
def test_heading_level(level, first, inner):
    tex = latex.render(bundled_derivation(SECOND), fragment=True, heading_level=level)
    commands = [c for c in re.findall(r"^\\([a-z]+)\{", tex, re.M) if c != "providecommand"]
    assert commands[0] == first and inner in commands
    deeper = ("chapter", "section", "subsection", "subsubsection", "paragraph",
              "subparagraph")
    assert not set(commands) & set(deeper[:deeper.index(first)])


def test_theorem_env_uses_the_hosts_and_defines_none():
    d = bundled_derivation(FOUNDING)
    tex = latex.render(d, fragment=True, theorem_env="satz")
    assert r"\newtheorem" not in tex and r"\begin{theorem}" not in tex
    theorems = sum(isinstance(b, Theorem) for b in build_report(d, "full").blocks())
    assert tex.count(r"\begin{satz}") == tex.count(r"\end{satz}") == theorems >= 4


@pytest.mark.parametrize("options,message", [
    ({"heading_level": "part"}, "--heading-level 'part'"),
    ({"theorem_env": "sa}tz"}, "--theorem-env"),
    ({"theorem_env": ""}, "--theorem-env"),
])
def test_bad_host_options_are_refused(options, message):
    with pytest.raises(OptionError, match=re.escape(message)):
        HostOptions(**options)


@pytest.mark.parametrize("argv,message", [
    (("--format", "markdown", "--paper", "a4"), "--paper applies to whole documents"),
    (("--fragment", "--paper", "a4"), "--paper applies to whole documents"),
    (("--heading-level", "section"), "--heading-level applies to --fragment only"),
    (("--format", "latex", "--theorem-env", "satz"), "--theorem-env applies to --fragment"),
    (("--fragment", "--theorem-env", "a b"), "--theorem-env 'a b'"),
    (("--format", "beamer", "--fragment", "--heading-level", "chapter"),
     "beamer has no such heading"),
    (("--format", "json", "--fragment"), "--fragment applies to --format latex only"),
])
def test_cli_refuses_options_that_do_not_apply(cli, argv, message):
    status, out, err = cli("derive", "zero-outgoing-weight", "-q", *argv)
    assert status == 2 and out == "" and message in err and "Traceback" not in err


# ------------------------------------------------------------------ hosts


@needs_tex
def test_article_host_with_two_fragments_at_subsection_level():
    a = latex.render(bundled_derivation(FOUNDING), fragment=True, heading_level="subsection")
    b = latex.render(bundled_derivation(ROOT / "derivations" / "unequal_biases.toml"),
                     fragment=True, heading_level="subsection")
    host = "\n".join([r"\documentclass{article}", PACKAGES, r"\usepackage{hyperref}",
                      r"\begin{document}", r"\section{Lecture 3}", r"\input{a}", r"\input{b}",
                      r"\end{document}", ""])
    text = _pdftext(host, {"a.tex": a, "b.tex": b})
    flat = " ".join(text.split())
    assert "1.1 Do identical incoming weights" in flat or not text
    assert "1.2 Different biases" in flat or "1.2 " in flat or not text


@needs_german
@pytest.mark.parametrize("koma,level,chapter", [("scrreprt", "section", r"\chapter{Symmetrie}"),
                                                ("scrartcl", "subsection", r"\section{Symmetrie}")])
def test_koma_host_in_german_with_its_own_theorem_environment(koma, level, chapter):
    frag = latex.render(bundled_derivation(FOUNDING), fragment=True, heading_level=level,
                        theorem_env="satz")
    within = "chapter" if koma == "scrreprt" else "section"
    host = "\n".join([rf"\documentclass{{{koma}}}", r"\usepackage[T1]{fontenc}",
                      r"\usepackage[ngerman]{babel}", PACKAGES, r"\usepackage{hyperref}",
                      rf"\newtheorem{{satz}}{{Satz}}[{within}]",
                      r"\newcommand{\symderivetheoremname}{Satz}",
                      r"\begin{document}", chapter,
                      r"\begin{satz}Ein Satz des Skripts.\end{satz}", r"\input{frag}",
                      r"\end{document}", ""])
    text = _pdftext(host, {"frag.tex": frag})
    if text:
        flat = " ".join(text.split())
        assert "Satz 1.1" in flat and "Satz 1.5" in flat and "Theorem 1" not in flat
        assert "Satz 1.2" in flat     # references use the host's name and numbering
        assert "1.1 Do identical" in flat      # the fragment's title one level below the host's


@needs_tex
def test_beamer_host_with_fragments_between_its_frames():
    a = beamer.render(bundled_derivation(FOUNDING), fragment=True)
    b = beamer.render(bundled_derivation(SECOND), fragment=True, heading_level="subsection",
                      theorem_env="satz", detail="full")      # the talk, then the theorems
    host = "\n".join([r"\documentclass{beamer}", r"\usepackage{booktabs,tabularx,pgfplots}",
                      r"\pgfplotsset{compat=1.18}", r"\setbeamertemplate{theorems}[numbered]",
                      r"\newtheorem{satz}{Satz}",
                      r"\begin{document}",
                      r"\begin{frame}{My lecture}Before.\end{frame}", r"\input{a}",
                      r"\begin{frame}{Between}Host frame.\end{frame}", r"\input{b}",
                      r"\begin{frame}{After}The end.\end{frame}", r"\end{document}", ""])
    text = _pdftext(host, {"a.tex": a, "b.tex": b})
    if text:
        flat = " ".join(text.split())
        assert flat.index("Before.") < flat.index("Host frame.") < flat.index("The end.")
        assert "Numeric cross-check" in flat and "Satz 1" in flat


# ------------------------------------------------------------------ paper and metadata


def _pdfinfo(data: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.pdf"
        path.write_bytes(data)
        return subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                              check=True).stdout


needs_pdfinfo = pytest.mark.skipif(not tex_available() or shutil.which("pdfinfo") is None,
                                   reason="pdflatex or pdfinfo (poppler-utils) missing")


@needs_pdfinfo
@pytest.mark.parametrize("paper,size", [(None, "612 x 792"), ("a4", "595.276 x 841.89"),
                                        ("letter", "612 x 792")])
def test_paper_size_and_metadata(paper, size):
    d = bundled_derivation(SECOND)
    info = _pdfinfo(pdf.render(d, paper=paper))
    assert size in info
    assert re.search(r"^Title:\s+A unit with zero outgoing weights", info, re.M)
    assert re.search(r"^Subject:\s+\S", info, re.M)
    assert re.search(r"^Keywords:\s+symderive, gradient symmetry", info, re.M)


@needs_pdfinfo
def test_hostile_title_reaches_the_metadata_literally():
    info = _pdfinfo(pdf.compile_pdf(latex.render(extra_derivation("hostile"))))
    title = re.search(r"^Title:\s+(.*)$", info, re.M).group(1)
    assert title.startswith("Evil $x$ & #1 %c ~ ^^5c \\input{/etc/passwd} \\write18{touch pwned}")


@needs_pdfinfo
def test_beamer_handout_puts_two_slides_on_a_page_of_the_paper():
    d = bundled_derivation(SECOND)
    slides = _pdfinfo(beamer.render_pdf(d))
    handout = _pdfinfo(beamer.render_pdf(d, paper="letter"))
    pages = [int(re.search(r"^Pages:\s+(\d+)", i, re.M).group(1)) for i in (slides, handout)]
    assert pages[1] == (pages[0] + 1) // 2 and "612 x 792" in handout
    assert re.search(r"^Title:\s+A unit with zero outgoing weights: does it come back\?$",
                     slides, re.M)          # beamer's own title (with the subtitle) is off

