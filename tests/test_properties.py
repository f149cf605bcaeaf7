"""Property-based tests (Hypothesis): random valid specs and random broken ones.

1. Random small valid specs: the symbolic verdicts agree with numbers computed
   another way.  A ``broken`` hypothesis's units separate in training (the
   gap exceeds 1e-6 at some step); a ``preserved`` one's never do (the gap
   stays at most 1e-9); every ``different`` group's witness is reproduced by
   the independent NumPy network of tests/reference_numpy.py.
2. Random mutations of valid specs (values swapped for hostile ones, lines
   dropped or doubled, bytes inserted, text cut): ``symderive derive`` exits
   0, 1 or 2 -- with 2, one line on stderr -- and never lets an exception out.

Profiles: ``dev`` (the default, a few dozen examples so the suite stays quick)
and ``ci`` (1000 examples each, derandomized so CI is reproducible), chosen by
the environment variable HYPOTHESIS_PROFILE (.ci/run sets ``ci``).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import reference_numpy as ref
from conftest import BUNDLED
from symderive import guards
from symderive.api import derive
from symderive.cli import main
from symderive.numeric.agreement import BROKEN_LIMIT, PRESERVED_LIMIT
from symderive.engine.generic import instantiated
from symderive.numeric.agreement import inconclusive
from symderive.render.json import report_dict
from symderive.spec import parse_spec
from symderive.engine.symmetry import BROKEN, DIFFERENT, PRESERVED

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                     HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=30, **_COMMON)
settings.register_profile("ci", max_examples=1000, derandomize=True, print_blob=True,
                          **_COMMON)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

#: (output activation, loss) pairs that make sense together.
HEADS = [("identity", "mse"), ("tanh", "mse"), ("sigmoid", "bce"), ("identity", "softmax_ce"),
         ("sigmoid", "mse")]
#: Hidden activations of the random specs (ReLU: see test_dead_relu_units_..., below).
HIDDEN = ["tanh", "sigmoid", "softplus", "identity", "relu"]
GROUPS = ("incoming", "bias", "outgoing")


# ------------------------------------------------------------------ valid specs


@st.composite
def hypotheses(draw, layers: tuple[int, ...], bias: bool):
    depth = len(layers) - 1    # the output layer too: its units have no outgoing group
    layer = draw(st.sampled_from([l for l in range(1, depth + 1) if layers[l] >= 2]))
    units = draw(st.lists(st.integers(1, layers[layer]), min_size=2, max_size=2, unique=True))
    groups = [g for g in GROUPS if (bias or g != "bias") and (layer < depth or g != "outgoing")]
    role = {g: draw(st.sampled_from(["tie", "zero", "free"])) for g in groups}
    if draw(st.sampled_from([True, False, False])):   # all tied: the 'preserved' case
        role = {g: "tie" for g in groups}
    return {"layer": layer, "units": units,
            "tie": [g for g in groups if role[g] == "tie"],
            "zero": [g for g in groups if role[g] == "zero"]}


@st.composite
def valid_specs(draw) -> str:
    """TOML of a small valid spec (widths 1-3, zero to two hidden layers, 1-3 samples);
    without a hidden layer every hypothesis is on the output layer, of 2 or 3 units."""
    hidden = draw(st.lists(st.integers(2, 3), min_size=0, max_size=2))
    layers = (draw(st.integers(1, 3)), *hidden, draw(st.integers(1 if hidden else 2, 3)))
    bias = draw(st.booleans())
    out_act, loss = draw(st.sampled_from(HEADS))
    if loss == "softmax_ce" and layers[-1] == 1:
        layers = layers[:-1] + (2,)
    hyps = draw(st.lists(hypotheses(layers, bias), min_size=1, max_size=2))
    lines = ["[network]", f"layers = {list(layers)}",
             f'activation = "{draw(st.sampled_from(HIDDEN))}"',
             f'output_activation = "{out_act}"', f"bias = {str(bias).lower()}",
             f'loss = "{loss}"', f"samples = {draw(st.integers(1, 3))}"]
    for h in hyps:
        lines += ["", "[[hypothesis]]"] + [f"{k} = {json.dumps(v)}" for k, v in h.items()]
    lines += ["", "[check]", f"seed = {draw(st.integers(0, 2**16))}",
              f"steps = {draw(st.integers(10, 40))}",
              f"learning_rate = {draw(st.sampled_from([0.01, 0.05, 0.1]))}",
              f'optimizer = "{draw(st.sampled_from(["sgd", "momentum", "adam"]))}"']
    return "\n".join(lines) + "\n"


def reproduce_witness(network: dict, hyp: dict, group: str, witness: dict) -> np.ndarray:
    """The group's gradient difference at the witness, by the reference network."""
    net = ref.refnet(network)
    params = ref.as_arrays(witness["parameters"])
    return ref.group_difference(net, params, witness["inputs"], witness["targets"],
                                hyp["layer"], hyp["units"], group)


