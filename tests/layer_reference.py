"""An independent reference for ``[[layer]]`` networks: the same network in torch.nn,
built from the spec's tables (not from symderive's kinds), and random small specs."""
from __future__ import annotations

import numpy as np
import pytest

from symderive.spec import Spec

try:        # optional (symderive[torch]): a test that needs the reference skips without it
    import torch
except ImportError:
    torch = None

TORCH_ACTIVATIONS = {} if torch is None else {
    "tanh": torch.tanh, "identity": lambda t: t, "sigmoid": torch.sigmoid, "relu": torch.relu,
    "softplus": torch.nn.functional.softplus, "gelu": torch.nn.functional.gelu,
    "silu": torch.nn.functional.silu}


def torch_loss(spec: Spec, theta: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray):
    """The total loss in torch and the parameter tensors (leaves with .grad after backward)."""
    if torch is None:
        pytest.skip("torch is not installed (pip install 'symderive[torch]'; CI installs it)")
    net = spec.network
    params = {k: torch.tensor(np.asarray(v, dtype=float), requires_grad=True)
              for k, v in theta.items()}
    values = [torch.tensor(np.asarray(X, dtype=float))]
    for layer in net.stack:
        x = values[-1]
        l = layer.index
        options = dict(layer.options)
        if layer.kind == "dense":
            z = torch.nn.functional.linear(x, params[f"W{l}"], params.get(f"b{l}"))
        elif layer.kind == "conv":
            conv = torch.nn.functional.conv1d if x.dim() == 3 else torch.nn.functional.conv2d
            z = conv(x, params[f"W{l}"], params.get(f"b{l}"), stride=options["stride"],
                     padding=options["padding"])
        elif layer.kind == "pool":
            flat = x.reshape(x.shape[0], x.shape[1], -1)
            z = flat.mean(dim=2) if options["mode"] == "mean" else flat.max(dim=2).values
        elif layer.kind == "flatten":
            z = x.reshape(x.shape[0], -1)
        elif layer.kind == "attention":
            z = _attention(x, params, l, options)
        elif layer.kind == "lstm":
            z = _lstm(x, params, l)
        else:
            z = _norm(x, params[f"g{l}"], params.get(f"s{l}"), options)
        f = layer.activation
        a = z if f is None else TORCH_ACTIVATIONS[f.name](z)
        if layer.skip is not None:
            a = a + values[layer.skip]
        values.append(a)
    out, y = values[-1], torch.tensor(np.asarray(Y, dtype=float))
    if net.loss.name == "mse":
        loss = 0.5 * ((out - y) ** 2).sum()
    else:
        loss = -(y * torch.log_softmax(out, dim=1)).sum()
    return loss, params


def _attention(x, params, l, options):
    """scaled_dot_product_attention with the projections written out (any head_dim)."""
    N, T, _ = x.shape
    heads, d = options["heads"], options["head_dim"]

    def project(name):
        out = torch.nn.functional.linear(x, params[f"{name}{l}"], params.get(f"b{name.lower()}{l}"))
        return out.reshape(N, T, heads, d).transpose(1, 2)
    u = torch.nn.functional.scaled_dot_product_attention(project("Q"), project("K"), project("V"),
                                                         is_causal=options["causal"])
    return torch.nn.functional.linear(u.transpose(1, 2).reshape(N, T, heads * d),
                                      params[f"O{l}"], params.get(f"bo{l}"))


