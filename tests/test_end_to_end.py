"""One end-to-end run per bundled derivation (derivations/*.toml, picked up automatically).

Each is derived through the CLI as JSON; the report must agree with the spec,
its statuses and verdicts must follow CONTRACT.md's rules, and every
``different`` witness is re-evaluated with the independent NumPy reference.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import tomllib

import numpy as np
import pytest
import sympy as sp

import reference_numpy as ref
from conftest import BUNDLED
from symderive.cli import main
from symderive.spec.functions import Y, YHAT, Z
from symderive.spec import load_spec

GROUPS = ("incoming", "bias", "outgoing")


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``symderive ARGV`` in this process (imports are shared, which saves time)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module", params=BUNDLED, ids=[p.stem for p in BUNDLED])
def bundled(request):
    """(spec path, parsed TOML, JSON report) of one bundled derivation."""
    path = request.param
    status, out, err = run_cli("derive", str(path), "--format", "json")
    assert (status, err) == (0, ""), err
    return path, tomllib.loads(path.read_text(encoding="utf-8")), json.loads(out)


def test_bundled_derivations_exist():
    assert any(p.name == "weight_symmetry.toml" for p in BUNDLED)


def test_report_restates_the_spec(bundled):
    _, toml, report = bundled
    net = toml["network"]
    expected = {"layers": net["layers"], "activation": net.get("activation", "tanh"),
                "output_activation": net.get("output_activation", "identity"),
                "bias": net.get("bias", True), "loss": net.get("loss", "mse"),
                "samples": net.get("samples", len(toml["data"]["inputs"]) if "data" in toml
                                   else 1)}   # with [data], samples is its number of rows
    assert report["network"] == expected
    if "title" in toml:
        assert report["title"] == toml["title"]
    hypotheses = toml.get("hypothesis", [])
    assert len(report["hypotheses"]) == len(hypotheses)
    for h, t in zip(report["hypotheses"], hypotheses):
        assert (h["layer"], h["units"]) == (t["layer"], t["units"])
        assert set(h["tie"]) == set(t.get("tie", [])) and set(h["zero"]) == set(t.get("zero", []))
        if "name" in t:
            assert h["name"] == t["name"]


def test_statuses_and_verdicts_follow_the_contract(bundled):
    _, _, report = bundled
    every = [g for g in GROUPS if report["network"]["bias"] or g != "bias"]
    depth = len(report["network"]["layers"]) - 1
    for h in report["hypotheses"]:
        # an output unit (layer = depth) has no outgoing group: CONTRACT.md, output units
        groups = [g for g in every if h["layer"] < depth or g != "outgoing"]
        assert list(h["groups"]) == groups
        for name, g in h["groups"].items():
            assert g["status"] in ("equal", "different", "undecided")
            if g["status"] == "different":
                assert g["witness"] is not None and g["difference_latex"] != "0"
            else:
                assert g["witness"] is None
            if g["status"] == "equal":
                assert g["difference_latex"] == "0"
        assert h["verdict"] == expected_verdict(h, groups)


def expected_verdict(h: dict, groups: list[str]) -> str:
    assumed = set(h["tie"]) | set(h["zero"])
    status = {g: v["status"] for g, v in h["groups"].items()}
    if any(status[g] == "different" for g in assumed):
        return "broken"
    if set(groups) <= assumed and all(s == "equal" for s in status.values()):
        return "preserved"
    return "undecided"


def test_every_witness_is_reevaluated_independently(bundled):
    path, _, report = bundled
    checked = 0
    for h in report["hypotheses"]:
        for name, g in h["groups"].items():
            if g["status"] == "different":
                net = _refnet(path, report["network"], g["witness"].get("instantiation"))
                ref.check_witness(net, h, name, g["witness"], report["network"]["samples"])
                checked += 1
    assert checked == sum(g["status"] == "different" for h in report["hypotheses"]
                          for g in h["groups"].values())


def _refnet(path, network: dict, instantiation: dict | None = None) -> ref.RefNet:
    """The reference network; LaTeX formulas are taken as parsed by the spec, but
    evaluated and differentiated here.  With ``activation = "any"`` or ``loss =
    "any"`` the witness names the concrete function it was found with."""
    spec = load_spec(str(path), path.read_bytes()).network
    network = dict(network)
    for key in ("activation", "loss"):
        if network[key] == "any":
            assert instantiation and instantiation.get(key) in (
                ref.ACTIVATIONS if key == "activation" else ref.LOSSES), instantiation
            network[key] = instantiation[key]

    def act(value, parsed):
        if isinstance(value, str):
            return ref.ACTIVATIONS[value], value == "relu"
        f = sp.lambdify(Z, parsed.expr, modules="mpmath")
        df = sp.lambdify(Z, sp.diff(parsed.expr, Z), modules="mpmath")
        return (lambda u: float(f(u)), lambda u: float(df(u))), not parsed.smooth

    hidden, hk = act(network["activation"], spec.activation)
    output, ok = act(network["output_activation"], spec.output_activation)
    if isinstance(network["loss"], str):
        loss = ref.LOSSES[network["loss"]]
    else:
        ell = sp.lambdify((YHAT, Y), spec.loss.expr, modules="mpmath")
        dell = sp.lambdify((YHAT, Y), sp.diff(spec.loss.expr, YHAT), modules="mpmath")

        def loss(yhat, y):
            return (math.fsum(float(ell(p, t)) for p, t in zip(yhat, y)),
                    np.array([float(dell(p, t)) for p, t in zip(yhat, y)]))
    return ref.RefNet(tuple(network["layers"]), hidden, output, loss, network["bias"], (hk, ok))


# ------------------------------------------------------------------ the seed question


@pytest.fixture(scope="module")
def seed_report():
    status, out, err = run_cli("derive", "weight-symmetry", "--format", "json")
    assert (status, err) == (0, ""), err
    return json.loads(out)


def test_seed_verdicts(seed_report):
    assert [h["verdict"] for h in seed_report["hypotheses"]] == [
        "broken", "broken", "preserved", "preserved", "broken"]


def test_seed_incoming_difference_has_the_outgoing_weight_gap(seed_report):
    first = seed_report["hypotheses"][0]["groups"]
    assert r"W^{(2)}_{11} - W^{(2)}_{12}" in first["incoming"]["difference_latex"]
    assert first["incoming"]["status"] == first["bias"]["status"] == "different"
    assert first["outgoing"]["status"] == "equal"


def test_seed_witness_difference_is_proportional_to_the_outgoing_gap(seed_report):
    """README: D = (v1 − v2) · g σ'(z) x at tied incoming weights and bias, checked here
    on the witness with the reference network."""
    h = seed_report["hypotheses"][0]
    w = h["groups"]["incoming"]["witness"]
    net = ref.refnet(seed_report["network"])
    p = ref.as_arrays(w["parameters"])
    x, y = np.array(w["inputs"][0]), np.array(w["targets"][0])
    z, a = ref.forward_sample(net, p, x)
    v1, v2 = p["W2"][0]
    g = a[-1][0] - y[0]                         # dℓ/dŷ of ½(ŷ − y)², identity output
    expected = (v1 - v2) * g * (1 - np.tanh(z[1][0]) ** 2) * x
    np.testing.assert_allclose(w["difference"], expected, rtol=1e-9)


def test_facts_are_reported_when_the_spec_has_them(bundled):
    """[[fact]] tables (an extension) come back one entry each, with a verdict."""
    _, toml, report = bundled
    facts = toml.get("fact", [])
    if not facts:
        assert not report.get("facts")
        return
    assert len(report["facts"]) == len(facts)
    for fact, entry in zip(facts, report["facts"]):
        assert entry["kind"] == fact["kind"]
        assert isinstance(entry["verdict"], str) and entry["verdict"]   # wording is per kind
