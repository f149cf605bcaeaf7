"""The ``conservation`` fact: every continuous symmetry the network's loss has, and its law.

For each symmetry of :mod:`.laws` that the spec's network has, the derivation proves the
gradient identity (reduced symbolically to a condition on σ, which is then proved),
states the quantity gradient flow conserves, and proves its exact change per step of
gradient descent (learning rate η), of heavy-ball momentum (μ, torch's rule) and of
gradient descent with weight decay λ (added to the gradient, as torch.optim does), term
by term.  Symmetries the network does not have are named with the reason, computed
(the residual of Euler's identity at a point where it is not zero, the loss's name).
The numeric check (:mod:`.conservation_check`) trains the network and compares.
"""
from __future__ import annotations

import re
from dataclasses import replace

import sympy as sp

from ..engine.network import bias, weight
from ..notation import index_sum, tex
from ..engine.network import preactivation
from ..notation.symbols import BufferOf, QuantityOf, Step, minus
from ..spec import NetworkSpec
from ..spec.facts import FactSpec
from . import lie
from .conservation_check import conservation_check
from .laws import (LOSS, MAX_SOFTMAX_OUTPUTS, ZI, ZJ, Law, euler_residual, grad, layer_reduction, linear_residual,
                   residual_at, translation_applies, translation_proved, vanishes)
from .result import PROVED, UNDECIDED, FactResult, Statement

ETA, MU, LAM = sp.symbols("eta mu lambda", positive=True)
_Z = sp.Symbol("z", real=True)
#: Points where a condition on σ is evaluated when it is not proved (witnesses).
EULER_POINTS = tuple({_Z: v} for v in (1, -1, 2, sp.Rational(1, 2)))
LINEAR_POINTS = tuple({ZI: a, ZJ: b} for a, b in ((1, -1), (-1, 1), (1, 2), (2, 1), (1, 1)))


# ------------------------------------------------------------- display of one law


def _rescale_form(net: NetworkSpec, layer: int, u) -> callable:
    """B(f, g) = Σ_k f(W_uk)g(W_uk) + f(b_u)g(b_u) − Σ_m f(W_mu)g(W_mu)."""
    K, M = net.layers[layer - 1], net.layers[layer + 1]

    def form(f, g):
        out = index_sum(lambda k: f(weight(layer, u, k)) * g(weight(layer, u, k)), "k", K)
        if net.bias:
            out += f(bias(layer, u)) * g(bias(layer, u))
        return out - index_sum(lambda m: f(weight(layer + 1, m, u)) * g(weight(layer + 1, m, u)),
                               "m", M)
    return form


def _linear_form(net: NetworkSpec, layer: int) -> callable:
    """Entry (i, j): Σ_k f(W_ik)g(W_jk) + f(b_i)g(b_j) − Σ_m f(W_mi)g(W_mj), so that the
    diagonal is the rescale form (Q = W W^T + b b^T − V^T V, V = W^(l+1))."""
    K, M = net.layers[layer - 1], net.layers[layer + 1]

    def form(f, g):
        out = index_sum(lambda k: f(weight(layer, "i", k)) * g(weight(layer, "j", k)), "k", K)
        if net.bias:
            out += f(bias(layer, "i")) * g(bias(layer, "j"))
        return out - index_sum(lambda m: f(weight(layer + 1, m, "i"))
                               * g(weight(layer + 1, m, "j")), "m", M)
    return form


def _translation_form(net: NetworkSpec, column: int | None) -> callable:
    """Q(f) = Σ_k f(b_k) (column None) or Σ_k f(W_kj)."""
    L, K = net.depth, net.layers[-1]
    entry = (lambda k: bias(L, k)) if column is None else (lambda k: weight(L, k, column))
    return lambda f, g=None: index_sum(lambda k: f(entry(k)), "k", K)


def _ident(s):
    return s


def _nu_next(s):
    return MU * BufferOf(s) + grad(s)


