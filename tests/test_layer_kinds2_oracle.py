"""Heads and LSTM units against an independent torch oracle, on random small specs.

Each case is a random spec (an attention layer, alone, after an embedding, or in a
pre- or post-norm residual block, then flatten and dense; or an LSTM, then dense)
with random hypotheses on two heads or two hidden units (and on two features of the
embedding or residual stream, two units of a dense layer before or after an LSTM).
``symderive.derive`` answers; everything it says is checked with torch
(``layer_reference.torch_gradient``, built from the spec's tables) and with a pairing
of the two units' entries written here from the contract's definition (not symderive's
own pairing in ``engine.layers.units``). A group's entries are listed as the witnesses
list them: tensor by tensor, unit i's rows (then its biases) in row-major order, and the
columns of a later tensor that read it one column after the other.

- a ``different`` group: its witness satisfies the hypothesis and torch reproduces its
  difference (to 1e-9 relative), which is clearly not zero;
- an ``equal`` group: torch's paired difference is zero to rounding at random points
  satisfying the hypothesis;
- the numeric cross-check (on, as the command line runs it) agrees;
- the verdict: ``broken`` exactly when a tied or zeroed group is ``different``;
  ``preserved`` exactly when every group is tied or zeroed and ``equal``; a preserved
  hypothesis stays satisfied along torch gradient descent (the zeroed groups stay equal
  between the two units), a broken one's witness moves a tied group apart in one step.

A handful of seeds run in the default tier, many more with ``--all-tiers``.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest

from layer_reference import torch_gradient

import symderive

HEAD_GROUPS = ("query", "key", "value", "output")
LSTM_GROUPS = ("incoming", "recurrent", "bias", "recurrent_outgoing", "outgoing")
ACTIVATIONS = ("tanh", "sigmoid", "identity", "relu", "softplus", "gelu", "silu")
#: A witness's difference must exceed this relative to the gradients' scale (symderive's
#: documented threshold; a billion times the rounding of float64 gradients).
CLEAR = 1e-7
#: A group's entries: (tensor, entry of unit i, its image for unit j), in the witness's order.
Pairs = list[tuple[str, tuple[int, ...], tuple[int, ...]]]


@dataclass
class Case:
    """A random spec, the shapes of its tensors (written here, not read from symderive),
    and for each hypothesis the pairing of its two units' groups."""
    text: str
    shapes: dict[str, tuple[int, ...]]
    samples: int
    input: tuple[int, ...]
    outputs: int
    loss: str
    groups: list[dict[str, Pairs]]     # per hypothesis
    hypotheses: list[dict]
    shape: str                         # "attention, post", "lstm, hidden dense", ...


# ---- random specs ------------------------------------------------------------------------
class _Builder:
    """Layer tables and tensor shapes, one layer at a time."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.lines: list[str] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.index = 0

    def layer(self, kind: str, **keys) -> int:
        self.index += 1
        self.lines += ["", "[[layer]]", f'kind = "{kind}"']
        self.lines += [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
        return self.index

    def dense(self, inputs: int, units: int, bias: bool, activation: str | None = None) -> int:
        keys = {"units": units} | ({} if bias else {"bias": False})
        l = self.layer("dense", **keys | ({"activation": activation} if activation else {}))
        self.shapes[f"W{l}"] = (units, inputs)
        if bias:
            self.shapes[f"b{l}"] = (units,)
        return l

    def norm(self, features: int, batch: bool) -> int:
        """A layer norm, or a batch norm when ``batch`` (torch refuses one over a
        single entry)."""
        l = self.layer("norm", over=["features", "batch"][int(self.rng.integers(1 + batch))])
        self.shapes[f"g{l}"] = self.shapes[f"s{l}"] = (features,)
        return l


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


def _head_pairs(l: int, features: int, d: int, i: int, j: int, bias: bool) -> dict[str, Pairs]:
    """A head's groups: its rows of Q, K, V (then bq, bk, bv), its columns of O (one
    column after the other, as the witnesses list them)."""
    out: dict[str, Pairs] = {}
    for group, name in (("query", "q"), ("key", "k"), ("value", "v")):
        rows = [(f"{name.upper()}{l}", (i * d + a, f), (j * d + a, f))
                for a in range(d) for f in range(features)]
        bias_rows = [(f"b{name}{l}", (i * d + a,), (j * d + a,)) for a in range(d)]
        out[group] = rows + (bias_rows if bias else [])
    out["output"] = [(f"O{l}", (f, i * d + a), (f, j * d + a))      # column by column
                     for a in range(d) for f in range(features)]
    return out


def _lstm_pairs(l: int, inputs: int, H: int, outputs: int, i: int, j: int,
                bias: bool) -> dict[str, Pairs]:
    """An LSTM unit's groups: its rows of W, U, b in the gates i, f, g, o; its column of U
    (the rows of the other units aligned: the swap exchanges i and j everywhere); the next
    dense layer's column."""
    swap = list(range(H))
    swap[i], swap[j] = j, i
    out: dict[str, Pairs] = {
        "incoming": [(f"W{l}", (g * H + i, k), (g * H + j, k)) for g in range(4) for k in range(inputs)],
        "recurrent": [(f"U{l}", (g * H + i, k), (g * H + j, swap[k])) for g in range(4) for k in range(H)],
        "bias": [(f"b{l}", (g * H + i,), (g * H + j,)) for g in range(4)],
        "recurrent_outgoing": [(f"U{l}", (g * H + k, i), (g * H + swap[k], j))
                               for g in range(4) for k in range(H)],
        "outgoing": [(f"W{l + 1}", (m, i), (m, j)) for m in range(outputs)]}
    if not bias:
        del out["bias"]
    return out


