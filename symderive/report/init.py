"""The report's section on an ``[init]`` starting point: classes of units that stay
identical (a theorem and its proof), frozen parameters (a theorem and its proof), a
picture of the network, the asker's trajectory and the simulation that checks it all.
"""
from __future__ import annotations

import sympy as sp

from ..engine.partition import SILENT
from ..spec.init import tensor_names
from .model import (Alert, Block, Diagram, Items, Math, Paragraph, Proof, Section, Strong, Table,
                    Theorem, inline, para)
from .trajectory import trajectory_blocks
from .why import tensor_why

#: Classes written out in a table cell at most (the JSON report has them all).
SHOWN_CLASSES = 12


def M(latex: str) -> Math:
    """Inline math from our own LaTeX (never spec text)."""
    return Math(sp.Symbol(latex))


def start_section(derivation) -> Section | None:
    """The section on the starting point, or None without ``[init]``."""
    result = derivation.start
    if result is None:
        return None
    spec = derivation.spec
    body: list[Block] = [_given(spec)]
    body += [_classes(spec, result), _frozen(spec, result), _diagram(spec, result)]
    body += trajectory_blocks(spec, result.trajectory)
    body += _check(result.check, exact_start(spec))
    return Section("The starting point", tuple(body), label="sec:init")


def brief_start_blocks(derivation) -> list[Block]:
    """The brief answer's evidence on the starting point: the two tables (their proofs are
    in the full report), the first steps of the trajectory and the simulation in one line."""
    result = derivation.start
    if result is None:
        return []
    spec = derivation.spec
    out: list[Block] = [_classes_table(spec, result)]
    if any(result.frozen.summary(n) != "none" for n in tensor_names(spec.network)):
        out.append(_frozen_table(spec, result))
    out += trajectory_blocks(spec, result.trajectory, tables=1)
    line = _check_line(result.check)
    return out + ([line] if line is not None else [])


def exact_start(spec) -> bool:
    """Does the simulation run this very start: data given, every tensor given?"""
    return spec.data is not None and spec.init.concrete


def _check_line(check) -> Paragraph | None:
    """The simulation in one sentence: it agrees, or it contradicts the proof."""
    if check is None:
        return None
    if check.problems:
        return para(Strong("Numeric check:"), " the simulation CONTRADICTS the proof: "
                    + "; ".join(check.problems) + " (see the full report).")
    apart = (f", and separate all {check.pairs} pairs of classes (the witness that they "
             "differ)" if check.pairs and not check.coincide else "")
    return para(Strong("Numeric check:"), f" {check.steps} steps of a NumPy simulation keep "
                f"every class together and every frozen entry in place{apart}; numbers can "
                "only contradict a proof, never replace one.")


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _given(spec) -> Items:
    """How each tensor starts, in words."""
    items = []
    for t in spec.init.tensors:
        items.append(inline(M(_tensor_tex(t.name)), f": {_how(t)}"))
    if spec.data is not None:
        n = len(spec.data.inputs)
        items.append(inline(f"the data: {n} sample{_s(n)} (inputs and targets given in the spec; "
                            "the classes and frozen sets below hold for these data)"))
    else:
        items.append(inline("no data: the classes and frozen sets below hold for every data set"))
    return Items(tuple(items))


def _how(t) -> str:
    if t.kind == "number":
        return f"{_number(t.values[0][0])} in every entry"
    return {"random": "random (generic: distinct, unrelated values)",
            "zero": "zero in every entry", "matrix": "the numbers given in the spec"}[t.kind]


def _tensor_tex(name: str) -> str:
    return f"{name[0]}^{{({name[1:]})}}"


def _number(v) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{float(v):g}"


# ------------------------------------------------------------------ classes


def _classes(spec, result) -> Section:
    table = _classes_table(spec, result)
    data = " on the inputs of the data" if spec.data is not None else " of the input"
    statement = (para("From this starting point, at every step of gradient descent (plain, with "
                      "momentum, or Adam; any learning rate), the units of each class in the "
                      f"table below have equal pre-activations, as functions{data}. A hidden layer "
                      "therefore computes only as many different functions as it has classes: "
                      "its effective width."), table)
    body: list[Block] = [Theorem(statement, name="units that stay identical",
                                 label="thm:classes"), Proof(_classes_proof(spec))]
    return Section("Units that stay identical", tuple(body), label="sec:classes")


