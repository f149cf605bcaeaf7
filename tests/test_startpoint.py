"""Starting points ([init], [data]): classes of units, frozen parameters, the trajectory.

Every claim is checked against computations made here, independently of symderive's
engine: gradient descent with the reference network of tests/reference_numpy.py (the
classes and frozen sets), and a Fraction implementation of backpropagation (the
exact trajectory).
"""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from reference_numpy import gradient, preactivations, refnet
from symderive.api import derive
from symderive.errors import SpecError
from symderive.render.json import report_dict
from symderive.spec import parse_spec

# ------------------------------------------------------------------ helpers


def toml_value(v) -> str:
    return json.dumps(v)


def spec_text(layers, activation="tanh", init=None, data=None, extra="", check="") -> str:
    lines = ["[network]", f"layers = {toml_value(list(layers))}",
             f'activation = "{activation}"', extra, "[init]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in (init or {}).items()]
    if data is not None:
        lines += ["[data]", f"inputs = {toml_value(data[0])}", f"targets = {toml_value(data[1])}"]
    lines += ["[check]", check or "steps = 20\nlearning_rate = 0.1"]
    return "\n".join(lines) + "\n"


def report(text: str) -> dict:
    return report_dict(derive(parse_spec(text)))


def simulate(network: dict, params: dict, X, Y, steps: int, lr: float):
    """Plain gradient descent with the reference network: parameters after each step."""
    net = refnet(network)
    p = {k: np.array(v, dtype=float) for k, v in params.items()}
    out = [p]
    for _ in range(steps):
        g = gradient(net, p, X, Y)
        p = {k: v - lr * g[k] for k, v in p.items()}
        out.append(p)
    return net, out


def random_structured(rng, layers, values=(-1, 0, 1)):
    """Small-integer tensors: coincidences of sums happen often, so classes are non-trivial."""
    init = {}
    for l in range(1, len(layers)):
        init[f"W{l}"] = rng.choice(values, size=(layers[l], layers[l - 1])).tolist()
        init[f"b{l}"] = rng.choice(values, size=layers[l]).tolist()
    return init


# ------------------------------------------------------------------ [init] and [data] input


@pytest.mark.parametrize("body,field,words", [
    ('W2 = [[1, 2]]', "init.W2", "must have 1 row of 3 numbers"),
    ('W1 = [[1, 2], [3, 4]]', "init.W1", "must have 3 rows of 2 numbers"),
    ('W1 = [[1, 2], [3, 4], [5]]', "init.W1", "must have 3 rows of 2 numbers"),
    ('W3 = 0', "init.W3", "unknown tensor"),
    ('w1 = 0', "init.w1", "unknown tensor"),
    ('W1 = "ones"', "init.W1", '"zero", "random", a number'),
    ('W1 = true', "init.W1", "not a boolean"),
    ('b1 = [1, 2]', "init.b1", "a list of 3 numbers"),
    ('b1 = [1, "a", 2]', "init.b1", "not a string"),
    ('b2 = nan', "init.b2", "not a finite number"),
    ('W1 = 1e300', "init.W1", "too large"),
])
def test_bad_init_names_the_field(body, field, words):
    text = "[network]\nlayers = [2, 3, 1]\n[init]\n" + body + "\n"
    with pytest.raises(SpecError) as err:
        parse_spec(text, "s.toml")
    assert err.value.field == field and words in str(err.value)
    assert err.value.line == 4


@pytest.mark.parametrize("network,data,field,words", [
    ("samples = 3", "inputs = [[1, 2]]\ntargets = [[1]]", "network.samples", "[data] has 1"),
    ("", "inputs = [[1, 2, 3]]\ntargets = [[1]]", "data.inputs", "rows of 2 numbers"),
    ("", "inputs = [[1, 2]]\ntargets = [[1], [2]]", "data.targets", "1 row"),
    ("", "inputs = [[1, 2]]", "data.targets", "is required"),
    ("", "inputs = []\ntargets = []", "data.inputs", "non-empty"),
    ("", "inputs = [[1, 2]]\ntargets = [[1]]\nweights = 1", "data.weights", "unknown key"),
])
def test_bad_data_names_the_field(network, data, field, words):
    text = f"[network]\nlayers = [2, 3, 1]\n{network}\n[init]\n[data]\n{data}\n"
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    assert err.value.field == field and words in str(err.value)


def test_bias_tensor_refused_without_biases():
    with pytest.raises(SpecError, match="bias = false"):
        parse_spec("[network]\nlayers = [2, 3, 1]\nbias = false\n[init]\nb1 = 0\n")


def test_init_alone_is_a_question_and_data_sets_samples():
    spec = parse_spec(spec_text([2, 3, 1], init={"W1": 0.1}, data=([[1, 2], [3, 4]], [[1], [0]])))
    assert spec.hypotheses == () and spec.network.samples == 2
    assert spec.init.tensor("W1").values[0][0] == Fraction(1, 10)     # the decimal as written
    assert spec.init.tensor("b2").is_random


def test_cli_exit_status_two_without_traceback(tmp_path):
    from conftest import run_subprocess

    path = tmp_path / "bad.toml"
    path.write_text("[network]\nlayers = [2, 3, 1]\n[init]\nW2 = [[1]]\n")
    result = run_subprocess("derive", str(path), "--format", "json")
    err = result.stderr.decode()
    assert result.returncode == 2 and result.stdout == b""
    assert "bad.toml:4: init.W2: must have 1 row of 3 numbers" in err and "Traceback" not in err


# ------------------------------------------------------------------ classes vs simulation


def _check_classes_against_simulation(r: dict, params: dict, X, Y, smooth: bool,
                                      tie_columns=()):
    network = r["network"]
    net, path = simulate(network, params, X, Y, steps=6, lr=0.1)
    probes = np.random.default_rng(5).normal(size=(3, network["layers"][0]))
    for a, b in tie_columns:        # with data, classes hold on inputs like the data's
        probes[:, b] = probes[:, a]
    inputs = np.vstack([X, probes])
    for l, classes in r["init"]["classes"].items():
        l = int(l)
        zs = [np.array([z[l] for z in preactivations(net, p, inputs)]) for p in path]
        for cls in classes:                                      # one class: equal forever
            for z in zs:
                assert np.allclose(z[:, [u - 1 for u in cls]], z[:, [cls[0] - 1]],
                                   rtol=1e-9, atol=1e-9)
        if smooth:                                               # two classes: apart somewhere
            for a in range(len(classes)):
                for b in range(a + 1, len(classes)):
                    u, v = classes[a][0] - 1, classes[b][0] - 1
                    assert max(np.max(np.abs(z[:, u] - z[:, v])) for z in zs) > 1e-7, (l, a, b)


@pytest.mark.parametrize("seed", range(8))
def test_classes_match_a_brute_force_simulation(seed):
    rng = np.random.default_rng(seed)
    layers = [3, int(rng.integers(2, 6)), int(rng.integers(2, 5)), 2]
    activation = ["tanh", "sigmoid"][seed % 2]
    init = random_structured(rng, layers)
    r = report(spec_text(layers, activation, init, extra="samples = 3"))
    X = rng.normal(size=(3, 3))
    Y = rng.normal(size=(3, 2))
    _check_classes_against_simulation(r, init, X, Y, smooth=True)
    assert r["init"]["numeric"]["agreement"]


@pytest.mark.parametrize("seed", range(4))
def test_classes_with_data_merge_equal_input_columns(seed):
    """Two equal input columns act as one input: rows that differ only by moving weight
    between them compute the same function, on these data."""
    rng = np.random.default_rng(100 + seed)
    column = rng.integers(-3, 4, size=3) / 2
    X = np.stack([column, column, rng.integers(-3, 4, size=3) / 2], axis=1)
    Y = rng.integers(-2, 3, size=(3, 1)) / 2
    W1 = [[1, 2, 0], [2, 1, 0], [3, 0, 0], [0, 3, 1]]
    init = {"W1": W1, "b1": 0, "W2": [[1, 1, 1, 1]], "b2": 0}
    r = report(spec_text([3, 4, 1], "tanh", init, data=(X.tolist(), Y.tolist())))
    assert r["init"]["classes"] == {"1": [[1, 2, 3], [4]]}
    params = {"W1": W1, "b1": [0] * 4, "W2": [[1] * 4], "b2": [0]}
    _check_classes_against_simulation(r, params, X, Y, smooth=False, tie_columns=[(0, 1)])


def test_random_tensor_separates_everything_it_touches():
    init = {"W1": 0, "b1": 0, "W2": "random", "b2": 0, "W3": 0, "b3": 0}
    r = report(spec_text([2, 4, 3, 1], "sigmoid", init))
    assert r["init"]["classes"] == {"1": [[1], [2], [3], [4]], "2": [[1], [2], [3]]}
    # with tanh every unit is pinned at z = 0 for ever (tanh(0) = 0 and W3 = 0 never moves):
    # the random weights between them never matter
    r = report(spec_text([2, 4, 3, 1], "tanh", init))
    assert r["init"]["classes"] == {"1": [[1, 2, 3, 4]], "2": [[1, 2, 3]]}
    assert r["init"]["frozen"]["W2"] == "all" and r["init"]["numeric"]["agreement"]


def test_pinned_units_share_a_class_whatever_their_outgoing_weights():
    """Dead ReLU units with the same bias are one class even though their outgoing weights
    differ: their pre-activations are the same constant for ever (checked by simulation)."""
    init = {"W1": 0, "b1": [-1, -1, -2, 1], "W2": [[1, 5, 0, 1], [2, 3, 7, 1], [0, 0, 0, 1]],
            "b2": 0, "W3": [[1, 2, 3]], "b3": 0}
    r = report(spec_text([2, 4, 3, 1], "relu", init))
    assert r["init"]["classes"]["1"] == [[1, 2], [3], [4]]
    params = {"W1": np.zeros((4, 2)), "b1": np.array([-1.0, -1, -2, 1]),
              "W2": np.array(init["W2"], dtype=float), "b2": np.zeros(3),
              "W3": np.array(init["W3"], dtype=float), "b3": np.zeros(1)}
    rng = np.random.default_rng(3)
    _check_classes_against_simulation(r, params, rng.normal(size=(3, 2)),
                                      rng.normal(size=(3, 1)), smooth=False)


def test_identical_targets_merge_output_units():
    """Two outputs with equal targets and equal incoming sums form one class, and so the
    hidden units feeding them with swapped weights are one class too."""
    init = {"W1": 1, "b1": 0, "W2": [[1, 2], [2, 1]], "b2": 0}
    data = ([[1, 2]], [[1, 1]])
    assert report(spec_text([2, 2, 2], "tanh", init, data))["init"]["classes"] == {"1": [[1, 2]]}
    data = ([[1, 2]], [[1, 0]])
    assert report(spec_text([2, 2, 2], "tanh", init, data))["init"]["classes"] == \
        {"1": [[1], [2]]}


# ------------------------------------------------------------------ frozen vs simulation


def _frozen_mask(summary, shape):
    mask = np.zeros(shape, dtype=bool)
    if summary == "all":
        mask[...] = True
    elif summary != "none":
        for idx in summary:
            mask[tuple(i - 1 for i in idx)] = True
    return mask


def _moved(path, name):
    return np.max(np.abs(np.array([p[name] for p in path]) - path[0][name]), axis=0)


@pytest.mark.parametrize("activation,expected", [
    ("tanh", {"W1": "all", "b1": "all", "W2": "all", "b2": "all", "W3": "all", "b3": "none"}),
    ("relu", {"W1": "all", "b1": "all", "W2": "all", "b2": "all", "W3": "all", "b3": "none"}),
    ("sigmoid", {n: "none" for n in ("W1", "b1", "W2", "b2", "W3", "b3")}),
])
def test_zero_start_frozen_sets(activation, expected):
    zero = {n: "zero" for n in ("W1", "b1", "W2", "b2", "W3")}
    r = report(spec_text([2, 10, 5, 1], activation, {**zero, "b3": "random"}))
    assert r["init"]["frozen"] == expected
    assert r["init"]["classes"] == {"1": [list(range(1, 11))], "2": [[1, 2, 3, 4, 5]]}
    net, path = simulate(r["network"], {**{k: np.zeros((1,)) for k in ()},
                                        "W1": np.zeros((10, 2)), "b1": np.zeros(10),
                                        "W2": np.zeros((5, 10)), "b2": np.zeros(5),
                                        "W3": np.zeros((1, 5)), "b3": np.array([0.3])},
                         np.random.default_rng(1).normal(size=(4, 2)),
                         np.random.default_rng(2).normal(size=(4, 1)), steps=8, lr=0.2)
    for name, summary in expected.items():
        moved = _moved(path, name)
        assert (np.all(moved == 0) if summary == "all" else np.all(moved > 0)), name


@pytest.mark.parametrize("seed", range(8))
def test_frozen_sets_match_a_simulation(seed):
    """Random sparse starts and data with a zero input column: every entry proved frozen
    stays put in a reference simulation, and (for these generic data) the others move."""
    rng = np.random.default_rng(200 + seed)
    activation = ["tanh", "relu"][seed % 2]
    layers = [3, 3, 2, 1]
    init = random_structured(rng, layers, values=(0, 0, 0, 1, -1))
    X = rng.normal(size=(3, 3))
    X[:, 1] = 0.0                                    # a feature that is zero in every sample
    X = np.round(X, 2)
    Y = np.round(rng.normal(size=(3, 1)), 2)
    r = report(spec_text(layers, activation, init, data=(X.tolist(), Y.tolist())))
    net, path = simulate(r["network"], init, X, Y, steps=6, lr=0.1)
    for name, summary in r["init"]["frozen"].items():
        moved = _moved(path, name)
        mask = _frozen_mask(summary, moved.shape)
        assert np.all(moved[mask] == 0), (name, summary)
    if activation == "tanh":      # tanh' > 0 and generic data: nothing else is stuck at 0
        for name, summary in r["init"]["frozen"].items():
            moved = _moved(path, name)
            mask = _frozen_mask(summary, moved.shape)
            assert np.all(moved[~mask] > 0), name
    w1 = _frozen_mask(r["init"]["frozen"]["W1"], (3, 3))
    assert w1[:, 1].all()                            # weights from the silent feature


def test_dead_relu_unit_is_frozen_but_a_live_one_is_not():
    init = {"W1": 0, "b1": [-1, 0, 1], "W2": 1, "b2": 0}
    r = report(spec_text([2, 3, 1], "relu", init))
    f = r["init"]["frozen"]
    assert f["W1"] == [[1, 1], [1, 2], [2, 1], [2, 2]] and f["b1"] == [[1], [2]]
    assert f["W2"] == [[1, 1], [1, 2]] and f["b2"] == "none"


# ------------------------------------------------------------------ the trajectory


def exact_steps(init, X, Y, lr, steps, act="relu"):
    """An independent backpropagation in Fractions for a [n, h, 1] network, MSE, SGD."""
    F = Fraction
    W1 = [[F(str(v)) for v in row] for row in init["W1"]]
    b1 = [F(str(v)) for v in init["b1"]]
    W2 = [[F(str(v)) for v in row] for row in init["W2"]]
    b2 = [F(str(v)) for v in init["b2"]]
    X = [[F(str(v)) for v in r] for r in X]
    Y = [[F(str(v)) for v in r] for r in Y]
    lr = F(str(lr))
    f = (lambda z: max(z, F(0))) if act == "relu" else (lambda z: z)
    df = (lambda z: F(int(z > 0))) if act == "relu" else (lambda z: F(1))
    out = []
    for _ in range(steps + 1):
        gW1 = [[F(0)] * len(W1[0]) for _ in W1]
        gb1, gW2, gb2, loss = [F(0)] * len(b1), [[F(0)] * len(W2[0])], [F(0)], F(0)
        for x, y in zip(X, Y):
            z1 = [sum(w * xi for w, xi in zip(row, x)) + b for row, b in zip(W1, b1)]
            a1 = [f(z) for z in z1]
            yhat = sum(w * a for w, a in zip(W2[0], a1)) + b2[0]
            loss += (yhat - y[0]) ** 2 / 2
            d2 = yhat - y[0]
            gb2[0] += d2
            for u in range(len(a1)):
                gW2[0][u] += d2 * a1[u]
                d1 = df(z1[u]) * W2[0][u] * d2
                gb1[u] += d1
                for k in range(len(x)):
                    gW1[u][k] += d1 * x[k]
        out.append((loss, [r[:] for r in W1], b1[:], [r[:] for r in W2], b2[:]))
        W1 = [[w - lr * g for w, g in zip(r, gr)] for r, gr in zip(W1, gW1)]
        b1 = [b - lr * g for b, g in zip(b1, gb1)]
        W2 = [[w - lr * g for w, g in zip(W2[0], gW2[0])]]
        b2 = [b2[0] - lr * gb2[0]]
    return out


@pytest.mark.parametrize("act,init,lr", [
    ("relu", {"W1": [[1, 1], [1, 1]], "b1": [0, 0], "W2": [[1, 1]], "b2": [0]}, 0.1),
    ("relu", {"W1": [[0.5, -1], [1, 0.25]], "b1": [0.1, -0.2], "W2": [[1, -1]], "b2": [0.5]},
     0.5),
    ("identity", {"W1": [[0.2, 0.1], [-0.3, 0.4]], "b1": [0, 1], "W2": [[1, 2]], "b2": [0]},
     0.05),
])
def test_trajectory_matches_an_independent_fraction_computation(act, init, lr):
    X, Y = [[0.8, 0.4], [0.3, 0.3]], [[1.0], [0.0]]
    text = spec_text([2, 2, 1], act, init, (X, Y),
                     check=f'optimizer = "sgd"\nlearning_rate = {lr}\nsteps = 3')
    r = report(text)
    traj = r["init"]["trajectory"]
    want = exact_steps(init, X, Y, lr, 3, act)
    assert [s["step"] for s in traj] == [0, 1, 2, 3]
    assert r["init"]["trajectory_arithmetic"] == "exact rationals"
    for s, (loss, W1, b1, W2, b2) in zip(traj, want):
        assert s["exact"] and s["loss"] == float(loss)
        assert s["parameters"]["W1"] == [[float(v) for v in row] for row in W1]
        assert s["parameters"]["b1"] == [float(v) for v in b1]
        assert s["parameters"]["W2"] == [[float(v) for v in row] for row in W2]
        assert s["parameters"]["b2"] == [float(v) for v in b2]


def test_float_trajectory_matches_the_reference_network():
    """tanh: float64, compared with the reference network's gradient descent; steps capped
    at 10 and the learning rate exactly as given."""
    init = {"W1": [[0.5, -1], [1, 0.25]], "b1": [0.1, -0.2], "W2": [[1, -1]], "b2": [0.5]}
    X, Y = [[0.8, 0.4], [0.3, 0.3]], [[1.0], [0.0]]
    r = report(spec_text([2, 2, 1], "tanh", init, (X, Y),
                         check="learning_rate = 0.7\nsteps = 200"))
    traj = r["init"]["trajectory"]
    assert len(traj) == 11 and r["init"]["trajectory_arithmetic"] == "float64"
    net, path = simulate(r["network"], init, np.array(X), np.array(Y), steps=10, lr=0.7)
    for s, p in zip(traj, path):
        for k, v in p.items():
            assert np.allclose(s["parameters"][k], v, rtol=1e-12, atol=1e-12)


def test_no_trajectory_when_something_is_random_or_no_data():
    r = report(spec_text([2, 2, 1], "relu", {"W1": 1, "b1": 0, "W2": 1}, ([[1, 2]], [[1]])))
    assert "trajectory" not in r["init"]                   # b2 is random
    r = report(spec_text([2, 2, 1], "relu", {"W1": 1, "b1": 0, "W2": 1, "b2": 0}))
    assert "trajectory" not in r["init"]                   # no data


# ------------------------------------------------------------------ reports and the CLI


def test_reports_show_classes_table_diagram_and_trajectory():
    from symderive.render.latex import render as latex
    from symderive.render.markdown import render as markdown

    init = {"W1": 1, "b1": 0, "W2": 1, "b2": 0}
    d = derive(parse_spec(spec_text([2, 2, 1], "relu", init, ([[0.8, 0.4]], [[1.0]]))))
    md, tex = markdown(d), latex(d)
    assert "| layer | units | classes of units | effective width |" in md
    assert "| 1 | 2 | {1, 2} | 1 |" in md
    assert "\\begin{tikzpicture}" in tex and "\\usepackage{tikz}" in tex
    assert "step 0" in md and "gradient at step 0" in tex
    zero = {"W1": 0, "b1": 0, "W2": 0, "b2": 0}
    tex = latex(derive(parse_spec(spec_text([2, 3, 1], "tanh", zero))))
    assert tex.count("\\draw[frozen]") == 2 * 3 + 3 * 1          # every weight frozen


def test_a_wrong_frozen_claim_is_a_contradiction(monkeypatch):
    """The simulation catches a frozen set that is not: exit status 1 material."""
    from symderive.engine import frozen as fz

    real = fz.frozen_parameters

    def lying(start, sigma_at_zero=None):
        f = real(start, sigma_at_zero)
        weights = tuple(w if w.size == 0 else np.ones_like(w) for w in f.weights)
        return fz.Frozen(weights, f.biases, f.silent, f.still, f.constant)

    monkeypatch.setattr(fz, "frozen_parameters", lying)   # api imports it when it runs
    d = derive(parse_spec(spec_text([2, 3, 1], "sigmoid", {"W1": 0})))
    assert not d.agreement and any("frozen" in p for p in d.problems)


def test_json_init_block_shape():
    r = report(spec_text([2, 3, 1], "tanh", {"W1": 0.5, "b1": "zero"}))
    init = r["init"]
    assert set(init) >= {"classes", "frozen", "effective_widths", "start", "numeric"}
    assert init["start"] == {"W1": 0.5, "b1": "zero", "W2": "random", "b2": "random"}
    assert init["classes"] == {"1": [[1], [2], [3]]}            # random W2 separates them


def test_an_output_that_already_fits_the_data_freezes_everything():
    init = {"W1": 0, "b1": 0, "W2": 0, "b2": 0}
    r = report(spec_text([2, 3, 1], "tanh", init, ([[1, 2], [3, 4]], [[0], [0]])))
    assert set(r["init"]["frozen"].values()) == {"all"}
    r = report(spec_text([2, 3, 1], "tanh", init, ([[1, 2], [3, 4]], [[0], [1]])))
    assert r["init"]["frozen"]["b2"] == "none" and r["init"]["frozen"]["W2"] == "all"


@pytest.mark.parametrize("layers,activation,verdict", [
    ([10, 10, 1], "relu", "stuck"), ([2, 10, 5, 1], "tanh", "stuck"),
    ([4, 4, 1], "sigmoid", "trains, units identical"), ([2, 10, 5, 1], "any", "stuck iff sigma(0) = 0"),
])
def test_zero_init_fact_is_decided_at_the_sizes_people_ask_about(layers, activation, verdict):
    text = (f"[network]\nlayers = {layers}\nactivation = \"{activation}\"\nsamples = 3\n"
            "[[fact]]\nkind = \"zero_init\"\n")
    r = report_dict(derive(parse_spec(text)))
    fact = r["facts"][0]
    assert fact["verdict"] == verdict
    assert fact["numeric"]["agreement"] is True                 # the NumPy simulation agrees
    assert set(fact["hidden_units_identical"].values()) == {"preserved"}


def test_same_spec_same_json_bytes():
    from symderive.render.json import render

    text = spec_text([3, 5, 2], "tanh", {"W1": 0.5, "b1": "random", "W2": [[1, 0, 1, 0, 1]] * 2},
                     ([[1, 2, 3], [0, 1, 0]], [[1, 0], [0, 1]]))
    assert render(derive(parse_spec(text))) == render(derive(parse_spec(text)))


def test_momentum_trajectory_matches_a_reference_heavy_ball():
    init = {"W1": [[0.5, -1], [1, 0.25]], "b1": [0.1, -0.2], "W2": [[1, -1]], "b2": [0.5]}
    X, Y = np.array([[0.8, 0.4], [0.3, 0.3]]), np.array([[1.0], [0.0]])
    r = report(spec_text([2, 2, 1], "relu", init, (X.tolist(), Y.tolist()),
                         check='optimizer = "momentum"\nlearning_rate = 0.05\nsteps = 4'))
    net = refnet(r["network"])
    p = {k: np.array(v, dtype=float) for k, v in init.items()}
    v = {k: np.zeros_like(a) for k, a in p.items()}
    for s in r["init"]["trajectory"]:
        for k in p:
            assert np.allclose(s["parameters"][k], p[k], rtol=1e-12, atol=1e-12), (s["step"], k)
        g = gradient(net, p, X, Y)
        v = {k: 0.9 * v[k] + g[k] for k in p}          # torch.optim.SGD(momentum=0.9)
        p = {k: p[k] - 0.05 * v[k] for k in p}
    assert r["init"]["trajectory_arithmetic"] == "exact rationals"


def test_wide_layer_diagram_shows_every_class():
    from symderive.render.diagram import MAX_UNITS, shown_units

    classes = tuple([0] * 20 + [1, 2])
    shown = shown_units(22, classes)
    assert len(shown) <= MAX_UNITS and {0, 20, 21} <= set(shown)
    assert shown == sorted(shown)


# ------------------------------------------------------------------ issue 22: no biases


def _numpy_fraction_steps(Ws, X, Y, lr, steps, act):
    """An independent recomputation for a bias-free network: NumPy object arrays of
    Fractions, forward and backward by matrix products (no biases anywhere)."""
    F = Fraction
    W = [np.array([[F(str(v)) for v in row] for row in w], dtype=object) for w in Ws]
    X = np.array([[F(str(v)) for v in r] for r in X], dtype=object)
    Y = np.array([[F(str(v)) for v in r] for r in Y], dtype=object)
    f = np.vectorize((lambda z: max(z, F(0))) if act == "relu" else (lambda z: z), otypes=[object])
    df = np.vectorize((lambda z: F(int(z > 0))) if act == "relu" else (lambda z: F(1)),
                      otypes=[object])
    out = []
    for _ in range(steps + 1):
        acts, zs = [X], [None]
        for l, w in enumerate(W):
            z = acts[-1].dot(w.T)
            zs.append(z)
            acts.append(z if l == len(W) - 1 else f(z))
        err = acts[-1] - Y
        out.append((sum(e * e for e in err.ravel()) / 2, [w.copy() for w in W]))
        delta, grads = err, [None] * len(W)
        for l in range(len(W), 0, -1):
            grads[l - 1] = delta.T.dot(acts[l - 1])
            if l > 1:
                delta = delta.dot(W[l - 1]) * df(zs[l - 1])
        W = [w - F(str(lr)) * g for w, g in zip(W, grads)]
    return out


@pytest.mark.parametrize("layers,act,Ws,X,Y,lr", [
    ([1, 1, 1], "identity", [[[1]], [[1]]], [[1]], [[0]], 0.1),
    ([2, 2, 1], "relu", [[[1, -0.5], [0.25, 1]], [[1, -1]]], [[0.8, 0.4], [0.3, 0.3]],
     [[1], [0]], 0.5),
    ([2, 3, 2], "identity", [[[0.5, 0], [1, 1], [-1, 0.5]], [[1, 0, 1], [0.5, 0.5, -1]]],
     [[1, 2], [0, 1]], [[1, 0], [0, 1]], 0.05),
])
def test_bias_free_exact_trajectory_matches_a_numpy_fraction_recomputation(layers, act, Ws, X,
                                                                           Y, lr):
    """Issue 22: without biases, the exact trajectory was wrong from step 1 (the bias
    gradient was applied to biases the network does not have)."""
    init = {f"W{l}": w for l, w in enumerate(Ws, start=1)}
    text = spec_text(layers, act, init, (X, Y), extra="bias = false",
                     check=f'optimizer = "sgd"\nlearning_rate = {lr}\nsteps = 4')
    r = report(text)
    traj = r["init"]["trajectory"]
    want = _numpy_fraction_steps(Ws, X, Y, lr, 4, act)
    assert r["init"]["trajectory_arithmetic"] == "exact rationals"
    for s, (loss, W) in zip(traj, want):
        assert s["loss"] == float(loss)
        for l, w in enumerate(W, start=1):
            assert s["parameters"][f"W{l}"] == [[float(v) for v in row] for row in w]
    if layers == [1, 1, 1]:
        assert traj[1]["loss"] == 0.32805       # the hand computation
