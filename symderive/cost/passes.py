"""Unit costs of the NumPy work, and how often a draw lands near a kink.

Everything is counted in *multiply-add equivalents*: a multiply-add of a matrix
product counts 1 (pessimistic: a single BLAS thread does several a nanosecond on
the benchmark's shapes); any other work counts the time it takes at :data:`RATE`
of them a second.  The constants were measured with
``benchmarks/bench_guard_costs.py`` on the 2-core machine the limits are set for
(one BLAS thread, as the numeric check runs).  What they capture, besides the
matrix products the first guards counted:

- work that streams over every parameter once per pass, draw or step, whatever the
  number of samples: a pass writes the gradient, a draw makes normal numbers, an
  optimiser step (Adam: a dozen elementwise operations) updates every parameter;
- the fixed cost of each NumPy call on a small array (about a microsecond with the
  Python around it): a pass of a narrow network costs its layers, not its products;
- activations per element: ``sigmoid`` splits by sign, ``softplus`` and a LaTeX
  ``erf`` (a Python call per element) cost tens to hundreds of multiply-adds;
- near-kink redraws: a non-smooth activation makes witnesses and check points
  redraw samples (and whole points) that land within 1e-3 of a kink
  (:func:`kink_settling`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy as sp

from ..spec import NetworkSpec

#: Multiply-add equivalents a second: the numeric limit, 1e11, is about 30 s on one core.
RATE = 1e11 / 30

# ---- per parameter: work that streams over every parameter
#: A forward and backward pass, beyond its 3 multiply-adds per weight and sample (the
#: gradient written, each weight matrix read three times: memory, not arithmetic).
#: Memory-bound work depends on what the other core does: 1.7 ns a parameter alone,
#: 4.5 to 7.5 ns beside other jobs; the loaded figure is counted.
PASS_PER_PARAMETER = 22
#: A forward pass, beyond its multiply-add per weight and sample.
FORWARD_PER_PARAMETER = 4
#: A parameter drawn from a normal (``numeric.points.initial_params``).
DRAW = 75
#: A witness parameter: drawn, rounded to 4 decimals, zeros replaced.
WITNESS_DRAW = 120
#: A parameter copied.
COPY = 4
#: One optimiser step, per parameter (torch's update rules, elementwise).
OPTIMIZER = {"sgd": 11, "momentum": 22, "adam": 100}
#: ... and its NumPy calls per parameter array.
OPTIMIZER_CALLS = {"sgd": 2, "momentum": 4, "adam": 12}
#: One Python-level step over an entry (a list built entry by entry, a ``tolist``).
PYTHON_ITEM = 300

# ---- per call: Python and NumPy dispatch, whatever the array's size
#: One NumPy call on a small array, with the Python around it (about 0.45 µs).
ARRAY_CALL = 1_500
#: One layer of a forward and backward pass, besides its activation's calls.
PASS_LAYER = 16_000
#: One layer of a forward pass, besides its activation's calls.
FORWARD_LAYER = 4_000
#: One parameter array drawn (the generator's call, the scaling).
DRAW_ARRAY = 4 * 1_500
#: A named loss and its gradient, per output value (mse: about 3 ns).
LOSS_ELEMENT = 10
#: A piece of a Piecewise (``cases``): np.select evaluates every condition and value.
PIECE_CALL = 40_000
#: Per-element cost of a piece (its condition, its value and the selection).
PIECE_ELEMENT = 60

# ---- per element of an activation
#: (f, f') per element and (f, f') NumPy calls, of the named activations.
NAMED = {"identity": ((1, 2), (0, 1)), "tanh": ((10, 18), (1, 3)), "relu": ((3, 6), (1, 2)),
         "sigmoid": ((160, 330), (16, 40)), "softplus": ((100, 200), (1, 16)),
         "any": ((10, 18), (1, 3))}       # generic mode computes with tanh
#: (``gelu`` and ``silu`` are costed from their formulas, as a LaTeX one: erf, sigmoid.)
#: An elementary operation of a formula, per element; a transcendental function.
OPERATION, TRANSCENDENTAL = 6, 25
#: symderive's own functions in a formula, printed as calls to their NumPy versions:
#: (per element, extra calls), as the named activations.
OWN_FUNCTIONS = {"sigmoid": (160, 16), "softplus": (100, 1), "relu": (3, 1)}
#: ``erf`` is math.erf called once per element (np.vectorize).
ERF_ELEMENT = 1_500
_TRANSCENDENTAL = (sp.exp, sp.log, sp.tanh, sp.sinh, sp.cosh, sp.sin, sp.cos, sp.tan,
                   sp.atan, sp.Pow)


def expression_costs(expr: sp.Expr) -> tuple[int, int]:
    """(per element, per call) of a lambdified formula: its operations, the pieces of a
    Piecewise, ``erf`` (a Python call per element); the calls are its nodes."""
    element = calls = 0
    for node in sp.preorder_traversal(expr):
        if node.is_Atom or isinstance(node, (sp.Tuple, sp.logic.boolalg.BooleanAtom)):
            continue
        calls += 1
        own = OWN_FUNCTIONS.get(type(node).__name__)
        if own is not None:               # printed as a call to symderive's NumPy twin
            element, calls = element + own[0], calls + own[1]
        elif isinstance(node, sp.Piecewise):
            element += PIECE_ELEMENT * len(node.args)
            calls += len(node.args) * PIECE_CALL // ARRAY_CALL
        elif isinstance(node, sp.erf):
            element, calls = element + ERF_ELEMENT, calls + 5     # np.vectorize's setup
        elif isinstance(node, _TRANSCENDENTAL):
            element += TRANSCENDENTAL
        else:
            element += OPERATION
    return element, calls


@lru_cache(maxsize=64)
def activation_costs(f) -> tuple[int, int, int, int]:
    """(f per element, f' per element, f calls, f' calls) of an activation."""
    if f.latex_source is None and f.name in NAMED:
        (ef, edf), (cf, cdf) = NAMED[f.name]
        return ef, edf, cf, cdf
    ef, cf = expression_costs(f.expr)
    edf, cdf = expression_costs(f.derivative_expr)
    return ef, edf, cf + 2, cdf + 2      # the wrapper's asarray, broadcast and copy


def _f(net: NetworkSpec, l: int):
    return net.output_activation if l == net.depth else net.activation


def weights(net: NetworkSpec, first: int = 1) -> int:
    """Weights of layers first..L (1-based)."""
    s = net.layers
    return sum(s[l] * s[l - 1] for l in range(first, len(s)))


def parameters(net: NetworkSpec, first: int = 1) -> int:
    """Entries of the parameter arrays of layers first..L (biases kept as zeros without
    ``bias``: the arrays exist either way)."""
    s = net.layers
    return sum(s[l] * (s[l - 1] + 1) for l in range(first, len(s)))


def forward(net: NetworkSpec, rows: int, first: int = 1) -> float:
    """A forward pass of ``rows`` samples through layers first..L."""
    work = (rows * weights(net, first) + FORWARD_PER_PARAMETER * parameters(net, first))
    for l in range(first, net.depth + 1):
        ef, _, cf, _ = activation_costs(_f(net, l))
        work += rows * net.layers[l] * ef + FORWARD_LAYER + cf * ARRAY_CALL
    return work + loss_cost(net, rows)


def full_pass(net: NetworkSpec, rows: int) -> float:
    """A forward and backward pass (``mlp.loss_and_gradient``) of ``rows`` samples."""
    work = 3 * rows * weights(net) + PASS_PER_PARAMETER * parameters(net)
    for l in range(1, net.depth + 1):
        ef, edf, cf, cdf = activation_costs(_f(net, l))
        work += rows * net.layers[l] * (ef + edf) + PASS_LAYER + (cf + cdf) * ARRAY_CALL
    return work + loss_cost(net, rows)


def loss_cost(net: NetworkSpec, rows: int) -> float:
    """The loss and its gradient in ŷ (``np_value_and_grad``), for ``rows`` samples (a
    LaTeX loss's two functions are lambdified once, then called)."""
    if net.loss.expr is None or net.loss.latex_source is None:
        return LOSS_ELEMENT * rows * net.layers[-1] + 5 * ARRAY_CALL
    return _latex_loss_cost(net.loss) + rows * net.layers[-1] * _latex_loss_element(net.loss)


@lru_cache(maxsize=16)
def _latex_loss_element(loss) -> int:
    from ..spec.functions import YHAT

    return sum(expression_costs(e)[0] for e in (loss.expr, sp.diff(loss.expr, YHAT)))


@lru_cache(maxsize=16)
def _latex_loss_cost(loss) -> float:
    """The fixed cost of one call: the two lambdified functions' NumPy calls."""
    from ..spec.functions import YHAT

    exprs = (loss.expr, sp.diff(loss.expr, YHAT))
    return (sum(expression_costs(e)[1] for e in exprs) + 6) * ARRAY_CALL


def step(net: NetworkSpec, optimizer: str) -> float:
    """One optimiser step over every parameter array."""
    return (OPTIMIZER[optimizer] * parameters(net)
            + 2 * net.depth * OPTIMIZER_CALLS[optimizer] * ARRAY_CALL)


def draw(net: NetworkSpec, per_parameter: int = DRAW) -> float:
    """Every parameter drawn at random (and the inputs of every sample)."""
    return (per_parameter * (parameters(net) + net.samples * net.layers[0])
            + 2 * net.depth * DRAW_ARRAY)


# ------------------------------------------------------------------ kinks

#: |z − kink| below this counts as near a kink (engine.mlp.KINK).
KINK = 1e-3
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(40)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _second_moment(f, variance: float) -> float:
    """E[f(z)^2] for z ~ N(0, variance), by Gauss-Hermite quadrature on the NumPy f."""
    with np.errstate(all="ignore"):
        values = np.asarray(f.np_f(_NODES * math.sqrt(variance)), dtype=float)
    values = np.where(np.isfinite(values), values, 0.0)
    return float(np.sum(_WEIGHTS * np.minimum(values ** 2, 1e12)))


def row_clear(net: NetworkSpec) -> float:
    """The probability that one sample of a random draw has no free pre-activation within
    :data:`KINK` of a kink.  Weights and biases ~ N(0, 1/fan-in) and inputs ~ N(0, 1), as
    the check points and wide witnesses draw them, make z ~ N(0, v_l) with v_1 = 1 + b/n_0
    and v_{l+1} = E[σ(z_l)^2] + b/n_l (b = 1 with biases)."""
    variance, log_clear = 1.0 + net.bias / net.layers[0], 0.0
    for l in range(1, net.depth + 1):
        f = _f(net, l)
        sd = math.sqrt(max(variance, 1e-300))
        near = sum(min(1.0, 2 * KINK * math.exp(-k * k / (2 * variance)) /
                       (sd * math.sqrt(2 * math.pi))) for k in f.kinks)
        if near >= 1.0:
            return 0.0
        log_clear += net.layers[l] * math.log1p(-near)
        variance = _second_moment(f, variance) + net.bias / net.layers[l]
    return math.exp(log_clear)


def kink_settling(clear: float, rows: int, redraws: int) -> tuple[float, float]:
    """(expected evaluations, probability of giving up) of redrawing, up to ``redraws``
    times, the samples near a kink: after k evaluations a sample is still near one with
    probability (1 − clear)^k, and some of the ``rows`` samples with 1 − (1 − that)^rows."""
    def near_after(k: int) -> float:
        still = (1.0 - clear) ** k          # one sample still near a kink
        return 1.0 if still >= 1.0 else -math.expm1(rows * math.log1p(-still))
    evaluations = 1.0 + sum(near_after(k) for k in range(1, redraws + 1))
    return evaluations, near_after(redraws + 1)


def expected_tries(give_up: float, limit: int) -> float:
    """Tries until one does not give up, at most ``limit``."""
    if give_up >= 1.0:
        return float(limit)
    return (1.0 - give_up ** limit) / (1.0 - give_up)