def _stream_pairs(shape: str, E: int, F: int, T: int, Hd: int, l: int, bias: bool,
                  per_token: int | None, last: int, outputs: int, c: int, e: int) -> dict[str, Pairs]:
    """Two features c and e of the embedding (layer 1) of an attention layer ``l``: their
    rows of W1 and b1; the norm's gain and shift; the columns of Q, K, V that read them
    (``outgoing``); in a residual stream also the attention's rows of O and bo
    (``incoming@l``, ``bias@l``) and what reads the stream's output: a per-token dense
    layer's column, or the last dense layer's columns t·E + c of the flattened tokens."""
    out: dict[str, Pairs] = {
        "incoming": [("W1", (c, k), (e, k)) for k in range(F)], "bias": [("b1", (c,), (e,))]}
    if shape == "pre":
        out |= {"gain": [("g2", (c,), (e,))], "shift": [("s2", (c,), (e,))]}
    out["outgoing"] = [(f"{n}{l}", (r, c), (r, e)) for n in "QKV" for r in range(Hd)]
    if shape == "embed":
        return out
    out[f"incoming@{l}"] = [(f"O{l}", (c, r), (e, r)) for r in range(Hd)]
    if bias:
        out[f"bias@{l}"] = [(f"bo{l}", (c,), (e,))]
    if shape == "post":
        out |= {f"gain@{l}": [(f"g{l + 1}", (c,), (e,))], f"shift@{l}": [(f"s{l + 1}", (c,), (e,))]}
    if per_token is not None:
        out[f"outgoing@{l}"] = [(f"W{per_token}", (m, c), (m, e)) for m in range(outputs)]
    else:
        out[f"outgoing@{l}"] = [(f"W{last}", (m, t * E + c), (m, t * E + e))  # column by column
                                for t in range(T) for m in range(outputs)]
    return out


def _dense_pairs(l: int, inputs: int, reader: str, rows: int, i: int, j: int) -> dict[str, Pairs]:
    """Two units of dense layer l: their rows of W and b, and their columns of the tensor
    ``reader`` (rows ``rows``) of the layer that reads them (an LSTM's W: every gate)."""
    return {"incoming": [(f"W{l}", (i, k), (j, k)) for k in range(inputs)],
            "bias": [(f"b{l}", (i,), (j,))],
            "outgoing": [(reader, (r, i), (r, j)) for r in range(rows)]}


