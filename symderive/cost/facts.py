"""What each ``[[fact]]`` kind costs: its derivation (settle) and its numeric check.

Counted as :mod:`symderive.facts` runs them (the module named in each docstring),
with the unit costs of :mod:`.passes`; ``net`` is the network the numbers use
(generic mode instantiated).  Facts were not guarded before: a zero_init fact on a
[64, 2000, 2000, 1] network took over a minute, a dropout fact's finite differences
copy every parameter for each of thousands of losses.
"""
from __future__ import annotations

from ..engine import witness as witnesses
from ..engine.expansion import expanded_terms
from ..engine.network import Network
from ..spec import Hypothesis, NetworkSpec
from ..spec.facts import FactSpec
from . import laws
from . import passes as P
from .passes import ARRAY_CALL, forward, full_pass, parameters, step
from .stages import check_points, witness_search

#: One entry of an exact tensor (``engine.start.exact_tensor``: a Fraction, an lcm).
EXACT_ENTRY = 20_000
#: σ'(c) at one pinned pre-activation (``engine.frozen``: a SymPy derivative, ~0.7 ms).
PINNED_UNIT = 2_300_000
#: Rounds of the frozen-set fixed point counted (each a forward and backward pass).
FROZEN_ROUNDS = 2


def _hidden_units(net: NetworkSpec) -> int:
    return sum(net.layers[1:-1])


#: An integer multiply-add of the partition's block sums (NumPy's integer matmul has no
#: BLAS: about 6 ns).
INT_MADD = 20
#: Rounds of the partition's refinement counted (one that splits, one that confirms).
PARTITION_ROUNDS = 2


def partition(sizes, given, classes, pinned) -> float:
    """``engine.partition.coarsest_partition``, per round: each unit's sums of incoming
    weights per class of the layer before, and of outgoing weights per class of the
    layer after, where each pinned unit of that layer counts alone (a column of its own:
    a pinned layer makes the product cubic in the width).  ``given[l]``: W^(l) is given
    (not random); ``classes[l]``, ``pinned[l]``: at most how many classes and pinned
    units layer l has."""
    work = 0.0
    for l in range(1, len(sizes) - 1):
        if given[l]:
            work += sizes[l] * sizes[l - 1] * classes[l - 1] * INT_MADD
        if given[l + 1]:
            work += sizes[l + 1] * sizes[l] * (classes[l + 1] + pinned[l + 1]) * INT_MADD
        work += P.PYTHON_ITEM * sizes[l] * (classes[l - 1] + classes[l + 1] + pinned[l + 1])
    return PARTITION_ROUNDS * work


def zero_start(net: NetworkSpec, rows: int = 1) -> float:
    """``facts.zero.zero_start``, ``engine.frozen.frozen_parameters`` and the classes of
    the all-zero start: an exact tensor of every parameter; per round σ and σ' at every
    hidden unit (pinned at 0) and sample row; the partition with every hidden unit
    pinned."""
    s = net.layers
    hidden = [0] + list(s[1:-1]) + [0]
    ones = [s[0]] + [1] * (len(s) - 2) + [s[-1]]
    return (EXACT_ENTRY * parameters(net)
            + FROZEN_ROUNDS * _hidden_units(net) * rows * PINNED_UNIT
            + partition(s, [True] * len(s), ones, hidden))


def _group_entries(net: NetworkSpec, layer: int) -> int:
    """Entries of one unit's groups (incoming, bias, outgoing)."""
    s = net.layers
    return s[layer - 1] + 1 + (s[layer + 1] if layer < net.depth else 0)


def _unit_witness(net: NetworkSpec, h: Hypothesis) -> float:
    """``facts.zero._unit_witness`` and ``facts.dropout._witness``: up to 64 witness
    points (each a full draw and pass with kink redraws) until one is clear."""
    N = net.samples
    evaluations, give_up = P.kink_settling(P.row_clear(net), N, witnesses.REDRAWS)
    point = (P.draw(net, P.WITNESS_DRAW) + evaluations * full_pass(net, N)
             + P.COPY * parameters(net) + full_pass(net, N))
    return P.expected_tries(give_up, 64) * point + P.PYTHON_ITEM * parameters(net) / 10