def quantity(law: Law) -> sp.Expr:
    return law.display(_ident, _ident)


def identity(law: Law) -> tuple[sp.Expr, sp.Expr]:
    """(lhs, rhs) of the gradient identity, as printed."""
    if not law.quadratic:
        return law.display(grad), sp.Integer(0)
    return _sides(law.display)


def _sides(form) -> tuple[sp.Expr, sp.Expr]:
    """Σ_k (∂L/∂W_ik) W_jk + (∂L/∂b_i) b_j = Σ_m W_mi ∂L/∂W_mj: the incoming part of
    B(∇L, θ) and the outgoing part of B(θ, ∇L) (the form's positive and negative terms)."""
    lhs = [t for t in sp.Add.make_args(form(grad, _ident)) if not t.could_extract_minus_sign()]
    rhs = [-t for t in sp.Add.make_args(form(_ident, grad)) if t.could_extract_minus_sign()]
    return sp.Add(*lhs), sp.Add(*rhs)


def per_step(law: Law) -> dict[str, sp.Expr]:
    """Q(θ_{t+1}) − Q(θ_t): gradient descent, momentum, weight decay."""
    B = law.display
    if not law.quadratic:
        return {"gd": sp.Integer(0), "momentum": sp.Integer(0),
                "weight_decay": -ETA * LAM * B(_ident)}
    return {"gd": ETA ** 2 * B(grad, grad),
            "momentum": -ETA * MU * (B(_ident, BufferOf) + B(BufferOf, _ident))
            + ETA ** 2 * B(_nu_next, _nu_next),
            "weight_decay": ((1 - ETA * LAM) ** 2 - 1) * B(_ident, _ident)
            + ETA ** 2 * B(grad, grad)}


CHANGE = minus(QuantityOf(Step(1)), QuantityOf(Step(0)))


# ------------------------------------------------------------- finding the laws


def _names_rescale(net: NetworkSpec, layer: int, u: int) -> tuple[str, ...]:
    K, M = net.layers[layer - 1], net.layers[layer + 1]
    names = [f"W{layer}_{u}_{k}" for k in range(1, K + 1)]
    names += [f"b{layer}_{u}"] if net.bias else []
    return tuple(names + [f"W{layer + 1}_{m}_{u}" for m in range(1, M + 1)])


def _names_layer(net: NetworkSpec, layer: int) -> tuple[str, ...]:
    r, K, M = net.layers[layer], net.layers[layer - 1], net.layers[layer + 1]
    names = [f"W{layer}_{i}_{k}" for i in range(1, r + 1) for k in range(1, K + 1)]
    names += [f"b{layer}_{i}" for i in range(1, r + 1)] if net.bias else []
    return tuple(names + [f"W{layer + 1}_{m}_{i}" for m in range(1, M + 1)
                          for i in range(1, r + 1)])


def rescale_laws(net: NetworkSpec) -> tuple[list[Law], list[Statement], str]:
    """The rescale laws (one per hidden unit) if σ is positively homogeneous."""
    euler = euler_residual(net)
    if net.activation.name == "any":
        return [], [], ("rescale: σ is undefined (generic mode); a hidden unit has a rescale "
                        "law exactly when zσ'(z) = σ(z) for every z")
    if not vanishes(euler):
        found = residual_at(euler.xreplace({euler.free_symbols.pop(): _Z})
                            if euler.free_symbols else euler, EULER_POINTS)
        why = (f"zσ'(z) − σ(z) = {found[1]:.4g} at z = {found[0]['z']:g}, so σ is not "
               "positively homogeneous" if found else
               "zσ'(z) − σ(z) = 0 could not be proved (nor refuted at z = 1, −1, 2, 1/2)")
        return [], [], "rescale: " + why
    laws, statements = [], [Statement("Euler's identity for this σ: it is positively "
                                      "homogeneous", euler, sp.Integer(0))]
    for layer in range(1, net.depth):
        status, proof = _reduction(net, layer, ("u", "u"), _rescale_form(net, layer, "u"),
                                   "any unit u", "the identity")
        statements.append(proof)
        laws += [Law("rescale", layer, u, _names_rescale(net, layer, u),
                     _rescale_form(net, layer, u), True, status)
                 for u in range(1, net.layers[layer] + 1)]
    return laws, statements, ""


