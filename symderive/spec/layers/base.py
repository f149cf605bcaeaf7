"""What a spec says about one layer of a ``[[layer]]`` network, and what a kind's spec
room must provide to read it.

The spec stage cannot import the engine (stages import only earlier stages), so a
layer kind has two rooms: this side reads and validates its table and computes its
output shape (:class:`SpecKind`), :mod:`symderive.engine.layers` holds its
mathematics.  One registry (:data:`.KINDS`) maps a kind's name to its modules; nothing else names a
kind (``tests/test_layer_kinds.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..functions import Activation

Shape = tuple[int, ...]


@dataclass(frozen=True)
class LayerSpec:
    """One validated ``[[layer]]`` table.

    ``index`` is the layer's number (1-based, as hypotheses name it); ``in_shape`` and
    ``out_shape`` are one sample's shapes before and after it (PyTorch axes);
    ``units`` is how many units it has (0 for a kind without units; the table's own key
    for it, ``units`` or ``channels``, is among the options);
    ``activation`` is None for a kind that applies none; ``skip`` is the layer whose
    output is added to this one's (a residual connection), or None; ``options`` holds
    the kind's own keys, validated, as (name, value) pairs in a fixed order."""

    kind: str
    index: int
    in_shape: Shape
    out_shape: Shape
    units: int = 0
    activation: Activation | None = None
    bias: bool = True
    skip: int | None = None
    options: tuple[tuple[str, Any], ...] = ()
    #: the layer has tensors a ``bias`` key can switch (a bias, a norm's shift)
    has_bias: bool = True
    #: the groups a hypothesis may name for its units (``incoming``, ``bias``,
    #: ``gain``, ``shift``, ``outgoing``), filled in once the whole stack is read
    groups: tuple[str, ...] = ()

    def option(self, name: str) -> Any:
        """The value of one of the kind's own keys (KeyError for a key it has not)."""
        return dict(self.options)[name]

    def to_toml(self) -> dict[str, Any]:
        """The table as a spec writes it (Spec.to_dict), defaults filled in."""
        out: dict[str, Any] = {"kind": self.kind}
        out.update({k: v for k, v in self.options if k != "axis"})
        if self.activation is not None:
            out["activation"] = self.activation
        if self.has_bias:
            out["bias"] = self.bias
        return out | ({"skip": self.skip} if self.skip is not None else {})

    def to_json(self) -> dict[str, Any]:
        """The table as the report states it: defaults filled in."""
        out: dict[str, Any] = {"kind": self.kind}
        out.update({k: list(v) if isinstance(v, tuple) else v for k, v in self.options
                    if k != "axis"})
        if self.activation is not None:
            act = self.activation
            out["activation"] = act.name if act.latex_source is None else {"latex": act.latex_source}
        if self.has_bias:
            out["bias"] = self.bias
        if self.skip is not None:
            out["skip"] = self.skip
        out["shape"] = list(self.out_shape)
        return out


class SpecKind:
    """The spec side of a layer kind: its keys, their validation, its output shape.

    A subclass sets :attr:`keys` (the table's own keys beyond ``kind``,
    ``activation``, ``bias`` and ``skip``), :attr:`has_units`, :attr:`groups`
    (the groups its units own: ``incoming``, ``bias``), :attr:`attaches` (groups it
    adds to the units of the layer before it, as norm's ``gain`` and ``shift``), and
    :attr:`applies_activation`; and implements :meth:`read`."""

    keys: ClassVar[frozenset[str]] = frozenset()
    has_units: ClassVar[bool] = False
    groups: ClassVar[tuple[str, ...]] = ()
    attaches: ClassVar[tuple[str, ...]] = ()
    #: "default": the network's activation unless the table sets one (dense, conv);
    #: "own": only the table's (norm); "none": the key is refused (pool, flatten)
    applies_activation: ClassVar[str] = "none"
    #: the axis of one sample's output that indexes the units (0: channels first)
    unit_axis: ClassVar[int] = -1
    #: do later layers read its units (``outgoing``)?  Not attention heads: they are
    #: summed through the layer's own output tensor
    read_by_later: ClassVar[bool] = True
    #: the axis of one sample's output whose entries a following norm and a residual
    #: stream take as channels (None: none).  The unit axis for dense, conv and lstm;
    #: the feature axis of attention, whose output entries are features, not heads
    feature_axis: ClassVar[int | None] = None

    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]) -> tuple[Shape, int, tuple[tuple[str, Any], ...]]:
        """(output shape, units, options) of a table, or a SpecError naming ``field``
        (``layer[k]``) and the key; ``before`` are the layers already read."""
        raise NotImplementedError

    def own_groups(self, bias: bool) -> tuple[str, ...]:
        """The groups a unit owns in this layer (``bias`` dropped without a bias)."""
        return tuple(g for g in self.groups if bias or g != "bias")

    def stream_groups(self, bias: bool) -> tuple[str, ...]:
        """The groups one output channel of this layer owns when a residual stream joins
        it: its units' own groups, unless its units are not its output's entries
        (attention: a feature's row of O and its bias)."""
        return self.own_groups(bias)

    def tensors(self, layer: LayerSpec) -> dict[str, Shape]:
        """The layer's tensors, name -> PyTorch shape (``W2`` [out, in, k]), as ``[init]``
        names them; the engine's room (``LayerKind.tensors``) gives the same."""
        return {}

    def check_samples(self, layer: LayerSpec, samples: int, field: str) -> None:
        """A SpecError naming ``field`` when the layer cannot run on ``samples`` samples
        (norm's batch statistics with eps = 0 over one entry)."""

