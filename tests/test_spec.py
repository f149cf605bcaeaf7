"""Spec loading and validation: defaults, and one clear line for every kind of bad input."""
from __future__ import annotations

import re

import pytest

from symderive.errors import SpecError
from symderive.spec import load_spec, parse_spec

GOOD = """\
title = "A question"
question = "Why?"

[network]
layers = [3, 4, 2]
activation = "relu"
output_activation = "sigmoid"
bias = false
loss = "bce"
samples = 2

[[hypothesis]]
name = "first"
layer = 1
units = [4, 2]
tie = ["outgoing", "incoming"]
zero = []

[check]
seed = 7
steps = 10
learning_rate = 0.5
"""

MINIMAL = """\
[network]
layers = [2, 3, 1]

[[hypothesis]]
layer = 1
units = [1, 3]
"""


def test_every_key_of_the_contract_is_read():
    spec = parse_spec(GOOD, "good.toml")
    assert spec.title == "A question" and spec.question == "Why?"
    net = spec.network
    assert net.layers == (3, 4, 2) and net.depth == 2
    assert (net.activation.name, net.output_activation.name) == ("relu", "sigmoid")
    assert net.bias is False and net.loss.name == "bce" and net.samples == 2
    (h,) = spec.hypotheses
    assert (h.name, h.layer, h.units) == ("first", 1, (4, 2))
    assert set(h.tie) == {"incoming", "outgoing"} and h.zero == ()
    assert (spec.check.seed, spec.check.steps, spec.check.learning_rate) == (7, 10, 0.5)
    assert net.groups() == ("incoming", "outgoing")


def test_defaults_are_filled_in():
    spec = parse_spec(MINIMAL, "dir/my_question.toml")
    net = spec.network
    assert net.to_json() == {"layers": [2, 3, 1], "activation": "tanh",
                             "output_activation": "identity", "bias": True, "loss": "mse",
                             "samples": 1}
    (h,) = spec.hypotheses
    assert h.tie == () and h.zero == () and h.name
    assert h.to_json() == {"name": h.name, "layer": 1, "units": [1, 3], "tie": [], "zero": []}
    assert (spec.check.seed, spec.check.steps, spec.check.learning_rate) == (0, 200, 0.05)
    assert spec.title and spec.question is None
    assert net.groups() == ("incoming", "bias", "outgoing")


def test_default_names_differ_between_hypotheses():
    text = MINIMAL + '\n[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["incoming"]\n'
    a, b = parse_spec(text).hypotheses
    assert a.name != b.name


def test_bundled_seed_spec_loads(tmp_path):
    from conftest import DERIVATIONS

    path = DERIVATIONS / "weight_symmetry.toml"
    spec = load_spec(str(path), path.read_bytes())
    assert [h.tie for h in spec.hypotheses][:3] == [("incoming", "bias"), ("outgoing",),
                                                    ("incoming", "bias", "outgoing")]
    assert spec.hypotheses[3].zero == ("outgoing",)


def test_spec_error_is_a_value_error_naming_file_field_and_line():
    with pytest.raises(SpecError) as info:
        parse_spec(MINIMAL.replace("units = [1, 3]", "units = [1, 9]"), "f.toml")
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.source, err.field, err.line) == ("f.toml", "hypothesis[1].units", 6)
    assert str(err).startswith("f.toml:6: hypothesis[1].units: ")


# --------------------------------------------------------------------------- bad specs

BASE = """\
[network]
layers = [2, 3, 1]
activation = "tanh"
bias = true

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming"]

[[hypothesis]]
layer = 1
units = [2, 3]
tie = ["outgoing"]
"""


def _edit(old: str, new: str, occurrence: int = 1) -> str:
    """BASE with the ``occurrence``-th ``old`` replaced by ``new``."""
    parts = BASE.split(old)
    assert len(parts) > occurrence, old
    return old.join(parts[:occurrence]) + new + old.join(parts[occurrence:])


