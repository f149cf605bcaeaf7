"""``from_torch``: a PyTorch model, a batch and a loss as a symderive :class:`Spec`.

The spec's ``[init]`` is the model's parameters now, each entry the exact rational
its binary float is (written as an exact decimal string when a float literal would
round it); ``[data]`` is the batch; one ``[[hypothesis]]`` per pair of units that are
identical now (equal incoming weights and bias), tying what the two units share.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import SpecError
from ..spec.model import MAX_SAMPLES, toml_number
from .builder import Builder, Layer, exact
from .graph import SOURCE, refuse
from .losses import LossPlan, plan
from .read import read_model

#: At most this many [[hypothesis]] tables (pairs of identical units) in one spec.
MAX_PAIRS = 12
OPTIMIZERS = ("sgd", "momentum", "adam")


@dataclass(frozen=True)
class Pair:
    """Two identical units (1-based) of a layer and the groups they share now."""

    layer: int
    units: tuple[int, int]
    tie: tuple[str, ...]
    zero: tuple[str, ...]


@dataclass(frozen=True)
class Reading:
    """Everything from_torch read: the builder, the loss plan, the pairs, the tables."""

    builder: Builder
    loss: LossPlan
    pairs: tuple[Pair, ...]
    tables: dict[str, Any]


def read(model: Any, inputs: Any, targets: Any = None, loss: Any = "mse", lr: Any = None,
         optimizer: str = "sgd") -> Reading:
    """Read the model, batch and loss into spec tables (not yet validated)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"from_torch takes a torch.nn.Module, not {type(model).__name__}")
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2 or not len(inputs):
        raise refuse("inputs", "must be a tensor of one row per sample: [samples, ...]")
    if len(inputs) > MAX_SAMPLES:
        raise refuse("inputs", f"has {len(inputs)} samples; at most {MAX_SAMPLES}")
    if optimizer not in OPTIMIZERS:
        raise refuse("optimizer", f"must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    b = read_model(model, tuple(inputs.shape[1:]))
    last = b.layers[-1]
    if len(last.shape) != 1:
        raise refuse("output", f"one sample's output has shape {list(last.shape)}; the "
                     "bridge reads models whose output per sample is a vector (pool or "
                     "flatten before the last layer)")
    outputs = last.shape[0]
    how = plan(loss, last.entry["activation"], targets, len(inputs), outputs)
    last.entry["activation"] = how.output_activation
    network = network_table(b, how.name)
    tables: dict[str, Any] = {
        "title": f"{type(model).__name__} from PyTorch: which units are identical?",
        "network": network}
    pairs = _stack_tables(b, tables, len(inputs)) if "input" in network else identical_pairs(b)
    tables |= {"init": {k: _values(v) for k, v in b.tensors.items()},
               "data": {"inputs": _values(exact(inputs)), "targets": _values(how.targets)}}
    tables["check"] = _check(how, lr, optimizer)
    if pairs:
        tables["hypothesis"] = [_hypothesis(p, b) for p in pairs[:MAX_PAIRS]]
    tables["question"] = question(type(model).__name__, b, how, lr, optimizer)
    return Reading(b, how, tuple(pairs), tables)


def _stack_tables(b: Builder, tables: dict[str, Any], samples: int) -> list[Pair]:
    """A ``[[layer]]`` network: its layer tables at the top level and the pairs of units
    identical now (each pair's hypothesis ties what the two units share now; the
    ``[init]`` and ``[data]`` tables state the point itself, nested in PyTorch's layout)."""
    from ..spec.validate import parse_network
    from .stack import stack_pairs

    network = tables["network"]
    network["samples"] = samples
    tables["layer"] = network.pop("layer")
    try:
        stated = parse_network(network, tables["layer"])
    except SpecError as exc:
        raise exc.located(SOURCE) from None
    return [Pair(*p) for p in stack_pairs(b, stated)]


def from_torch(model: Any, inputs: Any, targets: Any = None, loss: Any = "mse", *,
               lr: float | None = None, optimizer: str = "sgd") -> Any:
    """The :class:`~symderive.Spec` of ``model`` at its current parameters on this batch.

    ``loss`` is ``"mse"``, ``"bce"``, ``"softmax_ce"`` (symderive's sums) or a torch loss
    object (``nn.MSELoss()``, ``nn.BCELoss()``, ``nn.BCEWithLogitsLoss()``,
    ``nn.CrossEntropyLoss()``), whose reduction is converted: with ``lr`` (torch's
    learning rate) the spec's ``[check]`` learning rate is the one that makes the same
    steps.  Unsupported modules raise :class:`~symderive.SpecError` naming their path."""
    from ..spec.request import Spec

    return Spec.from_dict(read(model, inputs, targets, loss, lr, optimizer).tables, SOURCE)


def _values(a: np.ndarray) -> Any:
    """Nested lists of exact TOML numbers (floats that are exact, else exact strings)."""
    return [_values(x) for x in a] if isinstance(a, np.ndarray) else toml_number(a)


def _check(how: LossPlan, lr: Any, optimizer: str) -> dict[str, Any]:
    """[check]: the optimizer, and torch's learning rate in symderive's loss scale."""
    out: dict[str, Any] = {"optimizer": optimizer}
    if lr is not None:
        out["learning_rate"] = float(symderive_rate(how, lr, optimizer))
    return out


def symderive_rate(how: LossPlan, lr: float, optimizer: str) -> Fraction:
    """The learning rate making symderive's steps torch's: η·scale for SGD and momentum
    (the gradient scales with the loss); Adam divides the scale out (up to its eps)."""
    rate = Fraction(repr(float(lr)))
    return rate if optimizer == "adam" else rate * how.scale


def network_table(b: Builder, loss: str) -> dict[str, Any]:
    """``layers = [...]`` when every layer is dense on a flat input with one hidden
    activation and one bias setting; else the input shape and ``[[layer]]`` tables."""
    entries = [layer.entry for layer in b.layers]
    input_shape = list(b.input_shape)
    hidden = [e.get("activation") for e in entries[:-1]]
    plain = (len(input_shape) == 1 and all(e["kind"] == "dense" and "skip" not in e
                                           for e in entries)
             and all(h == hidden[0] for h in hidden)
             and len({e["bias"] for e in entries}) == 1)
    if plain:
        return {"layers": input_shape + [e["units"] for e in entries],
                "activation": hidden[0] if hidden else "tanh",
                "output_activation": entries[-1]["activation"], "bias": entries[0]["bias"],
                "loss": loss}
    return {"input": input_shape, "loss": loss, "layer": entries}


def identical_pairs(b: Builder) -> list[Pair]:
    """Every pair of units of a layer of a dense network (``layers = [...]``) with equal
    incoming weights and bias now, with the groups they share (tie) or both have at
    zero (zero).  A ``[[layer]]`` network's pairs use the kinds' groups (:mod:`.stack`)."""
    pairs = []
    for l in range(1, len(b.layers) + 1):
        W, bias = b.tensors[f"W{l}"], b.tensors.get(f"b{l}")
        out = _outgoing(b, l)
        for i in range(len(W)):
            for j in range(i + 1, len(W)):
                if _same(W[i], W[j]) and (bias is None or bias[i] == bias[j]):
                    pairs.append(_pair(l, i, j, W, bias, out))
    return pairs


def _outgoing(b: Builder, l: int) -> np.ndarray | None:
    """The next layer's weights read per unit of layer l (W[:, i]); none for the output."""
    if l == len(b.layers):
        return None
    return b.tensors[f"W{l + 1}"]


def _pair(l: int, i: int, j: int, W, bias, out) -> Pair:
    groups = [("incoming", W[i], W[j])]
    if bias is not None:
        groups.append(("bias", bias[i], bias[j]))
    if out is not None:
        groups.append(("outgoing", out[:, i], out[:, j]))
    tie, zero = [], []
    for name, u, v in groups:
        if _same(u, v):
            (zero if not np.any(np.asarray(u, dtype=object) != 0) else tie).append(name)
    return Pair(l, (i + 1, j + 1), tuple(tie), tuple(zero))


def _same(u: Any, v: Any) -> bool:
    return bool(np.all(np.asarray(u, dtype=object) == np.asarray(v, dtype=object)))


def _hypothesis(p: Pair, b: Builder) -> dict[str, Any]:
    where = b.layers[p.layer - 1].where
    shared = ", ".join(p.tie + tuple(f"{g} zero" for g in p.zero))
    return {"name": f"units {p.units[0]} and {p.units[1]} of {where} as they are now "
                    f"({shared})",
            "layer": p.layer, "units": list(p.units), "tie": list(p.tie), "zero": list(p.zero)}


def describe_layer(layer: Layer) -> str:
    """``fc1`` (Linear, 8 units, relu): how the question names a layer."""
    act = layer.entry.get("activation")
    act = act if isinstance(act, str) else (act or {}).get("latex")
    units = f", {layer.units} units" if layer.units else ""
    return f"'{layer.where}' ({layer.what}{units}{', ' + act if act else ''})"


def question(model: str, b: Builder, how: LossPlan, lr: Any, optimizer: str) -> str:
    """The question, with the mapping from the spec's layer numbers to the module."""
    names = "; ".join(f"layer {k} is {describe_layer(layer)}"
                      for k, layer in enumerate(b.layers, start=1))
    text = (f"Which units of my PyTorch model '{model}' are identical at its current "
            f"parameters on this batch, and do they stay identical? Read from the module: "
            f"{names}. The loss: {how.described}.")
    if lr is not None:
        rate = symderive_rate(how, lr, optimizer)
        text += (f" torch's {optimizer} with learning rate {lr!r} is symderive's with "
                 f"{float(rate)!r}" + (" (Adam divides the loss scale out, up to its eps)."
                                       if optimizer == "adam" else "."))
    return text


__all__ = ["MAX_PAIRS", "Pair", "Reading", "from_torch", "identical_pairs", "network_table",
           "read", "symderive_rate"]
