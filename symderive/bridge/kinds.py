"""One converter per PyTorch module type: the ``[[layer]]`` table and tensors it is.

``CONVERTERS`` maps a module class name to a function ``(module, where, builder)``
that checks the module's settings, appends its layer (the contract's syntax, see
docs/pytorch.md) and records its tensors in PyTorch's layout; ``ACTIVATIONS`` maps
an activation module to the spec's activation.  A kind the engine learns is one
entry here; anything else is refused naming the module's path.
"""
from __future__ import annotations

from typing import Any, Callable

from .builder import Builder, exact
from .graph import refuse


def _pair(value: Any) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _one(values: tuple[int, ...]) -> Any:
    """An integer when every axis has the same value, else the list (contract form)."""
    return values[0] if len(set(values)) == 1 else list(values)


def dense(m: Any, where: str, b: Builder) -> None:
    """``nn.Linear``: a dense layer on the last axis (per token, as nn.Linear)."""
    b.expect(where, "Linear", bool(b.shape) and b.shape[-1] == m.in_features,
             f"{m.in_features} features on the last axis")
    bias = m.bias is not None
    l = b.add(where, "Linear", {"kind": "dense", "units": m.out_features,
                                "activation": "identity", "bias": bias},
              b.shape[:-1] + (m.out_features,), units=m.out_features)
    b.tensor(f"W{l}", exact(m.weight), f"{where}.weight")
    if bias:
        b.tensor(f"b{l}", exact(m.bias), f"{where}.bias")


def conv(m: Any, where: str, b: Builder) -> None:
    """``nn.Conv1d`` / ``nn.Conv2d``: stride and zero padding; no dilation or groups."""
    what, dims = type(m).__name__, len(m.kernel_size)
    b.expect(where, what, len(b.shape) == dims + 1 and b.shape[0] == m.in_channels,
             f"[{m.in_channels}, {', '.join(['positions'] * dims)}]")
    if m.groups != 1 or any(d != 1 for d in _pair(m.dilation)) or m.padding_mode != "zeros":
        raise refuse(where, f"{what} with groups, dilation or padding_mode other than zeros "
                     "is not supported")
    if isinstance(m.padding, str):
        if m.padding != "valid":
            raise refuse(where, f"{what} with padding={m.padding!r} is not supported")
        padding = (0,) * dims
    else:
        padding = _pair(m.padding)
    kernel, stride = _pair(m.kernel_size), _pair(m.stride)
    out = tuple((n + 2 * p - k) // s + 1
                for n, p, k, s in zip(b.shape[1:], padding, kernel, stride))
    bias = m.bias is not None
    l = b.add(where, what, {"kind": "conv", "channels": m.out_channels, "kernel": _one(kernel),
                            "stride": _one(stride), "padding": _one(padding),
                            "activation": "identity", "bias": bias},
              (m.out_channels,) + out, units=m.out_channels)
    b.tensor(f"W{l}", exact(m.weight), f"{where}.weight")
    if bias:
        b.tensor(f"b{l}", exact(m.bias), f"{where}.bias")


def layer_norm(m: Any, where: str, b: Builder) -> None:
    """``nn.LayerNorm`` over the last axis, with its gain (and shift unless bias=False)."""
    b.expect(where, "LayerNorm", tuple(m.normalized_shape) == b.shape[-1:],
             f"normalized_shape = ({b.shape[-1] if b.shape else '?'},), the last axis")
    if not m.elementwise_affine:
        raise refuse(where, "LayerNorm without elementwise_affine is not supported "
                     "(a norm layer has a gain)")
    if len(b.shape) > 1 and _channels_first(b):
        raise refuse(where, "LayerNorm over the last axis of a convolution's [channels, "
                     "positions] output is not supported (the contract's layer norm of "
                     "channels is nn.GroupNorm(1, C) over the whole sample)")
    _norm(m, where, b, "LayerNorm", "features")


def batch_norm(m: Any, where: str, b: Builder) -> None:
    """``nn.BatchNorm1d`` / ``2d`` in training mode: the statistics of the batch."""
    what = type(m).__name__
    b.expect(where, what, bool(b.shape) and b.shape[0] == m.num_features,
             f"{m.num_features} channels on the first axis")
    if not m.training:
        raise refuse(where, f"{what} in eval mode (running statistics) is not supported; "
                     "call model.train() so that it uses the batch's statistics")
    if not m.affine:
        raise refuse(where, f"{what} without affine is not supported (a norm layer has a gain)")
    if len(b.shape) > 1 and not _channels_first(b):
        raise refuse(where, f"{what} on [tokens, features] normalises the tokens as "
                     "channels; the contract's batch norm of a sequence normalises each "
                     "feature, which is not this module (not supported)")
    _norm(m, where, b, what, "batch")


