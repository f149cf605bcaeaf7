"""Issue 22: starting-point answers that answer, and say only true things.

Each bug fixed gets a test against an independent computation: the reference NumPy
network of ``reference_numpy`` (written apart from symderive's), the data's own
targets, exact Fractions.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from reference_numpy import gradient, group, refnet
from symderive.api import derive
from symderive.render.json import report_dict
from symderive.spec import parse_spec


def report(text: str) -> dict:
    return report_dict(derive(parse_spec(text)))


def hypothesis_spec(layers, activation: str, layer: int, units=(1, 2), tie=(), zero=(),
                    network: str = "samples = 2") -> str:
    """A spec of one [[hypothesis]] table (its [network] extra lines in ``network``)."""
    return (f"[network]\nlayers = {json.dumps(list(layers))}\nactivation = \"{activation}\"\n"
            f"{network}\n[[hypothesis]]\nlayer = {layer}\nunits = {json.dumps(list(units))}\n"
            f"tie = {json.dumps(list(tie))}\nzero = {json.dumps(list(zero))}\n")


def cli(path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symderive", "derive", str(path), "-q", *args],
                          capture_output=True, text=True, timeout=600)


# ------------------------------------------------------------------ output units, tied targets

TIED_TARGETS = hypothesis_spec([2, 3, 2], "tanh", 2, tie=["incoming", "bias"],
                               network='output_activation = "sigmoid"\nloss = "mse"') + """
[data]
inputs = [[1, 2], [0.5, -1], [2, 0]]
targets = [[1, 1], [0, 0], [0.5, 0.5]]
"""


@pytest.mark.parametrize("suffix", ["json", "md", "tex"])
def test_output_hypothesis_with_targets_tied_by_the_data(tmp_path, suffix):
    """Was an IndexError (exit 1) in every format, and a false contradiction: the numeric
    check drew its own targets instead of the data's."""
    spec = tmp_path / "tied.toml"
    spec.write_text(TIED_TARGETS)
    out = tmp_path / f"tied.{suffix}"
    done = cli(spec, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if suffix == "json":
        r = json.loads(out.read_text())
        h = r["hypotheses"][0]
        assert h["verdict"] == "preserved" and h["numeric"]["agreement"]
        assert "given data" in r["answer"]


def test_tied_targets_really_keep_the_outputs_together():
    """Independently: at random parameters satisfying the hypothesis, with the data's own
    targets, the reference network gives the two output units equal gradients; with
    other targets it does not (so the data's targets are what the verdict rests on)."""
    r = report(TIED_TARGETS)
    net = refnet(r["network"])
    X = np.array([[1, 2], [0.5, -1], [2, 0]], float)
    Y = np.array([[1, 1], [0, 0], [0.5, 0.5]], float)
    rng = np.random.default_rng(3)
    p = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=3),
         "W2": rng.normal(size=(2, 3)), "b2": rng.normal(size=2)}
    p["W2"][1] = p["W2"][0]
    p["b2"][1] = p["b2"][0]
    g = gradient(net, p, X, Y)
    for name in ("incoming", "bias"):
        assert np.allclose(group(g, 2, 1, name), group(g, 2, 2, name), atol=1e-12)
    Y2 = Y.copy()
    Y2[0, 0] = 0.0
    g2 = gradient(net, p, X, Y2)
    assert not np.allclose(group(g2, 2, 1, "bias"), group(g2, 2, 2, "bias"))


# ------------------------------------------------------------------ false exit 1


