"""A document split into slides: frames that each fit on one slide, nothing dropped.

Beamer's ``allowframebreaks`` splits a frame where TeX runs out of room and
silently drops what does not fit; here the split is decided before any markup,
on the document tree: each top-level section starts new frames (and a
heading for the navigation), each subsection too, a theorem opens a frame of
its own and its proof follows it, the plot gets a frame of its own.  Blocks
are packed greedily by an estimated height (``measure``, in lines of body
text, given by the renderer that knows the slide's size); a block taller
than what is left is split along its own seams — a derivation between its
rows, a list between its items, a table between its rows (the header
repeated), a paragraph between its sentences (one of a single long sentence
between its clauses, after '; ') — and anything that cannot be split starts a
fresh frame.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Union

from ..report.model import (Aligned, Block, Diagram, Document, Items, Paragraph, Plot, Proof,
                            Section, Strong, Table, Text, Theorem)

Measure = Callable[[Block], float]
#: Lines a theorem's or proof's title (and its box) takes on each frame it appears on.
PART_OVERHEAD = 1.5
#: A closing paragraph this short goes over the budget rather than onto a frame of its own.
WIDOW = 3.0
#: A frame filled less than this share of its room is shared out with its neighbours: a
#: third of a frame is the least a talk's frame may hold, and the estimates are generous
#: (a frame estimated half full is often a third full on the slide).
MIN_FILL = 0.55
#: How far over its estimated room a frame may be filled to spare a mostly empty one (the
#: estimates are generous, and the frame's shrink absorbs what is left).
OVERFILL = 1.12


@dataclass(frozen=True)
class Part:
    """The part of a theorem or proof (``kind``) on one frame; ``first``/``last`` say where
    it sits in the whole.  ``theorem`` is the theorem's label (the one a proof proves)."""

    kind: str
    body: tuple[Block, ...]
    first: bool
    last: bool
    theorem: str | None = None
    name: str | None = None         # a theorem's name


@dataclass(frozen=True)
class Frame:
    """One slide: a title (the section), a subtitle (the subsection) and its blocks."""

    title: str
    subtitle: str | None
    blocks: tuple[Union[Block, Part], ...]
    continued: bool = False         # not the first frame of its (sub)section


@dataclass(frozen=True)
class Heading:
    """A sectioning command between frames: ``depth`` 0 for a top-level section."""

    title: str
    depth: int


Slide = Union[Frame, Heading]


def paginate(doc: Document, measure: Measure, budget: float,
             merge: bool = False) -> tuple[Slide, ...]:
    """The document as headings and frames, each frame's blocks at most ``budget`` high
    (unless a single unsplittable block is taller).  With ``merge``, consecutive short
    sections of text share a frame (a talk's question and answer)."""
    out: list[Slide] = []
    loose: list[Block] = []
    body = merged_sections(doc.body, measure, budget) if merge else doc.body
    for block in body:
        if isinstance(block, Section):
            out += _pack(loose, doc.title, None, measure, budget)
            loose = []
            out.append(Heading(block.title, 0))
            out += _section(block, block.title, None, measure, budget, 0)
        else:
            loose.append(block)
    return tuple(out + _pack(loose, doc.title, None, measure, budget))


def merged_sections(body, measure: Measure, budget: float) -> tuple[Block, ...]:
    """Consecutive sections of text only become one section ("Question and answer"), the
    second one's title in bold above its text, when they fit on one frame together or the
    first fills less than half of one (alone it would leave a frame mostly empty)."""
    out: list[Block] = []
    for block in body:
        last = out[-1] if out else None
        short = _text_only(last) and _tall(last, measure) < budget / 2   # a short question
        if _text_only(last) and (short and _opens_with_text(block) or _text_only(block) and
                                 _tall(last, measure) + 1.5 + _tall(block, measure) <= budget):
            title = f"{last.title} and {block.title[:1].lower()}{block.title[1:]}"
            out[-1] = Section(title, last.body + (Paragraph((Strong(block.title),)),)
                              + block.body, label=last.label)
        else:
            out.append(block)
    return tuple(out)


def _text_only(block) -> bool:
    return isinstance(block, Section) and all(
        not isinstance(b, (Section, Plot, Diagram, Theorem, Proof)) for b in block.body)