def _reduction(net: NetworkSpec, layer: int, units: tuple[str, str], form, who: str,
               what: str) -> tuple[str, Statement]:
    """The identity of a generic unit (pair) of ``layer`` reduced to a condition on σ."""
    proved, reduced = layer_reduction(net, layer, *units)
    status = PROVED if proved else UNDECIDED
    return status, Statement(
        f"layer {layer}, {who}, per sample (backpropagation, σ undefined): {what}, left "
        "side minus right side", minus(*_sides(form)),
        reduced.xreplace({ZI: preactivation(layer, "n", units[0]),
                          ZJ: preactivation(layer, "n", units[1])}), status)


def linear_laws(net: NetworkSpec) -> tuple[list[Law], list[Statement], str]:
    """The matrix law of each hidden layer if σ is linear (σ(z) = cz)."""
    if net.activation.name == "any":
        return [], [], "linear: σ is undefined (generic mode)"
    residual = linear_residual(net)
    if not vanishes(residual):
        found = residual_at(residual, LINEAR_POINTS)
        why = (f"σ'(z_i)z_j − σ(z_j) = {found[1]:.4g} at z_i = {found[0]['z_i']:g}, "
               f"z_j = {found[0]['z_j']:g}, so σ is not linear" if found
               else "σ'(z_i)z_j − σ(z_j) = 0 could not be proved")
        return [], [], "linear: " + why
    laws, statements = [], [Statement("σ is linear: σ'(z_i)z_j = σ(z_j) for all z_i, z_j",
                                      residual, sp.Integer(0))]
    for layer in range(1, net.depth):
        form = _linear_form(net, layer)
        status, proof = _reduction(net, layer, ("i", "j"), form, "any units i, j",
                                   "entry (i, j) of the identity")
        statements.append(proof)
        laws.append(Law("linear", layer, None, _names_layer(net, layer), form, True, status))
    return laws, statements, ""


def translation_laws(net: NetworkSpec) -> tuple[list[Law], list[Statement], str]:
    if not translation_applies(net):
        what = (f"the loss is {net.loss.name}" if net.loss.name != "softmax_ce"
                else f"the output activation is {net.output_activation.name}, not identity")
        return [], [], f"translation: {what}; shifting every logit leaves only softmax " \
                       "cross-entropy on identity outputs unchanged"
    status = translation_proved(net)
    L, K = net.depth, net.layers[-1]
    how = (f"ℓ(ŷ + c) − ℓ(ŷ) expanded to 0 for the {K} outputs" if status == PROVED else
           f"not expanded: {K} outputs, more than {MAX_SOFTMAX_OUTPUTS}")
    statements = [Statement("softmax cross-entropy is unchanged when every logit is shifted by "
                            f"c ({how}); its derivative in c at 0", index_sum(
                                lambda k: sp.Derivative(sp.Symbol("ell"), sp.Symbol(
                                    f"haty_1_{k}", real=True), evaluate=False), "k", K),
                            sp.Integer(0), status)]
    columns = [None] if net.bias else []
    laws = [Law("translation", L, c, tuple(f"b{L}_{k}" if c is None else f"W{L}_{k}_{c}"
                                            for k in range(1, K + 1)),
                _translation_form(net, c), False, status)
            for c in columns + list(range(1, net.layers[-2] + 1))]
    return laws, statements, ""