def test_classes_proved_on_the_data_are_checked_on_the_data(tmp_path):
    """Two tanh units pinned at z = 2 on the only sample (2·1 = 1·2): one class on these
    data, but not off them.  The check probed other inputs and exited 1."""
    text = """
[network]
layers = [2, 2, 1]
activation = "tanh"
[init]
W1 = [[2, 0], [0, 1]]
b1 = "zero"
W2 = "zero"
b2 = "zero"
[data]
inputs = [[1, 2]]
targets = [[0]]
"""
    r = report(text)
    assert r["init"]["classes"] == {"1": [[1, 2]]}
    assert r["init"]["numeric"]["agreement"]
    W1, x = np.array([[2.0, 0], [0, 1]]), np.array([1.0, 2])
    z = W1 @ x
    assert z[0] == z[1]                                    # equal on the data ...
    assert (W1 @ np.array([1.0, 0]))[0] != (W1 @ np.array([1.0, 0]))[1]   # ... not off it
    spec = tmp_path / "pinned.toml"
    spec.write_text(text)
    assert cli(spec, "-o", str(tmp_path / "p.json")).returncode == 0


@pytest.mark.parametrize("seed", [1, 11])
def test_unit_gradient_check_uses_its_witness(tmp_path, seed):
    """ReLU unit with zero incoming weights: its bias gradient is non-zero in general (the
    witness shows it) but 0 wherever the drawn bias is negative; seeds 1 and 11 drew four
    such points and the check called that a contradiction."""
    text = f"""
[network]
layers = [2, 2, 1]
activation = "relu"
samples = 1
[[fact]]
kind = "unit_gradient"
layer = 1
unit = 1
zero = ["incoming"]
[check]
seed = {seed}
"""
    r = report(text)
    fact = r["facts"][0]
    assert fact["numeric"]["agreement"], fact["numeric"]["problems"]
    w = fact["witness"]
    net = refnet(r["network"])
    g = gradient(net, w["parameters"], np.array(w["inputs"]), np.array(w["targets"]))
    assert abs(float(g["b1"][0])) > 1e-9          # the reference network agrees: non-zero
    spec = tmp_path / "ug.toml"
    spec.write_text(text)
    assert cli(spec, "-o", str(tmp_path / "ug.json")).returncode == 0


def test_softmax_with_one_output_is_preserved():
    """A constant loss: nothing moves (the reference gradient is 0), so every tie holds."""
    r = report(hypothesis_spec([2, 2, 1], "tanh", 1, tie=["incoming"],
                               network='loss = "softmax_ce"\nsamples = 2'))
    h = r["hypotheses"][0]
    assert h["verdict"] == "preserved"
    net = refnet(r["network"])
    rng = np.random.default_rng(0)
    p = {"W1": rng.normal(size=(2, 2)), "b1": rng.normal(size=2),
         "W2": rng.normal(size=(1, 2)), "b2": rng.normal(size=1)}
    g = gradient(net, p, rng.normal(size=(2, 2)), np.ones((2, 1)))
    assert all(np.all(v == 0) for v in g.values())
    assert "exchanging" not in r["answer"]            # not the swap argument: bias is free
    assert "does not depend on the network's output" in r["answer"]


def test_same_fact_claimed_twice_is_explained_once():
    text = """
[network]
layers = [2, 3, 1]
activation = "tanh"
samples = 2
[[fact]]
kind = "zero_init"
name = "notebook"
claim = "stuck"
claimed_by = "the notebook"
[[fact]]
kind = "zero_init"
name = "poster"
claim = "stuck"
claimed_by = "the poster"
"""
    d = derive(parse_spec(text))
    md = d.to_markdown()
    summary = d.facts[0].summary.split(":")[0].lower()
    assert md.lower().count(summary) == 2       # the judgement once, the short answer once
    assert "F1 and F2" in md
    assert md.count("Layer 1 weights at the zero point") == 1


# ------------------------------------------------------------------ the seven false sentences

from reference_numpy import deltas_sample, forward_sample  # noqa: E402

from symderive.report.why import tensor_factors  # noqa: E402
from symderive.spec.init import tensor_names  # noqa: E402
from test_startpoint import spec_text  # noqa: E402


def test_1_tanh_zero_start_names_the_frozen_outgoing_weights_not_a_zero_slope():
    """tanh'(0) = 1: the hidden deltas vanish because W2 is frozen at 0."""
    d = derive("start-zero-tanh")
    md, answer = d.to_markdown(detail="full"), report_dict(d)["answer"]
    assert np.tanh(1e-8) / 1e-8 == pytest.approx(1.0)          # the slope at 0 is 1, not 0
    for text in (md, answer):
        assert "slope of the activation is 0" not in text and "tanh'(0)" not in text
        assert "every weight out of them (W2) is frozen at 0" in text
        assert "tanh(0) = 0" in text