def _opens_with_text(block) -> bool:
    first = block.body[0] if isinstance(block, Section) and block.body else None
    return first is not None and not isinstance(first, (Section, Plot, Diagram, Theorem, Proof))


def _tall(section: Section, measure: Measure) -> float:
    return sum(measure(b) for b in section.body)


def _section(section: Section, title: str, subtitle: str | None, measure: Measure,
             budget: float, depth: int) -> list[Slide]:
    """Frames of a section; its subsections get frames (and headings) of their own."""
    out: list[Slide] = []
    run: list[Block] = []
    for block in section.body:
        if isinstance(block, Section):
            out += _pack(run, title, subtitle, measure, budget)
            run = []
            out.append(Heading(block.title, depth + 1))
            inner = block.title if subtitle is None else f"{subtitle}: {block.title}"
            out += _section(block, title, inner, measure, budget, depth + 1)
        else:
            run.append(block)
    return out + _pack(run, title, subtitle, measure, budget)


# ------------------------------------------------------------------ packing


@dataclass
class _Piece:
    """A block to place; ``proof`` marks the pieces of a proof (0 = not in a proof)."""

    block: Block
    container: int = 0       # the theorem or proof it belongs to (numbered from 1), or 0
    kind: str = ""           # "theorem" or "proof"
    theorem: Theorem | None = None
    breaks: bool = False     # starts a frame (theorems, plots)
    alone: bool = False      # nothing after it on its frame (plots)
    first_of_proof: bool = False
    last_of_proof: bool = False


def _pieces(blocks: list[Block]) -> Iterator[_Piece]:
    """The blocks, with theorems and proofs opened up so that they can run over frames."""
    theorem, containers = None, 0
    for block in blocks:
        if not isinstance(block, (Theorem, Proof)):
            theorem = None
            picture = isinstance(block, (Plot, Diagram))     # a frame of its own
            yield _Piece(block, breaks=picture, alone=picture)
            continue
        containers += 1
        theorem = block if isinstance(block, Theorem) else theorem
        kind = "theorem" if isinstance(block, Theorem) else "proof"
        last = len(block.body) - 1
        for k, child in enumerate(block.body):
            yield _Piece(child, containers, kind, theorem, breaks=k == 0 and kind == "theorem",
                         first_of_proof=k == 0, last_of_proof=k == last)


def _pack(blocks: list[Block], title: str, subtitle: str | None, measure: Measure,
          budget: float) -> list[Slide]:
    """Frames of a run of blocks: packed greedily; when a frame would stand mostly empty
    (a remainder carried over, a closing line), packed a little over the room if that
    spares a frame, else (or then) again to a lower fill, the lowest that needs no more
    frames, so that the content is shared out evenly."""
    pieces = list(_pieces(blocks))
    frames = _greedy(pieces, measure, budget, budget)
    if len(frames) > 1 and _thinnest(frames, measure) < MIN_FILL * budget:
        tight = _greedy(pieces, measure, OVERFILL * budget, OVERFILL * budget)
        if len(tight) < len(frames):          # a frame fewer, if each may run a little over
            frames, budget = tight, OVERFILL * budget
    if len(frames) > 1 and _thinnest(frames, measure) < MIN_FILL * budget:
        low, high = budget / 2, budget
        for _ in range(12):
            mid = (low + high) / 2
            if len(_greedy(pieces, measure, budget, mid)) <= len(frames):
                high = mid
            else:
                low = mid
        even = _greedy(pieces, measure, budget, high)
        if len(even) <= len(frames) and _thinnest(even, measure) > _thinnest(frames, measure):
            frames = even
    return [Frame(title, subtitle, _with_proofs(f), continued=k > 0)
            for k, f in enumerate(frames)]


def _thinnest(frames: list[list[_Piece]], measure: Measure) -> float:
    """The estimated height of the emptiest frame."""
    return min(_used(f, measure) for f in frames)


def _used(frame: list[_Piece], measure: Measure) -> float:
    used, container = 0.0, 0
    for p in frame:
        used += measure(p.block) + (PART_OVERHEAD if p.container and
                                    p.container != container else 0.0)
        container = p.container
    return used


