"""The all-zero start on the given data (``zero_init`` with a ``[data]`` table).

With every weight and bias at 0 (the output biases too), every pre-activation is 0 in
every sample: each hidden unit outputs σ(0), each output ŷ = f(0), and only two
gradients can be non-zero at the start,

    ∂L/∂b^{(L)}_m = Σ_n δ^{(L)}_{n,m},   ∂L/∂W^{(L)}_{mj} = σ(0) Σ_n δ^{(L)}_{n,m},

since every other delta carries a factor W^{(l+1)} = 0.  The sum Σ_n δ^{(L)}_{n,m} is
a number of the data: computed here exactly (rationals, σ(0) = 1/2 exact), never
assumed.  When it is 0 for every output the start is a fixed point and nothing
moves, whatever the activation (balanced labels under the squared error); otherwise
the output biases move, and the last layer's weights with them exactly when
σ(0) ≠ 0.  Which parameters move later, and the classes of units, come from the
frozen-parameter engine and the coarsest stable partition on the same data.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from ..engine.frozen import frozen_parameters
from ..engine.start import Start, start_of
from ..engine.network import bias, weight
from ..notation import partial
from ..spec import DataSpec, InitSpec, NetworkSpec, TensorInit
from ..spec.facts import FactSpec
from ..spec.init import tensor_names, tensor_shape
from .result import FactResult, Statement

LOSS = sp.Symbol("L")
STUCK, STUCK_IFF, TRAINS = "stuck", "stuck iff sigma(0) = 0", "trains, units identical"


def evaluable(network: NetworkSpec) -> bool:
    """Can the output deltas be computed on data (the loss and output function given)?"""
    return network.loss.name != "any" and network.output_activation.name != "any"


def summed_output_delta(network: NetworkSpec, data: DataSpec) -> tuple[sp.Expr, ...] | None:
    """Σ_n δ^{(L)}_{n,m} at the all-zero start, per output m, exact (None when a value is
    not a finite number: a loss undefined at the prediction f(0))."""
    M = network.layers[-1]
    c = [sp.Dummy(f"c{m}") for m in range(M)]
    t = [sp.Dummy(f"t{m}") for m in range(M)]
    f = network.output_activation
    ell = network.loss.per_sample([f(u) for u in c], t)
    at_zero = {u: sp.S.Zero for u in c}
    deltas = [sp.diff(ell, u).xreplace(at_zero) for u in c]
    out = []
    for d in deltas:
        total = sp.Add(*[d.xreplace({tm: _rational(v) for tm, v in zip(t, row)})
                         for row in data.targets])
        total = sp.nsimplify(total) if total.is_Float else sp.simplify(total)
        if not (total.is_number and total.is_finite):
            return None
        out.append(total)
    return tuple(out)


def _rational(v: Fraction) -> sp.Rational:
    return sp.Rational(v.numerator, v.denominator)


def sigma_at_zero(network: NetworkSpec) -> sp.Expr:
    """σ(0) of the hidden activation, exact (an unevaluated f(0) for an undefined one)."""
    return sp.simplify(network.activation(sp.S.Zero))


def all_zero_start(network: NetworkSpec, data: DataSpec) -> Start:
    """Every weight and bias 0, the output biases too, on ``data``."""
    tensors = []
    for name in tensor_names(network):
        rows, cols = tensor_shape(network, name)
        zero = tuple(tuple(Fraction(0) for _ in range(cols)) for _ in range(rows))
        tensors.append(TensorInit(name, "zero", zero))
    return start_of(network, InitSpec(tuple(tensors)), data)


def zero_init_on_data(network: NetworkSpec, data: DataSpec, fact: FactSpec,
                      sums: tuple[sp.Expr, ...], identical) -> FactResult:
    """The fact decided on the data: ``sums`` from :func:`summed_output_delta`,
    ``identical(start, frozen)`` the classes of each hidden layer."""
    start = all_zero_start(network, data)
    s0 = sigma_at_zero(network)
    generic = network.activation.name == "any"
    still = all(v == 0 for v in sums)
    frozen = frozen_parameters(start, sigma_at_zero=None)
    moving = [] if still else [n for n in tensor_names(network)
                               if n != f"b{network.depth}" and frozen.summary(n) != "all"]
    if still:
        verdict = STUCK
    elif generic:
        verdict = STUCK_IFF
    else:
        verdict = TRAINS if s0 != 0 else STUCK
    m = next((i for i, v in enumerate(sums) if v != 0), 0)
    rows = _rows(network, sums[m], m + 1, None if generic else s0, frozen, still)
    summary = _summary(network, data, sums, s0, verdict, identical(start, frozen))
    details = {"moving": moving, "hidden_units_identical": identical(start, frozen),
               "on_data": {"samples": len(data.inputs), "stationary": still,
                           "summed_output_delta": [str(v) for v in sums],
                           "sigma_at_0": str(s0)}}
    return FactResult(fact, verdict, summary, tuple(rows),
                      ("every weight and bias is 0, the output biases too",
                       f"the inputs and targets are the given data ({len(data.inputs)} "
                       "samples), evaluated exactly"), details=details)


def _vector(values) -> str:
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else "(" + ", ".join(words) + ")"


def _summary(network: NetworkSpec, data: DataSpec, sums, s0, verdict: str,
             identical: dict[str, str]) -> str:
    """Sentences from the computed sums, σ(0) and the classes, never a template."""
    n, f0 = len(data.inputs), sp.simplify(network.output_activation(sp.S.Zero))
    head = (f"From all-zero weights and biases on the given data ({n} samples), every "
            f"prediction is ŷ = {f0} (the output function at 0), and the output delta "
            f"summed over the samples is Σ_n δ^(L)_n = {_vector(sums)}")
    if verdict == STUCK and all(v == 0 for v in sums):
        return (head + ". That is the gradient of the output biases, and the last layer's "
                "weights get σ(0) times it; every other gradient has a factor W^(l+1) = 0. "
                "Every gradient is exactly 0: the start is a fixed point and nothing moves, "
                "whatever the activation.")
    moved = "the output biases move" if network.bias else "the outputs' deltas are not 0"
    if verdict == STUCK:
        return (head + f", not 0: {moved}, but σ(0) = {s0}, so the last layer's weights "
                "get σ(0) Σ_n δ^(L)_n = 0 and every hidden layer stays at 0 for ever.")
    if verdict == STUCK_IFF:
        return (head + f", not 0: {moved}, and the last layer's weights get "
                f"σ(0) times {_vector(sums)}: stuck exactly when σ(0) = 0.")
    kept = [l for l, v in identical.items() if v == "preserved"]
    same = (f"; the hidden units of layer{'s' if len(kept) > 1 else ''} {', '.join(kept)} "
            "stay one class for ever (each such layer acts as a layer of width 1)"
            if kept else "")
    return (head + f", not 0, and σ(0) = {s0}: the last layer's weights get "
            f"σ(0) Σ_n δ^(L)_n = {_vector(sp.simplify(s0 * v) for v in sums)}, so they "
            f"move and the network trains{same}.")


def _rows(network: NetworkSpec, total: sp.Expr, m: int, s0: sp.Expr | None, frozen,
          still: bool) -> list[Statement]:
    """∂L/∂W^{(l)}_{m1} at the zero start on the data (and ∂L/∂b^{(L)}_m), each row's
    words from the value computed and the frozen set (``s0``: σ(0), None when the
    activation is undefined)."""
    L, rows = network.depth, []
    for l in range(1, L):
        why = ("every weight out of layer {l} (W^({n})) is 0 at the start"
               .format(l=l, n=l + 1))
        after = ("frozen for ever" if frozen.summary(f"W{l}") == "all" or still
                 else "not proved frozen: they can move once W^({n}) has moved"
                 .format(n=l + 1))
        rows.append(Statement(f"layer {l} weights at the zero start: 0, because {why}; "
                              f"{after}", partial(LOSS, weight(l, 1, 1)), sp.S.Zero))
    value = sp.simplify((network.activation(sp.S.Zero) if s0 is None else s0) * total)
    if still:
        words = "0: these weights never move"
    elif s0 is None:
        words = "σ(0) times a non-zero sum: not 0 exactly when σ(0) ≠ 0"
    elif value == 0:
        words = f"σ(0) = {s0} times the sum: 0, and these weights never move"
    else:
        words = f"σ(0) = {s0} times a non-zero sum: not 0, so these weights move"
    rows.append(Statement(f"layer {L} weights at the zero start on the data: {words}",
                          partial(LOSS, weight(L, m, 1)), value))
    if network.bias:
        rows.append(Statement(f"output bias {m} at the zero start on the data: "
                              + ("0" if total == 0 else "not 0: it moves"),
                              partial(LOSS, bias(L, m)), total))
    return rows


__all__ = ["all_zero_start", "evaluable", "sigma_at_zero", "summed_output_delta",
           "zero_init_on_data"]
