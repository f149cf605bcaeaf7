"""``inspect``: a PyTorch model's units judged, in the module's own names.

The spec from :func:`~symderive.bridge.convert.read` is derived; the judgement is
then built from what was computed (the pairs identical now, their verdicts, the
proved classes, the units dead on this batch, the proved frozen sets) and becomes
the spec's question, so every report format opens with it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..api import Derivation, derive
from .convert import MAX_PAIRS, Pair, Reading, read

#: Activations whose derivative is 0 for every pre-activation <= 0 (a "dead" unit).
DEAD = ("relu",)


@dataclass(frozen=True, repr=False)      # repr: the Derivation's summary
class Inspection(Derivation):
    """A :class:`~symderive.Derivation` whose question is the judgement, plus the
    facts behind it: ``pairs`` (identical now, with verdicts), ``dead`` (layer ->
    1-based units dead on the batch) and ``names`` (layer number -> module path)."""

    judgement: str = ""
    pairs: tuple[tuple[Pair, str], ...] = ()
    dead: tuple[tuple[int, tuple[int, ...]], ...] = ()
    names: tuple[str, ...] = ()


def inspect(model: Any, inputs: Any, targets: Any = None, loss: Any = "mse",
            numeric: bool = True, **options: Any) -> Inspection:
    """Derive the spec of ``model`` on this batch and judge its units (see module doc)."""
    from ..spec.request import Spec

    reading = read(model, inputs, targets, loss, **options)
    d = derive(Spec.from_dict(reading.tables, "<torch>"), numeric=numeric)
    verdicts = _verdicts(reading, d)
    dead = dead_units(reading) if not d.spec.network.stack else _stack_dead(d)
    names = tuple(layer.where for layer in reading.builder.layers)
    text = judgement(reading, d, verdicts, dead)
    spec = replace(d.spec, question=text + "\n\n" + reading.tables["question"])
    return Inspection(spec=spec, results=d.results, numeric=d.numeric, facts=d.facts,
                      start=d.start, judgement=text, pairs=verdicts, dead=dead, names=names)


def _verdicts(reading: Reading, d: Derivation) -> tuple[tuple[Pair, str], ...]:
    """Each identical pair with its verdict: its own hypothesis's, or (beyond the
    spec's hypotheses) that of the derived pair of its layer with the same groups:
    exchanging units maps one hypothesis onto the other, so the verdicts agree."""
    derived = {(p.layer, p.tie, p.zero): r.verdict
               for p, r in zip(reading.pairs, d.results)}
    return tuple((p, derived.get((p.layer, p.tie, p.zero), "not derived"))
                 for p in reading.pairs)


def dead_units(reading: Reading) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Per dense ReLU layer, the units whose pre-activation is <= 0 on every sample of
    the batch, computed exactly (rationals) while the layers before are piecewise
    linear; a layer after others is left out (its inputs are not rational).  A
    ``[[layer]]`` network's dead units come from the engine (:func:`_stack_dead`)."""
    b = reading.builder
    if "data" not in reading.tables:
        return ()
    a = np.array(reading.tables["data"]["inputs"], dtype=object)
    a = np.vectorize(_fraction, otypes=[object])(a)
    out = []
    for l, layer in enumerate(b.layers, start=1):
        if layer.entry["kind"] != "dense":
            break
        z = a @ b.tensors[f"W{l}"].T
        if f"b{l}" in b.tensors:
            z = z + b.tensors[f"b{l}"]
        act = layer.entry["activation"]
        if act in DEAD:
            dead = tuple(int(u) + 1 for u in np.flatnonzero(np.all(z <= 0, axis=0)))
            if dead:
                out.append((l, dead))
        if act not in ("relu", "identity"):
            break
        a = np.where(z > 0, z, Fraction(0)) if act == "relu" else z
    return tuple(out)


def _stack_dead(d: Derivation) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """A ``[[layer]]`` network's dead units, from the engine (exact, on the batch)."""
    dead = d.start.dead if d.start is not None else None
    return tuple((l, u) for l, u in (dead or {}).items() if u)


def _fraction(v: Any) -> Fraction:
    return Fraction(v) if isinstance(v, (int, str)) else Fraction(repr(v))


def judgement(reading: Reading, d: Derivation, verdicts, dead) -> str:
    """The opening sentences, each from something computed."""
    names = [layer.where for layer in reading.builder.layers]
    kinds = [layer.entry["kind"] for layer in reading.builder.layers]
    lines = [_identical(names, kinds, verdicts, d)] if verdicts else [
        "No two units are identical now (no two units of a layer have equal incoming "
        "weights and bias)."]
    why = ("its activation's slope is exactly 0 at every sample and position of the batch"
           if d.spec.network.stack else
           "pre-activation at most 0 on every sample, so ReLU passes no gradient")
    lines += [f"{_units(u)} of '{names[l - 1]}' {'is' if len(u) == 1 else 'are'} dead on this "
              f"batch ({why})." for l, u in dead]
    if d.start is not None:
        lines += _classes(names, d, verdicts) + _frozen(reading, d)
    return " ".join(lines)


