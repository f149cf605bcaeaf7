"""What the ``conservation`` and ``gap_stability`` facts cost (:mod:`symderive.facts.conservation`,
:mod:`symderive.facts.stability`), with the unit costs of :mod:`.passes`.

Measured on one core (the symbolic constants in seconds, turned into term-operations at
:data:`~.facts.TERMS_PER_SECOND`): a layer's reduction expands about 1.5 ms a term
(4096 + 4096 terms: 12 s); softmax's shift 5 ms × K² (24 outputs: 3 s); a law's JSON
entry 0.4 ms; a group's written-out statements 0.3 s.  The whole-loss H_A of gap
stability differentiates the loss twice in each pair of antisymmetric coordinates.
"""
from __future__ import annotations

from ..spec import Hypothesis, NetworkSpec
from . import passes as P
from .passes import ARRAY_CALL, COPY, PYTHON_ITEM, full_pass, parameters, step

#: Seconds: per term of a reduction, per squared output of softmax's shift, per law's
#: JSON entry, per group's statements, and the fixed part.
REDUCTION_TERM, SOFTMAX_SQUARE, LAW_ENTRY, GROUP, BASE = 1.5e-3, 5e-3, 4e-4, 0.3, 1.0
#: Seconds of the count of independent laws (``facts.lie``: at most 16 parameters, 0.2 s).
LIE = 0.5
#: Seconds per second derivative of the whole loss per parameter-sample (gap stability).
SECOND_DERIVATIVE = 1e-2
#: Steps of each law's check: gradient descent, momentum, weight decay (+ the flow's
#: Runge-Kutta: sub-steps × 4 gradients).
RULES, RK = 3, 4 * 4


def _homogeneous(net: NetworkSpec) -> tuple[bool, bool]:
    """Might σ be positively homogeneous / linear?  (Named: known; a formula: maybe.)"""
    name = net.activation.name
    if net.activation.latex_source is not None:
        return True, True
    return name in ("relu", "identity"), name == "identity"


def _translation(net: NetworkSpec) -> bool:
    return net.loss.name == "softmax_ce" and net.output_activation.is_identity


def conservation_laws(net: NetworkSpec) -> int:
    """How many laws at most: a rescale law per hidden unit, a linear law per hidden
    layer, and the output biases and each last-layer column under softmax."""
    rescale, linear = _homogeneous(net)
    hidden = net.layers[1:-1]
    return (sum(hidden) * rescale + len(hidden) * linear
            + (net.layers[-2] + 1) * _translation(net))


def conservation_symbolic_seconds(net: NetworkSpec) -> float:
    rescale, linear = _homogeneous(net)
    s = net.layers
    terms = sum(s[l - 1] + 1 + s[l + 1] for l in range(1, len(s) - 1))
    K = s[-1]
    entries = sum(s[l - 1] + 1 + s[l + 1] for l in range(1, len(s) - 1))
    return (BASE + REDUCTION_TERM * terms * (rescale + linear)
            + (SOFTMAX_SQUARE * K * K if _translation(net) and K <= 24 else 0)
            + LAW_ENTRY * conservation_laws(net) + 1e-6 * entries * s[1]
            + GROUP * (len(s) - 2) * 2 + (LIE if len(s) == 3 else 0))


def _group_work(net: NetworkSpec) -> float:
    """Evaluating every group's quantities once (B(θ, θ) and the like), per step."""
    rescale, linear = _homogeneous(net)
    s, work = net.layers, 0.0
    for l in range(1, len(s) - 1):
        entries = s[l] * (s[l - 1] + 1 + s[l + 1])
        work += rescale * (2 * entries + 6 * ARRAY_CALL)
        work += linear * (2 * s[l] * entries + 6 * ARRAY_CALL)
    if _translation(net):
        work += 2 * s[-1] * s[-2] + 4 * ARRAY_CALL
    return work


def conservation_numeric(net: NetworkSpec, steps: int) -> float:
    """The check: three runs of ``steps`` (each step a pass, the optimiser, every group
    about eight times, measured as sixteen), the flow's Runge-Kutta (16 passes a step), and each law's figures
    (a dozen small NumPy calls)."""
    N = net.samples
    per_step = full_pass(net, N) + step(net, "momentum") + 16 * _group_work(net)
    flow = RK * (full_pass(net, N) + 2 * COPY * parameters(net)) + 2 * _group_work(net)
    laws = conservation_laws(net)
    return (P.draw(net) + RULES * steps * per_step + steps * flow
            + laws * (12 * ARRAY_CALL + 2 * steps * PYTHON_ITEM / 10))


def conservation_json_numbers(net: NetworkSpec) -> int:
    """Each law lists its parameters by name, five formulas (about 1500 bytes: 70 numbers'
    worth) and a dozen figures."""
    s = net.layers
    rescale, linear = _homogeneous(net)
    names = sum(s[l] * (s[l - 1] + 1 + s[l + 1]) * (rescale + linear)
                for l in range(1, len(s) - 1))
    names += (s[-2] + 1) * s[-1] * _translation(net)
    return names + 85 * conservation_laws(net)


def _pairs(net: NetworkSpec, layer: int) -> int:
    s = net.layers
    return s[layer - 1] + 1 + s[layer + 1]


def gap_symbolic_seconds(net: NetworkSpec, layer: int) -> float:
    """The whole-loss H_A of a small network (``facts.gap.symbolic_affordable``)."""
    from ..engine.generic import instantiated_network
    from ..facts import gap

    net = instantiated_network(net)
    if not gap.symbolic_affordable(net):
        return 0.0
    d = _pairs(net, layer)
    return BASE + SECOND_DERIVATIVE * d * (d + 1) / 2 * parameters(net) * net.samples


def gap_numeric(net: NetworkSpec, layer: int, steps: int) -> float:
    """Settle: the start (a draw, kink redraws) and, per step of the tied trajectory, H_A
    by central differences (2d passes, each on a copy of the parameters); the check: a
    pass per step of the perturbed run (and 2d passes to compare a symbolic H_A)."""
    d = _pairs(net, layer)
    N = net.samples
    ha = 2 * d * (full_pass(net, N) + COPY * parameters(net) + d * PYTHON_ITEM)
    return (P.draw(net) + (steps + 2) * ha
            + 2 * steps * (full_pass(net, N) + step(net, "sgd") + d * PYTHON_ITEM))


def gap_json_numbers(net: NetworkSpec, layer: int, steps: int) -> int:
    """The point (every parameter, the data), H_A, a dozen steps' eigenvalues, the gaps."""
    d = _pairs(net, layer)
    data = net.samples * (net.layers[0] + net.layers[-1])
    return parameters(net) + data + d * d + 14 * d + 4 * steps


def tied(net: NetworkSpec, layer: int, units) -> Hypothesis:
    return Hypothesis("all tied", layer, tuple(units), net.groups(), ())


__all__ = ["conservation_laws", "conservation_symbolic_seconds", "conservation_numeric",
           "conservation_json_numbers", "gap_symbolic_seconds", "gap_numeric",
           "gap_json_numbers", "tied"]