@PROFILE
@given(text=valid_specs())
def test_symbolic_verdicts_agree_with_the_numbers(text):
    note(text)
    spec = parse_spec(text, "random.toml")
    d = derive(spec)
    report = report_dict(d)
    for result, numeric, hyp in zip(d.results, d.numeric, report["hypotheses"]):
        event(f"verdict {result.verdict}")
        gaps = numeric.training.gaps
        diverged = numeric.training.diverged_at_step is not None
        # the run may fail to show a broken verdict for reasons that are no contradiction
        # (a small gradient difference over few steps, say): the report calls that
        # inconclusive, and the witness below is what must reproduce
        unseen = inconclusive(instantiated(spec).network, result, numeric.training)
        if result.verdict == BROKEN and not diverged and not unseen:
            assert max(gaps) > BROKEN_LIMIT, f"broken, but the gap stayed {max(gaps):.3g}"
        if result.verdict == PRESERVED:
            assert max(gaps) <= PRESERVED_LIMIT, f"preserved, but the gap reached {max(gaps):.3g}"
        for group, claim in hyp["groups"].items():
            if claim["status"] != DIFFERENT:
                continue
            witness = claim["witness"]
            mine = reproduce_witness(report["network"], hyp, group, witness)
            np.testing.assert_allclose(mine, witness["difference"], rtol=1e-6, atol=1e-9)
            assert np.max(np.abs(mine)) > 1e-9, "the witness's difference is zero"
    assert d.agreement, [n.problems for n in d.numeric]


DEAD_RELU = """\
[network]
layers = [1, 2, 1]
activation = "relu"

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming", "bias"]

[check]
steps = 10
learning_rate = 0.01
"""


def test_dead_relu_units_at_the_start_are_not_a_contradiction():
    d = derive(parse_spec(DEAD_RELU, "dead.toml"))
    assert d.results[0].verdict == BROKEN
    assert d.agreement, d.numeric[0].problems


# ------------------------------------------------------------------ mutations

#: Values a stranger (or a fuzzer) might put anywhere.
NASTY = ["0", "-1", "1", "2", "4097", "9223372036854775807", "-9223372036854775808",
         "1e308", "-0.0", "nan", "inf", "0.5", '""', '"x"', '"any"', '"relu"', '"bias"',
         "true", "false", "[]", "[[]]", "[1]", "[1, 1]", "[0, 1]", "[2, 2, 1]", "[1, 2, 3]",
         '["incoming"]', '["bias", "bias"]', "{}", "{ latex = 'z' }",
         "{ latex = '\\frac{z}{1+|z|}' }", "{ latex = 'z^{999999}' }",
         "{ latex = \"__import__('os').system('true')\" }", "{ latex = '\\input{/etc/passwd}' }",
         '"\\u0000\\u001b[2J"', "1979-05-27", "'''multi\nline'''", '"' + "x" * 3000 + '"']
JUNK = ["\x00", "\xff", "[", "]", "=", '"', "'", "{", "\\", "\n[[hypothesis]]\n", "\n[network]\n",
        "#", "\u2028", "\ufeff", "\U0001F600"]


@st.composite
def mutated(draw) -> bytes:
    """A valid spec (bundled or random) with one to three random mutations."""
    if draw(st.booleans()):
        text = draw(st.sampled_from(BUNDLED)).read_text(encoding="utf-8")
    else:
        text = draw(valid_specs())
    for _ in range(draw(st.integers(1, 3))):
        text = draw(st.sampled_from(MUTATIONS))(draw, text)
    return text.encode("utf-8", errors="surrogatepass")


def _value(draw, text):
    """Replace the value of one key = value line."""
    lines = text.split("\n")
    keyed = [k for k, line in enumerate(lines) if re.match(r"\s*[\w\"'.-]+\s*=", line)]
    if not keyed:
        return text
    k = draw(st.sampled_from(keyed))
    key = lines[k].split("=", 1)[0]
    lines[k] = f"{key}= {draw(st.sampled_from(NASTY))}"
    return "\n".join(lines)


def _drop_line(draw, text):
    lines = text.split("\n")
    del lines[draw(st.integers(0, len(lines) - 1))]
    return "\n".join(lines)


def _double_line(draw, text):
    lines = text.split("\n")
    k = draw(st.integers(0, len(lines) - 1))
    return "\n".join(lines[:k + 1] + lines[k:])


def _insert(draw, text):
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(JUNK)) + text[at:]


def _cut(draw, text):
    return text[:draw(st.integers(0, len(text)))]


def _rename_key(draw, text):
    words = sorted(set(re.findall(r"^\s*(\w+)\s*=", text, re.M)))
    if not words:
        return text
    old = draw(st.sampled_from(words))
    new = draw(st.sampled_from(["layer", "layers", "units", "tie", "zero", "name", "bias",
                                "activations", "sample", "Layers", "latex"]))
    return re.sub(rf"^(\s*){old}(\s*=)", rf"\g<1>{new}\g<2>", text, count=1, flags=re.M)


MUTATIONS = [_value, _value, _drop_line, _double_line, _insert, _cut, _rename_key]