def test_2_zero_init_rows_do_not_contradict_stuck_iff_sigma0():
    text = spec_text([3, 4, 1], "any", extra="samples = 2").replace("[init]\n", "")
    text += '[[fact]]\nkind = "zero_init"\n'
    r = report(text)
    fact = r["facts"][0]
    assert fact["verdict"] == "stuck iff sigma(0) = 0"
    claims = " ".join(s["claim"] for s in fact["statements"])
    assert "so these move later" not in claims
    assert "with σ(0) = 0 they never move" in claims


def test_3_pinned_dead_units_are_not_said_to_become_different():
    """ReLU units 1, 2 pinned at z = -1 and -2 (their own classes, both dead for ever)."""
    init = {"W1": [[0, 0], [0, 0], [1, 1]], "b1": [-1, -2, 0.5], "W2": [[1, 2, 3]], "b2": [0]}
    r = report(spec_text([2, 3, 1], "relu", init))
    assert r["init"]["classes"] == {"1": [[1], [2], [3]]}
    assert r["init"]["frozen"]["b1"] == [[1], [2]]
    assert "become different" not in r["answer"]
    assert "units 1 and 2 of layer 1 are constant for ever" in r["answer"]
    assert "relu'(-1) = 0" in r["answer"] and "relu'(-2) = 0" in r["answer"]
    assert max(0.0, -1.0) == 0.0 and max(0.0, -2.0) == 0.0    # both dead: relu(z) = 0


def test_4_a_sampling_check_says_nothing_about_the_start():
    """Two ReLU units apart only in their outgoing weights, both dead on the check's
    random data: never apart in the simulation, which must not speak for the start."""
    init = {"W1": [[1, 1], [1, 1]], "b1": [-100, -100], "W2": [[1, 2]], "b2": [0]}
    d = derive(parse_spec(spec_text([2, 2, 1], "relu", init)))
    assert d.start.check.coincide                                  # the simulation's view
    md = d.to_markdown(detail="full")
    assert "they happen to" not in md
    assert "says nothing about the starting point itself" in md


def test_5_balanced_labels_make_the_zero_start_stationary():
    """σ(0)·Σ_n (ŷ_n − y_n) = 0 on balanced targets: nothing moves (exactly)."""
    X, Y = [[1, 2, 0.5], [0, 1, -1], [2, 2, 2], [1, 0, 1]], [[1], [-1], [1], [-1]]
    init = {"W1": "zero", "b1": "zero", "W2": "zero", "b2": "zero"}
    r = report(spec_text([3, 4, 1], "sigmoid", init, (X, Y)))
    net = refnet(r["network"])
    params = {"W1": np.zeros((4, 3)), "b1": np.zeros(4), "W2": np.zeros((1, 4)),
              "b2": np.zeros(1)}
    g = gradient(net, params, np.array(X, float), np.array(Y, float))
    assert all(np.all(np.abs(v) < 1e-15) for v in g.values())     # the reference agrees
    assert r["init"]["frozen"] == {"W1": "all", "b1": "all", "W2": "all", "b2": "all"}
    assert r["init"]["verdict"] == "stuck"
    assert "trains" not in r["answer"] and "no parameter ever moves" in r["answer"]
    assert {s["loss"] for s in r["init"]["trajectory"]} == {2.0}


def test_6_zeroed_identity_outputs_are_not_dead():
    r = report(hypothesis_spec([2, 3, 2], "relu", 2, zero=["incoming", "bias"]))
    assert "σ'(0) = 0" not in r["answer"] and "dead on every sample" not in r["answer"]