def _hypotheses(rng, layer: int, groups: tuple[str, ...], units: int,
                specials: list[dict]) -> list[dict]:
    """Two or three hypotheses: all tied, nothing, a kind's classic, random ties and zeros."""
    menu = [{"tie": list(groups)}, {}] + specials
    out = []
    for _ in range(int(rng.integers(2, 4))):
        if rng.random() < 0.5:
            h = dict(menu[int(rng.integers(len(menu)))])
        else:
            fate = rng.integers(3, size=len(groups))       # 0 free, 1 tied, 2 zeroed
            h = {"tie": [g for g, f in zip(groups, fate) if f == 1],
                 "zero": [g for g, f in zip(groups, fate) if f == 2]}
        i, j = rng.choice(units, size=2, replace=False)
        out.append({"layer": layer, "units": [int(i) + 1, int(j) + 1]}
                   | {k: v for k, v in h.items() if v})
    return out


def attention_case(rng: np.random.Generator, stream_rng: np.random.Generator) -> Case:
    """Heads of an attention layer and, after an embedding, two of its features."""
    b = _Builder(rng)
    samples, T, F = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
    H, d = int(rng.integers(2, 4)), int(rng.integers(1, 4))
    shape = _pick(rng, ["plain", "embed", "post", "pre"])
    bias = bool(rng.integers(2))
    features = F
    if shape != "plain":
        features = int(rng.integers(1, 5))
        b.dense(F, features, True, _pick(rng, ACTIVATIONS))
    if shape == "pre":
        b.norm(features, samples * T > 1)
    keys = {"heads": H, "head_dim": d, "causal": bool(rng.integers(2))}
    keys |= ({} if bias else {"bias": False}) | ({"skip": 1} if shape in ("post", "pre") else {})
    l = b.layer("attention", **keys)
    for name in "QKV":
        b.shapes[f"{name}{l}"] = (H * d, features)
        if bias:
            b.shapes[f"b{name.lower()}{l}"] = (H * d,)
    b.shapes[f"O{l}"] = (features, H * d)
    if bias:
        b.shapes[f"bo{l}"] = (features,)
    width, per_token = features, None
    if shape == "post":
        b.norm(features, samples * T > 1)
        if rng.random() < 0.5:
            width = int(rng.integers(1, 4))
            per_token = b.dense(features, width, True, _pick(rng, ACTIVATIONS))
    b.layer("flatten")
    outputs = int(rng.integers(1, 3))
    last = b.dense(T * width, outputs, True)
    specials = [{"tie": ["query", "key", "value"]}, {"zero": ["query", "key"]},
                {"zero": ["query", "key"], "tie": ["value", "output"]},
                {"tie": ["value", "output"], "zero": ["query"]}]
    hyps = _hypotheses(rng, l, HEAD_GROUPS, H, specials)
    pairs = [_head_pairs(l, features, d, h["units"][0] - 1, h["units"][1] - 1, bias) for h in hyps]
    if shape != "plain" and features > 1:
        stream = ("incoming", "bias") + (("gain", "shift") if shape != "embed" else ()) + ("outgoing",)
        more = _hypotheses(stream_rng, 1, stream, features,
                           [{"tie": ["incoming", "bias"]}, {"tie": list(stream[:-1])}])
        hyps += more
        pairs += [_stream_pairs(shape, features, F, T, H * d, l, bias, per_token, last,
                                width if per_token else outputs, h["units"][0] - 1, h["units"][1] - 1)
                  for h in more]
    return _finish(b, rng, samples, (T, F), outputs, hyps, pairs, f"attention, {shape}")


