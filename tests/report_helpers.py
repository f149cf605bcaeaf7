"""Shared helpers of the report tests: cached derivations, Markdown math, MathJax, pdflatex."""
from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

from symderive.api import derive
from symderive.spec import load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = sorted((ROOT / "derivations").glob("*.toml"))
#: The bundled derivations of [[layer]] networks.
LAYER_BUNDLED = sorted((ROOT / "derivations" / "layers").glob("*.toml"))
#: The derivation that answers the question symderive was written for.
FOUNDING = ROOT / "derivations" / "weight_symmetry.toml"
MATHJAX = ROOT / "tests" / "mathjax"
#: Overfull boxes up to this many points are tolerated (TeX's own \hfuzz is 0.1pt).
OVERFULL_LIMIT_PT = 1.0

#: A spec whose text is hostile to LaTeX, Markdown and HTML, on a wide network.
HOSTILE = r'''
title = "Evil $x$ & #1 %c ~ ^^5c \\input{/etc/passwd} \\write18{touch pwned} {] 😀 ∑ café -- <b>"
question = """Line one with `code`, *stars*, _under_, [link](http://x) and a $5 bill.

1. Not a list | pipe \\( \\) $$ \\begin{equation} x \\end{equation} <script>alert(1)</script>"""

[network]
layers = [3, 4, 2]
activation = "sigmoid"
output_activation = "identity"
loss = "mse"
samples = 2

[[hypothesis]]
name = "tie $in$ & bias ]} \\end{theorem}"
layer = 1
units = [1, 3]
tie = ["incoming", "bias"]

[[hypothesis]]
name = "all tied"
layer = 1
units = [2, 4]
tie = ["incoming", "bias", "outgoing"]
'''

#: Networks that stress the layout: wide layers, several samples, softmax, no bias.
WIDE = '''
title = "A wide network"
[network]
layers = [64, 256, 256, 64]
activation = "relu"
loss = "softmax_ce"
samples = 3
[[hypothesis]]
name = "incoming and bias tied in the second hidden layer"
layer = 2
units = [3, 7]
tie = ["incoming", "bias"]
[[hypothesis]]
name = "everything tied"
layer = 1
units = [1, 2]
tie = ["incoming", "bias", "outgoing"]
'''

NO_BIAS = '''
[network]
layers = [2, 3, 3]
activation = "softplus"
output_activation = "sigmoid"
bias = false
loss = "bce"
[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming"]
[[hypothesis]]
layer = 1
units = [2, 3]
tie = []
'''

EXTRA_SPECS = {"hostile": HOSTILE, "wide": WIDE, "no-bias": NO_BIAS}


@functools.cache
def bundled_derivation(path: Path):
    return derive(load_spec(path.name, path.read_bytes()))


@functools.cache
def extra_derivation(name: str):
    return derive(parse_spec(EXTRA_SPECS[name], f"{name}.toml"))


class FakeNumeric:
    """Stands in for the numeric cross-check's result: only ``to_json`` is used."""

    def __init__(self, gaps, agreement=True, problems=()):
        self.data = {
            "gradient_check": {"max_abs_error": 3.2e-11, "max_rel_error": 1e-9, "passed": True},
            "training": {"optimizer": "sgd", "steps": len(gaps) - 1, "learning_rate": 0.05,
                         "max_gap": max(gaps), "first_step_over_1e-8": next(
                             (k for k, g in enumerate(gaps) if g > 1e-8), None),
                         "gaps": list(gaps)},
            "agreement": agreement, "problems": list(problems)}

    def to_json(self):
        return self.data


def with_numeric(derivation, agreement=True, steps=500):
    """The derivation with a made-up cross-check: broken hypotheses' gaps grow."""
    numeric = []
    for r in derivation.results:
        gaps = [0.0] * (steps + 1) if r.verdict == "preserved" else \
            [0.0] + [1e-3 * 1.01 ** k for k in range(steps)]
        problems = () if agreement else ("gap stays 0 although the proof says broken",)
        numeric.append(FakeNumeric(gaps, agreement, problems))
    return replace(derivation, numeric=tuple(numeric))


# ---------------------------------------------------------------- Markdown math