#: (id, spec text or bytes, field named, what is allowed (a substring), line or None)
BAD = [
    ("layer-size-zero", _edit("[2, 3, 1]", "[2, 0, 1]"), "network.layers", "between 1", 2),
    ("layer-size-negative", _edit("[2, 3, 1]", "[2, -3, 1]"), "network.layers", "between 1", 2),
    ("layer-size-float", _edit("[2, 3, 1]", "[2, 2.5, 1]"), "network.layers", "integer", 2),
    ("layer-size-huge", _edit("[2, 3, 1]", "[2, 3, 100000000000]"), "network.layers",
     "between 1", 2),
    ("no-hidden-layer-one-output", _edit("[2, 3, 1]", "[2, 1]"), "hypothesis[1].units",
     "only one unit", 8),
    ("one-layer", _edit("[2, 3, 1]", "[2]"), "network.layers", "an input and an output", 2),
    ("layers-not-array", _edit("[2, 3, 1]", '"2,3,1"'), "network.layers", "array", 2),
    ("layers-missing", _edit("layers = [2, 3, 1]\n", ""), "network.layers", "required", 1),
    ("unknown-activation", _edit('"tanh"', '"mish"'), "network.activation", "sigmoid", 3),
    ("activation-number", _edit('"tanh"', "3"), "network.activation", "latex", 3),
    ("activation-bad-table", _edit('"tanh"', '{ tex = "z" }'), "network.activation",
     "latex", 3),
    ("unknown-output-activation", _edit("bias = true", 'bias = true\noutput_activation = "softmax"'),
     "network.output_activation", "identity", 5),
    ("unknown-loss", _edit("bias = true", 'bias = true\nloss = "hinge"'), "network.loss",
     "softmax_ce", 5),
    ("bce-needs-bounded-output", _edit("bias = true", 'bias = true\nloss = "bce"'),
     "network.output_activation", 'output_activation = "sigmoid"', 1),
    ("bce-with-tanh-output", _edit("bias = true", 'bias = true\nloss = "bce"\n'
                                                   'output_activation = "tanh"'),
     "network.output_activation", "(0, 1)", 6),
    ("bias-string", _edit("bias = true", 'bias = "yes"'), "network.bias", "true or false", 4),
    ("samples-zero", _edit("bias = true", "bias = true\nsamples = 0"), "network.samples",
     "between 1", 5),
    ("samples-float", _edit("bias = true", "bias = true\nsamples = 1.5"), "network.samples",
     "integer", 5),
    ("unknown-network-key", _edit("bias = true", "bias = true\nwidth = 3"), "network.width",
     "allowed keys", 5),
    ("unknown-top-key", 'author = "me"\n' + BASE, "author", "allowed keys", 1),
    ("network-not-table", 'network = 3\n[[hypothesis]]\nlayer = 1\nunits = [1, 2]\n', "network",
     "table", 1),
    ("network-missing", BASE.split("[[hypothesis]]", 1)[1].join(["[[hypothesis]]", ""]),
     "network", "[network]", None),
    ("title-not-string", "title = 5\n" + BASE, "title", "string", 1),
    ("question-not-string", "question = [1]\n" + BASE, "question", "string", 1),
    ("output-layer-of-one-unit", _edit("layer = 1", "layer = 2", 2), "hypothesis[2].units",
     "layer 2 has only one unit", 13),
    ("layer-past-output", _edit("layer = 1", "layer = 3", 2), "hypothesis[2].layer",
     "or the output layer, 2", 12),
    ("layer-zero", _edit("layer = 1", "layer = 0", 1), "hypothesis[1].layer", "between 1", 7),
    ("layer-bool", _edit("layer = 1", "layer = true", 1), "hypothesis[1].layer", "integer", 7),
    ("layer-missing", _edit("layer = 1\n", "", 2), "hypothesis[2].layer", "required", 11),
    ("units-same", _edit("[1, 2]", "[1, 1]"), "hypothesis[1].units", "distinct", 8),
    ("units-out-of-range", _edit("[2, 3]", "[2, 4]"), "hypothesis[2].units", "between 1 and 3",
     13),
    ("units-zero", _edit("[2, 3]", "[0, 3]"), "hypothesis[2].units", "between 1 and 3", 13),
    ("units-one", _edit("[1, 2]", "[1]"), "hypothesis[1].units", "two distinct units", 8),
    ("units-three", _edit("[1, 2]", "[1, 2, 3]"), "hypothesis[1].units", "two distinct", 8),
    ("units-missing", _edit("units = [2, 3]\n", ""), "hypothesis[2].units", "two distinct", 11),
    ("unknown-group", _edit('["incoming"]', '["weights"]'), "hypothesis[1].tie",
     "incoming, bias, outgoing", 9),
    ("groups-not-array", _edit('["incoming"]', '"incoming"'), "hypothesis[1].tie",
     "array", 9),
    ("group-twice", _edit('["outgoing"]', '["outgoing", "outgoing"]'), "hypothesis[2].tie",
     "twice", 14),
    ("bias-group-without-bias", _edit("bias = true", "bias = false").replace(
        '["outgoing"]', '["bias"]'), "hypothesis[2].tie", "bias = false", 14),
    ("tied-and-zeroed", _edit('tie = ["outgoing"]', 'tie = ["outgoing"]\nzero = ["outgoing"]'),
     "hypothesis[2].zero", "choose one", 15),
    ("unknown-hypothesis-key", _edit('tie = ["outgoing"]', 'ties = ["outgoing"]'),
     "hypothesis[2].ties", "allowed keys", 14),
    ("hypothesis-name-number", _edit("layer = 1", "name = 7\nlayer = 1", 2),
     "hypothesis[2].name", "string", 12),
    ("hypothesis-missing", BASE.split("[[hypothesis]]")[0], "hypothesis", "[[hypothesis]]", None),
    ("hypothesis-not-table", "hypothesis = [1]\n" + BASE.split("[[hypothesis]]")[0],
     "hypothesis[1]", "table", 1),
    ("hypothesis-single-table", BASE.split("[[hypothesis]]")[0] + "[hypothesis]\nlayer = 1\n",
     "hypothesis", "[[hypothesis]]", 6),
    ("hypothesis-empty-array", "hypothesis = []\n" + BASE.split("[[hypothesis]]")[0],
     "hypothesis", "[[hypothesis]]", 1),
    ("network-array-of-tables", BASE.replace("[network]", "[[network]]"), "network", "table", 1),
    ("unknown-check-key", BASE + "\n[check]\nepochs = 3\n", "check.epochs", "allowed keys", 17),
    ("learning-rate-negative", BASE + "\n[check]\nlearning_rate = -1\n", "check.learning_rate",
     "(0, 10]", 17),
    ("learning-rate-nan", BASE + "\n[check]\nlearning_rate = nan\n", "check.learning_rate",
     "(0, 10]", 17),
    ("seed-negative", BASE + "\n[check]\nseed = -1\n", "check.seed", "between 0", 17),
    ("steps-string", BASE + '\n[check]\nsteps = "many"\n', "check.steps", "integer", 17),
    ("optimizer-unknown", BASE + '\n[check]\noptimizer = "rmsprop"\n', "check.optimizer",
     "sgd", 17),
    ("check-not-table", "check = 5\n" + BASE, "check", "table", 1),
    ("dotted-key", "network.layers = [2, 0, 1]\n" + BASE.split("bias = true\n", 1)[1],
     "network.layers", "between 1", 1),
    ("quoted-key", _edit("layers", '"layers"').replace("3, 1]", "3, 1, 0]"),
     "network.layers", "between 1", 2),
    ("toml-unclosed-array", _edit("[2, 3, 1]", "[2, 3, 1"), None, "invalid TOML", 3),
    ("toml-duplicate-key", _edit("bias = true", "bias = true\nbias = false"), None,
     "invalid TOML", 5),
    ("toml-bad-value", _edit("bias = true", "bias = yes"), None, "invalid TOML", 4),
    ("toml-duplicate-table", BASE + "\n[network]\n", None, "invalid TOML", 16),
    ("toml-deeply-nested", "x = " + "[" * 5000 + "]" * 5000 + "\n", None, "TOML", None),
    ("newline-in-key", _edit("bias = true", 'bias = true\n"a\\nb" = 1'), "network.a",
     "allowed keys", None),
    ("line-separator-in-key", _edit("bias = true", 'bias = true\n"a\\u2028b" = 1'),
     "network.a", "allowed keys", None),
    ("empty-file", "", None, "[network]", None),
    ("only-comments", "# nothing here\n\n", None, "[network]", None),
    ("invalid-utf8", b'title = "caf\xe9"\n' + BASE.encode(), None, "UTF-8", 1),
    ("binary-garbage", bytes(range(256)) * 4, None, "UTF-8", None),
    ("nul-bytes", b"\x00\x00\x00\x00", None, "TOML", 1),
    ("utf16-file", BASE.encode("utf-16"), None, "UTF-8", None),
]


