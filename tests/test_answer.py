"""Answers for a Q&A site: claims judged, the answer first, brief and full, Unicode math,
sentences that are true of the formulas they describe, and the length budgets."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import spec_toml
from report_helpers import BUNDLED, FOUNDING, bundled_derivation
from symderive.api import derive
from symderive.engine import mlp
from symderive.errors import SpecError
from symderive.render import json as json_render
from symderive.render.markdown import LIMIT, render
from symderive.spec import parse_spec

NET = '[network]\nlayers = [2, 3, 1]\n'


def _hyp(claim: str = "", extra: str = "") -> str:
    return (f'\n[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["incoming", "bias"]\n'
            f'{claim}{extra}')


# ------------------------------------------------------------------ claims: validation


@pytest.mark.parametrize("text,field,words", [
    (NET + _hyp() + _hyp('claim = "stuck"\n'), "hypothesis[2].claim", ["preserved", "broken"]),
    (NET + _hyp('claim = 3\n'), "hypothesis[1].claim", ["preserved", "broken"]),
    (NET + '[[fact]]\nkind = "zero_init"\nclaim = "preserved"\n', "fact[1].claim",
     ["stuck", "trains, units identical"]),
    (NET + '[[fact]]\nkind = "dropout"\nclaim = "exact"\n', "fact[1].claim",
     ["preserved", "broken"]),
])
def test_a_claim_outside_its_kinds_verdicts_names_the_field_and_the_words(text, field, words):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "c.toml")
    assert info.value.field == field
    assert all(repr(w) in str(info.value) for w in words)


@pytest.mark.parametrize("extra,message", [
    ('claimed_by = "the lecturer"\n', "needs a claim"),
    ('claim = "broken"\nclaimed_by = 7\n', "must be a string"),
    ('claim = "broken"\nclaimed_by = "   "\n', "must name who"),
])
def test_claimed_by_is_validated(extra, message):
    with pytest.raises(SpecError) as info:
        parse_spec(NET + _hyp(extra), "c.toml")
    assert info.value.field == "hypothesis[1].claimed_by" and message in str(info.value)


def test_bad_claim_on_the_command_line_is_one_line_and_status_2(cli, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(NET + _hyp('claim = "maybe"\n'))
    status, out, err = cli("derive", str(path))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "hypothesis[1].claim" in err and "Traceback" not in err


# ------------------------------------------------------------------ claims: judged


def _derive(text: str, numeric: bool = False):
    return derive(parse_spec(text, "t.toml"), numeric=numeric)


def test_json_claim_holds_true_false_and_null():
    text = (spec_toml(layers=(2, 3, 3), activation="softplus", output_activation="sigmoid",
                      bias_=False, loss="bce")
            + '\n[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["incoming"]\n'
              'claim = "preserved"\nclaimed_by = "Ann"\n'
            + '\n[[hypothesis]]\nlayer = 1\nunits = [2, 3]\ntie = []\nclaim = "broken"\n'
            + '\n[[fact]]\nkind = "backprop_exact"\nclaim = "exact"\nclaimed_by = "Bo"\n')
    d = _derive(text)
    report = json.loads(json_render.render(d))
    verdicts = [h["verdict"] for h in report["hypotheses"]]
    claims = [h["claim"] for h in report["hypotheses"]]
    assert claims[0] == {"verdict": "preserved", "by": "Ann",
                         "holds": {"preserved": True, "broken": False}.get(verdicts[0])}
    # nothing tied: no tied group can separate and the swap is no symmetry: undecided
    assert verdicts[1] == "undecided" and claims[1] == {"verdict": "broken", "by": None,
                                                        "holds": None}
    assert report["facts"][0]["claim"] == {"verdict": "exact", "by": "Bo",
                                           "holds": report["facts"][0]["verdict"] == "exact"}
    assert "claim" not in json.loads(json_render.render(_derive(NET + _hyp())))["hypotheses"][0]


@pytest.fixture(scope="module")
def founding():
    return bundled_derivation(FOUNDING)


def test_founding_brief_says_who_is_right_and_why_in_the_first_paragraph(founding):
    md = render(founding)
    first = md.split("## Answer\n\n", 1)[1].split("\n\n", 1)[0]
    assert "the student is right" in first.lower() and "the lecturer is wrong" in first.lower()
    assert "No — the lecturer's claim" in first and "is false" in first
    assert "Yes — the student's claim" in first and "is right" in first
    assert "proportional to $W^{(2)}_{11} - W^{(2)}_{12}$" in first      # the why
    assert len(md) <= 6000


@pytest.mark.parametrize("fmt", ["markdown", "latex"])
def test_every_format_opens_with_the_judgement(founding, fmt):
    from symderive.render import latex

    text = render(founding, detail="full") if fmt == "markdown" else latex.render(founding)
    judgement = text.index("lecturer's claim")
    assert judgement < text.index("student's claim") < text.index("The network")
    assert text.index("Question") < judgement


def test_json_answer_text_judges_the_claims(founding):
    answer = json.loads(json_render.render(founding))["answer"]
    assert answer.startswith("The lecturer is wrong; the student is right.")
    assert "$" not in answer and "\\" not in answer and "W⁽²⁾₁₁ - W⁽²⁾₁₂" in answer


def test_asked_cases_come_first_and_facts_are_answered():
    text = (NET + _hyp() + '\n[[hypothesis]]\nlayer = 1\nunits = [1, 3]\n'
            'tie = ["incoming", "bias", "outgoing"]\nclaim = "preserved"\n'
            '\n[[fact]]\nkind = "backprop_exact"\n')
    md = render(_derive(text))
    short = md.split("**In short:**", 1)[1].split("## Why", 1)[0]
    labels = re.findall(r"^- \*\*([HF]\d)", short, flags=re.M)
    assert labels == ["H2", "H1", "F1"]


def test_fact_only_specs_open_with_an_answer():
    md = render(bundled_derivation(FOUNDING.parent / "backprop_is_exact.toml"))
    answer = md.split("## Answer", 1)[1].split("## Why", 1)[0]
    assert "**F1 (" in answer and ": exact.**" in answer
    assert "test suite" not in md


# ------------------------------------------------------------------ true sentences


def _difference_sentence(md: str) -> str:
    return md.split("**In short:**", 1)[1].split("\n- ", 2)[1]


@pytest.mark.parametrize("outputs,loss,out_act", [
    (1, "mse", "identity"), (2, "mse", "identity"), (3, "mse", "identity"),
    (2, "bce", "sigmoid"), (3, "softmax_ce", "identity"), (3, "any", "identity"),
    (5, "mse", "identity"), (5, "softmax_ce", "identity")])
def test_the_sentence_about_the_difference_matches_the_network(outputs, loss, out_act):
    text = spec_toml(layers=(2, 3, outputs), loss=loss, output_activation=out_act) + _hyp()
    d = _derive(text)
    sentence = _difference_sentence(render(d))
    if outputs == 1:
        assert "proportional to $W^{(2)}_{11} - W^{(2)}_{12}$" in sentence
    else:
        assert "proportional to" not in sentence
        assert f"a sum, over the {outputs} output units m, of" in sentence
        assert r"of $W^{(2)}_{m1} - W^{(2)}_{m2}$ times $\delta^{(2)}_{m}$ (the error of " \
            "output unit m)" in sentence
        assert "vanishes when their outgoing weights are equal" in sentence
    _check_numerically(d.spec.network, outputs)


def _check_numerically(network, outputs: int, trials: int = 20) -> None:
    """What the sentence says, checked with NumPy backprop (not the symbolic residual):
    tying one output unit's weights of the two units zeroes the difference only when
    there is one output unit; tying all of them always does."""
    rng = np.random.default_rng(0)
    untied_one = 0
    for _ in range(trials):
        p = mlp.Params([rng.normal(size=(3, 2)), rng.normal(size=(outputs, 3))],
                       [rng.normal(size=3), rng.normal(size=outputs)])
        p.W[0][1], p.b[0][1] = p.W[0][0], p.b[0][0]
        X = rng.normal(size=(1, 2))
        Y = rng.uniform(0.1, 0.9, size=(1, outputs))
        if network.loss.name == "softmax_ce":
            Y = np.eye(outputs)[[rng.integers(outputs)]]
        one = p.copy()
        one.W[1][0, 1] = one.W[1][0, 0]
        untied_one += abs(_bias_gap(network, one, X, Y)) > 1e-9
        every = p.copy()
        every.W[1][:, 1] = every.W[1][:, 0]
        assert abs(_bias_gap(network, every, X, Y)) < 1e-12
    assert (untied_one == 0) == (outputs == 1)


def _bias_gap(network, p, X, Y) -> float:
    from symderive.engine.generic import instantiated_network

    _, grad, _ = mlp.loss_and_gradient(instantiated_network(network), p, X, Y)
    return float(grad.b[0][0] - grad.b[0][1])


def test_sentences_with_several_samples_and_a_deeper_next_layer():
    d = _derive(spec_toml(layers=(2, 3, 2, 1), samples=2) + _hyp())
    sentence = _difference_sentence(render(d))
    assert "summed over the samples, a sum, over the 2 units m of layer 2, of" in sentence


def test_untied_biases_are_described_by_the_slope_difference():
    hyp = '\n[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["incoming", "outgoing"]\n'
    sentence = _difference_sentence(render(_derive(NET + hyp)))
    assert r"is proportional to $\sigma'(z^{(1)}_{1}) - \sigma'(z^{(1)}_{2})$" in sentence
    # with several samples the slopes differ per sample: a sum of such terms, not a multiple
    sentence = _difference_sentence(render(_derive(NET + "samples = 2\n" + hyp)))
    assert r"a sum over the samples of terms proportional to $\sigma'(z^{(1)[n]}_{1})" \
        in sentence


def test_dead_relu_units_are_named():
    md = render(bundled_derivation(FOUNDING.parent / "zero_init_relu.toml"))
    assert "dead on every sample" in md and "σ'(0) = 0" in md
    tanh = render(bundled_derivation(FOUNDING.parent / "zero_init_tanh.toml"))
    assert "dead" not in tanh


def test_dead_units_at_a_start_are_detected_by_numpy():
    spec = parse_spec(spec_toml(layers=(2, 3, 1), activation="relu") + _hyp()).network
    p = mlp.Params([np.array([[1.0, 1.0], [1.0, 1.0], [1.0, -1.0]]), np.ones((1, 3))],
                   [np.array([-5.0, -5.0, 0.5]), np.zeros(1)])
    X = np.array([[1.0, 2.0], [0.5, 0.5]])
    assert mlp.dead_units(spec, p, X, 1, (1, 2))
    assert not mlp.dead_units(spec, p, X, 1, (1, 3))
    p.b[0][:] = 0.0
    assert not mlp.dead_units(spec, p, X, 1, (1, 2))


# ------------------------------------------------------------------ detail, math, budgets


def test_brief_has_the_parts_and_ends_with_the_full_command(founding):
    md = render(founding)
    assert "## The network" not in md and "## Why" in md
    assert "**H3 and H4: preserved.**" in md
    for step in ("swap invariance", "equivariance", "induction"):
        assert step in md
    assert "For instance, at a point satisfying H1" in md
    assert "**Numeric cross-check:**" in md
    assert md.rstrip().endswith("`symderive derive weight_symmetry.toml --detail full`.")


def test_unicode_math_has_no_dollar_and_no_tex(founding):
    for detail in ("brief", "full"):
        md = render(founding, detail=detail, math="unicode")
        assert "$" not in md
        assert not re.search(r"\\(frac|left|right|partial|sigma|begin|hat)\b", md)
        assert "```text\n∂L/∂W⁽¹⁾₁ₖ - ∂L/∂W⁽¹⁾₂ₖ = (W⁽²⁾₁₁ - W⁽²⁾₁₂)⋅σ'(z⁽¹⁾₁)⋅(ŷ₁ - y₁)⋅xₖ" in md
        assert md.count("```") % 2 == 0


def test_unicode_escapes_a_literal_dollar():
    text = 'question = "It costs $5 and $x$."\n' + NET + _hyp()
    md = render(_derive(text), math="unicode")
    assert "$" not in md and "&#36;5" in md


def _many(count: int, name_length: int) -> str:
    """A spec with ``count`` hypotheses of long names over three hidden layers."""
    groups = [["incoming"], ["bias"], ["outgoing"], ["incoming", "bias"],
              ["incoming", "outgoing"], ["bias", "outgoing"], ["incoming", "bias", "outgoing"]]
    out = spec_toml(layers=(2, 4, 4, 4, 2))
    for k in range(count):
        tie = groups[k % len(groups)]
        zero = [g for g in ("incoming", "bias", "outgoing") if g not in tie][: (k // 7) % 2]
        out += (f'\n[[hypothesis]]\nname = "{k:03d} ' + "x" * name_length + '"\n'
                f'layer = {1 + (k // 14) % 3}\nunits = [{1 + k % 3}, 4]\n'
                f'tie = {json.dumps(tie)}\nzero = {json.dumps(zero)}\n')
    return out


def test_any_brief_answer_fits_a_stack_exchange_answer():
    d = _derive(_many(42, 480))
    brief = render(d)
    assert len(brief) <= LIMIT
    assert "summarised here to keep this answer short" in brief
    full = render(d, detail="full")
    assert len(full) > LIMIT


def test_repeated_hypotheses_share_a_line():
    text = NET + "".join(_hyp() for _ in range(4))
    md = render(_derive(text))
    assert "**H1, H2, H3 and H4 (layer 1, units 1 and 2: tie incoming, bias): broken.**" in md


def test_full_markdown_over_the_limit_warns_on_stderr(cli):
    status, out, err = cli("derive", "weight-symmetry", "--detail", "full", "-q")
    assert status == 0 and len(out) > LIMIT
    assert "30,000" in err and "Stack Exchange" in err and err.count("\n") == 1
    status, out, err = cli("derive", "weight-symmetry", "-q")
    assert status == 0 and len(out) <= 6000 and err == ""


def test_math_flag_is_for_markdown_only(cli):
    status, out, err = cli("derive", "weight-symmetry", "--format", "latex", "--math",
                           "unicode", "-q")
    assert status == 2 and "--math" in err and out == ""


def test_many_claims_still_fit():
    text = _many(40, 480).replace('zero = []\n', 'zero = []\nclaim = "preserved"\n'
                                  'claimed_by = "a very insistent forum user"\n')
    d = _derive(text)
    brief = render(d)
    assert len(brief) <= LIMIT
    assert "further claims" in brief and "judges each" in brief
    assert "a very insistent forum user is " in brief.lower()


@pytest.mark.parametrize("path", BUNDLED, ids=[p.stem for p in BUNDLED])
def test_every_bundled_answer_in_unicode_has_no_tex(path):
    d = bundled_derivation(path)
    for detail in ("brief", "full"):
        md = render(d, detail=detail, math="unicode")
        assert "$" not in md
        tex = re.findall(r"\\[a-zA-Z]+", md.replace("\\_", "").replace("\\*", ""))
        assert not tex, tex[:5]
        assert "test suite" not in md


def test_dead_units_at_a_witness_are_named():
    """ReLU, outgoing weights tied, incoming free: a witness may have both units dead
    (then the outgoing difference σ(z_i) − σ(z_j) is 0 too), or not; the sentence must
    say so exactly when NumPy finds σ'(z) = 0 for both units on every sample."""
    from symderive.engine.local import LocalModel
    from symderive.report.brief import dead_at_witness

    text = spec_toml(layers=(2, 3, 1), activation="relu") + \
        '\n[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["outgoing"]\n'
    d = _derive(text)
    r = d.results[0]
    model = LocalModel(d.spec.network, r.hypothesis)
    md = render(d)
    for g in r.groups:
        if g.witness is not None and g.group in ("outgoing",):
            assert ("both dead on every sample" in md) == dead_at_witness(model, g.witness)