def _greedy(pieces: list[_Piece], measure: Measure, budget: float,
            fill: float) -> list[list[_Piece]]:
    """Pieces packed in order, each frame filled up to ``fill`` (at most ``budget``, the
    frame's room, which decides whether a table fits a frame and so is not split)."""
    frames: list[list[_Piece]] = []
    current: list[_Piece] = []
    used = 0.0
    queue = list(pieces)
    while queue:
        piece = queue.pop(0)
        if current and (piece.breaks or current[-1].alone):
            frames.append(current)
            current, used = [], 0.0
        opens = piece.container and not (current and current[-1].container == piece.container)
        height = measure(piece.block) + (PART_OVERHEAD if opens else 0.0)
        need = _glued(piece, queue, measure) if current else 0.0
        if need > 0 and used + height + need > fill:
            frames.append(current)           # a sentence and the value it announces together
            current, used = [], 0.0
            queue.insert(0, piece)
            continue
        last_line = not queue and isinstance(piece.block, Paragraph) and height <= WIDOW
        whole = not current and isinstance(piece.block, Table) and height <= budget
        if used + height <= fill or whole or (current and last_line and used + height <= fill
                                              + WIDOW):   # a frame's shrink absorbs a line
            current.append(piece)
            used += height
            continue
        room = fill - used - (PART_OVERHEAD if opens else 0.0)
        if current and isinstance(piece.block, Table) and height <= budget:
            room = -1.0                      # a table that fits a frame is not split
        head, tail = split(piece.block, room, measure)
        short = fill / 3 - (measure(tail) if tail is not None else fill)
        if head is not None and not queue and short > 0:   # no last frame nearly empty
            head, tail = split(piece.block, room - short, measure)
        if head is None and current:          # nothing of it fits here: a fresh frame
            frames.append(current)
            current, used = [], 0.0
            queue.insert(0, piece)
            continue
        if head is None:                      # taller than a frame and unsplittable
            head, tail = piece.block, None
        current.append(replace(piece, block=head,
                               last_of_proof=piece.last_of_proof and tail is None))
        frames.append(current)
        current, used = [], 0.0
        if tail is not None:
            queue.insert(0, replace(piece, block=tail, breaks=False, first_of_proof=False))
    if current:
        frames.append(current)
    return frames


def _with_proofs(pieces: list[_Piece]) -> tuple:
    """Adjacent pieces of one theorem or proof become a :class:`Part`."""
    out: list = []
    for p in pieces:
        if not p.container:
            out.append(p.block)
        elif out and isinstance(out[-1], list) and out[-1][0].container == p.container:
            out[-1].append(p)
        else:
            out.append([p])
    return tuple(_part(x) if isinstance(x, list) else x for x in out)


def _part(pieces: list[_Piece]) -> Part:
    first, theorem = pieces[0], pieces[0].theorem
    return Part(first.kind, tuple(p.block for p in pieces), first=first.first_of_proof,
                last=pieces[-1].last_of_proof, theorem=theorem.label if theorem else None,
                name=theorem.name if theorem else None)


def _glued(piece: _Piece, queue: list[_Piece], measure: Measure) -> float:
    """How much of what follows ``piece`` must share its frame: the blocks glued to it one
    after the other (a bold title, "In short:", then the first item of the list)."""
    need, block = 0.0, piece.block
    for follower in queue:
        if follower.breaks or not glued(block, follower.block):
            break
        first = _first_line(follower.block, measure)
        if first < measure(follower.block):      # split after its first line: enough
            return need + first
        need += first
        block = follower.block
    return need


def glued(block: Block, follower: Block) -> bool:
    """Whether ``block`` and the block after it belong on one frame: a paragraph that does
    not end a sentence ("... the difference is") announces what follows, and a paragraph
    that starts in lower case ("that is, ...") ends the sentence before it."""
    if isinstance(block, Paragraph) and not _ends_sentence(block):
        return True
    return isinstance(follower, Paragraph) and _starts_lower(follower)


def _ends_sentence(block: Paragraph) -> bool:
    last = block.parts[-1] if block.parts else None
    return getattr(last, "text", "").rstrip().endswith((".", "!", "?"))


def _starts_lower(block: Paragraph) -> bool:
    first = block.parts[0] if block.parts else None
    return isinstance(first, Text) and first.text[:1].islower()


