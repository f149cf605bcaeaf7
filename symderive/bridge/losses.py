"""A PyTorch loss as symderive's loss, with the factor between the two.

symderive's losses are sums over samples and output units (``mse`` with ½):
L_s = Σ_n ½ Σ_m (ŷ − y)².  PyTorch's default ``reduction="mean"`` divides by the
number of entries, and MSE has no ½, so L_torch = scale · L_s:

| torch loss | reduction mean | reduction sum |
|---|---|---|
| MSELoss | 2/(N·M) | 2 |
| BCELoss, BCEWithLogitsLoss | 1/(N·M) | 1 |
| CrossEntropyLoss | 1/N | 1 |

The gradients scale alike, so plain SGD (and momentum) with learning rate η in
torch is SGD with η·scale in symderive.  Classes and frozen sets are proved for
every learning rate, so they do not depend on the scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .graph import refuse

NAMES = ("mse", "bce", "softmax_ce")


@dataclass(frozen=True)
class LossPlan:
    """The spec's loss and output activation, the targets as rows, the factor scale
    with L_torch = scale · L_symderive, and what the reader should know."""

    name: str
    output_activation: Any
    targets: np.ndarray           # object array [N, M] of exact rationals
    scale: Fraction
    described: str


def plan(loss: Any, last_activation: Any, targets: Any, samples: int,
         outputs: int) -> LossPlan:
    """The loss of ``loss`` (a name or a torch.nn loss object) for these targets."""
    if isinstance(loss, str):
        if loss not in NAMES:
            raise refuse("loss", f"must be one of {', '.join(NAMES)} or a torch.nn loss "
                         f"object, not {loss!r}")
        return _named(loss, last_activation, targets, samples, outputs)
    kind = type(loss).__name__
    reduction = getattr(loss, "reduction", None)
    if reduction not in ("mean", "sum"):
        raise refuse("loss", f"{kind} with reduction={reduction!r} is not supported "
                     "(mean or sum)")
    if getattr(loss, "weight", None) is not None or getattr(loss, "pos_weight", None) \
            is not None or getattr(loss, "label_smoothing", 0.0):
        raise refuse("loss", f"{kind} with weight, pos_weight or label_smoothing is not "
                     "supported")
    per = {"MSELoss": ("mse", 2, samples * outputs), "BCELoss": ("bce", 1, samples * outputs),
           "BCEWithLogitsLoss": ("bce", 1, samples * outputs),
           "CrossEntropyLoss": ("softmax_ce", 1, samples)}
    if kind not in per:
        raise refuse("loss", f"{kind} is not supported (MSELoss, BCELoss, BCEWithLogitsLoss, "
                     "CrossEntropyLoss or a name: mse, bce, softmax_ce)")
    name, factor, count = per[kind]
    activation = last_activation
    if kind == "BCEWithLogitsLoss":
        if last_activation != "identity":
            raise refuse("loss", "BCEWithLogitsLoss reads logits: the model must end with a "
                         "Linear layer without activation")
        activation = "sigmoid"
    base = _named(name, activation, targets, samples, outputs)
    scale = Fraction(factor, count) if reduction == "mean" else Fraction(factor)
    described = (f"{kind}(reduction={reduction!r}) is {_fraction(scale)} times symderive's "
                 f"{name} (the sum over the batch{' with ½' if name == 'mse' else ''})")
    return LossPlan(name, activation, base.targets, scale, described)


def _named(name: str, activation: Any, targets: Any, samples: int, outputs: int) -> LossPlan:
    if name == "bce" and activation != "sigmoid":
        raise refuse("loss", "bce needs the model to end with Sigmoid (or pass "
                     "nn.BCEWithLogitsLoss() for a model that outputs logits)")
    if name == "softmax_ce" and activation != "identity":
        raise refuse("loss", "softmax_ce reads logits: the model must end with a Linear layer "
                     "without activation")
    rows = _targets(name, targets, samples, outputs)
    return LossPlan(name, activation, rows, Fraction(1), f"symderive's {name}")


def _targets(name: str, targets: Any, samples: int, outputs: int) -> np.ndarray:
    """Targets as exact rows [N, M]; class indices become one-hot rows (softmax_ce)."""
    import torch

    from .builder import exact

    if targets is None:
        raise refuse("targets", "are needed for the data (one row per sample)")
    t = targets if isinstance(targets, torch.Tensor) else torch.as_tensor(targets)
    if name == "softmax_ce" and not t.is_floating_point():
        if t.shape != (samples,) or t.min() < 0 or t.max() >= outputs:
            raise refuse("targets", f"class indices must be {samples} integers in 0..{outputs - 1}")
        t = torch.nn.functional.one_hot(t.long(), outputs)
    if t.dim() == 1 and outputs == 1:
        t = t.reshape(-1, 1)
    if tuple(t.shape) != (samples, outputs):
        raise refuse("targets", f"must have shape [{samples}, {outputs}] (samples by output "
                     f"units), not {list(t.shape)}")
    return exact(t)


def _fraction(v: Fraction) -> str:
    return str(v.numerator) if v.denominator == 1 else f"{v.numerator}/{v.denominator}"


__all__ = ["LossPlan", "NAMES", "plan"]
