"""Specs with attention and LSTM layers end to end: verdicts, and every witness
re-evaluated in torch (nn.MultiheadAttention, nn.LSTM), without the kinds' own code."""
from __future__ import annotations

import json

import numpy as np
import pytest

ATTENTION = """
[network]
input = [2, 2]
loss = "mse"
samples = 2

[[layer]]
kind = "attention"
heads = 2
head_dim = 1
causal = true

[[layer]]
kind = "pool"

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["query", "key", "value"]

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["query", "key", "value", "output"]
"""

LSTM = """
[network]
input = [3, 2]
loss = "mse"
samples = 2

[[layer]]
kind = "lstm"
units = 3

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
layer = 1
units = [1, 3]
tie = ["incoming", "recurrent", "bias"]

[[hypothesis]]
layer = 1
units = [1, 3]
tie = ["incoming", "recurrent", "bias", "recurrent_outgoing", "outgoing"]
"""


def derive(cli, tmp_path, text: str) -> dict:
    path = tmp_path / "spec.toml"
    path.write_text(text)
    status, out, err = cli("derive", str(path), "--format", "json")
    assert status == 0, err
    return json.loads(out)


def _attention_grads(torch, w, X, Y):
    mha = torch.nn.MultiheadAttention(2, 2, batch_first=True, dtype=torch.float64)
    lin = torch.nn.Linear(2, 1, dtype=torch.float64)
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in w.items()}
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([t["Q1"], t["K1"], t["V1"]]))
        mha.in_proj_bias.copy_(torch.cat([t["bq1"], t["bk1"], t["bv1"]]))
        mha.out_proj.weight.copy_(t["O1"])
        mha.out_proj.bias.copy_(t["bo1"])
        lin.weight.copy_(t["W3"])
        lin.bias.copy_(t["b3"])
    x = torch.tensor(X, dtype=torch.float64)
    mask = torch.triu(torch.ones(2, 2, dtype=torch.bool), 1)
    y = lin(mha(x, x, x, attn_mask=mask, need_weights=False)[0].mean(dim=2))
    (0.5 * ((y - torch.tensor(Y, dtype=torch.float64)) ** 2).sum()).backward()
    gi, gb = mha.in_proj_weight.grad.numpy(), mha.in_proj_bias.grad.numpy()
    return {"query": (gi[0:2], gb[0:2]), "key": (gi[2:4], gb[2:4]), "value": (gi[4:6], gb[4:6]),
            "output": (mha.out_proj.weight.grad.numpy().T, None)}


def test_identical_heads(cli, tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    d = derive(cli, tmp_path, ATTENTION)
    broken, whole = d["hypotheses"]
    assert broken["verdict"] == "broken" and whole["verdict"] == "preserved"
    assert all(g["status"] == "equal" for g in whole["groups"].values())
    checked = 0
    for name, g in broken["groups"].items():
        if g["status"] != "different":
            continue
        w = g["witness"]
        rows, bias = _attention_grads(torch, w["parameters"], w["inputs"], w["targets"])[name]
        want = list(rows[0] - rows[1]) + ([] if bias is None else [bias[0] - bias[1]])
        np.testing.assert_allclose(w["difference"], want, atol=1e-9, err_msg=name)
        assert np.max(np.abs(want)) > 1e-6
        checked += 1
    assert checked >= 3


def _lstm_grads(torch, w, X, Y):
    net = torch.nn.LSTM(2, 3, batch_first=True, dtype=torch.float64)
    lin = torch.nn.Linear(3, 1, dtype=torch.float64)
    with torch.no_grad():
        net.weight_ih_l0.copy_(torch.tensor(w["W1"]))
        net.weight_hh_l0.copy_(torch.tensor(w["U1"]))
        net.bias_ih_l0.copy_(torch.tensor(w["b1"]))
        net.bias_hh_l0.zero_()
        lin.weight.copy_(torch.tensor(w["W2"]))
        lin.bias.copy_(torch.tensor(w["b2"]))
    _, (h, _) = net(torch.tensor(X, dtype=torch.float64))
    y = lin(h[0])
    (0.5 * ((y - torch.tensor(Y, dtype=torch.float64)) ** 2).sum()).backward()
    return net.weight_ih_l0.grad.numpy(), net.weight_hh_l0.grad.numpy(), net.bias_ih_l0.grad.numpy()


def test_lstm_units_from_a_zero_state(cli, tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    d = derive(cli, tmp_path, LSTM)
    rows, everything = d["hypotheses"]
    assert rows["verdict"] == "broken" and everything["verdict"] == "preserved"
    i, j = [0, 3, 6, 9], [2, 5, 8, 11]      # units 1 and 3 in the four gates
    perm = [2, 1, 0]                         # columns aligned: U[i, i] pairs U[j, j]
    for name, g in rows["groups"].items():
        if g["status"] != "different":
            continue
        w = g["witness"]
        gW, gU, gb = _lstm_grads(torch, w["parameters"], w["inputs"], w["targets"])
        want = {"incoming": (gW[i] - gW[j]).ravel(), "bias": gb[i] - gb[j],
                "recurrent": (gU[i] - gU[j][:, perm]).ravel(),
                "recurrent_outgoing": gU[:, 0] - gU[np.array([2, 1, 0] * 4)
                                                     + np.repeat([0, 3, 6, 9], 3), 2]}[name]
        np.testing.assert_allclose(w["difference"], want, atol=1e-9, err_msg=name)
        assert np.max(np.abs(want)) > 1e-6
