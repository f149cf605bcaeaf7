"""The starting point of a ``[[layer]]`` network in the report: the classes (a theorem: the
exchange maps the start to itself), the frozen entries (a theorem: the gradients vanish
identically, and the factor that makes them), dead units, the trajectory and the
simulation's witnesses; the answer first is :mod:`.layer_start_answer`'s.  Every sentence is
read off :class:`~symderive.numeric.layer_verdict.StackStartResult`.
"""
from __future__ import annotations

from .layer_start_answer import SHOWN, classes_text, dead_phrases, stack_start_opening, unit_word
from .model import Alert, Block, Items, Paragraph, Section, Strong, Table, Theorem, Proof, \
    inline, para
from .proofs import joined
from .start_answer import capital


def stack_start_section(derivation) -> Section | None:
    """The full section on the starting point (None without ``[init]``)."""
    result = getattr(derivation, "start", None)
    if result is None:
        return None
    body: list[Block] = [_classes(result), _frozen(result)]
    body += _dead(result) + _trajectory(result) + _check(result)
    return Section("The starting point", tuple(body), label="sec:init")


def stack_start_blocks(derivation, detail: str) -> list[Block]:
    """What the report shows of the starting point after the answer: the brief answer's
    tables and check, or the full section; [] without [init]."""
    result = getattr(derivation, "start", None)
    if result is None:
        return []
    if detail != "brief":
        return [stack_start_section(derivation)]
    return [_classes_table(result), _frozen_table(result)] + _check(result)


def _classes_table(result) -> Table:
    rows = tuple((inline(str(l)), inline(unit_word(result, l) + "s"),
                  inline(classes_text(lc.classes)),
                  inline(lc.proof if lc.proved else f"not proved: {lc.proof}"))
                 for l, lc in result.classes.items())
    return Table(("layer", "units are", "classes (proved to stay identical)", "swap checked"),
                 rows, inline("Units of a class compute the same function of the input at "
                              "every step; units in different classes are not claimed to "
                              "differ without a witness."), label="tab:classes")


def _classes(result) -> Section:
    statement = (para("From this starting point, at every step of gradient descent (plain, "
                      "with momentum, or Adam; any learning rate), the units of each class "
                      "below compute equal functions of the input (a head: its output before "
                      "the output projection; an LSTM unit: its hidden state at every time "
                      "step)."), _classes_table(result))
    proof = para(
        "Let P exchange two units u and v of a layer: their own entries, every entry that "
        "reads them, and the same channels in every layer of their residual stream (the "
        "swap of the hypotheses' proofs). Each layer's statement under P is checked with its "
        "kind's own symbolic forward (column 'swap checked'), so L(Pθ) = L(θ) for every θ "
        "and every data set, hence ∇L(Pθ) = P∇L(θ). This start is fixed by P: every pair of "
        "entries P exchanges has equal exact values (a random entry is generic, so a swap "
        "that moves one never fixes the start). If θ = Pθ then ∇L(θ) = P∇L(θ), so one step "
        "of gradient descent gives a point fixed by P again; momentum and Adam update "
        "entry by entry from a zero state, so their state is fixed too. By induction every "
        "step is fixed by P, and a network whose parameters are fixed by P computes, at "
        "every layer, outputs equal to themselves with the two units exchanged: u and v "
        "compute the same function. Classes are the pairs so proved, joined transitively. "
        "An exchange of units of several layers at once could keep more units together; "
        "those are not searched, so two units in different classes are undecided unless "
        "the numeric check below separates them.")
    return _theorem("Units that stay identical", "classes of units", "classes", statement,
                    proof)


def _frozen_table(result) -> Table:
    f = result.frozen
    rows = []
    for name in result.start.tensors:
        s = f.summary(name)
        shown = "not analysed" if s is None else s if isinstance(s, str) else \
            ", ".join("(" + ", ".join(map(str, i)) + ")" for i in s[:16]) + \
            (f", ... ({len(s)} in all)" if len(s) > 16 else "")
        why = _gradient_words(f, name, s)
        rows.append((inline(name), inline(shown), inline(why)))
    return Table(("tensor", "frozen entries (1-based)", "its gradient"), tuple(rows),
                 inline("The entries that keep their starting values at every step."),
                 label="tab:frozen")