def test_7_output_units_with_free_incoming_weights():
    r = report(hypothesis_spec([2, 3, 2], "tanh", 2, tie=["bias"]))
    h = r["hypotheses"][0]
    assert h["verdict"] == "broken" and h["output_layer"]["same_prediction"] is False
    assert "even equal predictions" not in r["answer"]
    assert "leaves their pre-activations different" in r["answer"]


# ------------------------------------------------------------------ property: every factor is 0


def _reference_start(result, rng):
    """Float parameters of a start (random tensors drawn) for the reference network."""
    start, out = result.start, {}
    for l in range(1, start.depth + 1):
        for name, t in ((f"W{l}", start.W[l]), (f"b{l}", start.b[l])):
            if t is None:
                continue
            shape = (start.network.layers[l], start.network.layers[l - 1] if name[0] == "W"
                     else 1)
            arr = (rng.normal(size=shape) if t.is_random
                   else np.array([[int(v) / t.scale for v in row] for row in t.ints]))
            out[name] = arr if name[0] == "W" else arr[:, 0]
    return out


def _factor_vanishes(f, net, params, X, Y, rows) -> bool:
    """Evaluate one factor numerically with the reference network (tests/reference_numpy)."""
    samples = [s - 1 for s in f.samples] or list(range(rows))
    if f.kind == "stationary":
        g = gradient(net, params, X, Y)
        return all(np.all(np.abs(v) < 1e-12) for v in g.values())
    ok = True
    for n in samples:
        z, a = forward_sample(net, params, X[n])
        d = deltas_sample(net, params, X[n], Y[n])
        for u in f.units:
            if f.kind == "input":
                ok &= X[n, u - 1] == 0
            elif f.kind == "activation":
                ok &= abs(a[f.layer][u - 1]) < 1e-12
            elif f.kind == "slope":
                ok &= net.act(f.layer)[1](z[f.layer][u - 1]) == 0
            elif f.kind == "output":
                ok &= abs(d[f.layer][u - 1]) < 1e-12
            else:   # outgoing: weights frozen at 0, and deltas that are 0
                W = params[f"W{f.layer + 1}"]
                ok &= all(W[v - 1, u - 1] == 0 for v in f.zero_weights)
                ok &= all(abs(d[f.layer + 1][v - 1]) < 1e-12 for v in f.still_next)
    return bool(ok)


@pytest.mark.parametrize("seed", range(24))
def test_every_why_clause_names_a_factor_that_is_zero(seed):
    """Random starting points (small integers, so zeros and ties are common; some tensors
    random; with or without data): every factor a why clause names evaluates to 0 with
    the reference network, at the start and after a few steps of gradient descent."""
    rng = np.random.default_rng(seed)
    layers = [2, int(rng.integers(2, 4)), int(rng.integers(1, 3))][: 3]
    if seed % 3 == 0:
        layers = [2, 2, 2, 1]
    act = ["relu", "tanh", "sigmoid", "identity"][seed % 4]
    init = {}
    for l in range(1, len(layers)):
        init[f"W{l}"] = rng.choice([-1, 0, 0, 1], size=(layers[l], layers[l - 1])).tolist()
        init[f"b{l}"] = rng.choice([-1, 0, 0, 1], size=layers[l]).tolist()
    if seed % 5 == 1:
        init["b1"] = "random"
    data = None
    if seed % 2 == 0:
        data = (rng.choice([0, 1, 2], size=(3, 2)).tolist(),
                rng.choice([0, 1], size=(3, layers[-1])).tolist())
    r = derive(parse_spec(spec_text(layers, act, init, data)))
    result = r.start
    net = refnet(report_dict(r)["network"])
    X = np.array(data[0], float) if data else rng.normal(size=(3, 2))
    Y = np.array(data[1], float) if data else rng.normal(size=(3, layers[-1]))
    params = _reference_start(result, rng)
    named = 0
    for step in range(3):
        for name in tensor_names(result.start.network):
            for f in tensor_factors(result, name):
                named += 1
                assert _factor_vanishes(f, net, params, X, Y, len(X)), (seed, step, name, f)
        g = gradient(net, params, X, Y)
        params = {k: v - 0.1 * g[k] for k, v in params.items()}
    if result.frozen.summary("W1") != "none":
        assert named