def run_cli(path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["derive", str(path), "--format", "json"])
    return status, out.getvalue(), err.getvalue()


#: Mutants cheaper than this are derived in full; dearer ones only read and guarded
#: (the guards' own limits allow runs of a minute, too long for a thousand examples).
CHEAP_SYMBOLIC, CHEAP_NUMERIC = 20_000, 1e8


@pytest.fixture(scope="module")
def mutant(tmp_path_factory):
    """The file every mutant is written to in turn."""
    return tmp_path_factory.mktemp("mutants") / "mutant.toml"


@PROFILE
@given(data=mutated())
def test_a_mutated_spec_exits_0_1_or_2_and_never_raises(mutant, data):
    path = mutant
    path.write_bytes(data)
    from symderive.cli.main import read_spec
    from symderive.errors import SpecError

    try:
        spec = read_spec(str(path))
    except SpecError:
        spec = None
    if spec is not None and (guards.symbolic_work(spec) > CHEAP_SYMBOLIC
                             or guards.numeric_work(spec) > CHEAP_NUMERIC):
        with contextlib.suppress(SpecError):
            guards.check_resources(spec, data)     # refusing or passing, never raising else
        event("dear: only read and guarded")
        return
    status, out, err = run_cli(path)
    event(f"exit status {status}")
    assert status in (0, 1, 2), status
    if status == 2:
        assert out == "" and err.count("\n") == 1 and err.startswith("symderive: "), err
        assert "Traceback" not in err
    else:
        json.loads(out)


def test_the_ci_profile_runs_at_least_1000_examples():
    assert settings.get_profile("ci").max_examples >= 1000


# ------------------------------------------------------------------ LaTeX activations

#: Fewer examples than the other properties: each one parses LaTeX and trains.
LATEX_PROFILE = settings(PROFILE, max_examples=min(PROFILE.max_examples, 12))


@st.composite
def latex_specs(draw) -> tuple[str, str]:
    """(TOML, activation): a small valid spec whose hidden activation is drawn from the
    LaTeX activations of the fuzz campaign (erf, cases, |z|, max, shifted and leaky
    ReLU, ELU, softsign, z^2, sin), with ordinary and degenerate [check] values."""
    activation = draw(st.sampled_from(sorted(ref.LATEX_ACTIVATIONS)))
    hidden = draw(st.lists(st.integers(2, 3), min_size=1, max_size=2))
    layers = (draw(st.integers(1, 3)), *hidden, draw(st.integers(1, 2)))
    out_act, loss = draw(st.sampled_from(HEADS))
    bias = draw(st.booleans())
    hyp = draw(hypotheses(layers, bias))
    lines = ["[network]", f"layers = {list(layers)}", f"activation = {{ latex = '{activation}' }}",
             f'output_activation = "{out_act}"', f"bias = {str(bias).lower()}",
             f'loss = "{loss}"', f"samples = {draw(st.integers(1, 2))}", "", "[[hypothesis]]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in hyp.items()]
    # degenerate but valid checks too: no steps, tiny and subnormal learning rates
    steps = draw(st.sampled_from([0, 1, 10, 20, 30]))
    rate = draw(st.sampled_from([0.01, 0.05, 0.1, 0.1, 5e-8, 1e-310]))
    lines += ["", "[check]", f"seed = {draw(st.integers(0, 2**16))}", f"steps = {steps}",
              f"learning_rate = {rate}",
              f'optimizer = "{draw(st.sampled_from(["sgd", "momentum", "adam"]))}"']
    return "\n".join(lines) + "\n", activation


@LATEX_PROFILE
@given(case=latex_specs())
def test_latex_activations_never_crash_or_falsely_contradict(case, tmp_path_factory):
    """No traceback; exit 0 (these specs are valid and the proofs right, so exit 1 would
    be a false contradiction); every `different` witness reproduces in the independent
    reference network with hand-written activations."""
    text, activation = case
    note(text)
    path = tmp_path_factory.mktemp("latex") / "spec.toml"
    path.write_text(text)
    status, out, err = run_cli(path)
    assert status == 0, err
    assert "Traceback" not in err and "Warning" not in err
    report = json.loads(out)
    f, df, _ = ref.LATEX_ACTIVATIONS[activation]
    network = report["network"]
    net = ref.RefNet(tuple(network["layers"]), (f, df),
                     ref.ACTIVATIONS[network["output_activation"]], ref.LOSSES[network["loss"]],
                     bool(network["bias"]))
    for hyp in report["hypotheses"]:
        event(f"verdict {hyp['verdict']}")
        assert hyp["numeric"]["problems"] == []
        for group, claim in hyp["groups"].items():
            if claim["status"] != DIFFERENT:
                continue
            w = claim["witness"]
            mine = ref.group_difference(net, ref.as_arrays(w["parameters"]), w["inputs"],
                                        w["targets"], hyp["layer"], hyp["units"], group)
            np.testing.assert_allclose(mine, w["difference"], rtol=1e-6, atol=1e-9)
            assert np.max(np.abs(mine)) > 1e-9, "the witness's difference is zero"