def _gradient_words(f, name: str, summary) -> str:
    """What is known of a tensor's gradient: the factor it needs, that it moves, or why
    nothing is claimed."""
    factor = f.factors.get(name)
    if factor:
        one = len(factor) == 1
        return (f"0 while {joined(factor)} keep{'s its' if one else ' their'} starting "
                f"value{'' if one else 's'} (moved alone, {'it' if one else 'each'} makes "
                "it non-zero)")
    if summary not in (None, "none"):
        return "0 with the frozen set at the start"
    if name in f.unverified:
        return "not verified (too large to differentiate within the budget)"
    if name in f.moved and f.moved[name].any():
        return "moves at step 1" + ("" if f.seed is None else
                                    f" (random values drawn with seed {f.seed})")
    return "0 at the start, not proved to stay 0" if summary == "none" else ""


def _frozen(result) -> Section:
    f = result.frozen
    if not f.done:
        return Section("Frozen parameters", (para(f"The frozen analysis was not done: "
                                                  f"{f.note}. No entry is claimed frozen."),),
                       label="sec:frozen")
    statement = (para("The entries marked frozen keep their starting values at every step of "
                      "gradient descent (plain, momentum or Adam), whatever the other "
                      "parameters do."), _frozen_table(result))
    data = "the given data, exact" if result.start.spec.data is not None else \
        "the data as symbols (every data set)"
    proof = para(
        "Let S be the frozen entries. The loss was built with the kinds' symbolic forward "
        f"on {data}, every parameter a free symbol, and differentiated by each entry of S; "
        "with S at its starting values (a random entry stays a symbol) each derivative is "
        "identically 0, whatever the parameters outside S are. So at every point the "
        "descent can reach while S has not moved, the gradient of S is 0, and S does not move "
        "(momentum and Adam states stay 0): by induction, never. S is the largest such set: "
        "entries whose gradient at the start is not 0 move at step 1; the others were "
        "dropped one round at a time while some derivative was not identically 0. The "
        "column 'its gradient' names the frozen tensors whose starting values it needs: "
        "moving one of them alone to random values (the other parameters random too) gives "
        "a clearly non-zero gradient in float64, so its value is the factor that vanishes.")
    return _theorem("Frozen parameters", "frozen parameters", "frozen", statement, proof)


def _theorem(title: str, name: str, key: str, statement: tuple, proof: Paragraph) -> Section:
    """A section holding one theorem and its proof (labels ``thm:key``, ``sec:key``)."""
    return Section(title, (Theorem(statement, name=name, label=f"thm:{key}"),
                           Proof((proof,))), label=f"sec:{key}")


def _dead(result) -> list[Block]:
    phrases = dead_phrases(result)
    if result.dead is None:
        return []
    if not phrases:
        return [para("Dead units: none. Every unit of a layer with an activation has a "
                     "non-zero slope at some sample and position of the data at the start "
                     "(computed exactly).")]
    return [para(Strong("Dead units."), " " + capital("; ".join(phrases)) + " (computed "
                 "exactly from the starting values and the data).")]


def _trajectory(result) -> list[Block]:
    t = result.trajectory
    if t is None or not t.steps:
        return []
    spec = result.start.spec
    rows = tuple((inline(str(s.step)), inline(f"{float(s.loss):.10g}")) for s in t.steps)
    out: list[Block] = [para(
        f"The first steps of {spec.check.optimizer} with learning rate "
        f"{spec.check.learning_rate:g}, exactly as given, on the data ({t.arithmetic}; the "
        "JSON report lists every parameter and gradient at each step). The loss is the sum "
        "over samples."), Table(("step", "loss"), rows, inline("The loss along the first "
                                                               "steps."), label="tab:trajectory")]
    if t.diverged:
        out.append(para(f"The values became infinite or undefined after step {t.steps[-1].step}."))
    return out


def _check(result) -> list[Block]:
    check = result.check
    if check is None:
        return []
    out: list[Block] = []
    if check.problems:
        out.append(Alert("The simulation contradicts the proof",
                         (Items(tuple(inline(p) for p in check.problems)),)))
    drawn = (f" ({check.drawn} drawn with seed {check.seed})" if check.drawn
             else " (this very start on the given data)")
    lines = [f"{check.steps} steps in float64{drawn}; " + (
        f"{len(check.witnesses)} of {check.pairs} pairs of classes separated: exchanging "
        "only the two units' own rows changes the layer's output by more than 1e-6 of its "
        "size at some step and sample." if check.pairs else "every layer with units is one "
        "class: no two classes to separate.")]
    for w in check.witnesses[:SHOWN]:
        word = unit_word(result, w.layer)
        lines.append(f"layer {w.layer}, {word}s {w.units[0]} and {w.units[1]}: apart at step "
                     f"{w.step}, sample {w.sample + 1} (change {w.difference:.3g})")
    return out + [para(Strong("Numeric check:")), Items(tuple(inline(x) for x in lines))]


__all__ = ["stack_start_opening", "stack_start_section", "stack_start_blocks"]