# ------------------------------------------------------------------ every report answers

import re  # noqa: E402
import shutil  # noqa: E402

from report_helpers import BUNDLED, ROOT, bundled_derivation  # noqa: E402

RENDERED = ROOT / "derivations" / "rendered"


def markdown_answer(text: str) -> str:
    """The body of the '## Answer' section (up to the next heading of its level)."""
    m = re.search(r"^## Answer\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, "no Answer section"
    return m.group(1).strip()


def latex_answer(text: str) -> str:
    """The body of \\section{Answer} up to the next \\section (frames' text for beamer)."""
    m = re.search(r"\\section\*?\{Answer\}(?:\\label\{[^}]*\})?(.*?)(?=\\section|\\end\{document\})",
                  text, re.S) or re.search(      # a talk's short question shares its frames
        r"\\section\{Question and answer\}.*?\\textbf\{Answer\}(.*?)(?=\\section|\\end\{document\})",
        text, re.S)
    assert m, "no Answer section"
    body = re.sub(r"\\(begin|end)\{frame\}(\[[^\]]*\])?|\\frametitle\{[^}]*\}|\\small", "",
                  m.group(1))
    return body.strip()


def pdf_answer(path) -> str:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, timeout=120).stdout
    m = re.search(r"Answer\s*\n(.*?)(?=\n\s*\d*\s*(The starting point|The network|Why)\b)",
                  text, re.S)
    assert m, f"{path.name}: no Answer section"
    return m.group(1).strip()


@pytest.mark.parametrize("spec", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_every_bundled_report_opens_with_an_answer(spec):
    """Live, in every format (JSON answer, Markdown brief and full, LaTeX, beamer, the
    notebook's repr and display), and the committed reports of derivations/rendered/."""
    from symderive.render import beamer, latex, markdown

    d = bundled_derivation(spec)
    assert report_dict(d)["answer"].strip()
    assert markdown_answer(markdown.render(d))
    assert markdown_answer(markdown.render(d, detail="full"))
    assert latex_answer(latex.render(d))
    assert latex_answer(beamer.render(d))
    assert "nothing to settle" not in d._repr_latex_()
    assert len(repr(d).splitlines()) > 1
    stem = spec.stem.replace("_", "-")
    for name in (f"{stem}.md", f"{stem}.full.md"):
        assert markdown_answer((RENDERED / name).read_text(encoding="utf-8")), name
    for name in (f"{stem}.tex", f"{stem}-slides.tex"):
        assert latex_answer((RENDERED / name).read_text(encoding="utf-8")), name
    if shutil.which("pdftotext"):
        assert pdf_answer(RENDERED / f"{stem}.pdf")


def test_bundled_start_brief_answers_are_short():
    from symderive.render import markdown

    for spec in BUNDLED:
        if spec.stem.startswith("start_"):
            text = markdown.render(bundled_derivation(spec))
            assert len(text) < 3000, (spec.stem, len(text))


# ------------------------------------------------------------------ [init] claim


ZERO = {"W1": "zero", "b1": "zero", "W2": "zero", "b2": "zero"}


def _claimed(act: str, claim: str, init=None) -> dict:
    text = spec_text([3, 4, 1], act, init or ZERO)
    text = text.replace("[check]", f'claim = "{claim}"\nclaimed_by = "my lecturer"\n[check]')
    return report(text)


@pytest.mark.parametrize("act,claim,holds,verdict", [
    ("tanh", "stuck", True, "stuck"),          # every hidden parameter frozen (proved)
    ("tanh", "symmetric", True, "stuck"),      # one class of 4 units (proved)
    ("tanh", "broken", False, "stuck"),
    ("sigmoid", "stuck", False, "symmetric"),  # W1 moved in the simulation: the witness
    ("sigmoid", "symmetric", True, "symmetric"),
    ("sigmoid", "broken", False, "symmetric"),
])
def test_init_claim_is_judged_first(act, claim, holds, verdict):
    r = _claimed(act, claim)
    assert r["init"]["verdict"] == verdict
    assert r["init"]["claim"] == {"verdict": claim, "by": "my lecturer", "holds": holds}
    first = r["answer"].splitlines()[0]
    assert first.startswith("My lecturer is " + ("right" if holds else "wrong"))
    if claim == "stuck" and not holds:
        assert r["init"]["numeric"]["largest_hidden_change"] > 1e-9


def test_sigmoid_zero_start_really_moves_the_hidden_layer():
    """The 'stuck' refutation, recomputed: two reference steps move W1 (σ(0) = 1/2 makes
    W2 non-zero after one step, and then W1's delta is non-zero)."""
    net = refnet(report(spec_text([3, 4, 1], "sigmoid", ZERO))["network"])
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(4, 1))
    p = {"W1": np.zeros((4, 3)), "b1": np.zeros(4), "W2": np.zeros((1, 4)), "b2": np.zeros(1)}
    for _ in range(2):
        g = gradient(net, p, X, Y)
        p = {k: v - 0.1 * g[k] for k, v in p.items()}
    assert np.abs(p["W1"]).max() > 1e-6


