"""The way back: parameters named as in the spec (W1, b1, Q2, ...) as a ``state_dict``.

A witness (``witness.parameters``), a trajectory step (``step.parameters``) or a
JSON report's parameters use the contract's names and PyTorch's layouts; the
module's current ``state_dict`` is copied and every tensor the spec names is
written back where :func:`~symderive.bridge.convert.read` found it (Q, K and V into
their rows of ``in_proj_weight``; an LSTM's one bias into ``bias_ih_l0``, with
``bias_hh_l0`` zero).  Buffers (batch-norm running statistics) are kept.
"""
from __future__ import annotations

from typing import Any, Mapping

from .graph import refuse
from .read import read_model


def state_dict(model: Any, parameters: Any, inputs: Any) -> dict[str, Any]:
    """A ``state_dict`` for ``model.load_state_dict``: ``parameters`` (a mapping of
    spec tensor names to nested lists, or pairs as in a trajectory step) written over
    the model's own; ``inputs`` (a batch, or one sample's shape) fixes the shapes."""
    import torch

    shape = tuple(inputs.shape[1:]) if hasattr(inputs, "shape") else tuple(inputs)
    b = read_model(model, shape)
    given = dict(parameters.items() if isinstance(parameters, Mapping) else parameters)
    unknown = sorted(set(given) - set(b.tensors))
    if unknown:
        raise refuse("parameters", f"{', '.join(unknown)} is not a tensor of this model's "
                     f"spec ({', '.join(b.tensors)})")
    out = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for w in b.writes:
        target = out[w.key]
        if w.name not in given:
            continue
        if w.zero:
            target.zero_()
            continue
        value = torch.tensor(_floats(given[w.name]), dtype=target.dtype)
        part = target[w.rows[0]:w.rows[1]] if w.rows else target
        if tuple(value.shape) != tuple(part.shape):
            raise refuse(f"parameters.{w.name}", f"has shape {list(value.shape)}; "
                         f"{w.key} needs {list(part.shape)}")
        part.copy_(value)
    return out


def _floats(value: Any) -> Any:
    """Nested lists of floats (exact strings and rationals are rounded to float64)."""
    if isinstance(value, (list, tuple)):
        return [_floats(v) for v in value]
    from fractions import Fraction

    return float(Fraction(value)) if isinstance(value, str) else float(value)


__all__ = ["state_dict"]
