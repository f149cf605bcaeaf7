"""The spec side of multi-head self-attention: ``heads``, ``head_dim`` (features /
heads by default), ``causal`` on a [tokens, features] input; a unit is a head."""
from __future__ import annotations

from typing import Any

from ...errors import SpecError
from ..fields import _int, _type_name
from ..model import MAX_LAYER_WIDTH
from .base import LayerSpec, Shape, SpecKind
from .shapes import sequence_input


class Attention(SpecKind):
    keys = frozenset({"heads", "head_dim", "causal"})
    has_units = True
    groups = ("query", "key", "value", "output")
    read_by_later = False   # the heads are summed through O: no later layer reads one
    unit_axis = None        # the output has no head axis: no norm or stream of heads
    feature_axis = -1       # its output entries are features: rows of O (and bo)

    def stream_groups(self, bias: bool) -> tuple[str, ...]:
        """A feature of the output in a residual stream: its row of O, its entry of bo."""
        return ("incoming", "bias") if bias else ("incoming",)

    def read(self, table: dict[str, Any], field: str, in_shape: Shape,
             before: tuple[LayerSpec, ...]):
        sequence_input(in_shape, field, before, "attends over [tokens, features]")
        if "heads" not in table:
            raise SpecError("is required: the number of heads", field=f"{field}.heads")
        heads = _int(table["heads"], f"{field}.heads", 1, MAX_LAYER_WIDTH)
        features = in_shape[1]
        if "head_dim" in table:
            head_dim = _int(table["head_dim"], f"{field}.head_dim", 1, MAX_LAYER_WIDTH)
        elif features % heads:
            raise SpecError(f"is needed: {features} features do not divide into {heads} heads",
                            field=f"{field}.head_dim")
        else:
            head_dim = features // heads
        causal = table.get("causal", False)
        if not isinstance(causal, bool):
            raise SpecError(f"must be true or false, not {_type_name(causal)}",
                            field=f"{field}.causal")
        return in_shape, heads, (("heads", heads), ("head_dim", head_dim), ("causal", causal))

    def tensors(self, layer: LayerSpec) -> dict[str, Shape]:
        w, f = layer.option("heads") * layer.option("head_dim"), layer.in_shape[1]
        shapes = {"Q": (w, f), "K": (w, f), "V": (w, f), "bq": (w,), "bk": (w,), "bv": (w,),
                  "O": (f, w), "bo": (f,)}
        return {f"{n}{layer.index}": s for n, s in shapes.items()
                if layer.bias or not n.startswith("b")}


KIND = Attention()