def lstm_case(rng: np.random.Generator, dense_rng: np.random.Generator) -> Case:
    """Hidden units of an LSTM and, when there are, two units of the dense layers
    before it (an embedding per step) and after it."""
    b = _Builder(rng)
    steps, F, H = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(2, 4))
    bias = bool(rng.integers(2))
    inputs = F
    if rng.random() < 0.25:                          # an embedding per step
        inputs = int(rng.integers(1, 4))
        b.dense(F, inputs, True, _pick(rng, ACTIVATIONS))
    l = b.layer("lstm", units=H, **({} if bias else {"bias": False}))
    b.shapes[f"W{l}"], b.shapes[f"U{l}"] = (4 * H, inputs), (4 * H, H)
    if bias:
        b.shapes[f"b{l}"] = (4 * H,)
    hidden = rng.random() < 0.3
    width = int(rng.integers(1, 4)) if hidden else int(rng.integers(1, 3))
    b.dense(H, width, True, _pick(rng, ACTIVATIONS) if hidden else None)
    outputs = width
    if hidden:
        outputs = int(rng.integers(1, 3))
        b.dense(width, outputs, True)
    groups = tuple(g for g in LSTM_GROUPS if bias or g != "bias")
    specials = [{"tie": [g for g in groups if g in ("incoming", "recurrent", "bias")]},
                {"tie": [g for g in groups if g != "outgoing"]},
                {"tie": [g for g in groups if g != "recurrent_outgoing"]},
                {"tie": ["incoming", "recurrent"], "zero": [g for g in groups if g == "bias"]}]
    hyps = _hypotheses(rng, l, groups, H, specials)
    pairs = [_lstm_pairs(l, inputs, H, width, h["units"][0] - 1, h["units"][1] - 1, bias)
             for h in hyps]
    dense = ("incoming", "bias", "outgoing")
    for k, ins, reader, rows, units in ((l - 1, F, f"W{l}", 4 * H, inputs),
                                        (l + 1, H, f"W{l + 2}", outputs, width if hidden else 0)):
        if k >= 1 and units > 1:
            more = _hypotheses(dense_rng, k, dense, units, [{"tie": ["incoming", "bias"]}])
            hyps += more
            pairs += [_dense_pairs(k, ins, reader, rows, h["units"][0] - 1, h["units"][1] - 1)
                      for h in more]
    return _finish(b, rng, int(rng.integers(1, 4)), (steps, F), outputs, hyps, pairs,
                   f"lstm{', embedded' if l > 1 else ''}{', hidden dense' if hidden else ''}")


def _finish(b: _Builder, rng, samples, input_shape, outputs, hyps, pairs, shape) -> Case:
    loss = "softmax_ce" if outputs > 1 and rng.random() < 0.3 else "mse"
    head = ["[network]", f"input = {list(input_shape)}", f'loss = "{loss}"', f"samples = {samples}"]
    tail = []
    for h in hyps:
        tail += ["", "[[hypothesis]]"] + [f"{k} = {json.dumps(v)}" for k, v in h.items()]
    text = "\n".join(head + b.lines + tail) + "\n"
    return Case(text, b.shapes, samples, input_shape, outputs, loss, pairs, hyps, shape)


