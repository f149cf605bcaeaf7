"""Hostile text in a spec's title, question and hypothesis names.

Text from a stranger reaches LaTeX (and so pdflatex) and Markdown (and so a
Q&A site's MathJax).  Here it tries every trick: ``\\input`` of a secret
file, ``\\write18`` to run a command, ``^^5c`` (TeX's code for a backslash),
``%`` comments, unbalanced braces, ``\\end{document}``, catcode changes,
HTML, Markdown links, dollars, control and bidirectional characters, emoji.
The PDF must compile, show the text literally, contain no file's content and
have run nothing; pdflatex must run sandboxed (``-no-shell-escape``,
``openin_any=p``, ``openout_any=p``, a fresh temporary directory, a time
limit).  Markdown must show the text as text: no HTML, no link, and no math
but what SymPy's printer wrote.
"""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import pytest

from report_helpers import IN_CI, math_blocks

SECRET = "SECRET-7731-CONTENT"


def hostile_names(tmp: Path) -> list[str]:
    """One hostile hypothesis name per trick; absolute paths into ``tmp``."""
    return [
        rf"\input{{{tmp / 'secret.txt'}}} \include{{/etc/passwd}}",
        rf"\immediate\write18{{touch {tmp / 'SENTINEL'}}}",
        r"^^5cinput{/etc/passwd} and ^^5c^^5cinput",
        "100% sure % this is not a comment",
        r"unbalanced }}} {{ \end{document} \catcode`\@=0 \def\x{y} \csname relax\endcsname",
        "\u2211 \u03b1 caf\u00e9 \U0001F600 \u200b\u202eRLO",
        r"<script>alert(1)</script> <b>b</b> [l](javascript:x) ![i](http://e/i.png) *b* `c`",
        r"$x$ $$y$$ \(z\) \[w\] \begin{align} v \end{align} & # _ ~ ^ \\ \ ",
    ]


def write_spec(tmp: Path) -> Path:
    (tmp / "secret.txt").write_text(SECRET + "\n")
    names = hostile_names(tmp)
    title = "Title " + " | ".join(names[:4])
    question = "\n".join(names) + "\n# heading\n> quote\n1. list\n- item\n| a | b |\n\x00 \x1b[31m"
    dump = lambda s: json.dumps(s, ensure_ascii=False)  # noqa: E731 - a TOML basic string
    lines = [f"title = {dump(title)}", f"question = {dump(question)}", "[network]",
             "layers = [2, 2, 1]"]
    for name in names:
        lines += ["[[hypothesis]]", f"name = {dump(name)}", "layer = 1", "units = [1, 2]",
                  'tie = ["incoming", "bias", "outgoing"]']
    lines += ["[check]", "steps = 10"]
    path = tmp / "hostile.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def squeeze(text: str) -> str:
    """Text without whitespace (line breaks move), hyphens (pdftotext drops one that
    ends a line) and underscores (OT1 draws them as rules, invisible to pdftotext),
    with the typographic quotes pdflatex makes of ` and ' mapped back."""
    text = unicodedata.normalize("NFC", text).replace("\u2018", "`").replace("\u2019", "'")
    return re.sub(r"[\s_-]+", "", text)


#: What each name must look like in the PDF's text: pdftotext cannot see OT1's
#: underscore (a rule) and shows \sum as the font's glyph, so those are left out.
def visible(tmp: Path) -> list[str]:
    return [rf"\input{{{tmp / 'secret.txt'}}}\include{{/etc/passwd}}",
            rf"\immediate\write18{{touch{tmp / 'SENTINEL'}}}",
            r"^^5cinput{/etc/passwd}and^^5c^^5cinput",
            "100%sure%thisisnotacomment",
            r"unbalanced}}}{{\end{document}\catcode`\@=0\def\x{y}\csnamerelax\endcsname",
            "\u03b1caf\u00e9[U+1F600]",
            "<script>alert(1)</script><b>b</b>[l](javascript:x)![i](http://e/i.png)*b*`c`",
            r"$x$$$y$$\(z\)\[w\]\begin{align}v\end{align}&#",
            "~^\\\\\\"]


needs_tex = pytest.mark.skipif(not (shutil.which("pdflatex") and shutil.which("pdftotext"))
                               and not IN_CI, reason="pdflatex and pdftotext needed")


