"""Witnesses: re-evaluated with the independent NumPy reference, never trusted as given."""
from __future__ import annotations

import numpy as np
import pytest

import reference_numpy as ref
from symderive.spec.functions import ACTIVATIONS, Loss
from symderive.spec import Hypothesis, NetworkSpec
from symderive.engine.witness import find_witness

#: (layers, activation, output activation, loss, bias, samples)
NETS = [
    ((2, 3, 2), "tanh", "identity", "mse", True, 1),
    ((2, 3, 2), "relu", "identity", "softmax_ce", True, 2),
    ((1, 2, 3, 1), "relu", "relu", "mse", False, 2),
    ((3, 2, 2), "sigmoid", "sigmoid", "bce", True, 1),
    ((2, 2, 3, 1), "softplus", "identity", "mse", False, 1),
]
#: (tie, zero, group) whose difference is not identically zero on the nets above
#: (without bias, tying or zeroing the incoming weights alone also ties z, so the
#: outgoing difference σ(z_i) − σ(z_j) vanishes: those pairs are left out below).
DIFFERING = [
    ((), (), "incoming"),
    (("incoming", "bias"), (), "incoming"),
    (("incoming",), (), "outgoing"),
    (("outgoing",), (), "incoming"),
    ((), ("outgoing",), "outgoing"),
    (("outgoing",), ("incoming",), "outgoing"),
]


def _spec(layers, act, out, loss, bias_, samples) -> NetworkSpec:
    return NetworkSpec(layers, ACTIVATIONS[act], ACTIVATIONS[out], bias_, Loss(loss), samples)


def _refnet(layers, act, out, loss, bias_, samples) -> ref.RefNet:
    return ref.RefNet(layers, ref.ACTIVATIONS[act], ref.ACTIVATIONS[out], ref.LOSSES[loss],
                      bias_, (act == "relu", out == "relu"))


def _hyp(net, tie, zero) -> Hypothesis:
    layers, bias_ = net[0], net[4]
    tie = tuple(g for g in tie if bias_ or g != "bias")
    layer = len(layers) - 2          # the last hidden layer
    return Hypothesis("h", layer, (2, 1), tie, zero)


CASES = [(net, *d) for net in NETS for d in DIFFERING
         if net[4] or not ("incoming" in d[0] + d[1] and d[2] == "outgoing")]


@pytest.mark.parametrize("net,tie,zero,group", CASES,
                         ids=[f"{c[0][1]}-{c[0][3]}-tie{c[1]}-zero{c[2]}-{c[3]}" for c in CASES])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_witness_reevaluated_independently(net, tie, zero, group, seed):
    hyp = _hyp(net, tie, zero)
    w = find_witness(_spec(*net), hyp, group, seed)
    assert w is not None, "a difference that is not identically zero should get a witness"
    data = w.to_json()
    assert set(data) == {"parameters", "inputs", "targets", "difference"}
    expected_keys = {f"{p}{l}" for l in range(1, len(net[0]))
                     for p in (("W", "b") if net[4] else ("W",))}
    assert set(data["parameters"]) == expected_keys
    ref.check_witness(_refnet(*net), hyp.to_json(), group, data, samples=net[5])


def _quarter(values) -> bool:
    a = np.asarray(values, dtype=float) * 4
    return bool(np.all(a == np.round(a)))


@pytest.mark.parametrize("net", NETS[:3], ids=[f"{n[1]}-{n[3]}" for n in NETS[:3]])
def test_witness_values_are_quarter_integers(net):
    w = find_witness(_spec(*net), _hyp(net, ("incoming",), ()), "incoming", 3).to_json()
    assert all(_quarter(v) for v in w["parameters"].values())
    assert _quarter(w["inputs"])
    if net[3] == "softmax_ce":
        assert all(sorted(y) == [0.0] * (len(y) - 1) + [1.0] for y in w["targets"])


@pytest.mark.parametrize("tie,zero", [
    (("incoming", "bias", "outgoing"), ()),
    (("incoming", "bias"), ("outgoing",)),
    ((), ("incoming", "bias", "outgoing")),
])
@pytest.mark.parametrize("group", ["incoming", "bias", "outgoing"])
def test_no_witness_when_the_units_are_identical(tie, zero, group):
    """With every group tied or zeroed the difference is exactly 0: no point may claim otherwise."""
    net = NETS[0]
    assert find_witness(_spec(*net), _hyp(net, tie, zero), group, 0) is None


def test_witness_search_is_deterministic():
    net = NETS[1]
    hyp = _hyp(net, ("incoming",), ())
    a = find_witness(_spec(*net), hyp, "bias", 42)
    b = find_witness(_spec(*net), hyp, "bias", 42)
    assert a is not None and a.to_json() == b.to_json()


def test_relu_witnesses_avoid_kinks_on_a_kink_prone_network():
    """Tiny ReLU nets on a quarter grid often hit z = 0 exactly; witnesses must not."""
    net = ((1, 2, 1), "relu", "relu", "mse", True, 2)
    found = 0
    for seed in range(40):
        hyp = Hypothesis("h", 1, (1, 2), ("incoming",), ())
        w = find_witness(_spec(*net), hyp, "bias", seed)
        if w is not None:
            ref.check_witness(_refnet(*net), hyp.to_json(), "bias", w.to_json(), samples=2)
            found += 1
    assert found >= 30


@pytest.mark.parametrize("net", [
    ((3, 10, 2), "relu", "identity", "softmax_ce", True, 2),
    ((9, 12, 3, 1), "tanh", "sigmoid", "bce", False, 1),
], ids=["wide-relu", "wide-tanh"])
@pytest.mark.parametrize("tie,zero,group", [
    (("incoming",), (), "incoming"),
    (("outgoing",), (), "outgoing"),
    ((), ("outgoing",), "incoming"),
])
def test_witnesses_of_wide_networks(net, tie, zero, group):
    """Wide networks get Gaussian values instead of the quarter grid: still re-evaluated."""
    hyp = Hypothesis("h", 1, (7, 2), tie, zero)
    w = find_witness(_spec(*net), hyp, group, 1)
    if zero == ("outgoing",):
        assert w is None      # δ_i = δ_j = 0 when both outgoing weight columns are zero
        return
    assert w is not None
    ref.check_witness(_refnet(*net), hyp.to_json(), group, w.to_json(), samples=net[5])


def test_witnesses_avoid_kinks_of_latex_activations_away_from_zero():
    from symderive.spec import parse_spec

    spec = parse_spec("[network]\nlayers = [1, 2, 1]\nsamples = 2\n"
                      "activation = { latex = '\\max(0, z - 1)' }\n"
                      "[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ['incoming']\n").network
    shifted = (lambda u: max(0.0, u - 1.0), lambda u: 1.0 if u > 1 else 0.0)
    net = ref.RefNet((1, 2, 1), shifted, ref.ACTIVATIONS["identity"], ref.LOSSES["mse"], True)
    hyp = Hypothesis("h", 1, (1, 2), ("incoming",), ())
    on_kink = []
    for seed in range(40):
        w = find_witness(spec, hyp, "bias", seed)
        assert w is not None
        zs = ref.preactivations(net, w.parameters, w.inputs)
        if any(np.any(np.abs(z[1] - 1.0) < ref.KINK) for z in zs):
            on_kink.append(seed)
        else:
            ref.check_witness(net, hyp.to_json(), "bias", w.to_json(), samples=2)
    assert on_kink == []