def step_statements() -> list[Statement]:
    """The per-step changes, proved for one term s·x·y of a quadratic Q (so for the sum):
    gradient descent, momentum, weight decay; the cross terms sum to −2ηB(θ, ∇L) = 0."""
    s, x, y, gx, gy, vx, vy = sp.symbols("s x y g_x g_y nu_x nu_y", real=True)
    term = s * x * y
    out = []
    rules = {
        "gradient descent θ ← θ − η∇L": ((x - ETA * gx, y - ETA * gy),
                                        -ETA * s * (x * gy + gx * y) + ETA ** 2 * s * gx * gy),
        "momentum ν ← μν + ∇L, θ ← θ − ην": (
            (x - ETA * (MU * vx + gx), y - ETA * (MU * vy + gy)),
            -ETA * MU * s * (x * vy + vx * y) - ETA * s * (x * gy + gx * y)
            + ETA ** 2 * s * (MU * vx + gx) * (MU * vy + gy)),
        "weight decay θ ← θ − η(∇L + λθ)": (
            ((1 - ETA * LAM) * x - ETA * gx, (1 - ETA * LAM) * y - ETA * gy),
            ((1 - ETA * LAM) ** 2 - 1) * s * x * y
            - ETA * (1 - ETA * LAM) * s * (x * gy + gx * y) + ETA ** 2 * s * gx * gy)}
    for words, ((nx, ny), change) in rules.items():
        after = s * nx * ny
        proved = sp.expand(after - term - change) == 0
        out.append(Statement(f"one term s·x·y of Q after a step of {words}, minus before",
                             minus(after, term), change, PROVED if proved else UNDECIDED))
    return out


def find_laws(net: NetworkSpec) -> tuple[list[Law], list[Statement], list[str]]:
    """Every law of the network, the statements proving them, and why the others are absent."""
    if net.stack:
        return _stack_laws(net)
    laws, statements, absent = [], [], []
    for finder in (rescale_laws, linear_laws, translation_laws):
        found, proofs, why = finder(net)
        laws += found
        statements += proofs
        if why:
            absent.append(why)
    absent.append("scale: this network has no batch or layer norm (dense layers only), so "
                  "no parameters feed a norm")
    return laws, statements, absent


def check(net: NetworkSpec, result: FactResult, rng, steps: int, lr: float):
    """The kind's numeric check: the dense one, or through the layer kinds' passes."""
    if net.stack:
        from .scale_check import scale_check

        return scale_check(net, result, rng, steps, lr)
    return conservation_check(net, result, rng, steps, lr)


def _stack_laws(net: NetworkSpec) -> tuple[list[Law], list[Statement], list[str]]:
    """A ``[[layer]]`` network: the scale laws of its norm layers (:mod:`.scale`); the
    other symmetries are derived for ``network.layers`` networks only, and said so."""
    from .scale import scale_laws

    laws, statements, absent = scale_laws(net)
    kinds = ", ".join(dict.fromkeys(s.kind for s in net.stack))
    absent.append(f"rescale, linear, translation: derived for networks given by "
                  f"network.layers only; this one is given by [[layer]] tables ({kinds})")
    return laws, statements, absent


_WORDS = {"gd": "gradient descent", "momentum": "momentum", "weight_decay": "weight decay"}


def _where(law: Law) -> str:
    if law.symmetry == "rescale":
        return f"rescale, unit {law.index} of layer {law.layer}"
    if law.symmetry == "linear":
        return f"linear, layer {law.layer} (entry i, j of an r × r matrix)"
    if law.symmetry == "scale":
        return (f"scale, the parameters of layer {law.layer}" if law.index is None else
                f"scale, channel {law.index}'s incoming weights in layer {law.layer}")
    return "translation, " + ("the output biases" if law.index is None
                              else f"column {law.index} of W^({law.layer})")