def _first_line(block: Block, measure: Measure) -> float:
    """The height of the smallest head of ``block`` a frame may end with (all of it when it
    cannot be split)."""
    if isinstance(block, Items) and block.items:      # down to its first sentence
        return measure(Items((sentences(block.items[0])[0],)))
    seams = _seams(block)
    if seams is None or len(seams[0]) < 2:
        return measure(block)
    seq, make = seams
    return measure(make(tuple(seq[:1]), False))


# ------------------------------------------------------------------ splitting


def split(block: Block, room: float, measure: Measure) -> tuple[Block | None, Block | None]:
    """The largest head of ``block`` that fits in ``room``, and the rest (None: nothing)."""
    seams = _seams(block)
    if seams is None:
        return None, block
    head, tail = _split_seq(seams[0], room, measure, seams[1])
    if head is None and isinstance(block, Items):
        return _split_item(block, room, measure)
    return (None, block) if head is None else (head, tail)


def _split_item(block: Items, room: float, measure: Measure):
    """A list whose first item does not fit: that item split between its sentences, the
    rest of it continued (without a bullet) on the next frame with the other items."""
    first, rest = block.items[0], block.items[1:]

    def make(runs, last):
        text = tuple(p for run in runs for p in run)
        return Items((text, *rest), continued=True) if last else Items((text,), block.continued)

    head, tail = _split_seq(sentences(first), room, measure, make)
    return (None, block) if head is None else (head, tail)


def _seams(block: Block):
    """Where ``block`` may be split: its rows, items or sentences, and how to rebuild a run of
    them (``make(run, is_last)``); None when it cannot be split."""
    if isinstance(block, Aligned):
        return block.rows, lambda rows, last: Aligned(rows, block.label if last else None)
    if isinstance(block, Items):
        return block.items, lambda items, last: Items(
            items, block.continued and items[0] == block.items[0])
    if isinstance(block, Table):
        return block.rows, lambda rows, last: Table(
            block.header, rows, block.caption if last else (), block.label if last else None)
    if isinstance(block, Paragraph):
        runs = sentences(block.parts)
        return runs if len(runs) > 1 else clauses(block.parts), lambda runs, last: Paragraph(
            tuple(p for run in runs for p in run))
    return None


def _split_seq(seq, room: float, measure: Measure, make) -> tuple[Block | None, Block | None]:
    """Split a sequence (rows, items, sentences) where ``make(head, is_last)`` stops fitting."""
    best = 0
    for n in range(1, len(seq)):
        if measure(make(tuple(seq[:n]), False)) > room:
            break
        best = n
    if best == 0:
        return None, make(tuple(seq), True)
    return make(tuple(seq[:best]), False), make(tuple(seq[best:]), True)


def sentences(parts) -> list[tuple]:
    """Inline pieces grouped into sentences (a text piece is cut after '. ')."""
    return _runs(parts, ".!?")


def clauses(parts) -> list[tuple]:
    """Inline pieces grouped into the clauses of a sentence (cut after '; '): the seams of
    a paragraph of one long sentence (a judgement listing its cases), which has no others."""
    return _runs(parts, ";")


def _runs(parts, ends: str) -> list[tuple]:
    """Inline pieces cut after a text piece's character of ``ends`` and a space."""
    runs: list[list] = [[]]
    for part in parts:
        if not isinstance(part, Text):
            runs[-1].append(part)
            continue
        if runs[-1] and _ends(runs[-1][-1], ends) and re.match(r" \S", part.text):
            runs[-1][-1] = replace(runs[-1][-1], text=runs[-1][-1].text + " ")
            runs.append([])             # a run ended with the piece before this one
            part = Text(part.text[1:])
        chunks = re.split(rf"(?<=[{re.escape(ends)}]) (?=\S)", part.text)
        for k, chunk in enumerate(chunks):
            if k:
                runs.append([])
            runs[-1].append(Text(chunk + (" " if k < len(chunks) - 1 else "")))
    return [tuple(r) for r in runs if r]


def _ends(part, ends: str) -> bool:
    return isinstance(part, Text) and part.text.endswith(tuple(ends))


__all__ = ["Frame", "Heading", "Part", "Slide", "paginate", "split", "sentences"]
