"""Resource guards (refuse up front, unless --force) and progress lines (terminal only)."""
from __future__ import annotations

import io
import json
import sys

import pytest

from conftest import BUNDLED, spec_toml
from symderive import guards
from symderive.cli.main import read_spec
from symderive.errors import SpecError
from symderive.spec import parse_spec

TIED = {"name": "all tied", "layer": 1, "units": [1, 2],
        "tie": ["incoming", "bias", "outgoing"]}


def spec_text(activation: str = '"tanh"', loss: str = '"mse"', **kwargs) -> str:
    """TOML of a spec; ``activation`` and ``loss`` are TOML values (a formula is a table)."""
    kwargs.setdefault("hypotheses", [TIED])
    text = spec_toml(**kwargs)
    return (text.replace('activation = "tanh"', f"activation = {activation}", 1)
            .replace('loss = "mse"', f"loss = {loss}", 1))


def spec_of(**kwargs):
    return parse_spec(spec_text(**kwargs), "s.toml")


def latex(formula: str) -> str:
    """A formula as a TOML inline table."""
    return f"{{ latex = '{formula}' }}"


# ------------------------------------------------------------------ the limits


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_derivation_is_within_the_limits(path):
    assert guards.refusals(read_spec(str(path))) == []


def test_exponents_up_to_the_limit_pass_and_beyond_are_refused():
    ok = spec_of(activation=latex(f"z^{{{guards.MAX_EXPONENT}}} + z"))
    assert guards.refusals(ok) == []
    over = spec_of(activation=latex(f"(1 + z)^{{{guards.MAX_EXPONENT + 1}}}"))
    [refusal] = guards.refusals(over)
    assert refusal.field == "network.activation.latex"
    assert f"exponent of {guards.MAX_EXPONENT + 1}" in refusal.message
    assert f"limit of {guards.MAX_EXPONENT}" in refusal.message


def test_a_rational_exponent_counts_its_numerator():
    """(1 + z)^{301/3} expands like (1 + z)^{100}; a root such as ^{1/1000} does not expand
    (of 1 + z², which is positive: (1 + z)^{1/1000} is not real for z < −1 and is refused)."""
    assert guards.refusals(spec_of(activation=latex(r"(1 + z^2)^{\frac{1}{1000}}"))) == []
    [refusal] = guards.refusals(spec_of(activation=latex(r"(1 + z)^{\frac{301}{3}}")))
    assert "exponent of 301" in refusal.message


def test_a_loss_formula_is_guarded_too():
    over = spec_of(loss=latex(r"(\hat{y} - y)^{400}"))
    assert [r.field for r in guards.refusals(over)] == ["network.loss.latex"]


def test_depth_parameters_and_next_width_limits():
    deep = spec_of(layers=(2,) + (3,) * guards.MAX_DEPTH + (1,))
    assert [r.field for r in guards.refusals(deep)] == ["network.layers"]
    assert "weight layers" in guards.refusals(deep)[0].message
    just = spec_of(layers=(2,) + (3,) * (guards.MAX_DEPTH - 1) + (1,))
    assert guards.refusals(just) == []
    wide = spec_of(layers=(2, 3, guards.MAX_NEXT_WIDTH + 1))
    [refusal] = guards.refusals(wide)
    assert refusal.field == "hypothesis[1].layer"
    assert f"{guards.MAX_NEXT_WIDTH + 1} units" in refusal.message
    assert guards.refusals(spec_of(layers=(2, 3, guards.MAX_NEXT_WIDTH))) == []
    big = spec_of(layers=(4096, 4096, 4))
    assert guards.parameters(big) > guards.MAX_PARAMETERS
    assert any("parameters" in r.message for r in guards.refusals(big))


def test_the_parameter_count_is_the_networks():
    from symderive.engine.network import Network

    tied = {**TIED, "tie": ["incoming"]}
    for layers, bias in [((2, 3, 1), True), ((4, 5, 6, 2), False), ((1, 2, 1), True)]:
        spec = spec_of(layers=layers, bias_=bias, hypotheses=[tied])
        assert guards.parameters(spec) == Network(spec.network).parameter_count()