def _check_message(err: str, path: str, field, allowed: str, line) -> None:
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line: {err!r}"
    assert "Traceback" not in err
    assert path in err, f"file not named: {err!r}"
    if field is not None:
        assert field in err, f"field {field} not named: {err!r}"
    assert allowed in err, f"allowed values ({allowed!r}) not said: {err!r}"
    if line is not None:
        assert f"{path}:{line}:" in err, f"line {line} not given: {err!r}"
    for ch in err[:-1]:
        assert ch.isprintable(), f"unprintable {ch!r} in {err!r}"


def test_there_are_enough_bad_specs():
    assert len(BAD) >= 25
    assert len({case[0] for case in BAD}) == len(BAD)


@pytest.mark.parametrize("name,text,field,allowed,line", BAD, ids=[b[0] for b in BAD])
def test_bad_spec_is_one_clear_line_with_exit_status_2(tmp_path, cli, name, text, field,
                                                       allowed, line):
    path = tmp_path / f"{name}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    status, out, err = cli("derive", str(path), "--format", "json")
    assert status == 2
    assert out == ""
    _check_message(err, str(path), field, allowed, line)


def test_missing_file(tmp_path, cli):
    missing = tmp_path / "nope.toml"
    status, out, err = cli("derive", str(missing), "--format", "json")
    assert (status, out) == (2, "")
    _check_message(err, str(missing), None, "weight-symmetry", None)   # lists bundled names


def test_directory_as_spec(tmp_path, cli):
    """A directory derives every spec in it (an extension); misuse is still one clear line."""
    empty = tmp_path / "empty"
    empty.mkdir()
    status, out, err = cli("derive", str(empty), "--format", "json")
    assert (status, out) == (2, "")
    _check_message(err, str(empty), None, ".toml", None)
    full = tmp_path / "full"
    full.mkdir()
    (full / "a.toml").write_text(BASE)
    status, out, err = cli("derive", str(full), "--format", "json")
    assert (status, out) == (2, "")
    _check_message(err, str(full), None, "-o OUTDIR", None)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    status, out, err = cli("derive", str(full), "--format", "json", "-o", str(blocker))
    assert (status, out) == (2, "")
    _check_message(err, str(blocker), None, "directory", None)


def test_message_format_is_file_line_field_message(tmp_path, cli):
    path = tmp_path / "s.toml"
    path.write_text(_edit("[1, 2]", "[1, 7]"))
    _, _, err = cli("derive", str(path), "--format", "json")
    assert re.fullmatch(rf"symderive: {re.escape(str(path))}:8: hypothesis\[1\]\.units: "
                        r".*between 1 and 3.*\n", err)
