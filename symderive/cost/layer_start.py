"""What a ``[[layer]]`` network's ``[init]`` starting point costs, worst case
(:func:`symderive.numeric.layer_verdict.settle_stack_start`):

- the classes: one swap check per layer with units (as a hypothesis's), and the
  exchange of every pair of units with equal signatures (Python, per entry);
- the frozen entries: the step-0 gradient and the random refutations (NumPy passes),
  then the symbolic verification, capped at :data:`~symderive.engine.layers.frozen.
  NODE_BUDGET` expression nodes differentiated (beyond it, it is not done);
- dead units: at most :data:`~symderive.engine.layers.start.DEAD_WORK` exact
  multiply-adds, with ``[data]``;
- the simulation: its steps of a forward + backward pass, and per step one forward of a
  layer per pair of classes still to separate.
"""
from __future__ import annotations

from ..engine.layers import layer_kind
from ..engine.layers.frozen import FORWARD_WORK, NODE_BUDGET
from ..engine.layers.stack import Stack
from ..engine.layers.start import DEAD_WORK, samples_work
from ..numeric.layer_start import MAX_CLASSES, MAX_STEPS, SIMULATION_WORK
from ..numeric.trajectory import MAX_SHOWN
from ..spec import Spec

#: Seconds per multiply-add of a SymPy expression built and differentiated (measured on the
#: bundled starts: 0.1-0.5 s for a few thousand), and of the NumPy passes.
SYMPY_SECONDS = 1e-4
NUMPY_SECONDS = 4e-9
#: Seconds per expression node differentiated in the frozen verification (measured: 71 s
#: 38 s for 170,000 node-derivatives of an attention layer's loss on the loaded machine).
NODE_SECONDS = 2.5e-4
#: Seconds of Python per entry of a pair's exchange, and per pair and simulated step.
ENTRY_SECONDS, PAIR_STEP_SECONDS = 2e-6, 5e-5
#: The swap's symbolic lemmas of one layer (they run on small instances: bounded).
SWAP_SECONDS = 2.0
#: Bytes of JSON per number (a float and its separator).
NUMBER_BYTES = 22


def start_seconds(spec: Spec) -> float:
    """The worst-case seconds of the starting point's analysis (0 without ``[init]``)."""
    if spec.init is None:
        return 0.0
    stack = Stack(spec.network)
    params, samples = stack.parameter_count(), spec.network.samples
    one = samples_work(spec)
    pass_work = 3.0 * one
    units = [s for s in spec.network.stack[:-1] if s.units]
    pairs = sum(min(s.units, MAX_CLASSES) ** 2 // 2 for s in units)
    classes = len(units) * SWAP_SECONDS + sum(s.units ** 2 for s in units) * params * \
        ENTRY_SECONDS
    symbolic = NODE_BUDGET * NODE_SECONDS if one <= FORWARD_WORK else 0.0
    frozen = 8 * pass_work * NUMPY_SECONDS + symbolic
    dead = DEAD_WORK * SYMPY_SECONDS if spec.data is not None else 0.0
    per_step = 4 * one + 1
    steps = max(MAX_SHOWN, min(spec.check.steps, MAX_STEPS, SIMULATION_WORK // per_step))
    witness = sum(min(s.units, MAX_CLASSES) ** 2 // 2 * layer_kind(s.kind).flops(s) * samples
                  for s in units)
    simulation = (steps + 1) * ((pass_work + witness) * NUMPY_SECONDS
                                + pairs * PAIR_STEP_SECONDS)
    return classes + frozen + dead + simulation


def start_json_bytes(spec: Spec) -> int:
    """The ``init`` block: frozen entries by index, the trajectory's parameters and
    gradients (with every tensor given and ``[data]``), the witnesses."""
    if spec.init is None:
        return 0
    params = Stack(spec.network).parameter_count()
    count = 3 * params + sum(s.units for s in spec.network.stack)
    if spec.data is not None and spec.init.concrete:
        count += (min(spec.check.steps, MAX_SHOWN) + 1) * 2 * params
    return NUMBER_BYTES * count


__all__ = ["start_seconds", "start_json_bytes"]