def fact_numeric(net: NetworkSpec, fact: FactSpec, steps: int) -> float:
    """The numeric work of one fact: its settle's NumPy part and its check."""
    from ..facts import checks     # here: a run without facts does not import them

    N, s = net.samples, net.layers
    kind = fact.kind
    if kind == "conservation":
        return laws.conservation_numeric(net, steps)
    if kind == "gap_stability":
        # settle: the all-tied hypothesis's witness steps, then H_A along the trajectory
        return (witness_search(net, laws.tied(net, fact.layer, fact.units))
                + laws.gap_numeric(net, fact.layer, steps))
    if kind == "backprop_exact":
        # backprop_check: a point, a pass, every entry listed (np.ndindex), and central
        # differences of the whole forward loss for at most MAX_PARAMETERS of them
        checked = min(parameters(net), checks.MAX_PARAMETERS)
        return (check_points(net, checks.REDRAWS, 1, retry=False) + full_pass(net, N)
                + P.PYTHON_ITEM * parameters(net) + 2 * checked * forward(net, N))
    if kind == "loss_gradient":
        # loss_gradient_check: 4 rows × K outputs, two losses of 4 × K values each
        K = s[-1]
        ef, _, cf, _ = P.activation_costs(net.output_activation)
        one = P.loss_cost(net, 4) + 4 * K * ef + (cf + 4) * ARRAY_CALL
        return 2 * 4 * K * one
    if kind == "zero_init":
        # settle: the frozen engine on the all-zero start; check: ``steps`` of descent with
        # the spread of every hidden layer (a concatenation of its rows) after each
        spread = 4 * P.COPY * parameters(net) + 6 * net.depth * ARRAY_CALL
        return zero_start(net) + P.DRAW * N * s[0] + steps * (
            full_pass(net, N) + step(net, "sgd") + spread)
    units = ((fact.unit, fact.unit % s[fact.layer] + 1) if kind == "unit_gradient"
             else tuple(fact.units))
    h = Hypothesis("fact", fact.layer, units, (), ())
    entries = _group_entries(net, fact.layer)
    if kind == "unit_gradient":
        # settle: a witness search; check: POINTS points, central differences of the
        # whole forward loss for every entry of the unit's groups
        return (_unit_witness(net, h) + check_points(net, checks.REDRAWS, checks.POINTS,
                                                      retry=False)
                + checks.POINTS * entries * 2 * (forward(net, N) + 4 * ARRAY_CALL))
    if kind == "dropout":
        # the same, for both units, each loss copying every parameter to apply the masks
        one = P.COPY * parameters(net) + forward(net, N) + 6 * ARRAY_CALL
        return (_unit_witness(net, h) + check_points(net, checks.REDRAWS, checks.POINTS,
                                                      retry=False)
                + checks.POINTS * 2 * entries * 2 * one)
    if kind == "optimizer":
        # settle: the all-tied hypothesis's witness steps; check: ``steps`` of the optimiser
        tied = Hypothesis("all tied", fact.layer, tuple(fact.units), net.groups(), ())
        return (witness_search(net, tied) + P.draw(net)
                + steps * (full_pass(net, N) + step(net, fact.optimizer or "sgd")
                           + 24 * ARRAY_CALL))
    return 0.0


#: Term-operations a second at which the measured symbolic costs below are counted: the
#: symbolic limit (500 000) is then 30 s of them.
TERMS_PER_SECOND = 16_700
#: unit_gradient tidies a sum over the next layer with SymPy's ``collect``: 5.5e-5 s
#: per squared unit (8.9 s for 400 units).
UNIT_GRADIENT_SQUARE = 5.5e-5 * TERMS_PER_SECOND
#: softmax cross-entropy couples the K outputs: its derivatives in all of them take
#: 4e-5 s × K² (10 s for K = 512); another loss 1.2e-3 s per output (bce, 512: 0.6 s).
SOFTMAX_SQUARE = 4e-5 * TERMS_PER_SECOND
OUTPUT_TERM = 1.2e-3 * TERMS_PER_SECOND


def output_loss_symbolic(network: NetworkSpec) -> float:
    """Term-operations of differentiating the loss in each of the K outputs
    (``facts.losses``, per fact; ``engine.symmetry.proved_constant_loss``)."""
    K = network.layers[-1]
    return SOFTMAX_SQUARE * K * K if network.loss.name == "softmax_ce" else OUTPUT_TERM * K