def random_case(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    more = np.random.default_rng([seed, 1])         # the other layers' hypotheses
    return lstm_case(rng, more) if seed % 2 else attention_case(rng, more)


# ---- points, differences, hypotheses ------------------------------------------------------
def paired_difference(grads: dict[str, np.ndarray], pairs: Pairs) -> np.ndarray:
    return np.array([grads[t][a] - grads[t][b] for t, a, b in pairs])


def assumed(groups: dict[str, Pairs], hyp: dict, key: str = "both") -> list[str]:
    """The groups a hypothesis ties (``key="tie"``), zeroes, or both: a name holds for the
    whole residual stream (``incoming`` ties ``incoming@2`` too)."""
    names = set(hyp.get("tie", []) if key != "zero" else []) | \
        set(hyp.get("zero", []) if key != "tie" else [])
    return [g for g in groups if g.split("@")[0] in names]


def impose(theta: dict[str, np.ndarray], groups: dict[str, Pairs], hyp: dict) -> None:
    """Ties first (unit j's entry := unit i's), then zeros (both units' entries := 0)."""
    for g in assumed(groups, hyp, "tie"):
        for t, a, b in groups[g]:
            theta[t][b] = theta[t][a]
    for g in assumed(groups, hyp, "zero"):
        for t, a, b in groups[g]:
            theta[t][a] = theta[t][b] = 0.0


def violations(theta, groups: dict[str, Pairs], hyp: dict) -> list[str]:
    bad = [f"{g}: {t}{a} != {t}{b}" for g in assumed(groups, hyp, "tie") for t, a, b in groups[g]
           if theta[t][a] != theta[t][b]]
    return bad + [f"{g}: {t}{a} or {t}{b} != 0" for g in assumed(groups, hyp, "zero")
                  for t, a, b in groups[g] if theta[t][a] != 0 or theta[t][b] != 0]


def random_point(case: Case, rng: np.random.Generator):
    theta = {k: rng.normal(0, 0.8, s) + (1.0 if k[0] == "g" else 0.0) for k, s in case.shapes.items()}
    X = rng.normal(size=(case.samples, *case.input))
    Y = rng.normal(size=(case.samples, case.outputs)) if case.loss == "mse" \
        else rng.uniform(0, 1, (case.samples, case.outputs))
    return theta, X, Y


def _scale(grads) -> float:
    return max(1.0, max(float(np.max(np.abs(g))) for g in grads.values()))


# ---- the checks ---------------------------------------------------------------------------
def check_case(seed: int, points: int = 3, steps: int = 4) -> Counter:
    """Derive a random case and check every group and verdict against torch; returns a
    tally (statuses, verdicts, undecided groups by shape)."""
    case = random_case(seed)
    d = symderive.derive(symderive.Spec.from_toml(case.text, f"<seed {seed}>"))
    report = [{"verdict": r.verdict, "groups": {g.group: {"status": g.status, "witness": g.witness}
                                                for g in r.groups}} for r in d.results]
    rng = np.random.default_rng(10_000 + seed)
    tally = Counter(specs=1)
    for hyp, groups, result in zip(case.hypotheses, case.groups, report, strict=True):
        where = f"seed {seed}, hypothesis {hyp}:\n{case.text}"
        assert list(result["groups"]) == list(groups), f"groups {list(result['groups'])}: {where}"
        for name, g in result["groups"].items():
            tally[f"group {g['status']}"] += 1
            if g["status"] == "different":
                tally[check_witness(d.spec, case, groups, hyp, name, g["witness"].__dict__, where)] += 1
            elif g["status"] == "equal":
                check_equal(d.spec, case, groups[name], hyp, groups, rng, points, f"{name}, {where}")
            else:
                seen = undecided_in_torch(d.spec, case, groups, hyp, name, rng)
                tally[f"undecided {name} ({case.shape}): {seen}"
                      + (f" (seed {seed})" if seen == "torch differs" else "")] += 1
        check_verdict(d.spec, case, groups, hyp, result, rng, steps, where)
        tally["hypotheses"] += 1
        tally[f"hypotheses on {target(groups)}"] += 1
        if result["verdict"] == "undecided" and set(assumed(groups, hyp)) == set(groups):
            tally[f"verdict undecided though every group is assumed ({case.shape})"] += 1
        tally[f"verdict {result['verdict']}"] += 1
    tally[check_json(d, report, seed)] += 1
    problems = [p for n in d.numeric for p in n.problems]
    assert d.agreement, f"seed {seed}: the numeric cross-check disagrees: {problems}\n{case.text}"
    return tally


def target(groups: dict[str, Pairs]) -> str:
    """What a hypothesis is about, by its groups (for the tally)."""
    if "query" in groups:
        return "heads"
    if "recurrent" in groups:
        return "lstm units"
    if any("@" in g for g in groups) or "gain" in groups:
        return "features of a residual stream"
    return "dense units (before attention, before or after an lstm)"


def check_json(d, report: list[dict], seed: int) -> str:
    """The JSON report says what the API says: statuses, verdicts, witnesses."""
    text = d.to_json()
    for r, j in zip(report, json.loads(text)["hypotheses"], strict=True):
        assert r["verdict"] == j["verdict"], f"seed {seed}"
        names = set(j["tie"]) | set(j["zero"])
        covered = all(g.split("@")[0] in names for g in r["groups"])
        assert j["proof"]["covered"] == covered, f"seed {seed}"
        for name, g in r["groups"].items():
            assert j["groups"][name]["status"] == g["status"], f"seed {seed}: {name}"
            if g["witness"] is not None:
                w = j["groups"][name]["witness"]
                assert w["difference"] == list(g["witness"].difference), f"seed {seed}: {name}"
                assert w["parameters"] == json.loads(json.dumps(g["witness"].parameters))
    return "json: agrees"


def check_witness(spec, case: Case, groups, hyp, name, w, where) -> str:
    """Re-evaluate a witness in torch; returns how clear it is (for the tally)."""
    theta = {k: np.asarray(v, dtype=float) for k, v in w["parameters"].items()}
    assert {k: v.shape for k, v in theta.items()} == case.shapes, where
    assert violations(theta, groups, hyp) == [], where
    X, Y = np.asarray(w["inputs"], dtype=float), np.asarray(w["targets"], dtype=float)
    assert X.shape == (case.samples, *case.input) and Y.shape == (case.samples, case.outputs), where
    grads = torch_gradient(spec, theta, X, Y)
    want = paired_difference(grads, groups[name])
    got = np.asarray(w["difference"], dtype=float)
    assert got.shape == want.shape, f"{name}: {got.shape} entries, torch pairs {want.shape}; {where}"
    # rounding: float64 entries computed in another order differ by ~1e-16 of the
    # gradients' scale, which may be far above a small witness difference's entries
    atol = 1e-9 * max(np.max(np.abs(want)), 1e-6 * _scale(grads))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=atol,
                               err_msg=f"{name}: witness not reproduced by torch; {where}")
    size = np.max(np.abs(want))
    assert size > CLEAR * _scale(grads), f"{name}: witness difference is not clearly non-zero; {where}"
    relative = size / _scale(grads)
    return "witness" if relative > 1e-4 else \
        f"weak witness (under 1e-{int(-np.log10(relative))} relative: too small for float32)"