def _identical(names: list[str], kinds: list[str], verdicts, d: Derivation) -> str:
    """One sentence per group of identical units whose pairs share their groups and
    verdict (else one per pair), in the order the pairs were found."""
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for p, verdict in verdicts:
        groups.setdefault((p.layer, p.tie, p.zero, verdict), []).append(p.units)
    parts = []
    for (layer, tie, zero, verdict), pairs in groups.items():
        units = sorted({u for pair in pairs for u in pair})
        fate = {"preserved": "will stay identical for ever (proved)",
                "broken": "can separate (the hypothesis tying only what they share is "
                          "broken, with a witness)",
                "undecided": "may or may not separate (undecided)",
                "not derived": f"were not derived (beyond the first {MAX_PAIRS} pairs)"}[verdict]
        shared = ", ".join(tie + tuple(f"{g} zero" for g in zero))
        each = f", for each of the {len(pairs)} pairs" if len(pairs) > 1 else ""
        linked = len(pairs) == len(units) * (len(units) - 1) // 2
        for chunk in ([units] if linked else [list(pair) for pair in pairs]):
            word = "Head" if kinds[layer - 1] == "attention" else "Unit"
            parts.append(f"{_units(chunk, word)} of '{names[layer - 1]}' are identical now "
                         f"({shared}) and {fate[:-1] + each + ')' if linked else fate}."
                         + (_here(d, layer, chunk) if verdict != "preserved" else ""))
    return " ".join(parts)


def _here(d: Derivation, layer: int, units: list[int]) -> str:
    """What the starting point's proof (and simulation) say of these units on this batch."""
    if d.start is not None and d.spec.network.stack:
        return _stack_here(d, layer, units)
    if d.start is None or layer >= len(d.start.partition.labels) - 1:
        return ""
    labels = {int(d.start.partition.labels[layer][u - 1]) + 1 for u in units}
    if len(labels) == 1:
        return (" On this batch, though, they stay identical for ever (one proved class "
                "of the starting point).")
    check = d.start.check
    if check is not None and len(labels) == 2:
        a, b = sorted(labels)
        steps = [t for l, x, y, t, _ in check.separated if (l, x, y) == (layer, a, b)]
        if steps:
            return f" On this batch they part at step {steps[0]} of the simulation."
    return ""


def _stack_here(d: Derivation, layer: int, units: list[int]) -> str:
    """As :func:`_here`, from a ``[[layer]]`` start's classes and witnesses."""
    lc = d.start.classes.get(layer)
    if lc is None:
        return ""
    labels = {lc.label(u) for u in units}
    if len(labels) == 1:
        return (" On this batch, though, they stay identical for ever (one proved class "
                "of the starting point).")
    check = d.start.check
    reps = sorted(lc.classes[k][0] for k in labels)
    if check is not None and len(reps) == 2:
        steps = [w.step for w in check.witnesses if (w.layer, *w.units) == (layer, *reps)]
        if steps:
            return f" On this batch they part at step {steps[0]} of the simulation."
    return ""


def _class_lists(d: Derivation) -> dict[int, list[list[int]]]:
    """Every layer's classes (1-based units), dense or ``[[layer]]``."""
    if d.spec.network.stack:
        return {l: [list(c) for c in lc.classes] for l, lc in d.start.classes.items()}
    partition = d.start.partition
    return {l: partition.classes(l) for l in range(1, len(partition.labels) - 1)}


def _classes(names: list[str], d: Derivation, verdicts) -> list[str]:
    """Classes of more than one unit, per layer (proved to stay equal functions)."""
    out = []
    for l, classes in _class_lists(d).items():
        big = [c for c in classes if len(c) > 1]
        if big:
            groups = "; ".join(_units(c).lower() for c in big)
            out.append(f"In '{names[l - 1]}' these units compute the same function at every "
                       f"step of training (proved classes): {groups}.")
    return out


def _frozen(reading: Reading, d: Derivation) -> list[str]:
    """Tensors with frozen entries, by their state_dict names."""
    keys = {w.name: w.key for w in reading.builder.writes if not w.zero}
    parts = []
    for t in d.spec.init.tensors:
        summary = d.start.frozen.summary(t.name)
        if summary is None:
            return [f"Which parameters are frozen was not analysed ({d.start.frozen.note})."]
        if summary == "all":
            parts.append(f"'{keys.get(t.name, t.name)}' entirely")
        elif summary != "none":
            parts.append(f"{len(summary)} entries of '{keys.get(t.name, t.name)}'")
    if not parts:
        return ["No parameter is frozen."]
    return ["These parameters never move (proved frozen): " + ", ".join(parts) + "."]


def _units(units, word: str = "Unit") -> str:
    """"Unit 3", "Units 1, 2 and 4" (or heads)."""
    units = list(units)
    if len(units) == 1:
        return f"{word} {units[0]}"
    return f"{word}s " + ", ".join(str(u) for u in units[:-1]) + f" and {units[-1]}"


__all__ = ["Inspection", "dead_units", "inspect", "judgement"]