def test_broken_claim_on_a_generic_start():
    r = _claimed("tanh", "broken", {"W1": "random", "b1": "random", "W2": "random",
                                   "b2": "random"})
    assert r["init"]["verdict"] == "broken"
    assert r["init"]["claim"]["holds"] is True


def test_bad_init_claim_names_the_field():
    from symderive.errors import SpecError

    with pytest.raises(SpecError) as e:
        parse_spec(spec_text([2, 2, 1], "tanh", {"claim": "dead"}))
    assert e.value.field == "init.claim" and "'stuck', 'symmetric', 'broken'" in str(e.value)


# ------------------------------------------------------------------ comparing activations

COMPARE = """
question = "Does zero init get stuck whatever the activation?"
[network]
layers = [3, 4, 1]
activation = ["relu", "tanh", "sigmoid", { latex = '\\frac{z}{1+|z|}' }]
[init]
W1 = "zero"
b1 = "zero"
W2 = "zero"
b2 = "zero"
"""


def test_activation_list_compares_every_activation():
    d = derive(parse_spec(COMPARE))
    assert [v.spec.network.activation.name for v in d.variants][:3] == ["relu", "tanh",
                                                                        "sigmoid"]
    r = report_dict(d)
    # each row is that activation derived alone
    for row, v in zip(r["comparison"], d.variants):
        alone = report_dict(derive(v.spec))
        assert row["init_verdict"] == alone["init"]["verdict"]
        assert r["variants"][d.variants.index(v)]["init"]["frozen"] == alone["init"]["frozen"]
    # σ(0) recomputed independently: relu, tanh, softsign 0; sigmoid 1/2
    assert [row["sigma_at_0"] for row in r["comparison"]] == [0.0, 0.0, 0.5, 0.0]
    first = r["answer"].splitlines()[0]
    assert first.startswith("Stuck for relu, tanh and σ(z) = ")
    assert "where σ(0) = 0" in first and "for sigmoid, where σ(0) ≠ 0" in first
    assert len(r["answer"].splitlines()) == 5
    md = d.to_markdown()
    assert markdown_answer(md).startswith("**It depends on the activation.** Stuck for relu")
    assert "| sigmoid | 1/2 |" in md
    from symderive.render import beamer, latex

    assert "It depends on the activation" in latex_answer(latex.render(d))
    assert "It depends on the activation" in latex_answer(beamer.render(d))


def test_activation_list_is_validated():
    from symderive.errors import SpecError

    for bad, words in (('["relu"]', "2 to 6"), ('["relu", "relu"]', "twice"),
                       ('["relu", "gelu2"]', "unknown activation")):
        with pytest.raises(SpecError) as e:
            parse_spec(COMPARE.replace('["relu", "tanh", "sigmoid", { latex = '
                                       "'\\frac{z}{1+|z|}' }]", bad))
        assert e.value.field == "network.activation" and words in str(e.value)
