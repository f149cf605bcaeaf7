"""Beamer: the report as a presentation, or (``fragment``) its frames alone.

A presentation: the title frame, then the report's sections (question, answer,
network, one section per hypothesis with its theorem and proof, the numeric
cross-check with its plot) as frames.  The document is split into frames by
:mod:`symderive.render.frames`, never by ``allowframebreaks``, with heights
estimated here from the slide's size; formulas are broken to the slide's width
(:func:`symderive.render.breaking.tex_lines`) and, should an estimate be short,
a display is scaled down to the slide rather than running off it.

A fragment is the frames with the sectioning commands between them, for
``\\input`` between the frames of a lecture: it follows its host (heading
level, theorem environment) and prefixes its labels like a LaTeX fragment.
"""
from __future__ import annotations

import itertools
import math
import re
from dataclasses import replace

from ..report import build_report
from ..report.builder import DETAILS
from ..report.model import Document, Math, Paragraph, Ref, Text
from .breaking import width
from .frames import Frame, Heading, Part, paginate
from .latex import LINE_STYLES, LatexRenderer, keywords, packages, theorem_setup
from .preamble import (BEAMER_HEADINGS, HEADINGS, HostOptions, OptionError, check_for_beamer,
                       paper_option, pdf_metadata, prefix_for)
from .text import latex_escape

#: Characters of math on a line of a slide (4:3, 11pt class, \small body: ~307pt of ~6pt).
SLIDE_LINE = 48
#: Characters of prose on a line of a slide.
CHARS_PER_LINE = 64
#: Characters of \footnotesize text on a line of a table on a slide.
TABLE_CHARS = 70
_COLUMN = re.compile(r">\{[^}]*\}X|l")      # the column types LatexRenderer._columns writes
#: Lines of \small text a frame holds below its title and subtitle (19 without a subtitle,
#: measured; a little is kept back for the estimates' errors).
FRAME_LINES = 17.5
#: Displays wider than the slide, or taller than this much of it, are scaled down.
_FIT = r"""\makeatletter
\@ifundefined{symderivebox}{\newsavebox{\symderivebox}}{}
\makeatother
\providecommand{\symderivefit}[1]{%
  \sbox{\symderivebox}{$\displaystyle #1$}%
  \ifdim\wd\symderivebox>\linewidth
    \sbox{\symderivebox}{\resizebox{\linewidth}{!}{\usebox{\symderivebox}}}\fi
  \ifdim\dimexpr\ht\symderivebox+\dp\symderivebox\relax>0.7\textheight
    \sbox{\symderivebox}{\resizebox*{!}{0.7\textheight}{\usebox{\symderivebox}}}\fi
  \usebox{\symderivebox}}"""


def render(derivation, *, fragment: bool = False, label_prefix: str | None = None,
           heading_level: str = "section", theorem_env: str | None = None,
           paper: str | None = None, detail: str = "brief") -> str:
    """The beamer presentation (or fragment) of a derivation: a talk
    (:func:`symderive.report.talk.talk_report`), and with ``detail="full"`` the full
    derivation after it as appendix frames; ``paper`` makes a handout, two slides per
    page of that paper."""
    from ..report.talk import talk_report

    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    appendix = build_report(derivation) if detail == "full" else None
    return render_document(talk_report(derivation), fragment=fragment,
                           label_prefix=label_prefix,
                           host=HostOptions(heading_level, theorem_env), paper=paper,
                           appendix=appendix)


def render_pdf(derivation, **options) -> bytes:
    """The presentation compiled to PDF (safely: :func:`symderive.render.pdf.compile_pdf`)."""
    from .pdf import compile_pdf

    return compile_pdf(render(derivation, **options))


def render_document(doc: Document, *, fragment: bool = False, label_prefix: str | None = None,
                    host: HostOptions = HostOptions(), paper: str | None = None,
                    appendix: Document | None = None) -> str:
    """The frames of ``doc``, then (``appendix``) those of a second document of the same
    derivation after ``\\appendix``: the talk's own labels are dropped, so that the
    appendix's theorems and equations keep theirs."""
    if fragment and paper is not None:
        raise OptionError("paper applies to whole documents, not to a fragment")
    if fragment:
        check_for_beamer(host)
    host = host if fragment else HostOptions()
    start = HEADINGS.index(host.heading_level) + 1 if fragment else 1
    prefix = prefix_for(doc, fragment, label_prefix)
    renderer = BeamerRenderer(doc, prefix, host, labels=appendix is None)
    body = "".join(renderer.slide(s, start)
                   for s in paginate(doc, renderer.height, FRAME_LINES, merge=True))
    if appendix is not None:
        renderer = BeamerRenderer(appendix, prefix, host)
        body += ("" if fragment else "\\appendix\n\n") + "".join(
            renderer.slide(s, start) for s in paginate(appendix, renderer.height, FRAME_LINES))
    whole = doc if appendix is None else replace(doc, body=doc.body + appendix.body)
    if fragment:
        return _fragment_head(whole, host) + body
    return _preamble(whole, paper) + body + "\\end{document}\n"