def _classes_table(spec, result) -> Table:
    p = result.partition
    rows = []
    for l in range(1, spec.network.depth):
        cls = p.classes(l)
        text = ", ".join("{" + ", ".join(map(str, c)) + "}" for c in cls[:SHOWN_CLASSES])
        if len(cls) > SHOWN_CLASSES:
            text += f", ... ({len(cls) - SHOWN_CLASSES} more)"
        rows.append((inline(str(l)), inline(str(spec.network.layers[l])), inline(text),
                     inline(str(p.width(l)))))
    return Table(("layer", "units", "classes of units", "effective width"), tuple(rows),
                 inline("The classes of units of each hidden layer: units of a class compute "
                        "the same function at every step."), label="tab:classes")


def _classes_proof(spec) -> tuple[Block, ...]:
    inputs = ("Each input coordinate is a class of its own" if spec.data is None else
              "Input coordinates that are equal in every sample of the data share a class, and "
              "a coordinate that is 0 in every sample is left out of every sum (it contributes "
              "nothing)")
    outputs = ("each output unit is a class of its own" if spec.data is None else
               "output units share a class only when their targets are equal in every sample")
    return (
        para("Call a partition of the units of every layer stable when, for any two units ",
             M("u, u'"), " of one class of a layer ", M("l"), ": their biases agree, ",
             M("b^{(l)}_u = b^{(l)}_{u'}"), "; for every class ", M("C"), " of layer ",
             M("l-1"), " their sums of incoming weights agree, ",
             M(r"\sum_{k \in C} W^{(l)}_{uk} = \sum_{k \in C} W^{(l)}_{u'k}"), "; and for every "
             "class ", M("D"), " of layer ", M("l+1"), " their sums of outgoing weights agree, ",
             M(r"\sum_{v \in D} W^{(l+1)}_{vu} = \sum_{v \in D} W^{(l+1)}_{vu'}"), ". "
             f"{inputs}; {outputs}. The classes in the table form the coarsest stable "
             "partition, found by refinement: start with all units of a hidden layer in one "
             "class and split classes whose units differ in one of these sums, until nothing "
             "splits. A unit whose pre-activation the frozen parameters (next section) pin "
             "is a constant for ever: such units share a class when their constants agree, "
             "whatever their outgoing weights; one whose activation is then 0 is left out of "
             "the next layer's sums, and in outgoing sums a pinned unit counts alone. "
             "A tensor drawn at random is generic (its entries are distinct and "
             "unrelated), so it separates every unit it touches; given numbers are compared "
             "exactly, as rationals."),
        para(Strong("Equal pre-activations."), " If the units of each class of layer ",
             M("l-1"), " have equal activations ", M("a_C"), ", then ",
             M(r"z^{(l)}_u = b^{(l)}_u + \sum_C a_C \sum_{k \in C} W^{(l)}_{uk}"),
             " is the same for all units of a class, and so is ",
             M(r"a^{(l)}_u = \sigma(z^{(l)}_u)"), ". The inputs start the induction."),
        para(Strong("Equal deltas."), " At the output, ", M(r"\delta^{(L)}_m"),
             " depends only on ", M("z^{(L)}_m"), " and the target ", M("{y_m}"),
             ", equal within a class. If "
             "the deltas are equal within the classes of layer ", M("l+1"), ", then ",
             M(r"\delta^{(l)}_u = \sigma'(z^{(l)}_u) \sum_D \delta_D \sum_{v \in D} W^{(l+1)}_{vu}"),
             " is equal within a class of layer ", M("l"), ", by the outgoing sums."),
        para(Strong("One step keeps the partition stable."), " The gradient ",
             M(r"\partial L / \partial W^{(l)}_{uk} = \sum_n \delta^{(l)}_{n,u} a^{(l-1)}_{n,k}"),
             " depends only on the classes of ", M("u"), " and ", M("k"), ": the update of ",
             M("W^{(l)}"), " is constant on the block of two classes, and the update of a bias "
             "is constant on a class. After the step, ",
             M(r"\sum_{k \in C} W'^{(l)}_{uk} = \sum_{k \in C} W^{(l)}_{uk} - \eta |C| G_{c(u) C}"),
             ", so the incoming sums of units of a class are still equal; likewise the outgoing "
             "sums (with ", M("|D|"), ") and the biases. Momentum and Adam update every entry by "
             "a function of its own gradient history, constant on the blocks as well (their "
             "state starts at 0). By induction over the steps the partition stays stable, so "
             "the units of a class compute the same function at every step, although their "
             "individual weights may differ. Units with identical parameters are the special "
             "case."),
    )


# ------------------------------------------------------------------ frozen


def _frozen_table(spec, result) -> Table:
    f = result.frozen
    rows = []
    for name in tensor_names(spec.network):
        s = f.summary(name)
        shown = s if isinstance(s, str) else _entries(s)
        rows.append((inline(M(_tensor_tex(name))), inline(shown), inline(tensor_why(result, name))))
    return Table(("tensor", "frozen entries", "why its gradient is 0"), tuple(rows),
                 inline("The parameters that keep their initial values at every step."),
                 label="tab:frozen")