def check_equal(spec, case: Case, pairs: Pairs, hyp, groups, rng, points, where) -> None:
    for _ in range(points):
        theta, X, Y = random_point(case, rng)
        impose(theta, groups, hyp)
        grads = torch_gradient(spec, theta, X, Y)
        diff = np.max(np.abs(paired_difference(grads, pairs)))
        assert diff <= 1e-10 * _scale(grads), f"equal, but torch differs by {diff:.3g}: {where}"


def undecided_in_torch(spec, case: Case, groups, hyp, name, rng) -> str:
    """What torch sees of an undecided group (for the tally only: no claim either way)."""
    theta, X, Y = random_point(case, rng)
    impose(theta, groups, hyp)
    grads = torch_gradient(spec, theta, X, Y)
    size = np.max(np.abs(paired_difference(grads, groups[name])))
    return "torch differs" if size > CLEAR * _scale(grads) else "torch zero at a point"


def check_verdict(spec, case: Case, groups, hyp, result, rng, steps, where) -> None:
    status = {n: g["status"] for n, g in result["groups"].items()}
    held = assumed(groups, hyp)
    broken = any(status[g] == "different" for g in held)
    covered = set(held) == set(status) and all(s == "equal" for s in status.values())
    want = "broken" if broken else "preserved" if covered else "undecided"
    assert result["verdict"] == want, f"verdict {result['verdict']}, groups {status}: {where}"
    if want == "preserved":
        check_training(spec, case, groups, hyp, rng, steps, where)
    elif want == "broken":
        name = next(g for g in held if status[g] == "different")
        check_one_step_apart(spec, groups[name], result["groups"][name]["witness"].__dict__, where)


def check_training(spec, case: Case, groups, hyp, rng, steps, where) -> None:
    """Every group tied or zeroed: torch gradient descent keeps each pair equal (steps of
    at most 0.1 in any entry, so that it never diverges)."""
    theta, X, Y = random_point(case, rng)
    impose(theta, groups, hyp)
    for step in range(steps):
        grads = torch_gradient(spec, theta, X, Y)
        lr = 0.1 / _scale(grads)
        theta = {k: v - lr * grads[k] for k, v in theta.items()}
        size = max(1.0, max(float(np.max(np.abs(v))) for v in theta.values()))
        for name, pairs in groups.items():
            gap = np.max(np.abs(paired_difference(theta, pairs)))
            assert gap <= 1e-12 * size * (step + 1), \
                f"preserved, but {name} moved apart by {gap:.3g} at step {step + 1}: {where}"


def check_one_step_apart(spec, pairs: Pairs, w, where, lr=0.1) -> None:
    theta = {k: np.asarray(v, dtype=float) for k, v in w["parameters"].items()}
    grads = torch_gradient(spec, theta, np.asarray(w["inputs"]), np.asarray(w["targets"]))
    after = {k: v - lr * grads[k] for k, v in theta.items()}
    gap = np.max(np.abs(paired_difference(after, pairs)))
    assert gap > 0.5 * lr * CLEAR * _scale(grads), f"one step moves them {gap:.3g} apart: {where}"