def test_symbolic_work_grows_with_the_next_layer_the_formula_and_the_hypotheses():
    small = spec_of(layers=(2, 3, 4))
    wider = spec_of(layers=(2, 3, 400))
    formula = spec_of(layers=(2, 3, 4), activation=latex(r"\frac{z}{1+|z|} + \tanh(z)^{3}"))
    twice = spec_of(layers=(2, 3, 4), hypotheses=[TIED, TIED])
    base = guards.symbolic_work(small)
    assert guards.symbolic_work(wider) > base
    assert guards.symbolic_work(formula) > base
    # each hypothesis adds its own derivation; the loss's derivatives are taken once
    from symderive.cost import symbolic_parts

    one, = [w for f, w in symbolic_parts(small) if f.startswith("hypothesis")]
    assert [w for f, w in symbolic_parts(twice) if f.startswith("hypothesis")] == [one, one]
    # ... and the whole-loss steps its groups may reach, within the shared allowance
    from symderive.cost import whole_loss_steps
    from symderive.cost.facts import TERMS_PER_SECOND

    assert 0 < whole_loss_steps(small) < whole_loss_steps(twice)
    extra = (whole_loss_steps(twice) - whole_loss_steps(small)) * TERMS_PER_SECOND
    assert guards.symbolic_work(twice) == pytest.approx(base + one + extra)


def test_too_much_symbolic_work_names_generic_mode():
    formula = (r"\frac{z}{1+|z|} + \tanh(z)^{3}\sin(z) + \frac{e^{z}-e^{-z}}{e^{z}+e^{-z}}"
               r"\cdot\sqrt{1+z^{2}} + \log(1+e^{\sin(z)})")
    spec = spec_of(layers=(2, 4, 2048), activation=latex(formula),
                   hypotheses=[TIED, {**TIED, "units": [3, 4]}, {**TIED, "units": [1, 3]}])
    assert guards.symbolic_work(spec) > guards.MAX_SYMBOLIC_WORK
    [refusal] = guards.refusals(spec)
    assert refusal.field == "network.activation.latex"
    assert 'activation = "any"' in refusal.message and "--force" in refusal.message


def test_too_much_numeric_work_names_the_field_to_lower():
    steps = spec_of(layers=(64, 64, 10), samples=256, extra="\n[check]\nsteps = 100000\n")
    [refusal] = guards.refusals(steps)
    assert refusal.field == "check.steps"
    assert "lower [check] steps" in refusal.message
    samples = spec_of(layers=(256, 4096, 10), samples=1024)
    assert [r.field for r in guards.refusals(samples)] == ["network.samples"]
    assert guards.numeric_work(samples) > guards.MAX_NUMERIC_WORK
    half = spec_of(layers=(256, 4096, 10), samples=512)
    # per sample: the products; per parameter (draws, optimiser steps): the rest
    assert guards.numeric_work(samples) >= 1.9 * guards.numeric_work(half)


def test_check_resources_raises_a_located_spec_error():
    text = spec_text(activation=latex("z^{5000}"))
    spec = parse_spec(text, "s.toml")
    with pytest.raises(SpecError) as info:
        guards.check_resources(spec, text.encode())
    assert (info.value.source, info.value.field, info.value.line) == \
        ("s.toml", "network.activation.latex", 3)
    assert str(info.value).startswith("s.toml:3: network.activation.latex: has an exponent")


# ------------------------------------------------------------------ the CLI


def test_the_cli_refuses_with_exit_2_and_force_runs_it_anyway(cli, tmp_path):
    path = tmp_path / "power.toml"
    path.write_text(spec_text(layers=(2, 2, 1), activation=latex("z^{101} + z"),
                              extra="\n[check]\nsteps = 5\n"))
    status, out, err = cli("derive", str(path), "--format", "json")
    assert (status, out) == (2, "")
    assert err.startswith(f"symderive: {path}:3: network.activation.latex: has an exponent "
                          "of 101") and err.count("\n") == 1
    status, out, err = cli("derive", str(path), "--format", "json", "--force")
    assert status == 0, err
    assert json.loads(out)["hypotheses"][0]["verdict"] == "preserved"