def math_blocks(markdown: str) -> list[dict]:
    """Every math block: display ($$ lines) and inline ($...$, not \\$), with its line."""
    out, lines, k = [], markdown.split("\n"), 0
    while k < len(lines):
        if lines[k] == "$$":
            end = lines.index("$$", k + 1)
            out.append({"tex": "\n".join(lines[k + 1:end]), "display": True,
                        "where": f"line {k + 1}"})
            k = end + 1
            continue
        for m in re.finditer(r"(?<!\\)\$(.+?)(?<!\\)\$", lines[k]):
            out.append({"tex": m.group(1), "display": False, "where": f"line {k + 1}"})
        k += 1
    return out


#: In CI (.ci/run sets SYMDERIVE_CI) a missing pdflatex or node fails the tests, not skips them.
IN_CI = bool(os.environ.get("SYMDERIVE_CI"))


def mathjax_missing() -> str:
    """Why the real MathJax cannot run here ("" when it can).

    With node and npm present but the modules absent, they are installed once
    (``npm ci`` in tests/mathjax, pinned by its package-lock.json; a file lock keeps
    parallel test workers from installing twice). In CI nothing is missing: a test
    that needs node then fails rather than skips.
    """
    if IN_CI:
        return ""
    if shutil.which("node") is None:
        return "node is not installed (Debian: nodejs and npm; CI installs them)"
    if not (MATHJAX / "node_modules" / "mathjax-full").is_dir():
        return _install_mathjax()
    return ""


def _install_mathjax() -> str:
    import fcntl

    if shutil.which("npm") is None:
        return "npm is not installed, so tests/mathjax's node modules cannot be set up"
    with open(MATHJAX / ".npm-ci.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (MATHJAX / "node_modules" / "mathjax-full").is_dir():
            return ""
        try:
            result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=MATHJAX,
                                    capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return "npm ci in tests/mathjax timed out (is the npm registry reachable?)"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        return f"npm ci in tests/mathjax failed: {last}"
    return ""


def node_available() -> bool:
    return mathjax_missing() == ""


def tex_available() -> bool:
    return shutil.which("pdflatex") is not None or IN_CI


def mathjax_errors(blocks: list[dict]) -> list[dict]:
    """Typeset ``blocks`` with the real MathJax (base + ams); the failures."""
    result = subprocess.run(["node", str(MATHJAX / "check.mjs")], input=json.dumps(blocks),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------- pdflatex


def pdflatex(tex: str, extra_files: dict[str, str] | None = None) -> str:
    """Compile ``tex`` twice in a temporary directory; the log (asserting success)."""
    from symderive.render.pdf import tex_environment

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "doc.tex").write_text(tex, encoding="ascii")
        for name, text in (extra_files or {}).items():
            (Path(tmp) / name).write_text(text, encoding="ascii")
        for _ in range(2):
            r = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode",
                                "-halt-on-error", "doc.tex"], cwd=tmp, capture_output=True,
                               env=tex_environment(), timeout=120)
            log = (Path(tmp) / "doc.log").read_text(encoding="latin-1")
            assert r.returncode == 0, log[-3000:]
        return log


def pdf_text(tex: str, *options: str) -> str:
    """Compile ``tex`` twice and return what ``pdftotext OPTIONS`` reads from the PDF
    (``-bbox``: every word with its box; ``-layout``: the pages' text)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "doc.tex").write_text(tex, encoding="ascii")
        for _ in range(2):
            r = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode",
                                "-halt-on-error", "doc.tex"], cwd=tmp, capture_output=True,
                               timeout=300)
            assert r.returncode == 0, r.stdout[-2000:]
        return subprocess.run(["pdftotext", *options, "doc.pdf", "-"], cwd=tmp,
                              capture_output=True, text=True, check=True).stdout


def overfull(log: str) -> list[str]:
    """The overfull-box warnings of a log wider than :data:`OVERFULL_LIMIT_PT`."""
    found = re.findall(r"Overfull \\[hv]box \((\d+(?:\.\d+)?)pt too \w+\)[^\n]*", log)
    lines = re.findall(r"Overfull \\[hv]box \(\d+(?:\.\d+)?pt too \w+\)[^\n]*", log)
    return [line for width, line in zip(found, lines) if float(width) > OVERFULL_LIMIT_PT]
