"""Markdown for Stack Exchange-style sites: the rules, the real MathJax, the founding answer."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from report_helpers import (BUNDLED, EXTRA_SPECS, FOUNDING, bundled_derivation,
                            extra_derivation, math_blocks, mathjax_errors, mathjax_missing,
                            node_available, with_numeric)
from symderive.render.markdown import render
from symderive.render.text import markdown_escape

#: Every macro the reports may use: base and AMS macros MathJax knows by default.
ALLOWED_MACROS = {
    "frac", "partial", "sigma", "delta", "hat", "sum", "left", "right", "operatorname",
    "text", "begin", "end", "qquad", "dots", "cdot", "nabla", "theta", "eta", "varphi", "ell",
    "log", "tanh", "exp", "ln", "sqrt", "prime", "infty", "Bigl", "Bigr",
} | {"alpha", "beta", "gamma", "epsilon", "lambda", "mu", "nu", "rho", "tau", "phi", "psi",
     "omega", "Delta", "Sigma", "odot", "circ", "cdots", "ldots", "quad", "mathbf", "mathrm",
     "operatorname", "max", "min", "neq", "leq", "geq", "sim", "times", "in"}


def _documents():
    """Every bundled and extra derivation in both details (full ones keep the bare name)."""
    derivations = [(p.stem, bundled_derivation(p)) for p in BUNDLED]
    derivations += [(name, extra_derivation(name)) for name in EXTRA_SPECS]
    derivations.append(("numeric-disagrees", with_numeric(bundled_derivation(FOUNDING),
                                                          agreement=False)))
    return [(name + suffix, render(d, detail=detail)) for name, d in derivations
            for suffix, detail in (("", "full"), ("-brief", "brief"))]


DOCUMENTS = _documents()
IDS = [name for name, _ in DOCUMENTS]


def rule_violations(md: str) -> list[str]:
    """Where ``md`` breaks the Markdown rules of the module docstring of render.markdown."""
    problems, lines, inside = [], md.split("\n"), False
    for k, line in enumerate(lines, start=1):
        if "$$" in line and line != "$$":
            problems.append(f"line {k}: $$ not alone on its line")
        if line == "$$":
            inside = not inside
            continue
        if inside and not line.strip():
            problems.append(f"line {k}: blank line inside display math")
        if not inside and len(re.findall(r"(?<!\\)\$", line)) % 2:
            problems.append(f"line {k}: unbalanced $ in prose (a literal $ must be \\$)")
        if not inside and re.search(r"(?<!\\)`[^`]*\$[^`]*(?<!\\)`", line):
            problems.append(f"line {k}: math in a code span")
    if inside:
        return problems + ["display math not closed"]
    for block in math_blocks(md):
        tex = block["tex"]
        if r"\begin{aligned}" in tex:
            inner = tex.split(r"\begin{aligned}", 1)[1].split(r"\end{aligned}", 1)[0]
            after = tex.split(r"\end{aligned}", 1)[1]
            if r"\tag" in inner or after.count(r"\tag") > 1:
                problems.append(f"{block['where']}: \\tag inside aligned or more than one")
    return problems


@pytest.mark.parametrize("name,md", DOCUMENTS, ids=IDS)
def test_markdown_rules(name, md):
    assert rule_violations(md) == []


@pytest.mark.parametrize("bad,problem", [
    ("text $$x$$ text", "not alone"),
    ("$$\nx\n\ny\n$$", "blank line"),
    ("it costs $5", "unbalanced"),
    ("see `$x$` here", "code span"),
    ("$$\n\\begin{aligned} a \\tag{1} \\end{aligned}\n$$", "tag"),
    ("$$\nx\n", "not closed"),
])
def test_rule_checker_catches_violations(bad, problem):
    assert any(problem in p for p in rule_violations(bad))


@pytest.mark.parametrize("name,md", DOCUMENTS, ids=IDS)
def test_only_base_and_ams_macros(name, md):
    used = {m for b in math_blocks(md) for m in re.findall(r"\\([A-Za-z]+)", b["tex"])}
    assert used <= ALLOWED_MACROS, used - ALLOWED_MACROS


@pytest.mark.skipif(not node_available(), reason=mathjax_missing() or "MathJax is here")
@pytest.mark.parametrize("name,md", DOCUMENTS, ids=IDS)
def test_real_mathjax_typesets_every_block(name, md):
    blocks = math_blocks(md)
    # a brief answer may say everything in words (a starting point's); a full report has math
    assert name.endswith("-brief") or len(blocks) >= 3
    assert mathjax_errors(blocks) == []


@pytest.mark.skipif(not node_available(), reason=mathjax_missing() or "MathJax is here")
def test_mathjax_checker_reports_errors():
    errors = mathjax_errors([{"tex": r"\undefinedmacro x", "display": True, "where": "a"},
                             {"tex": r"\begin{aligned} a \tag{1} \\ b \tag{2} \end{aligned}",
                              "display": True, "where": "b"},
                             {"tex": r"\frac{a}{b}", "display": False, "where": "c"}])
    assert [e["where"] for e in errors] == ["a", "b"]


@pytest.mark.parametrize("text,escaped", [
    ("a $5 bill", r"a \$5 bill"),
    ("<script>&", "&lt;script&gt;&amp;"),
    ("*x* _y_ `z` [a](b) #1 | ~", r"\*x\* \_y\_ \`z\` \[a\](b) \#1 \| \~"),
    ("back\\slash", r"back\\slash"),
    ("1. not a list", r"1\. not a list"),
    ("- not an item", r"\- not an item"),
    ("two\n\nlines", "two lines"),
])
def test_markdown_escape(text, escaped):
    assert markdown_escape(text) == escaped


def test_hostile_text_stays_text():
    md = render(extra_derivation("hostile"))
    assert "<script>" not in md and "<b>" not in md
    assert r"Evil \$x\$ &amp; \#1" in md
    assert r"1\. Not a list \| pipe" in md
    assert not any("passwd" in b["tex"] or "alert" in b["tex"] for b in math_blocks(md))


def test_numeric_disagreement_is_loud():
    md = dict(DOCUMENTS)["numeric-disagrees"]
    assert "> **Warning: The numeric cross-check disagrees" in md
    assert "| H1 | broken |" in md
    brief = dict(DOCUMENTS)["numeric-disagrees-brief"]
    assert brief.index("> **Warning: The numeric cross-check disagrees") < brief.index("## Why")
    assert "CONTRADICT H1, H2, H3, H4 and H5" in brief


# ------------------------------------------------------------------ the founding answer


def test_founding_answer():
    """'Different outgoing weights break the symmetry?': yes, with the factor, and why."""
    md = render(bundled_derivation(FOUNDING), detail="full")
    answer = md.split("## Answer", 1)[1].split("## The network", 1)[0]
    # the last mention: the derivation of the case (H5 is the same case, shown once)
    h1 = answer.split("**H1 and H5 (")[-1].split("**H2", 1)[0]
    assert "broken" in h1 and "separate after one step" in h1
    # the incoming gradients differ by (v_i - v_j) σ'(z) g x
    assert (r"\left(W^{(2)}_{11} - W^{(2)}_{12}\right) \sigma'(z^{(1)}_{1}) "
            r"\left(\hat{y}_{1} - y_{1}\right) x_{k}") in h1
    assert "proportional to $W^{(2)}_{11} - W^{(2)}_{12}$, the difference of their outgoing " \
        "weights" in h1
    assert re.search(r"\*\*H3 \(incoming weights, bias and outgoing weights all tied\): "
                     r"preserved\.\*\*", answer)
    assert "Backpropagation computes the exact gradient" in answer
    assert "property of the loss function" in answer


def test_founding_answer_proves_both_directions():
    md = render(bundled_derivation(FOUNDING), detail="full")
    theorem3 = md.split("**Theorem 3**", 1)[1].split("## Hypothesis H4", 1)[0]
    for step in ("The loss is swap-invariant", "The gradient is swap-equivariant",
                 "Induction over the steps", r"P \theta_{t+1}"):
        assert step in theorem3
    theorem1 = md.split("**Theorem 1**", 1)[1].split("## Hypothesis H2", 1)[0]
    assert r"W^{(2)}_{11} = W^{(2)}_{12}" in theorem1       # the 'unless'
    assert "*Proof.*" in theorem1 and "witness" in theorem1


# ------------------------------------------------------------------ determinism


def test_rendering_twice_is_identical():
    d = bundled_derivation(FOUNDING)
    assert render(d) == render(d)


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_output_does_not_depend_on_hash_seed(fmt):
    outs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        r = subprocess.run([sys.executable, "-m", "symderive", "derive", "weight-symmetry",
                            "--format", fmt], capture_output=True, env=env, timeout=600)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]
