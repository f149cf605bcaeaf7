"""The interface of a layer kind's room in the engine (:class:`LayerKind`).

A network given by ``[[layer]]`` tables is a stack of layers; the engine composes
them (:mod:`.stack`) and knows nothing about any one kind.  Everything particular to
a kind lives in its module, one :class:`LayerKind` subclass:

- its **parameters**: tensor names and shapes in PyTorch's layout (``W{l}``
  [out, in, k], ``b{l}`` [out], ...), generated symbols ``W1_2_1_3`` (1-based);
- its **units** and the entries of each **group** a unit owns (``incoming``,
  ``bias``), and the entries by which it **reads** the units of an earlier layer
  (their ``outgoing`` group; a norm layer's ``gain``/``shift``), in an order shared by
  every unit, so that exchanging two units pairs their entries one to one;
- how it **carries** unit labels from its input to its output (a label array per
  sample position says which unit of which layer a value belongs to): the
  permutation of two units is the exchange of their own entries and of the entries
  that read them, found through the labels, across layers without parameters and
  along residual streams;
- its **symbolic forward** (SymPy, object arrays [samples, *shape]) and an
  **independent NumPy forward and backward** pass (float arrays), written apart so
  that each checks the other;
- its **local difference formula** in words and symbols: what the difference of two
  units' gradients is made of (for a convolution: a sum over positions of the
  outgoing slices' difference times the next layer's error signals);
- its **notation**: how its tensors are written in reports.

Entries are ``(tensor name, index)`` with a 0-based index tuple into the tensor.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from sympy import Mul, Symbol

from ...spec.layers import LayerSpec

#: One parameter: a tensor's name and a 0-based index into it.
Entry = tuple[str, tuple[int, ...]]
#: No unit: the label of positions that belong to no unit being followed.
NO_UNIT = -1


class LayerKind(ABC):
    """One kind of layer (a stateless object; every method gets the layer's spec)."""

    name: ClassVar[str]
    #: the axis of one sample's output that indexes the layer's units (None: no units)
    unit_axis: ClassVar[int | None] = None
    #: every pre-activation entry is a degree-1 polynomial in the layer's own parameters,
    #: and a unit's entries read only its own slice of them (dense, conv): the scale laws
    linear_in_parameters: ClassVar[bool] = False

    def statistics(self, layer: LayerSpec) -> str | None:
        """What a normalisation's statistics run over (``features``: one sample;
        ``batch``: one channel over the samples), None for a kind that normalises nothing."""
        return None

    # ---- parameters and groups -------------------------------------------------
    def tensors(self, layer: LayerSpec) -> dict[str, tuple[int, ...]]:
        """The layer's tensors, name -> PyTorch shape, in the order of the parameters."""
        return {}

    def own_entries(self, layer: LayerSpec, unit: int, group: str) -> list[Entry]:
        """The entries of group ``group`` (``incoming``, ``bias``) of ``unit`` (1-based)."""
        raise NotImplementedError(f"{self.name} has no units")

    def stream_entries(self, layer: LayerSpec, channel: int, group: str) -> list[Entry]:
        """The entries of group ``group`` of output channel ``channel`` (1-based) when a
        residual stream joins the layer: its unit's own entries, unless its units are not
        its output's entries (attention: the channel is a feature, a row of O)."""
        return self.own_entries(layer, channel, group)

    def reads(self, layer: LayerSpec, labels: np.ndarray, unit: int) -> dict[str, list[Entry]]:
        """The entries of this layer that read the input positions labelled ``unit``,
        per group they form for it (``outgoing``; a norm: ``gain``, ``shift``), in an
        order shared by every unit; {} when it reads none (no parameters)."""
        return {}

    def carry(self, layer: LayerSpec, labels: np.ndarray) -> np.ndarray:
        """The labels of one sample's output given its input's (``labels`` has the
        input's shape).  A kind with units returns :data:`NO_UNIT` everywhere: a unit's
        value does not pass through another unit unmixed.  Kinds without units
        carry the labels to where the values go (pool: a channel's positions to the
        channel; flatten: to its block of features)."""
        return np.full(layer.out_shape, NO_UNIT)

    def input_axis(self, layer: LayerSpec) -> int:
        """The axis of one sample's input along which the layer reads units."""
        return 0

    def reduced(self, layer: LayerSpec) -> LayerSpec:
        """A small layer of the same kind and geometry (3 channels, the smallest
        positions): the swap's statements are checked on it when the layer itself is
        large (:mod:`.swap`).  The default is the layer itself."""
        return layer

    # ---- passes ----------------------------------------------------------------
    @abstractmethod
    def forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                x: np.ndarray) -> np.ndarray:
        """The symbolic output before the activation: ``x`` and ``theta`` are object
        arrays of SymPy expressions, ``x`` of shape [samples, *in_shape]."""

    @abstractmethod
    def np_forward(self, layer: LayerSpec, theta: dict[str, np.ndarray],
                   x: np.ndarray) -> tuple[np.ndarray, Any]:
        """The NumPy output before the activation, and what the backward pass needs."""

    @abstractmethod
    def np_backward(self, layer: LayerSpec, theta: dict[str, np.ndarray], cache: Any,
                    dout: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """∂L/∂x and ∂L/∂θ per tensor, given ∂L/∂(output before the activation)."""

    def local_zero(self, layer: LayerSpec, after: LayerSpec | None, hyp: Any,
                   group: str) -> bool:
        """Does the kind's local derivation prove the difference of ``group`` of the
        hypothesis's two units identically 0 (everything outside the layer opaque)?
        ``after`` is the next layer (None for the last).  None by default."""
        return False

    def flops(self, layer: LayerSpec) -> int:
        """Multiply-adds of one sample's forward pass (the cost model's unit)."""
        return int(np.prod(layer.out_shape))

    #: The cost model's calibration of this kind's NumPy pass (:mod:`symderive.cost.layers`,
    #: fitted by ``benchmarks/bench_kind_costs.py``): seconds per multiply-add of
    #: :meth:`flops` in a forward + backward pass, and seconds of the interpreter's
    #: work per iteration of :meth:`pass_loops`.
    seconds_per_mac: ClassVar[float] = 1e-9
    seconds_per_loop: ClassVar[float] = 1e-4
    #: Seconds per multiply-add of :meth:`lemma_work` and sample of the symbolic forward
    #: the swap's check builds and expands (0.5e-4 to 1.3e-4 s measured on dense, conv,
    #: pool and flatten layers, load 7 on 2 cores).
    symbolic_mac_seconds: ClassVar[float] = 1.2e-4

    def lemma_work(self, layer: LayerSpec) -> int:
        """The size of the symbolic forward the swap's check builds and compares, in
        multiply-adds (:mod:`.swap` checks a larger layer on :meth:`reduced`): its
        :meth:`flops`, unless the kind's formulas cost more than their multiply-adds."""
        return self.flops(layer)

    def lemma_seconds(self, layer: LayerSpec) -> float:
        """Estimated CPU seconds of the swap's check of the layer (two samples of its
        symbolic forward, :meth:`lemma_work` multiply-adds at :attr:`symbolic_mac_seconds`)."""
        return self.symbolic_mac_seconds * 2 * max(self.lemma_work(layer), 1)

    def local_seconds(self, layer: LayerSpec, group: str) -> float:
        """Estimated CPU seconds of :meth:`local_zero` on ``group`` (the cost model's
        symbolic part; 0 for a kind whose local derivation is immediate)."""
        return 0.0

    def symbolic_spread(self, layer: LayerSpec) -> int:
        """Terms of each entry of the layer's symbolic output, to the cost model of the
        whole SymPy loss (:func:`symderive.cost.layers.loss_seconds`): a layer after this
        one reads expressions this many times larger than its inputs (attention: a sum
        over the tokens); 1 for a kind whose outputs are as large as its inputs'."""
        return 1

    #: Does the kind divide by a square root of its inputs (a norm's variance)?
    normalises = False

    def zero_test_factor(self, layer: LayerSpec, earlier: tuple[LayerSpec, ...]) -> float:
        """How many times the whole-loss step's count (:func:`..expansion.group_seconds`)
        under-counts SymPy's zero test of a derivative through this layer, given the
        layers before it; 1 when it does not."""
        return 1.0

    def pass_loops(self, layer: LayerSpec) -> int:
        """Python-level iterations of one forward + backward pass through the layer (a
        kind whose pass loops, over kernel offsets or steps, says how many): the unit
        of the interpreter's overhead, which small layers spend most of their time on."""
        return 1

    # ---- words and notation ----------------------------------------------------
    def unit_word(self, layer: LayerSpec) -> str:
        """What a unit of this layer is called (``unit``, ``channel``)."""
        return "unit"

    def channel_word(self, layer: LayerSpec) -> str:
        """What one channel of the layer's output is called when a residual stream joins
        it: its unit, unless its units are not its output's entries (an output feature)."""
        return self.unit_word(layer)

    def difference(self, layer: LayerSpec, group: str) -> str:
        """The local difference formula of a group of two units, in words (plain text,
        no markup: reports escape it): what the difference of their gradients is made of."""
        return ""

    def symbol(self, layer: LayerSpec, tensor: str) -> str:
        """The LaTeX symbol of one of the layer's tensors in reports."""
        head, number = tensor[0], tensor[1:]
        return rf"{head}^{{({number})}}"


def symbols(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """An object array of the generated symbols of a tensor: ``W1`` [2, 1, 3] holds
    ``W1_1_1_1`` ... ``W1_2_1_3`` (1-based indices, Python-safe names)."""
    import sympy as sp

    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        out[idx] = sp.Symbol(f"{name}_" + "_".join(str(i + 1) for i in idx), real=True)
    return out


def product(a, b):
    """``a * b``, the very expression SymPy builds, made without ``Mul``'s flattening when
    both are distinct symbols with the same assumptions (a weight times an input symbol):
    ``Mul.flatten`` would keep both and order them as
    :meth:`~sympy.core.basic.Basic.compare` does, which for two symbols compares their
    ``_hashable_content()`` (the name, then the assumptions).  Ten times faster on a
    cache miss, which is every product of a layer's first symbolic forward in a process
    (the swap's checks)."""
    if type(a) is Symbol and type(b) is Symbol and a.is_commutative:
        ka, kb = a._hashable_content(), b._hashable_content()
        if ka[1:] == kb[1:] and ka[0] != kb[0]:
            return Mul._from_args((a, b) if ka[0] < kb[0] else (b, a), True)
    return a * b


def by_local_name(layer_index: int, shapes: dict[str, tuple[int, ...]],
                  theta: dict[str, np.ndarray], fill) -> dict[str, np.ndarray]:
    """A stack's tensors (``Q2``, ``bq2``) by a kind's own names (``Q``, ``bq``); a tensor
    the layer lacks (its biases without ``bias``) is ``fill(shape)`` (zeros)."""
    return {n: theta[f"{n}{layer_index}"] if f"{n}{layer_index}" in theta else fill(s)
            for n, s in shapes.items()}


def by_stack_name(layer_index: int, grads: dict[str, np.ndarray],
                  theta: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse of :func:`by_local_name` for gradients: a kind's own names (``Q``) to
    the stack's (``Q2``), leaving out the tensors the layer lacks (its biases without
    ``bias``)."""
    return {f"{n}{layer_index}": g for n, g in grads.items() if f"{n}{layer_index}" in theta}