def constant_loss_symbolic(network: NetworkSpec) -> float:
    """Term-operations of ``engine.symmetry.constant_loss`` (once per network): the
    symbolic proof runs only when NumPy sees the loss stand still at a seeded point
    (softmax of one output); a loss that moves costs that evaluation alone.  Counting
    the proof always refused a 1000-class softmax as "about a minute" that took 2 s."""
    from ..engine.symmetry import _loss_moves

    return OUTPUT_TERM if _loss_moves(network) else output_loss_symbolic(network)


def fact_symbolic(network: NetworkSpec, fact: FactSpec, weight: int) -> float:
    """Term-operations of one fact's derivation (the guards' symbolic unit).

    ``unit_gradient`` tidies a sum over the next layer (:data:`UNIT_GRADIENT_SQUARE`);
    ``loss_gradient`` differentiates the loss of every output; ``optimizer`` settles
    the all-tied hypothesis; ``backprop_exact`` differentiates the whole loss only up
    to ``facts.backprop.LIMIT`` parameter-samples (bounded)."""
    from ..facts import backprop

    s = network.layers
    if fact.kind == "conservation":
        return laws.conservation_symbolic_seconds(network) * TERMS_PER_SECOND
    if fact.kind == "gap_stability":
        return ((s[fact.layer + 1] + 20) * weight
                + laws.gap_symbolic_seconds(network, fact.layer) * TERMS_PER_SECOND)
    if fact.kind == "unit_gradient" and "outgoing" not in fact.zero:
        nxt = s[fact.layer + 1]
        return UNIT_GRADIENT_SQUARE * nxt * nxt + (nxt + 20) * weight
    if fact.kind == "loss_gradient":
        return output_loss_symbolic(network)
    if fact.kind == "optimizer":
        return (s[fact.layer + 1] + 20) * weight
    if fact.kind == "backprop_exact":
        pairs = Network(network).parameter_count() * network.samples
        if pairs > backprop.LIMIT:            # skipped: the fact says it was not attempted
            return 20 * weight
        return backprop.LIMIT * weight + EXPANDED_TERM * pairs * expanded_terms(network)
    return 20 * weight


#: Term-operations per term of the expanded loss, per parameter and sample (SymPy's
#: expand of both gradients and the multiset comparison of
#: ``facts.backprop.term_by_term``): z³ + z on [2, 2, 1], 231 terms counted, took 1.1 s
#: of CPU; z² on [2, 2, 2, 1], 16,800 counted, did not finish in 5 minutes.
EXPANDED_TERM = 15


def swap_check_symbolic(network: NetworkSpec) -> float:
    """Term-operations of an output-layer hypothesis's whole-loss swap check
    (``engine.output._swap_check``): on networks of at most ``FULL_LIMIT``
    parameter-samples, the loss and the loss with two output rows exchanged are
    expanded (:func:`expanded_terms`); a polynomial activation and loss multiply them
    out ([3, 4, 2] with z³ + z and a quartic loss ran past a minute)."""
    from ..engine.symmetry import FULL_LIMIT

    pairs = Network(network).parameter_count() * network.samples
    if pairs > FULL_LIMIT or network.loss.name == "any":
        return 0.0
    return 2 * SWAP_TERM * expanded_terms(network)


#: Term-operations per term of the swap check's expanded loss (one expand, not one per
#: parameter as backprop_exact's): z³ + z on [3, 4, 2] with MSE, 13,203 terms counted,
#: took 0.24 s of CPU in all.
SWAP_TERM = 0.5


def fact_json_numbers(net: NetworkSpec, fact: FactSpec) -> int:
    """Numbers a fact writes into the JSON report: a unit_gradient or dropout witness
    lists every parameter, the inputs and targets."""
    if fact.kind in ("unit_gradient", "dropout"):
        return parameters(net) + net.samples * (net.layers[0] + net.layers[-1])
    if fact.kind == "conservation":
        return laws.conservation_json_numbers(net)
    if fact.kind == "gap_stability":
        from ..facts.checks import MAX_STEPS
        return laws.gap_json_numbers(net, fact.layer, MAX_STEPS)
    return 50
