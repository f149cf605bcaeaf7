"""A network as a TikZ picture: units of a class in one colour, frozen weights dashed.

Deterministic (positions and colours are functions of the sizes and the classes)
and plain TikZ, so it compiles wherever the report does.  A layer wider than
:data:`MAX_UNITS` shows its first units, a vertical ellipsis and its last unit.
"""
from __future__ import annotations

from ..report.model import Diagram

MAX_UNITS = 12
#: Class colours (xcolor names with a tint), cycled when there are more classes.
PALETTE = ("blue!35", "red!35", "green!45", "orange!50", "violet!35", "cyan!40", "brown!40",
           "magenta!35", "olive!45", "teal!40", "lime!55", "pink!60")
_DX, _DY = 2.8, 0.75


def shown_units(width: int, classes: tuple = ()) -> list[int]:
    """0-based units drawn for a layer of ``width`` units: all of them, or the first unit of
    each class (as many as fit), then the first units, then the last unit."""
    if width <= MAX_UNITS:
        return list(range(width))
    firsts: dict = {}
    for u, c in enumerate(classes):
        if c is not None:
            firsts.setdefault(c, u)
    room = MAX_UNITS - 2
    chosen = sorted(firsts.values())[:room]
    chosen += [u for u in range(width - 1) if u not in chosen][:room - len(chosen)]
    return sorted(chosen) + [width - 1]


def _y(position: int, count: int) -> float:
    return (count - 1) / 2 * _DY - position * _DY


def tikz(node: Diagram) -> str:
    """The ``tikzpicture`` of a :class:`Diagram` (without a float or caption)."""
    lines = [r"\begin{tikzpicture}[x=1cm, y=1cm, unit/.style={circle, draw, inner sep=0pt, "
             r"minimum size=4.5mm, font=\tiny}, w/.style={draw=black!45, line width=0.3pt}, "
             r"frozen/.style={draw=black!70, line width=0.4pt, dashed}]"]
    for l, width in enumerate(node.sizes):
        lines += _units(node, l, width)
    for l in range(1, len(node.sizes)):
        lines += _edges(node, l)
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def _dx(node: Diagram) -> float:
    """Horizontal distance of layers: at most 14 cm for the whole network."""
    return min(_DX, 14.0 / max(1, len(node.sizes) - 1))


def _units(node: Diagram, l: int, width: int) -> list[str]:
    units = shown_units(width, node.classes[l])
    count = len(units) + (1 if len(units) < width else 0)
    out = []
    for p, u in enumerate(units):
        pos = p + (1 if len(units) < width and u == width - 1 else 0)
        c = node.classes[l][u]
        fill = "white" if c is None else PALETTE[c % len(PALETTE)]
        out.append(rf"\node[unit, fill={fill}] (n{l}x{u}) at ({l * _dx(node):.2f},{_y(pos, count):.3f}) "
                   rf"{{{u + 1}}};")
    if len(units) < width:
        out.append(rf"\node at ({l * _dx(node):.2f},{_y(len(units) - 1, count):.3f}) {{$\vdots$}};")
    name = "input" if l == 0 else ("output" if l == len(node.sizes) - 1 else f"layer {l}")
    out.append(rf"\node[font=\scriptsize, below] at ({l * _dx(node):.2f},{_y(count - 1, count) - 0.3:.3f})"
               rf" {{{name} ({width})}};")
    return out


def _edges(node: Diagram, l: int) -> list[str]:
    out = []
    for u in shown_units(node.sizes[l], node.classes[l]):
        for k in shown_units(node.sizes[l - 1], node.classes[l - 1]):
            style = "frozen" if node.dashed[l][u][k] else "w"
            out.append(rf"\draw[{style}] (n{l - 1}x{k}) -- (n{l}x{u});")
    return out


__all__ = ["tikz", "shown_units", "MAX_UNITS"]