def _channels_first(b: Builder) -> bool:
    """Does the value at the chain's head carry its channels first (a convolution's
    [channels, positions]) rather than last (Linear, attention: [tokens, features])?"""
    return bool(b.layers) and b.layers[-1].entry["kind"] == "conv"


def _norm(m: Any, where: str, b: Builder, what: str, over: str) -> None:
    bias = m.bias is not None
    l = b.add(where, what, {"kind": "norm", "over": over, "eps": float(m.eps), "bias": bias},
              b.shape)
    b.tensor(f"g{l}", exact(m.weight), f"{where}.weight")
    if bias:
        b.tensor(f"s{l}", exact(m.bias), f"{where}.bias")


def pool(m: Any, where: str, b: Builder) -> None:
    """Adaptive average or max pooling to 1: global pooling, [C, ...] -> [C]."""
    what = type(m).__name__
    if any(s != 1 for s in _pair(m.output_size)):
        raise refuse(where, f"{what} to {m.output_size} is not supported (only to 1)")
    if getattr(m, "return_indices", False):
        raise refuse(where, f"{what} with return_indices is not supported")
    b.expect(where, what, len(b.shape) >= 2, "[channels, positions...]")
    mode = "max" if "Max" in what else "mean"
    b.add(where, what, {"kind": "pool", "mode": mode}, (b.shape[0],))
    b.squeezed = True


def flatten(where: str, b: Builder, start: int = 1, end: int = -1) -> None:
    """``nn.Flatten()`` / ``torch.flatten(x, 1)``: nothing after a pooling (torch's
    [C, 1, 1] is already the contract's [C]), else a flatten layer."""
    if start != 1 or end != -1:
        raise refuse(where, f"flatten from dimension {start} to {end} is not supported "
                     "(only from 1 to -1, keeping the batch)")
    if b.squeezed:
        b.squeezed = False
        return
    if len(b.shape) > 1:
        size = 1
        for n in b.shape:
            size *= n
        b.add(where, "Flatten", {"kind": "flatten"}, (size,))


def flatten_module(m: Any, where: str, b: Builder) -> None:
    flatten(where, b, m.start_dim, m.end_dim)


