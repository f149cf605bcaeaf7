"""Walk the traced chain of calls into a :class:`~symderive.bridge.builder.Builder`.

Each value of the chain has a *tag*: ``"tensor"`` for an ordinary activation, or
the stage of unpacking a module's tuple output (``attn(x, x, x)[0]``;
``lstm(x)[0][:, -1]`` or ``lstm(x)[1][0][-1]`` for the last hidden state).  A sum
``a + b`` of the chain's head and an earlier value is a residual connection, the
contract's ``skip``.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import torch

from .builder import Builder
from .graph import Call, function_name, refuse, trace
from .kinds import convert_module, elu_latex, flatten, leaky_latex

_F = torch.nn.functional
#: Functions and methods that are activations -> the spec's activation.
_ACTIVATIONS = {torch.relu: "relu", _F.relu: "relu", torch.tanh: "tanh", _F.tanh: "tanh",
                torch.sigmoid: "sigmoid", _F.sigmoid: "sigmoid", _F.silu: "silu",
                _F.gelu: "gelu", _F.softplus: "softplus", _F.leaky_relu: "leaky", _F.elu: "elu"}
_METHODS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}
_ADDS = {operator.add, operator.iadd, torch.add}


@dataclass(frozen=True)
class Value:
    """A value of the chain: its tag, and the layer whose output it is (0: the input)
    with that layer's activation state then (a sum must read the finished output)."""

    tag: str
    layer: int
    activated: bool


def read_model(model: Any, sample_shape: tuple[int, ...]) -> Builder:
    """The builder of ``model`` for inputs of one sample's ``sample_shape``."""
    if type(model).__module__.startswith("torch.nn.modules") and \
            not isinstance(model, torch.nn.Sequential):
        model = torch.nn.Sequential(model)    # fx would trace into a bare nn.Linear
    first, calls, last = trace(model)
    b = Builder(tuple(sample_shape))
    values = {first: Value("tensor", 0, False)}
    head = first
    for call in calls:
        values[call.name] = _step(call, b, values, head)
        head = call.name
    if last != head or values[head].tag != "tensor":
        raise refuse("output", "forward must return the last value of its chain of layers")
    if b.squeezed:
        raise refuse("output", "the model ends with adaptive pooling; add a Flatten")
    if not b.layers or b.layers[-1].entry["kind"] not in ("dense", "conv", "norm"):
        raise refuse("output", "the model must end with a Linear layer (with or without "
                     "an activation): its units are the output units")
    return b


def _state(b: Builder, tag: str) -> Value:
    n = len(b.layers)
    return Value(tag, n, b.layers[-1].activated if n else False)


def _step(call: Call, b: Builder, values: dict[str, Value], head: str) -> Value:
    if call.op == "function" and call.target in _ADDS or call.op == "method" and \
            call.target in ("add", "add_"):
        return _skip(call, b, values, head)
    if call.op == "get_attr":
        raise refuse(call.where, "forward reads a parameter directly; the bridge reads "
                     "parameters through modules (nn.Linear, ...)")
    if call.inputs != (head,):
        raise refuse(call.where, "reads a value other than the previous call's; the bridge "
                     "reads a chain of layers with residual sums x + f(x)")
    tag = values[head].tag
    if call.op == "getitem":
        return Value(_unpack(call, tag), values[head].layer, values[head].activated)
    if tag == "lstm-h" and call.op == "method" and call.target == "squeeze" and \
            call.args == (0,):
        return _state(b, "tensor")
    if tag != "tensor":
        raise refuse(call.where, "reads a tuple output without unpacking it as "
                     "attn(x, x, x)[0] or lstm(x)[0][:, -1]")
    if call.op == "module":
        return _module(call, b)
    _function(call, b)
    return _state(b, "tensor")


def _module(call: Call, b: Builder) -> Value:
    kind = type(call.target).__name__
    if kind == "MultiheadAttention" and (call.kwargs.keys() - {"need_weights"} or call.args):
        raise refuse(call.where, "MultiheadAttention is supported as self-attention "
                     "attn(x, x, x) without masks")
    if kind == "LSTM" and (call.args or call.kwargs):
        raise refuse(call.where, "LSTM is supported from a zero initial state: lstm(x)")
    convert_module(call.target, call.where, b)
    tag = {"MultiheadAttention": "attention", "LSTM": "lstm"}.get(kind, "tensor")
    return _state(b, tag)