def law_statements(law: Law) -> list[Statement]:
    """A law written out: its quantity, its identity, its change per step of each rule."""
    lhs, rhs = identity(law)
    flow = ("conserved by gradient flow: dQ/dt = −2⟨θ, ∇L⟩ = 0 by the identity"
            if law.symmetry == "scale" else
            "conserved by gradient flow: dQ/dt = −2B(θ, ∇L) = 0 by the identity"
            if law.quadratic else "conserved by gradient flow: dQ/dt = −Σ ∂L/∂θ = 0")
    steps = per_step(law)
    out = [Statement(f"{_where(law)}: the quantity, {flow}", QuantityOf(sp.Symbol("theta")),
                     quantity(law), law.status),
           Statement(f"{_where(law)}: its exact change over one step of gradient descent",
                     CHANGE, steps["gd"], law.status),
           Statement(f"{_where(law)}: the gradient identity", lhs, rhs, law.status)]
    out += [Statement(f"{_where(law)}: its exact change over one step of {_WORDS[rule]}",
                      CHANGE, steps[rule], law.status) for rule in ("momentum", "weight_decay")]
    return out


def _representatives(laws: list[Law]) -> list[Law]:
    """The first law of each symmetry and layer (the others differ by their indices only)."""
    seen, out = set(), []
    for law in laws:
        if (law.symmetry, law.layer) not in seen:
            seen.add((law.symmetry, law.layer))
            out.append(law)
    return out


def conservation(network: NetworkSpec, fact: FactSpec) -> FactResult:
    laws, proofs, absent = find_laws(network)
    algebra = step_statements() if laws else []
    statements = [s for law in _representatives(laws) for s in law_statements(law)]
    statements += proofs + algebra
    proved = [l for l in laws if l.status == PROVED]
    steps_ok = all(s.status == PROVED for s in algebra)
    verdict = ("none found" if not laws else "proved" if len(proved) == len(laws) and steps_ok
               else UNDECIDED)
    counts = {}
    for law in laws:
        counts[law.symmetry] = counts.get(law.symmetry, 0) + 1
    found = ", ".join(f"{n} {k}" for k, n in counts.items())
    open_ = sorted({l.symmetry for l in laws if l.status != PROVED}
                   | ({"the per-step algebra"} if not steps_ok else set()))
    summary = (f"{len(laws)} conservation laws ({found}); their gradient identities and "
               "per-step changes are proved." if verdict == "proved" else
               f"{len(laws)} conservation laws ({found}); not proved: {'; '.join(open_)}"
               + (f" (the shift of softmax is expanded for at most {MAX_SOFTMAX_OUTPUTS} "
                  "outputs)" if network.layers[-1] > MAX_SOFTMAX_OUTPUTS
                  and "translation" in open_ else "") + "."
               if laws else "No continuous symmetry of the kinds checked.")
    lie = _lie(network, laws)
    if lie:
        summary += (f" The Lie algebra generated by the gradient fields leaves "
                    f"{lie['independent_laws']} independent laws among the "
                    f"{lie['parameters']} parameters other than the output biases, for a loss "
                    "that depends on them only through the units' products (Marcotte, "
                    "Gribonval & Peyré 2023); the laws found have rank "
                    f"{lie['laws_found_independent']} at a seeded point, so "
                    + ("they are all there are." if lie["complete"] else "some may be missing."))
    summary += _scale_words(laws, proofs)
    summary += " Absent: " + "; ".join(absent) + "."
    return FactResult(fact, verdict, summary, tuple(statements),
                      ("backpropagation's formulas for δ (the fact backprop_exact proves them)",
                       "momentum and weight decay as in torch.optim.SGD (no dampening; weight "
                       "decay added to the gradient); the momentum buffer starts at 0"),
                      None, details={"laws": laws_json(network, laws), "absent": absent,
                                     "lie_algebra": lie})