def test_fact_claims_are_the_words_the_facts_produce():
    """Every verdict a bundled fact reaches is a word its kind's claim accepts (or
    undecided), so that any verdict can be claimed and judged."""
    from symderive.spec.claims import FACT_CLAIMS

    seen = set()
    for path in BUNDLED:
        for f in bundled_derivation(path).facts:
            assert f.verdict in FACT_CLAIMS[f.fact.kind] + ("undecided",), f.verdict
            seen.add(f.fact.kind)
    assert seen == set(FACT_CLAIMS)          # every kind is bundled, so every kind is checked


def test_a_false_claim_about_a_fact_is_judged():
    text = (spec_toml(layers=(2, 3, 1), activation="sigmoid") + _hyp()
            + '\n[[fact]]\nkind = "zero_init"\nclaim = "stuck"\nclaimed_by = "my TA"\n')
    d = _derive(text)
    verdict = d.facts[0].verdict
    md = render(d)
    assert verdict == "trains, units identical"
    assert "No — my TA's claim (F1: zero init gives “stuck”) is false" in md
    assert "**My TA is wrong.**" in md
    assert json.loads(json_render.render(d))["facts"][0]["claim"]["holds"] is False


def test_generic_mode_says_what_the_verdict_covers():
    """Preserved with σ undefined: for every σ. Broken: shown with a stand-in σ only."""
    text = spec_toml(layers=(2, 3, 2), activation="any") + _hyp() + \
        '\n[[hypothesis]]\nlayer = 1\nunits = [1, 3]\ntie = ["incoming", "bias", "outgoing"]\n'
    md = render(_derive(text))
    short = md.split("**In short:**", 1)[1].split("## Why", 1)[0]
    broken, preserved = short.split("\n- ")[1:3]
    assert "witness that shows it is not identically zero uses activation := tanh" in broken
    assert "every differentiable choice" not in broken
    assert "proved with the activation left undefined, so it holds for every differentiable " \
        "choice of it" in preserved
