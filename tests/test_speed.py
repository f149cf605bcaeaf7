"""Speed by design, checked by counting work (never by timing): witnesses first,
compact witnesses that anyone can regenerate, finite differences that touch only
what a perturbation moves, imports only what a run needs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import reference_numpy as ref
from symderive.api import derive
from symderive.engine import local, mlp, symmetry
from symderive.engine.witness import COMPACT_PARAMETERS, generated_parameters, is_compact
from symderive.numeric import gradcheck, training_steps
from symderive.numeric.points import check_point
from symderive.render.json import render
from symderive.spec import NetworkSpec, parse_spec
from symderive.spec.functions import ACTIVATIONS, Loss

HYPOTHESES = {"all tied": ["incoming", "bias", "outgoing"],
              "incoming and bias": ["incoming", "bias"], "outgoing": ["outgoing"]}


def spec_text(layers, samples=2, activation="tanh", layer=1) -> str:
    out = f'[network]\nlayers = {list(layers)}\nsamples = {samples}\nactivation = "{activation}"\n'
    for name, tie in HYPOTHESES.items():
        out += (f'\n[[hypothesis]]\nname = "{name}"\nlayer = {layer}\nunits = [1, 2]\n'
                f'tie = {json.dumps(tie)}\n')
    return out


class Counter:
    def __init__(self, monkeypatch, module, name):
        self.calls, original = 0, getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


def test_a_broken_hypothesis_costs_one_numpy_pass_and_no_symbolic_proof(monkeypatch):
    """Every group of "outgoing" is different: refuted at the first witness step, whose
    point (one pass) the three groups share, and no local derivation."""
    passes = Counter(monkeypatch, mlp, "forward_backward")
    proofs = Counter(monkeypatch, symmetry, "is_identically_zero")
    spec = parse_spec(spec_text([6, 16, 16, 3], 4, layer=2))
    hyp = spec.hypotheses[2]
    result = symmetry.settle_hypothesis(spec.network, hyp, 5)
    assert [g.status for g in result.groups] == ["different"] * 3
    assert proofs.calls == 0
    assert passes.calls == 1           # tanh: no redraw away from a kink


def test_the_residual_is_built_only_when_a_report_asks(monkeypatch):
    shown = Counter(monkeypatch, symmetry, "display_residual")
    spec = parse_spec(spec_text([3, 5, 2]))
    d = derive(spec, numeric=False)
    assert shown.calls == 0
    different = [g for r in d.results for g in r.groups if g.status == "different"]
    assert different and all(g.residual != 0 for g in different)
    assert shown.calls == len(different)


def test_an_equal_group_still_gets_its_local_proof():
    spec = parse_spec(spec_text([6, 16, 16, 3], 4, layer=2))
    result = symmetry.settle_hypothesis(spec.network, spec.hypotheses[0], 0)
    assert [g.method for g in result.groups] == ["local, any activation"] * 3
    assert result.verdict == "preserved"


def regenerate(layers, bias, witness) -> dict[str, np.ndarray]:
    """The documented recipe (docs/speed.md), written here from the documentation."""
    assert witness["generator"]["method"] == "numpy-default_rng-uniform-fan-in-4dp"
    rng = np.random.default_rng(witness["generator"]["seed"])
    params = {}
    for l in range(1, len(layers)):
        a = np.sqrt(3 / layers[l - 1])
        v = np.round((2 * rng.random((layers[l], layers[l - 1])) - 1) * a, 4)
        params[f"W{l}"] = np.where(v == 0, 1e-4, v)
    for l in range(1, len(layers)):
        if bias:
            a = np.sqrt(3 / layers[l - 1])
            v = np.round((2 * rng.random(layers[l]) - 1) * a, 4)
            params[f"b{l}"] = np.where(v == 0, 1e-4, v)
    for name, given in witness["parameters"].items():
        for kind, values in given.items():
            for unit, value in values.items():
                u = int(unit) - 1
                if kind == "rows":
                    params[name][u, :] = value
                elif kind == "columns":
                    params[name][:, u] = value
                else:
                    params[name][u] = value
    return params


@pytest.mark.parametrize("layers", [(3, 100, 100, 2), (16,) + (64,) * 20, (64, 1024, 64)])
@pytest.mark.parametrize("bias", [True, False])
def test_the_documented_recipe_is_the_generator_value_for_value(layers, bias):
    network = NetworkSpec(layers, ACTIVATIONS["tanh"], ACTIVATIONS["identity"], bias,
                          Loss("mse"), 2)
    assert is_compact(network)
    for seed in (0, 874970543, 2**32 - 1):
        ours = generated_parameters(network, seed)
        documented = regenerate(layers, bias, {"parameters": {}, "generator": {
            "seed": seed, "method": "numpy-default_rng-uniform-fan-in-4dp"}})
        for l in range(1, len(layers)):
            assert np.array_equal(ours.W[l - 1], documented[f"W{l}"])
            assert np.array_equal(ours.b[l - 1], documented[f"b{l}"]) if bias else \
                not ours.b[l - 1].any()


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_compact_witness_regenerates_and_re_evaluates_independently(activation):
    layers = (3, 100, 100, 2)
    spec = parse_spec(spec_text(layers, 2, activation, layer=1))
    assert is_compact(spec.network)
    report = json.loads(render(derive(spec, numeric=False)))
    net = ref.RefNet(layers, ref.ACTIVATIONS[activation], ref.ACTIVATIONS["identity"],
                     ref.LOSSES["mse"], True, (activation == "relu", False))
    checked = 0
    for h in report["hypotheses"]:
        for name, g in h["groups"].items():
            if g["status"] != "different":
                continue
            w = g["witness"]
            assert set(w["parameters"]) == {"W1", "b1", "W2"}     # the two units' groups
            full = dict(w, parameters={k: v.tolist() for k, v in
                                       regenerate(layers, True, w).items()})
            ref.check_witness(net, h, name, full, 2, rtol=1e-7)
            checked += 1
    assert checked >= 5


def test_small_networks_keep_the_full_witness():
    spec = parse_spec(spec_text([3, 20, 20, 2]))
    assert not is_compact(spec.network)
    report = json.loads(render(derive(spec, numeric=False)))
    w = report["hypotheses"][1]["groups"]["incoming"]["witness"]
    assert "generator" not in w and np.asarray(w["parameters"]["W2"]).shape == (20, 20)
    assert COMPACT_PARAMETERS >= 1000


@pytest.mark.parametrize("group", ["incoming", "bias", "outgoing"])
def test_rank_one_finite_differences_equal_full_recomputation(group):
    """The cheap finite difference (one unit moved, rank-one update of the next layer)
    against the full forward pass from the perturbed layer."""
    spec = parse_spec(spec_text([4, 90, 90, 70, 70], 2, "tanh", layer=2))
    hyp = spec.hypotheses[1]
    start = check_point(spec.network, hyp, np.random.default_rng(1))
    zs, acts = mlp.forward(spec.network, start.params, start.X)
    for c in gradcheck.group_components(spec.network, hyp, group, 0)[:5]:
        assert gradcheck.rank_one(spec.network, c.layer)
        cheap = gradcheck.finite_difference(spec.network, start, c, acts, zs)
        full = gradcheck.finite_difference(spec.network, start, c, acts)
        assert cheap == pytest.approx(full, rel=1e-6, abs=1e-9)


def test_training_steps_follow_the_budget():
    small = parse_spec(spec_text([3, 20, 20, 2]))
    wide = parse_spec(spec_text([64, 1024, 1024, 64], 16))
    assert training_steps(small) == small.check.steps
    assert 10 <= training_steps(wide) < wide.check.steps
    given = parse_spec(spec_text([64, 1024, 1024, 64], 16) + "\n[check]\nsteps = 200\n")
    assert training_steps(given) == 200


def test_help_imports_neither_sympy_nor_numpy():
    code = ("import sys\nfrom symderive.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('sympy', 'numpy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_a_json_run_does_not_import_numpy_testing_f2py_or_the_facts(tmp_path):
    # a spec of hypotheses only (the founding spec has a [[fact]] table since claims came)
    code = ("import sys\nfrom symderive.cli import main\n"
            "main(['derive', 'deep-layer-symmetry', '--format', 'json', '-o', "
            f"r'{tmp_path}/w.json'])\n"
            "print(sorted(m for m in ('numpy.testing', 'numpy.f2py', 'numpy.ma', "
            "'symderive.facts', 'concurrent.futures', 'latex2sympy2_extended', "
            "'symderive.report.builder', 'symderive.render.markdown') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_the_local_derivation_does_not_see_layers_far_away():
    """Depth flat: the expressions of a hypothesis in layer 2 mention layers 1-3 only,
    whether the network has 4 or 12 weight layers."""
    for depth in (4, 12):
        spec = parse_spec(spec_text([5] + [9] * (depth - 1) + [2], 2, layer=2))
        model = local.LocalModel(spec.network, spec.hypotheses[1])
        exprs = [model.error_difference(1), model.activation_difference(1)]
        layers = {int(s.name.split("_")[0].lstrip("Wbzad")) for e in exprs
                  for s in e.free_symbols}
        assert layers <= {1, 2, 3}


def _blas_after_cli_run(tmp_path, env_extra: dict) -> dict:
    """The BLAS thread counts (threadpoolctl) after a real command-line run in a fresh
    process, and the variables the run left."""
    code = ("import json, os, sys\nfrom symderive.cli.main import main\n"
            "sys.argv = ['symderive', 'derive', 'weight-symmetry', '--format', 'json', '-o', "
            f"r'{tmp_path}/w.json']\n"
            "status = main()\n"
            "from threadpoolctl import threadpool_info\n"
            "print(json.dumps({'status': status, 'threads': sorted({i['num_threads'] for i in "
            "threadpool_info() if i['user_api'] == 'blas'}), "
            "'openblas': os.environ.get('OPENBLAS_NUM_THREADS')}))")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_NUM_THREADS", "_THREADS"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env | env_extra).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_command_line_asks_blas_for_one_thread_before_numpy_loads(tmp_path):
    pytest.importorskip("threadpoolctl")
    got = _blas_after_cli_run(tmp_path, {})
    assert got["status"] == 0 and got["openblas"] == "1"
    assert got["threads"] in ([], [1])          # [] only where NumPy has no BLAS to see


def test_a_thread_count_the_user_set_wins(tmp_path):
    pytest.importorskip("threadpoolctl")
    got = _blas_after_cli_run(tmp_path, {"OPENBLAS_NUM_THREADS": "2"})
    assert got["status"] == 0 and got["openblas"] == "2"


def test_single_threaded_blas_limits_blas_and_restores_it_each_time():
    """The controller is found once per process and still limits every run."""
    pytest.importorskip("threadpoolctl")
    code = ("import json, os\nfor v in ('OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', "
            "'OMP_NUM_THREADS'):\n    os.environ.pop(v, None)\n"
            "import numpy\nfrom threadpoolctl import threadpool_info, threadpool_limits\n"
            "from symderive.engine import mlp\n"
            "blas = lambda: sorted({i['num_threads'] for i in threadpool_info() "
            "if i['user_api'] == 'blas'})\n"
            "seen = []\nwith threadpool_limits(limits=2, user_api='blas'):\n"
            "    for _ in range(2):\n        with mlp.single_threaded_blas():\n"
            "            seen.append(blas())\n        seen.append(blas())\n"
            "print(json.dumps(seen))")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    if seen[0] == []:
        pytest.skip("NumPy has no BLAS threadpoolctl can see")
    assert seen == [[1], [2], [1], [2]]