def _frozen(spec, result) -> Section:
    table = _frozen_table(spec, result)
    statement = (para("The entries marked frozen keep their initial values at every step of "
                      "gradient descent (plain, momentum or Adam), whatever the other parameters "
                      "do."), table)
    proof = (
        para("Let S be the set of frozen entries. Each gradient is a sum over samples of ",
             M(r"\delta^{(l)}_{n,u} a^{(l-1)}_{n,k}"), " (a weight) or ", M(r"\delta^{(l)}_{n,u}"),
             " (a bias), with ",
             M(r"\delta^{(l)}_{n,u} = \sigma'(z^{(l)}_{n,u}) \sum_v W^{(l+1)}_{vu} \delta^{(l+1)}_{n,v}"),
             ". Treat every parameter outside S as arbitrary and keep S at its initial values. "
             "A pre-activation whose bias and incoming terms are all fixed by S is a known "
             "constant c, so its activation is ", M(r"\sigma(c)"), " and its slope ",
             M(r"\sigma'(c)"), "; a delta vanishes when its slope does or when every term of "
             "its sum has a factor fixed at 0. The table gives, for each tensor, the factor "
             "that vanishes; so every gradient in S is 0 at every point where S has its initial "
             "values. Gradient descent started there never leaves that set (momentum and Adam "
             "too: their state stays 0), so S never moves. S is the largest such set this "
             "analysis finds: start from every parameter and drop, until nothing changes, "
             "those whose gradient can be non-zero."),)
    return Section("Frozen parameters", (Theorem(statement, name="frozen parameters",
                                                  label="thm:frozen"), Proof(proof)),
                   label="sec:frozen")


def _entries(indices: list) -> str:
    text = ", ".join("(" + ", ".join(map(str, i)) + ")" for i in indices[:16])
    return text + (f", ... ({len(indices)} in all)" if len(indices) > 16 else "")


# ------------------------------------------------------------------ picture and check


def _diagram(spec, result) -> Diagram:
    labels = result.partition.labels
    classes = tuple(tuple(None if c == SILENT or l in (0, len(labels) - 1) else int(c)
                          for c in labels[l]) for l in range(len(labels)))
    dashed = ((),) + tuple(tuple(tuple(bool(v) for v in row) for row in result.frozen.weights[l])
                           for l in range(1, len(labels)))
    return Diagram(spec.network.layers, classes, dashed,
                   inline("The network: units of a class of a hidden layer share a colour; "
                          "frozen weights are dashed."), label="fig:network")


def _check(check, exact_start: bool = False) -> list[Block]:
    """The simulation's figures, the witnesses that classes differ, and any contradiction.
    ``exact_start``: the simulation ran this very start on the given data (nothing drawn),
    so what it saw is a fact about the start; otherwise only about its own draws."""
    if check is None:
        return []
    out: list[Block] = []
    if check.problems:
        out.append(Alert("The simulation contradicts the proof",
                         (para("Do not trust the theorems above until this is resolved:"),
                          Items(tuple(inline(p) for p in check.problems)))))
    lines = [f"{check.steps} steps simulated; largest relative gap between units of one class: "
             f"{check.largest_class_gap:.3g}; largest relative change of a frozen entry: "
             f"{check.largest_frozen_change:.3g}."]
    lines.append(f"{len(check.separated)} of {check.pairs} pairs of classes have different "
                 "pre-activations on some input at some step (the witness that they really "
                 "differ)." if check.pairs else "Every hidden layer is a single class: there "
                 "are no two classes to tell apart.")
    if check.separated:
        l, a, b, t, d = check.separated[0]
        lines.append(f"For example, in layer {l} classes {a} and {b} differ by {d:.3g} at step {t}.")
    if check.coincide:
        pairs = ", ".join(f"layer {l}: {a} and {b}" for l, a, b in check.coincide[:8])
        more = ", ..." if len(check.coincide) > 8 else ""
        lines.append(f"Never apart in the simulation: {pairs}{more}. The theorem does not claim "
                     "these classes coincide; " + (
                         f"from this start, on these data, they coincide in the first "
                         f"{check.steps} steps." if exact_start else
                         "the simulation drew random values (data or tensors), so this says "
                         "nothing about the starting point itself."))
    out.append(para(Strong("Numeric check"), " (NumPy, from this starting point, random tensors "
                    "drawn with the seed; independent of the proof, and numbers can only "
                    "contradict it):"))
    out.append(Items(tuple(inline(x) for x in lines)))
    return out


__all__ = ["start_section", "brief_start_blocks"]