def _preamble(doc: Document, paper: str | None) -> str:
    handout = paper is not None
    option = paper_option(paper) if handout else ""
    lines = ["% Generated by symderive; regenerate rather than edit.",
             r"\documentclass[11pt,usepdftitle=false" + (",handout" if handout else "")
             + "]{beamer}"]
    if handout:
        lines += [r"\usepackage{pgfpages}",
                  rf"\pgfpagesuselayout{{2 on 1}}[{option},border shrink=5mm]"]
    lines += [r"\usefonttheme[onlymath]{serif}", r"\setbeamertemplate{navigation symbols}{}",
              r"\setbeamertemplate{footline}[frame number]",
              r"\setbeamertemplate{theorems}[numbered]"]
    for p in packages(doc):
        if p not in ("amsmath", "amssymb", "amsthm", "hyperref"):     # beamer loads those
            lines.append(rf"\usepackage{{{p}}}")
        if p == "pgfplots":
            lines.append(r"\pgfplotsset{compat=1.18}")
    lines += [pdf_metadata(doc, ("slides", *keywords(doc))), _FIT,
              r"\providecommand{\symderivetheoremname}{Theorem}",
              rf"\title{{{latex_escape(doc.title)}}}", r"\subtitle{derived by symderive}",
              r"\date{}", "", r"\begin{document}", "",
              r"\begin{frame}", r"\titlepage", r"\end{frame}", ""]
    return "\n".join(lines) + "\n"


def _fragment_head(doc: Document, host: HostOptions) -> str:
    needs = ", ".join(p for p in packages(doc) if p not in ("amsmath", "amssymb", "amsthm",
                                                             "hyperref"))
    lines = ["% Generated by symderive; regenerate rather than edit.",
             "% Frames to \\input between the frames of a beamer presentation (not inside a",
             "% frame); they need the packages " + needs + ".",
             *theorem_setup(host), _FIT,
             rf"\{host.heading(0)}{{{latex_escape(doc.title)}}}", ""]
    return "\n".join(lines) + "\n"


