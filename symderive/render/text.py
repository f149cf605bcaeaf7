"""Escaping prose (which may come from an untrusted spec) for LaTeX and Markdown.

LaTeX: the output is pure ASCII, so pdflatex never meets an input character
it cannot typeset.  TeX specials (including ``^^``, which would otherwise
start a character code) become commands; accented Latin letters become
accent commands; Greek letters and a few symbols become math; anything else
becomes a visible code such as ``[U+1F600]``.

Markdown: HTML specials become entities, Markdown specials are
backslash-escaped, a literal ``$`` is ``\\$`` (so MathJax does not start math),
and a line never starts with something that would make it a list or heading.
"""
from __future__ import annotations

import re
import unicodedata

_LATEX_ASCII = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "^": r"\texttt{\string^}", "_": r"\_", "%": r"\%", "~": r"\texttt{\string~}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "[": "{[}", "]": "{]}",
    '"': "''", "`": r"\texttt{\string`}",
}
_LATEX_UNICODE = {
    "\u2013": "--", "\u2014": "---", "\u2018": "`", "\u2019": "'", "\u201c": "``",
    "\u201d": "''", "\u2026": r"\dots{}", "\u00a0": "~", "\u00df": r"{\ss}", "\u00e6": r"{\ae}",
    "\u00c6": r"{\AE}", "\u0153": r"{\oe}", "\u0152": r"{\OE}", "\u00f8": r"{\o}",
    "\u00d8": r"{\O}", "\u00e5": r"{\aa}", "\u00c5": r"{\AA}", "\u0142": r"{\l}",
    "\u0141": r"{\L}", "\u0131": r"{\i}", "\u00a1": "!`", "\u00bf": "?`", "\u00a3": r"{\pounds}",
    "\u00a7": r"{\S}", "\u00b6": r"{\P}", "\u00a9": r"{\copyright}",
}
_LATEX_MATH = {
    "\u00d7": r"\times", "\u00b7": r"\cdot", "\u2212": "-", "\u00b1": r"\pm", "\u2264": r"\leq",
    "\u2265": r"\geq", "\u2260": r"\neq", "\u2192": r"\to", "\u2190": r"\leftarrow",
    "\u21d2": r"\Rightarrow", "\u221e": r"\infty", "\u2211": r"\sum", "\u220f": r"\prod",
    "\u2202": r"\partial", "\u2207": r"\nabla", "\u2208": r"\in", "\u2248": r"\approx",
    "\u00b0": r"^\circ", "\u221a": r"\surd", "\u2032": r"\prime",
    "\u2016": r"\|", "\u00b2": "^2", "\u27e8": r"\langle", "\u27e9": r"\rangle",
}
_ACCENTS = {  # combining mark -> OT1 accent command
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=", "\u0306": "u",
    "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H", "\u030c": "v", "\u0327": "c",
    "\u0323": "d", "\u0331": "b",
}
_GREEK_CAPITALS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi",
                   "Psi", "Omega"}


#: Pairs of characters a font joins into another glyph (a ligature): ``--`` a dash,
#: ``''`` a closing quote, ``!``` ¡, ``,,`` and ``<<`` quotes in T1 fonts.
_LIGATURES = {("-", "-"), ("'", "'"), ("`", "`"), ("!", "`"), ("?", "`"), (",", ","),
              ("<", "<"), (">", ">")}


def latex_escape(text: str) -> str:
    """Plain text as LaTeX source that typesets it literally (pure ASCII output): a
    straight double quote as TeX's opening or closing quote, and ``{}`` between two
    characters that would form a ligature (``-{}-`` stays two hyphens)."""
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    for k, c in enumerate(text):
        chunk = _quote(text, k) if c == '"' else _latex_char(c)
        if out and (out[-1][-1], chunk[0]) in _LIGATURES:
            out.append("{}")
        out.append(chunk)
    return "".join(out)


def _quote(text: str, k: int) -> str:
    """A straight double quote as TeX's opening ``...'' or closing one: it opens at the start
    and after a space or an opening bracket, and closes everywhere else."""
    return "``" if k == 0 or text[k - 1].isspace() or text[k - 1] in "([{/-" else "''"


def _latex_char(c: str) -> str:
    code = ord(c)
    if code < 128:
        if c in _LATEX_ASCII:
            return _LATEX_ASCII[c]
        return " " if code < 32 or code == 127 else c
    if c in _LATEX_UNICODE:
        return _LATEX_UNICODE[c]
    if c in _LATEX_MATH:
        return rf"\ensuremath{{{_LATEX_MATH[c]}}}"
    return _accented(c) or _greek(c) or rf"\texttt{{[U+{code:04X}]}}"


def _accented(c: str) -> str | None:
    """é -> {\\'{e}}: an ASCII letter with accents OT1 fonts can draw."""
    base, *marks = unicodedata.normalize("NFD", c)
    if not (base.isascii() and base.isalpha() and marks and all(m in _ACCENTS for m in marks)):
        return None
    out = {"i": r"\i", "j": r"\j"}.get(base, base)
    for mark in marks:
        out = rf"\{_ACCENTS[mark]}{{{out}}}"
    return "{" + out + "}"


def _greek(c: str) -> str | None:
    """α -> \\ensuremath{\\alpha}; capitals without a command (Α) -> the Latin letter."""
    m = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER ([A-Z]+)", unicodedata.name(c, ""))
    if not m:
        return None
    name = m.group(2).capitalize().replace("Lamda", "Lambda")
    if m.group(1) == "SMALL":
        name = name.lower()
        if name == "omicron":
            return "o"
        return rf"\ensuremath{{\{name}}}" if name in _GREEK_SMALL else None
    if name in _GREEK_CAPITALS:
        return rf"\ensuremath{{\{name}}}"
    return _LATIN_LOOKALIKE.get(name)


#: Small Greek letters that LaTeX's fonts have as commands (archaic ones such as
#: stigma, koppa, digamma and sampi have none: they become [U+03DB] like any other).
_GREEK_SMALL = frozenset("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu "
                         "xi pi rho sigma tau upsilon phi chi psi omega".split())

_LATIN_LOOKALIKE = {"Alpha": "A", "Beta": "B", "Epsilon": "E", "Zeta": "Z", "Eta": "H",
                    "Iota": "I", "Kappa": "K", "Mu": "M", "Nu": "N", "Omicron": "O", "Rho": "P",
                    "Tau": "T", "Chi": "X"}

_MARKDOWN = {
    "\\": "\\\\", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "#": "\\#",
    "|": "\\|", "$": "\\$", "~": "\\~", "<": "&lt;", ">": "&gt;", "&": "&amp;",
}


def markdown_escape(text: str) -> str:
    """Plain text as Markdown that shows it literally, on one line."""
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFC", text))
    out = "".join(_MARKDOWN.get(c, c) for c in text if c.isprintable())
    return _guard_line_start(out)


def _guard_line_start(text: str) -> str:
    """Escape what would make a line a list item, heading rule or quote."""
    m = re.match(r"(\d+)([.)])", text)
    if m:
        return m.group(1) + "\\" + text[len(m.group(1)):]
    if text[:1] in ("-", "+", "=", ">"):
        return "\\" + text
    return text


__all__ = ["latex_escape", "markdown_escape"]