def _lstm(x, params, l):
    """nn.LSTM with the spec's W, U, b (bias_hh zero); the last hidden state."""
    W = params[f"W{l}"]
    net = torch.nn.LSTM(W.shape[1], W.shape[0] // 4, batch_first=True, dtype=torch.float64)
    weights = {"weight_ih_l0": W, "weight_hh_l0": params[f"U{l}"],
               "bias_ih_l0": params.get(f"b{l}", torch.zeros(W.shape[0], dtype=torch.float64)),
               "bias_hh_l0": torch.zeros(W.shape[0], dtype=torch.float64)}
    _, (h, _) = torch.func.functional_call(net, weights, (x,))
    return h[0]


def _norm(x, g, s, options):
    """torch's norms: layer norm per token on [tokens, features] (channels last), over
    the sample (group_norm) with channels first; batch norm with the channels moved to
    dimension 1 when they are last."""
    channels = g.shape[0]
    last = options["axis"] == x.dim() - 2 and x.dim() > 2       # [N, tokens, features]
    if options["over"] == "features":
        if x.dim() == 2 or last:
            return torch.nn.functional.layer_norm(x, (channels,), g, s, options["eps"])
        return torch.nn.functional.group_norm(x, 1, g, s, options["eps"])
    t = x.transpose(1, 2) if last else x
    out = torch.nn.functional.batch_norm(t, None, None, g, s, training=True, eps=options["eps"])
    return out.transpose(1, 2) if last else out


def torch_gradient(spec: Spec, theta, X, Y) -> dict[str, np.ndarray]:
    loss, params = torch_loss(spec, theta, X, Y)
    loss.backward()
    return {k: p.grad.numpy() for k, p in params.items()}


def witnesses_reproduced(d) -> int:
    """Recompute every witness's difference of derivation ``d`` (a ``[[layer]]`` spec) by
    torch autograd from its listed values, assert it is the reported one and clearly
    non-zero; return how many witnesses there were."""
    from symderive.engine.layers.units import Units

    found = 0
    for r in d.results:
        units = Units(d.spec.network, r.hypothesis)
        for g in r.groups:
            if g.witness is None:
                continue
            w = g.witness
            theta = {k: np.asarray(v, dtype=float) for k, v in w.parameters.items()}
            grads = torch_gradient(d.spec, theta, np.asarray(w.inputs), np.asarray(w.targets))
            again = units.difference(grads, g.group)
            assert np.allclose(again, w.difference, rtol=1e-9, atol=1e-12)
            assert np.max(np.abs(again)) > 1e-6
            found += 1
    return found


def random_spec(rng: np.random.Generator, norm: bool, skip: bool, tiny: bool = False,
                two_d: bool | None = None) -> Spec:
    """A small random CNN: 1-D or 2-D, channels 1-4, kernels 1-3, strides 1-2, padding 0-1
    (``tiny``: 3 positions a side, one input channel, 2 channels: for whole-loss SymPy)."""
    drawn = bool(rng.integers(2))
    two_d = drawn if two_d is None else two_d
    size = 3 if tiny else int(rng.integers(3, 5))
    channels_in = 1 if tiny else int(rng.integers(1, 3))
    lines = ["[network]", f"input = {[channels_in] + [size] * (2 if two_d else 1)}",
             'activation = "tanh"', "samples = 2"]
    kernel, stride, padding = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(0, 2))
    channels = 2 if tiny else int(rng.integers(2, 5))
    lines += ["[[layer]]", 'kind = "conv"', f"channels = {channels}", f"kernel = {kernel}",
              f"stride = {stride}", f"padding = {padding}"]
    if norm:
        over = ["features", "batch"][int(rng.integers(2))]
        lines += ["[[layer]]", 'kind = "norm"', f'over = "{over}"']
    if skip:
        lines += ["[[layer]]", 'kind = "conv"', f"channels = {channels}", "kernel = 1", "skip = 1"]
    mode = ["mean", "max"][int(rng.integers(2))]
    lines += ["[[layer]]", 'kind = "pool"', f'mode = "{mode}"',
              "[[layer]]", 'kind = "dense"', "units = 2",
              "[[hypothesis]]", "layer = 1", "units = [1, 2]"]
    return Spec.from_toml("\n".join(lines) + "\n", "<random>")


if torch is not None:       # the named activations a random spec may also draw (exact gelu)
    TORCH_ACTIVATIONS.update({"gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu,
                              "softplus": torch.nn.functional.softplus})