# ---- the tests ----------------------------------------------------------------------------
def test_the_pairing_here_matches_the_contract_on_a_small_lstm():
    """The aligned recurrent tie of the contract: U[i,i] = U[j,j], U[i,j] = U[j,i]."""
    pairs = _lstm_pairs(1, 1, 3, 1, 0, 2, True)
    rec = {(a, b) for _, a, b in pairs["recurrent"]}
    assert ((0, 0), (2, 2)) in rec and ((0, 2), (2, 0)) in rec and ((0, 1), (2, 1)) in rec
    out = {(a, b) for _, a, b in pairs["recurrent_outgoing"]}
    assert ((0, 0), (2, 2)) in out and ((2, 0), (0, 2)) in out and ((4, 0), (4, 2)) in out


#: The smallest spec found by the sweep that a report cannot render: every group equal,
#: the key left free (undecided), and report/layers.py lists the groups "not proved
#: equal": none (IndexError, a traceback and exit 1 from the command line).
FREE_KEY_ALL_EQUAL = """
[network]
input = [2, 1]
samples = 1

[[layer]]
kind = "attention"
heads = 2
head_dim = 1

[[layer]]
kind = "flatten"

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["value"]
zero = ["query", "output"]
"""


def test_a_free_group_with_every_group_equal_is_undecided():
    d = symderive.derive(symderive.Spec.from_toml(FREE_KEY_ALL_EQUAL), numeric=False)
    (r,) = d.results
    assert [(g.group, g.status) for g in r.groups] == [
        ("query", "equal"), ("key", "equal"), ("value", "equal"), ("output", "equal")]
    assert r.verdict == "undecided"


def test_a_free_group_with_every_group_equal_renders():
    d = symderive.derive(symderive.Spec.from_toml(FREE_KEY_ALL_EQUAL), numeric=False)
    assert "key" in json.loads(d.to_json())["answer"]
    assert "key" in d.to_markdown()


#: Fast seeds of five shapes: lstm; lstm, hidden dense; attention alone; after an
#: embedding; in a post-norm block.
GELU = FREE_KEY_ALL_EQUAL.replace('kind = "flatten"', 'kind = "dense"\nunits = 2\n'
                                  'activation = "gelu"\n\n[[layer]]\nkind = "flatten"')


@pytest.mark.parametrize("name", ["gelu", "silu"])
def test_the_contracts_named_activations_are_accepted(name):
    spec = symderive.Spec.from_toml(GELU.replace("gelu", name)).validated()
    assert spec.network.stack[1].activation.name == name


DEFAULT_SEEDS = (54, 57, 65, 130, 138)
#: The smallest spec of that kind: two relu units with zero incoming weights and bias sit
#: at the kink (z = 0), where finite differences and the NumPy gradient cannot agree; the
#: command line exits 1 ("numeric cross-check contradicts the symbolic result").
RELU_AT_ZERO = """
[network]
input = [2, 1]
samples = 1

[[layer]]
kind = "dense"
units = 2
activation = "relu"

[[layer]]
kind = "attention"
heads = 2
head_dim = 1

[[layer]]
kind = "flatten"

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
layer = 1
units = [1, 2]
zero = ["incoming", "bias"]
"""


def test_zeroed_relu_units_do_not_contradict_the_numeric_check():
    d = symderive.derive(symderive.Spec.from_toml(RELU_AT_ZERO))
    assert d.agreement, [p for n in d.numeric for p in n.problems]
    assert sum(n.skipped_at_kink for n in d.numeric) > 0


CI_SEEDS = tuple(s for s in range(160) if s not in DEFAULT_SEEDS)


@pytest.mark.parametrize("seed", DEFAULT_SEEDS)
def test_heads_and_lstm_units_agree_with_torch(seed):
    pytest.importorskip("torch", reason="torch is not installed")
    assert check_case(seed)["specs"] == 1


@pytest.mark.ci_tier
@pytest.mark.parametrize("seed", CI_SEEDS)
def test_heads_and_lstm_units_agree_with_torch_many(seed):
    pytest.importorskip("torch", reason="torch is not installed")
    assert check_case(seed)["specs"] == 1