def _scale_words(laws: list[Law], proofs: list[Statement]) -> str:
    """What the proved scale laws say, naming their layers, and (batch norm) the biases
    whose gradient was proved 0."""
    scale = [l for l in laws if l.symmetry == "scale" and l.status == PROVED]
    if not scale:
        return ""
    which = ", ".join(str(k) for k in sorted({l.layer for l in scale}))
    channels = sorted({l.layer for l in scale if l.index is not None})
    per = (f" (one law per channel: each channel's incoming weights in layer "
           f"{', '.join(map(str, channels))})" if channels else "")
    zero = [s for s in proofs if s.status == PROVED and "bias's gradient is 0" in s.claim]
    bias = (" The biases feeding a batch norm get gradient exactly 0: its mean takes them "
            "away." if zero else "")
    return (f" The parameters of layer {which} feed a norm and are scale-invariant{per}: "
            "⟨θ, ∇L⟩ = 0, so each step of gradient descent makes ‖θ‖² grow by exactly "
            "η²‖∇L‖² (it never shrinks), gradient flow keeps it constant, and with weight "
            "decay λ a step leaves it unchanged exactly at ‖θ‖² = η‖∇L‖²/(λ(2 − ηλ))." + bias)


def _lie(network: NetworkSpec, laws: list[Law]) -> dict | None:
    """The count of independent laws, for one hidden layer of rescale (or linear) laws."""
    kinds = {l.symmetry for l in laws}
    if "rescale" not in kinds or "translation" in kinds or len(network.layers) != 3:
        return None   # softmax's translation adds laws the count of φ's fields leaves out
    return lie.count(network, linear="linear" in kinds)


_LATEX_KEYS = ("quantity_latex", "gradient_identity_latex", "per_step_change_latex",
               "per_step_change_momentum_latex", "per_step_change_weight_decay_latex")
#: The generic index standing for a law's own (unit or column) in its group's template.
_PLACEHOLDER = {"rescale": "u", "translation": "j"}
_SUBSCRIPT = re.compile(r"_\{([^{}]*)\}")


def _formulas(law: Law, samples: int) -> dict[str, str]:
    lhs, rhs = identity(law)
    steps = per_step(law)
    exprs = (quantity(law), sp.Eq(lhs, rhs, evaluate=False),
             *(sp.Eq(CHANGE, steps[r], evaluate=False) for r in ("gd", "momentum",
                                                                  "weight_decay")))
    return {k: tex(e, samples) for k, e in zip(_LATEX_KEYS, exprs)}


def _with_index(latex: str, letter: str, number: int) -> str:
    """A template's formula for law ``number``: the letter replaced in every subscript,
    written as the printer writes indices (commas when one has more than one character)."""
    def one(m: re.Match) -> str:
        body = m.group(1)
        if "=" in body or letter not in body:
            return m.group(0)
        parts = body.split(",") if "," in body else list(body)
        parts = [str(number) if p == letter else p for p in parts]
        sep = "," if any(len(p) > 1 for p in parts) else ""
        return "_{" + sep.join(parts) + "}"
    return _SUBSCRIPT.sub(one, latex)


def laws_json(net: NetworkSpec, laws: list[Law]) -> list[dict]:
    """Every law's JSON entry; the formulas are printed once per group (a symmetry and a
    layer) with a generic index, then given each law's own unit or column."""
    templates: dict[tuple, dict[str, str]] = {}
    out = []
    for law in laws:
        key = (law.symmetry, law.layer, law.index if law.symmetry == "scale" else None)
        if key not in templates:
            templates[key] = _formulas(_template(net, law), net.samples)
        letter = _PLACEHOLDER.get(law.symmetry)
        latex = {k: v if letter is None or law.index is None else
                 _with_index(v, letter, law.index) for k, v in templates[key].items()}
        if law.symmetry == "translation" and law.index is None:
            latex = _formulas(law, net.samples)
        out.append({"symmetry": law.symmetry, "layer": law.layer, "index": law.index,
                    "status": law.status, "parameters": list(law.parameters), **latex})
    return out


def _template(net: NetworkSpec, law: Law) -> Law:
    if law.symmetry == "rescale":
        return replace(law, display=_rescale_form(net, law.layer, "u"))
    if law.symmetry == "translation":
        return replace(law, display=_translation_form(net, "j"))
    return law


__all__ = ["conservation", "find_laws", "quantity", "identity", "per_step", "step_statements",
           "laws_json", "LOSS"]