def attention(m: Any, where: str, b: Builder) -> None:
    """``nn.MultiheadAttention(batch_first=True)`` as self-attention attn(x, x, x)."""
    E, H = m.embed_dim, m.num_heads
    if not m.batch_first:
        raise refuse(where, "MultiheadAttention needs batch_first=True")
    if not m._qkv_same_embed_dim or m.bias_k is not None or m.add_zero_attn:
        raise refuse(where, "MultiheadAttention with kdim/vdim, add_bias_kv or add_zero_attn "
                     "is not supported")
    if m.training and m.dropout > 0:
        raise refuse(where, "MultiheadAttention with dropout in training mode is not "
                     "supported (set dropout=0 or call model.eval())")
    b.expect(where, "MultiheadAttention", len(b.shape) == 2 and b.shape[1] == E,
             f"[tokens, {E}]")
    bias = m.in_proj_bias is not None
    l = b.add(where, "MultiheadAttention", {"kind": "attention", "heads": H,
                                            "head_dim": E // H, "bias": bias}, b.shape, units=H)
    w = exact(m.in_proj_weight)
    for k, name in enumerate("QKV"):
        b.tensor(f"{name}{l}", w[k * E:(k + 1) * E], f"{where}.in_proj_weight",
                 (k * E, (k + 1) * E))
    if bias:
        v = exact(m.in_proj_bias)
        for k, name in enumerate("qkv"):
            b.tensor(f"b{name}{l}", v[k * E:(k + 1) * E], f"{where}.in_proj_bias",
                     (k * E, (k + 1) * E))
    b.tensor(f"O{l}", exact(m.out_proj.weight), f"{where}.out_proj.weight")
    if m.out_proj.bias is not None:
        b.tensor(f"bo{l}", exact(m.out_proj.bias), f"{where}.out_proj.bias")


def lstm(m: Any, where: str, b: Builder) -> None:
    """``nn.LSTM(batch_first=True)``, one layer, one direction, zero initial state; its
    two biases are one exact sum b = bias_ih + bias_hh (the way back puts b in bias_ih)."""
    if not m.batch_first or m.num_layers != 1 or m.bidirectional or m.proj_size:
        raise refuse(where, "LSTM is supported with batch_first=True, num_layers=1, one "
                     "direction and no projection")
    if not m.bias:
        raise refuse(where, "LSTM without biases is not supported")
    b.expect(where, "LSTM", len(b.shape) == 2 and b.shape[1] == m.input_size,
             f"[tokens, {m.input_size}]")
    l = b.add(where, "LSTM", {"kind": "lstm", "units": m.hidden_size}, (m.hidden_size,),
              units=m.hidden_size)    # the contract's output: the last hidden state
    b.tensor(f"W{l}", exact(m.weight_ih_l0), f"{where}.weight_ih_l0")
    b.tensor(f"U{l}", exact(m.weight_hh_l0), f"{where}.weight_hh_l0")
    b.tensor(f"b{l}", exact(m.bias_ih_l0) + exact(m.bias_hh_l0), f"{where}.bias_ih_l0")
    b.zero(f"{where}.bias_hh_l0", f"b{l}")


def identity(m: Any, where: str, b: Builder) -> None:
    """``nn.Identity``, and ``nn.Dropout`` that does nothing (p = 0 or eval mode)."""
    if type(m).__name__.startswith("Dropout") and m.training and m.p > 0:
        raise refuse(where, f"{type(m).__name__} in training mode is not supported (its "
                     "masks are random); call model.eval() or set p=0")


def leaky_latex(slope: float) -> dict[str, str]:
    """LeakyReLU with its slope, as LaTeX in z (slope below 1: max(z, a z))."""
    if not 0 <= slope < 1:
        raise ValueError(slope)
    return {"latex": f"\\max(z, {slope!r} z)"}


def elu_latex(alpha: float) -> dict[str, str]:
    """ELU: z for z > 0, alpha (e^z - 1) otherwise, written with max only."""
    return {"latex": f"\\max(z, 0) - \\max(0, {alpha!r} (1 - \\exp(z)))"}


def activation_of(m: Any, where: str) -> Any:
    """The spec's activation of an activation module (None when it is not one)."""
    name = type(m).__name__
    simple = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "SiLU": "silu"}
    if name in simple:
        return simple[name]
    if name == "GELU":
        if m.approximate != "none":
            raise refuse(where, "GELU(approximate='tanh') is not supported (only the exact GELU)")
        return "gelu"
    if name == "Softplus":
        if m.beta != 1:
            raise refuse(where, "Softplus with beta other than 1 is not supported")
        return "softplus"
    if name == "LeakyReLU":
        if not 0 <= m.negative_slope < 1:
            raise refuse(where, "LeakyReLU with a slope outside [0, 1) is not supported")
        return leaky_latex(m.negative_slope)
    if name == "ELU":
        return elu_latex(m.alpha)
    return None


#: Module class name -> converter.  One entry per kind.
CONVERTERS: dict[str, Callable[[Any, str, Builder], None]] = {
    "Linear": dense,
    "Conv1d": conv, "Conv2d": conv,
    "LayerNorm": layer_norm,
    "BatchNorm1d": batch_norm, "BatchNorm2d": batch_norm,
    "AdaptiveAvgPool1d": pool, "AdaptiveAvgPool2d": pool,
    "AdaptiveMaxPool1d": pool, "AdaptiveMaxPool2d": pool,
    "Flatten": flatten_module,
    "MultiheadAttention": attention,
    "LSTM": lstm,
    "Identity": identity, "Dropout": identity, "Dropout1d": identity, "Dropout2d": identity,
}


def convert_module(m: Any, where: str, b: Builder) -> None:
    """Read one module into the builder, or refuse it naming ``where``."""
    act = activation_of(m, where)
    if act is not None:
        b.activate(where, type(m).__name__, act)
        return
    converter = CONVERTERS.get(type(m).__name__)
    if converter is None or type(m).__module__.split(".")[0] != "torch":
        raise refuse(where, f"{type(m).__name__} is not supported")
    converter(m, where, b)


__all__ = ["CONVERTERS", "activation_of", "convert_module", "flatten"]
