"""PDF: the LaTeX article compiled by pdflatex, safely and reproducibly.

pdflatex runs in a fresh temporary directory, with shell escape disabled
(``-no-shell-escape``), reading and writing restricted to that directory
(``openin_any=p``, ``openout_any=p``: "paranoid"), under a time limit, and with
``SOURCE_DATE_EPOCH``/``FORCE_SOURCE_DATE`` fixed so that the same spec gives
the same bytes.  The LaTeX itself is pure ASCII with every piece of spec text
escaped (:mod:`symderive.render.latex`), so the spec cannot inject TeX.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..errors import SymderiveError
from .latex import render as render_latex

#: Seconds allowed for all pdflatex runs of one document.
TIMEOUT = 60.0
#: The timestamp written into PDFs (2000-01-01), unless SOURCE_DATE_EPOCH is set.
EPOCH = "946684800"
MAX_RUNS = 3
_RERUN = re.compile(r"Rerun to get|Label\(s\) may have changed|There were undefined references")


class PdfError(SymderiveError, RuntimeError):
    """The PDF could not be produced: TeX is missing, failed, or took too long."""


def render(derivation, *, timeout: float = TIMEOUT, paper: str | None = None,
           detail: str = "full") -> bytes:
    """The PDF report of a derivation, on ``paper`` (US Letter unless told otherwise);
    ``detail``: "full", the default, or "brief"."""
    return compile_pdf(render_latex(derivation, paper=paper, detail=detail), timeout=timeout)


def find_pdflatex() -> str:
    """The pdflatex executable, or a :class:`PdfError` saying how to get one."""
    engine = shutil.which("pdflatex")
    if engine is None:
        raise PdfError("pdflatex not found: install TeX Live (on Debian: apt-get install "
                       "texlive-latex-base texlive-latex-recommended texlive-pictures), "
                       "or write --format latex and compile it yourself")
    return engine


def tex_environment() -> dict[str, str]:
    """The environment pdflatex runs in: paranoid file access, fixed dates."""
    env = dict(os.environ)
    env.update({"openin_any": "p", "openout_any": "p", "shell_escape": "f",
                "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", EPOCH),
                "FORCE_SOURCE_DATE": "1"})
    return env


def compile_pdf(tex: str, *, timeout: float = TIMEOUT) -> bytes:
    """Compile a LaTeX document (rerunning for references) and return the PDF's bytes."""
    engine = find_pdflatex()
    deadline = time.monotonic() + timeout
    try:
        with tempfile.TemporaryDirectory(prefix="symderive-") as tmp:
            work = Path(tmp)
            (work / "report.tex").write_text(tex, encoding="ascii", errors="strict")
            for _ in range(MAX_RUNS):
                log = _run(engine, work, deadline, timeout)
                if not _RERUN.search(log):
                    break
            return (work / "report.pdf").read_bytes()
    except OSError as exc:   # a full disk or a file-size limit in the temporary folder
        raise PdfError(f"cannot compile the PDF: {exc.strerror or exc} (in the temporary "
                       "folder)") from None


def _run(engine: str, work: Path, deadline: float, timeout: float) -> str:
    """One pdflatex run; its log, or a :class:`PdfError` with the first TeX error."""
    command = [engine, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
               "report.tex"]
    try:
        result = subprocess.run(command, cwd=work, env=tex_environment(), capture_output=True,
                                stdin=subprocess.DEVNULL,
                                timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise PdfError(f"pdflatex did not finish within {timeout:g} seconds") from None
    log_path = work / "report.log"
    log = log_path.read_text(encoding="latin-1") if log_path.exists() else ""
    if result.returncode != 0 or not (work / "report.pdf").exists():
        raise PdfError(f"pdflatex failed: {first_error(log)}")
    return log


def first_error(log: str) -> str:
    """The first TeX error of a log (``! ...`` and the line after it), for a message."""
    lines = log.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("!"):
            return " ".join(s.strip() for s in lines[k:k + 2])
    return "no error message in the log"


__all__ = ["render", "compile_pdf", "find_pdflatex", "tex_environment", "first_error",
           "PdfError", "TIMEOUT"]
