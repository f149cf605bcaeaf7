"""A ``[[layer]]`` stack as a TikZ picture: one box per layer, left to right.

Each box holds its lines (number, kind, activation; its units; one sample's
output shape) and a row of small squares, one per unit (a layer wider than
:data:`~.diagram.MAX_UNITS` shows the units :func:`~.diagram.shown_units`
picks), those a hypothesis compares filled in their pair's colour.  Arrows join
consecutive boxes; a skip (residual connection) is an arrow arching over the
boxes it bypasses.  Deterministic and plain TikZ, like :mod:`.diagram`.
"""
from __future__ import annotations

from .diagram import PALETTE, shown_units
from .text import latex_escape

#: Distance of box centres, box width and half height (cm).
_DX, _W, _H = 2.6, 2.2, 1.2
#: Side and spacing of a unit's square (cm).
_SQ, _GAP = 0.2, 0.24


def tikz(node) -> str:
    """The ``tikzpicture`` of a :class:`~symderive.report.layer_talk.StackDiagram`."""
    lines = [r"\begin{tikzpicture}[x=1cm, y=1cm, box/.style={draw, rounded corners=2pt, "
             r"fill=black!3}, sq/.style={draw=black!70, line width=0.3pt, minimum size="
             rf"{_SQ}cm, inner sep=0pt}}, flow/.style={{->, >=stealth, draw=black!60}}, "
             r"skip/.style={->, >=stealth, draw=black!75, line width=0.6pt}]"]
    for k, box in enumerate(node.boxes):
        lines += _box(node, k, box)
    for k in range(1, len(node.boxes)):
        lines.append(rf"\draw[flow] ({_x(k - 1) + _W / 2:.2f},0) -- ({_x(k) - _W / 2:.2f},0);")
    for n, (a, b) in enumerate(node.skips):
        rise = _H + 0.45 + 0.3 * n
        lines.append(rf"\draw[skip] ({_x(a) + 0.3:.2f},{_H:.2f}) .. controls "
                     rf"({_x(a) + 0.3:.2f},{rise + 0.4:.2f}) and ({_x(b) - 0.3:.2f},"
                     rf"{rise + 0.4:.2f}) .. ({_x(b) - 0.3:.2f},{_H:.2f}) node[pos=0.5, above, "
                     r"font=\scriptsize] {skip: $+$};")
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def _x(k: int) -> float:
    return k * _DX


def _box(node, k: int, box: tuple[str, ...]) -> list[str]:
    x = _x(k)
    out = [rf"\draw[box] ({x - _W / 2:.2f},{-_H:.2f}) rectangle ({x + _W / 2:.2f},{_H:.2f});"]
    out.append(rf"\node[align=center, font=\footnotesize, anchor=north] at ({x:.2f},"
               rf"{_H - 0.1:.2f}) {{\textbf{{{latex_escape(box[0])}}}"
               + (r"\\" + r"\\".join(latex_escape(line) for line in box[1:]) if box[1:] else "")
               + "};")
    width = node.sizes[k] if k < len(node.sizes) else 0
    if width:
        out += _squares(x, width, node.classes[k])
    return out


def _squares(x: float, width: int, classes: tuple) -> list[str]:
    units = shown_units(width, classes)
    slots = len(units) + (1 if len(units) < width else 0)
    y = -_H + 0.35
    out = []
    for p, u in enumerate(units):
        pos = p + (1 if len(units) < width and u == width - 1 else 0)
        c = classes[u] if u < len(classes) else None
        fill = "white" if c is None else PALETTE[c % len(PALETTE)]
        out.append(rf"\node[sq, fill={fill}] at ({x + (pos - (slots - 1) / 2) * _GAP:.3f},"
                   rf"{y:.2f}) {{}};")
    if len(units) < width:
        out.append(rf"\node[font=\tiny] at ({x + (len(units) - 1 - (slots - 1) / 2) * _GAP:.3f},"
                   rf"{y:.2f}) {{$\cdots$}};")
    return out


__all__ = ["tikz"]