#: (tag, index) -> tag after indexing; "last" is the last token: [:, -1] or [:, -1, :].
_UNPACK = {("attention", 0): "tensor", ("lstm", 0): "lstm-seq", ("lstm", 1): "lstm-hc",
           ("lstm-hc", 0): "lstm-h", ("lstm-h", -1): "tensor", ("lstm-h", 0): "tensor",
           ("lstm-seq", "last"): "tensor"}


def _unpack(call: Call, tag: str) -> str:
    index = call.args[0]
    if isinstance(index, tuple) and index[:1] == (slice(None),) and index[1:2] == (-1,) and \
            all(i == slice(None) for i in index[2:]):
        index = "last"
    if isinstance(index, (int, str)) and (tag, index) in _UNPACK:
        return _UNPACK[(tag, index)]
    raise refuse(call.where, f"indexing [{index!r}] is not supported here; the bridge reads "
                 "attn(x, x, x)[0], and the last hidden state of an LSTM as "
                 "lstm(x)[0][:, -1] or lstm(x)[1][0][-1]")


def _function(call: Call, b: Builder) -> None:
    target = call.target if call.op == "function" else None
    name = (function_name(call.target) if call.op == "function" else f".{call.target}()")
    if call.op == "method" and call.target in _METHODS:
        b.activate(call.where, name, _METHODS[call.target])
    elif target in _ACTIVATIONS:
        b.activate(call.where, name, _function_activation(call, name))
    elif target is torch.flatten or call.op == "method" and call.target == "flatten":
        start = call.args[0] if call.args else call.kwargs.get("start_dim", 0)
        flatten(call.where, b, start, call.args[1] if len(call.args) > 1
                else call.kwargs.get("end_dim", -1))
    else:
        raise refuse(call.where, f"{name} is not supported")


def _function_activation(call: Call, name: str) -> Any:
    """The spec's activation of F.relu(x), F.leaky_relu(x, 0.2), ... (settings checked)."""
    kind = _ACTIVATIONS[call.target]
    options = dict(call.kwargs)
    options.pop("inplace", None)
    if kind == "leaky":
        return leaky_latex(call.args[0] if call.args else options.get("negative_slope", 0.01))
    if kind == "elu":
        return elu_latex(call.args[0] if call.args else options.get("alpha", 1.0))
    if call.args or options and options not in ({"approximate": "none"}, {"beta": 1}):
        raise refuse(call.where, f"{name} with arguments {call.args or options} is not supported")
    return kind


def _skip(call: Call, b: Builder, values: dict[str, Value], head: str) -> Value:
    """``head + earlier``: the last layer gets ``skip = k`` (k: the earlier value's layer)."""
    others = [n for n in call.inputs if n != head]
    if head not in call.inputs or len(others) != 1 or call.args:
        raise refuse(call.where, "a sum is supported only as a residual x + f(x) of two "
                     "values of the chain")
    earlier, now = values[others[0]], values[head]
    if earlier.layer == 0:
        raise refuse(call.where, "a residual sum with the model's input is not supported "
                     "(skip names a layer's output)")
    if earlier.tag != "tensor" or now.layer == earlier.layer or not b.layers:
        raise refuse(call.where, "a residual sum needs a layer between its two terms")
    source = b.layers[earlier.layer - 1]
    if source.activated != earlier.activated:
        raise refuse(call.where, f"the residual sum reads {source.where} before its "
                     "activation; the contract's skip adds a layer's finished output")
    last = b.layers[-1]
    if last.shape != source.shape or b.squeezed or "skip" in last.entry:
        raise refuse(call.where, f"the residual sum adds {source.where} (shape "
                     f"{list(source.shape)}) to {last.where} (shape {list(last.shape)}); "
                     "the shapes must match, one sum per layer")
    last.entry["skip"] = earlier.layer
    return _state(b, "tensor")


__all__ = ["Value", "read_model"]