class BeamerRenderer(LatexRenderer):
    """The LaTeX renderer's inline pieces, with blocks sized and styled for slides."""

    table_size = r"\footnotesize"
    wrap_after = 10

    def __init__(self, doc: Document, prefix: str, host: HostOptions,
                 labels: bool = True) -> None:
        super().__init__(doc, prefix, depth=1, host=host)
        self.line = SLIDE_LINE
        self.theorem_word = r"\symderivetheoremname"
        self.labels = labels        # False: another part of the deck holds the labels

    def label(self, label: str | None) -> str:
        return super().label(label) if self.labels else ""

    # ---- frames ------------------------------------------------------------
    def slide(self, slide, start: int) -> str:
        """A frame, or the sectioning command of a heading (none past what beamer has)."""
        if isinstance(slide, Heading):
            index = start + slide.depth
            command = HEADINGS[index] if index < len(HEADINGS) else ""
            if command not in BEAMER_HEADINGS:
                return ""
            return rf"\{command}{{{latex_escape(slide.title)}}}" + "\n\n"
        return self.frame(slide)

    def frame(self, frame: Frame) -> str:
        title = latex_escape(frame.title) + (" (cont.)" if frame.continued else "")
        # the report model splits derivations over frames from estimated heights; shrink
        # is the safety net for an estimate a few points short (it never drops content)
        head = f"\\begin{{frame}}[t,shrink]\n\\frametitle{{{title}}}\n"
        if frame.subtitle:
            head += f"\\framesubtitle{{{latex_escape(frame.subtitle)}}}\n"
        body = "".join(self.block(b) for b in frame.blocks).rstrip("\n")
        return head + "\\small\n" + body + "\n\\end{frame}\n\n"

    # ---- blocks ------------------------------------------------------------
    def _inline_Ref(self, node) -> str:
        if node.label.startswith("thm:"):
            return rf"{self.theorem_word}~\ref{{{self.prefix}{node.label}}}"
        return latex_escape(node.text)      # sections and equations are not numbered on slides

    def _block_Section(self, node) -> str:   # only below the frames' subtitles
        body = "".join(self.block(b) for b in node.body)
        return rf"\textbf{{{latex_escape(node.title)}}}" + "\n\n" + body

    def _display(self, tex: str) -> str:
        return "\\[\\symderivefit{" + tex + "}\\]\n\n"

    def _block_Equation(self, node) -> str:
        exprs = [self.math(e) for e in node.exprs]
        if sum(width(e) for e in exprs) + 3 * (len(exprs) - 1) <= self.line:
            return self._display(r", \qquad ".join(exprs))
        return self._display("\\begin{gathered}\n  " + " \\\\\n  ".join(exprs)
                             + "\n\\end{gathered}")

    def _block_Aligned(self, node) -> str:
        lines = ["  " + line for line in self.aligned_lines(node)]
        return self._display("\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}")

    def _block_Plot(self, node) -> str:
        axis = "semilogyaxis" if node.log_y else "axis"
        last = max(x for s in node.series for x, _ in s.points)
        plots = "".join(self._series(s, style)
                        for s, style in zip(node.series, itertools.cycle(LINE_STYLES)))
        columns = legend_columns(node)
        return ("\\begin{center}\n\\begin{tikzpicture}\n"
                f"\\begin{{{axis}}}[width=0.92\\linewidth, height=0.52\\textheight, xmin=0, "
                f"xmax={last:g}, xlabel={{{latex_escape(node.xlabel)}}}, "
                f"ylabel={{{latex_escape(node.ylabel)}}}, tick label style={{font=\\scriptsize}},"
                " label style={font=\\scriptsize}, legend cell align=left, legend style="
                f"{{at={{(0.5,-0.32)}}, anchor=north, legend columns={columns}, "
                "font=\\scriptsize}]\n"
                f"{plots}\\end{{{axis}}}\n\\end{{tikzpicture}}\\\\[2pt]\n"
                f"{{\\scriptsize {self.inline(node.caption)}}}\n\\end{{center}}\n\n")

    def _block_Alert(self, node) -> str:
        body = "".join(self.block(b) for b in node.body).rstrip("\n")
        return (f"\\begin{{alertblock}}{{Warning: {latex_escape(node.title)}}}\n{body}\n"
                "\\end{alertblock}\n\n")

    def _block_Part(self, node: Part) -> str:
        body = "".join(self.block(b) for b in node.body).rstrip("\n")
        ref = rf"{self.theorem_word}~\ref{{{self.prefix}{node.theorem}}}" if node.theorem else ""
        if node.kind == "theorem":
            return self._theorem_part(node, body, ref)
        if node.first:
            title = f"[Proof of {ref}]" if ref else ""
        else:
            title = "[Proof (continued)]"
        more = "" if node.last else "\n\\renewcommand{\\qedsymbol}{\\ensuremath{\\cdots}}"
        return f"\\begin{{proof}}{title}\n{body}{more}\n\\end{{proof}}\n\n"

    def _theorem_part(self, node: Part, body: str, ref: str) -> str:
        """The first part in the theorem environment (numbered, labelled); later parts in a
        block titled after it, so that the theorem keeps one number."""
        if node.first:
            name = f"[{latex_escape(node.name)}]" if node.name else ""
            env, label = self.host.environment, self.label(node.theorem)
            return f"\\begin{{{env}}}{name}{label}\n{body}\n\\end{{{env}}}\n\n"
        title = f"{ref or self.theorem_word} (continued)"
        return f"\\begin{{block}}{{{title}}}\n{body}\n\\end{{block}}\n\n"

    # ---- heights (in lines of \small body text) ----------------------------
    def height(self, block) -> float:
        """How many lines of body text ``block`` takes on a slide, estimated generously."""
        return getattr(self, f"_height_{type(block).__name__}", self._height_other)(block)

    def _height_Paragraph(self, node) -> float:
        maths = [self.math(p.expr) for p in node.parts if isinstance(p, Math)]
        chars = sum(len(p.text) + (4 if isinstance(p, Ref) else 0)
                    for p in node.parts if not isinstance(p, Math))
        chars += sum(1.1 * width(m) for m in maths)
        tall = any(r"\frac" in m or r"\sum" in m for m in maths)
        return math.ceil(chars / CHARS_PER_LINE) * (1.3 if tall else 1.0) + 0.5

    def _height_Equation(self, node) -> float:
        exprs = [self.math(e) for e in node.exprs]
        if sum(width(e) for e in exprs) + 3 * (len(exprs) - 1) <= self.line:
            return max(_math_height(e) for e in exprs) + 1.2
        return sum(_math_height(e) for e in exprs) + 1.2

    def _height_Aligned(self, node) -> float:
        total = 0.0
        for _, lines, _ in self.aligned_rows(node):
            total += sum(_math_height(line) for line in lines)
        return total + 1.2

    def _height_Items(self, node) -> float:
        """Items are set closer than paragraphs (a quarter line between them, measured)."""
        return sum(self._height_Paragraph(Paragraph(item)) - 0.25 for item in node.items) + 0.5

    def _height_Table(self, node) -> float:
        """Rows wrap in the text (X) columns, which share what the others leave of a line."""
        columns = _COLUMN.findall(self._columns(node))
        wide = [k for k, c in enumerate(columns) if c.endswith("X")]
        lengths = [max([len(h)] + [_plain_length(row[c]) for row in node.rows])
                   for c, h in enumerate(node.header)]
        rest = sum(n + 3 for k, n in enumerate(lengths) if k not in wide)
        room = max(12.0, (TABLE_CHARS - rest) / max(1, len(wide)))
        heights = [max([1] + [math.ceil(_plain_length(row[c]) / room) for c in wide])
                   for row in (*node.rows, tuple((Text(h),) for h in node.header))]
        caption = math.ceil(_plain_length(node.caption) / TABLE_CHARS) if node.caption else 0
        return 1.0 * (sum(heights) + caption) + 1.5

    def _height_Theorem(self, node) -> float:
        return sum(self.height(b) for b in node.body) + 2.0

    def _height_Alert(self, node) -> float:
        return sum(self.height(b) for b in node.body) + 2.5

    def _height_Plot(self, node) -> float:
        return FRAME_LINES

    _height_Diagram = _height_Plot

    def _block_Diagram(self, node) -> str:
        """The network's picture, scaled to the slide's width and at most 62% of its
        height (a small network is drawn large, a wide or deep one is not run off it)."""
        from .diagram import tikz

        return self._picture(node, tikz(node))

    _height_StackDiagram = _height_Plot

    def _block_StackDiagram(self, node) -> str:
        """A ``[[layer]]`` stack's boxes (:mod:`.stack_diagram`), scaled as a network is."""
        from .stack_diagram import tikz

        return self._picture(node, tikz(node))

    def _picture(self, node, picture: str) -> str:
        return ("\\begin{center}\n  \\refstepcounter{figure}" + self.label(node.label) + "\n"
                f"\\sbox{{\\symderivebox}}{{{picture.strip()}}}%\n"
                "\\sbox{\\symderivebox}{\\resizebox{\\linewidth}{!}{\\usebox{\\symderivebox}}}%\n"
                "\\ifdim\\dimexpr\\ht\\symderivebox+\\dp\\symderivebox\\relax>0.62\\textheight "
                "\\sbox{\\symderivebox}{\\resizebox*{!}{0.62\\textheight}"
                "{\\usebox{\\symderivebox}}}\\fi\n"
                "\\usebox{\\symderivebox}\\par\\smallskip\n"
                f"  {{\\scriptsize Figure~\\thefigure: {self.inline(node.caption)}}}\n"
                "\\end{center}\n\n")

    def _height_other(self, node) -> float:
        return sum(self.height(b) for b in getattr(node, "body", ())) + 1.5


def legend_columns(plot) -> int:
    """Legend entries side by side: at most 4, and as many as the slide's width holds
    (a \\scriptsize line of about 72 characters, each entry's sample line taking 8)."""
    longest = max(len(s.name) for s in plot.series)
    return max(1, min(4, len(plot.series), 72 // (longest + 8)))


def _math_height(tex: str) -> float:
    """Lines a line of display math takes: fractions, sums and matrices are taller."""
    rows = tex.count(r"\\") + 1 if "matrix" in tex else 1
    if any(s in tex for s in (r"\sum", r"\prod")):      # limits above and below
        return 1.25 * rows + 1.3
    return 1.25 * rows + (0.9 if r"\frac" in tex else 0.2)


def _plain_length(parts) -> float:
    """Roughly how many characters a run of inline pieces shows (math counts 5)."""
    return sum(5 if isinstance(p, Math) else len(p.text) for p in parts)


__all__ = ["render", "render_pdf", "render_document", "BeamerRenderer", "SLIDE_LINE",
           "FRAME_LINES"]