def test_a_deep_network_runs_with_force(cli, tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text(spec_toml(layers=(2,) + (2,) * guards.MAX_DEPTH + (1,),
                              hypotheses=[TIED], extra="\n[check]\nsteps = 3\n"))
    assert cli("derive", str(path), "--format", "json")[0] == 2
    status, out, _ = cli("derive", str(path), "--format", "json", "--force")
    assert status == 0
    assert len(json.loads(out)["network"]["layers"]) == guards.MAX_DEPTH + 2


# ------------------------------------------------------------------ progress


class FakeTerminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def clock_ticking():
    t = iter(range(1000))
    return lambda: float(next(t))


def test_progress_writes_on_a_terminal_and_not_elsewhere():
    tty = FakeTerminal()
    guards.Progress(tty, clock=clock_ticking())("hello")
    assert tty.getvalue() == "symderive: hello (1.0 s)\n"
    pipe = io.StringIO()
    guards.Progress(pipe)("hello")
    assert pipe.getvalue() == ""
    quiet = FakeTerminal()
    guards.Progress(quiet, enabled=False)("hello")
    assert quiet.getvalue() == ""


def test_progress_makes_spec_text_one_short_printable_line():
    tty = FakeTerminal()
    guards.Progress(tty)('hypothesis "\x1b[2J\x07evil\nname' + "x" * 500 + '"')
    line = tty.getvalue()
    assert line.count("\n") == 1 and "\x1b" not in line and "\x07" not in line
    assert "\\x1b[2J" in line and "..." in line
    assert len(line) < guards.LINE_CHARS + 40


def test_the_cli_shows_one_line_per_hypothesis_on_a_terminal_only(cli, monkeypatch, capsys):
    spec = BUNDLED[0].parent / "weight_symmetry.toml"
    tty = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", tty)
    status, out, _ = cli("derive", str(spec), "--format", "json")
    assert status == 0
    json.loads(out)                                  # stdout is the report alone
    lines = tty.getvalue().splitlines()
    hypotheses = [line for line in lines if "] hypothesis " in line]
    n = len(read_spec(str(spec)).hypotheses)
    assert [h.split(" hypothesis ")[0] for h in hypotheses] == \
        [f"symderive: [{k}/{n}]" for k in range(1, n + 1)]
    assert '"identical incoming weights and bias only"' in hypotheses[0]
    assert any("numeric cross-check" in line for line in lines)
    assert all(line.startswith("symderive: ") for line in lines)

    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    status, out, _ = cli("derive", str(spec), "--format", "json", "--quiet")
    assert status == 0 and quiet.getvalue() == ""

    monkeypatch.undo()
    status, out, err = cli("derive", str(spec), "--format", "json")
    assert status == 0 and err == ""                 # capsys's stderr is not a terminal


def test_a_huge_json_report_is_refused_naming_the_limit():
    """Witnesses list every sample's inputs and targets: 3 groups x 1024 samples x 2048
    values is over 100 MB of JSON, although the numeric work is small."""
    spec = spec_of(layers=(1024, 4, 1024), samples=1024)
    assert guards.numeric_work(spec) <= guards.MAX_NUMERIC_WORK
    assert guards.json_bytes(spec) > guards.MAX_JSON_BYTES
    [refusal] = guards.refusals(spec)
    assert "JSON report" in refusal.message and "--force" in refusal.message
    assert f"{guards.MAX_JSON_BYTES / 1e6:.0f} MB" in refusal.message


def test_a_latex_activation_costs_more_numeric_work_than_a_named_one():
    named = spec_of(layers=(64, 256, 64), samples=16)
    formula = spec_of(layers=(64, 256, 64), samples=16,
                      activation=latex(r"\begin{cases} z & z > 0 \\ 0.1 z & \text{otherwise}"
                                       r"\end{cases}"))
    assert guards.elementwise_weight(formula) > guards.elementwise_weight(named)
    assert guards.numeric_work(formula) > guards.numeric_work(named)