@needs_tex
def test_the_pdf_shows_hostile_text_literally_leaks_nothing_and_runs_nothing(cli, tmp_path):
    spec = write_spec(tmp_path)
    pdf = tmp_path / "report.pdf"
    status, out, err = cli("derive", str(spec), "-o", str(pdf))
    assert status == 0, err
    assert out == "" and err == ""
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")
    flat = squeeze(text)
    for piece in visible(tmp_path):
        assert squeeze(piece) in flat, f"{piece!r} not shown literally"
    assert SECRET not in text and SECRET.encode() not in pdf.read_bytes()
    assert "root:x:0:0" not in text and "/bin/bash" not in text
    assert not (tmp_path / "SENTINEL").exists()
    assert "\x1b" not in text and "\u202e" not in text


@needs_tex
def test_pdflatex_runs_sandboxed_in_a_fresh_directory_with_a_time_limit(monkeypatch, tmp_path):
    import symderive.render.pdf as pdf

    real_run, seen = subprocess.run, []

    def spy(command, **kwargs):
        seen.append((list(command), kwargs, Path(kwargs["cwd"])))
        assert Path(kwargs["cwd"], "report.tex").is_file()
        return real_run(command, **kwargs)

    monkeypatch.setattr(pdf.subprocess, "run", spy)
    tex = "\\documentclass{article}\\begin{document}x\\end{document}\n"
    assert pdf.compile_pdf(tex).startswith(b"%PDF")
    assert pdf.compile_pdf(tex).startswith(b"%PDF")
    assert len(seen) >= 2
    directories = {cwd for _, _, cwd in seen}
    assert len(directories) == 2, "each compilation gets its own directory"
    for command, kwargs, cwd in seen:
        assert "-no-shell-escape" in command and "-shell-escape" not in command
        assert kwargs["env"]["openin_any"] == "p" and kwargs["env"]["openout_any"] == "p"
        assert kwargs["env"].get("shell_escape") in ("f", None)
        assert 0 < kwargs["timeout"] <= pdf.TIMEOUT
        assert kwargs.get("stdin") == subprocess.DEVNULL
        assert cwd.parent == Path(tempfile.gettempdir()) and cwd.name.startswith("symderive-")
        assert not cwd.exists(), "the directory is removed afterwards"


def test_the_latex_source_escapes_every_hostile_name(tmp_path):
    from symderive.api import derive
    from symderive.cli.main import read_spec
    from symderive.render.latex import render

    tex = render(derive(read_spec(str(write_spec(tmp_path))), numeric=False))
    assert tex.isascii()
    for danger in (r"\input{", r"\include{", r"\write18", r"\immediate", r"\catcode",
                   r"\csname", r"\def\x", "^^5c", r"\end{document} \catcode", "<script>"):
        assert danger not in tex.replace(r"\textbackslash{}", "BS"), danger
    body = tex.split(r"\begin{document}", 1)[1]
    assert body.count(r"\end{document}") == 1
    # every % is escaped: nothing the spec says can comment out the rest of a line
    assert not re.search(r"(?<!\\)%", body)


def test_markdown_shows_hostile_text_as_text(tmp_path):
    from symderive.api import derive
    from symderive.cli.main import read_spec
    from symderive.render.markdown import render

    md = render(derive(read_spec(str(write_spec(tmp_path))), numeric=False))
    assert "<script" not in md and "<b>" not in md and "&lt;script&gt;" in md
    assert not re.search(r"(?<!\\)\]\(", md), "a Markdown link or image"
    assert r"\[l\](javascript" in md and r"!\[i\]" in md
    assert "\x00" not in md and "\x1b" not in md and "\u202e" not in md and "\u200b" not in md
    # shown literally: undoing Markdown's backslash escapes and HTML entities gives the text
    shown = html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md))
    for name in hostile_names(tmp_path):
        printable = re.sub(r"\s+", " ", "".join(c for c in name if c.isprintable())).strip()
        assert printable in shown, printable
    # math comes from SymPy's printer only: no math block holds the spec's text
    for block in math_blocks(md):
        for word in ("input", "write18", "script", "javascript", "catcode", "comment",
                     "passwd", "SENTINEL", "alert", "caf"):
            assert word not in block["tex"], (word, block)
    # no line of prose becomes a heading, list or quote by the spec's doing
    for line in md.splitlines():
        assert not line.startswith(("> quote", "1. list", "- item", "# heading", "| a")), line


def test_json_keeps_the_text_exactly(cli, tmp_path):
    spec = write_spec(tmp_path)
    status, out, _ = cli("derive", str(spec), "--format", "json")
    assert status == 0
    report = json.loads(out)
    assert [h["name"] for h in report["hypotheses"]] == hostile_names(tmp_path)
    assert report["question"].startswith(hostile_names(tmp_path)[0])
