"""The answer and the talk of a ``[[layer]]`` network: a one-line judgement first in every
format, built from the results; what is particular to each kind; the talk's stack diagram
and its cases, their figures recomputed in torch from the witness's values."""
from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import sympy as sp

import symderive
from layer_reference import torch_gradient
from report_helpers import LAYER_BUNDLED, bundled_derivation
from symderive.engine.layers.units import Units
from symderive.render import beamer, latex, markdown
from symderive.render import json as json_render
from symderive.report.layer_answer import differ_at_witness, judgement
from symderive.report.layer_talk import StackDiagram, entry_symbol, stack_talk
from symderive.report.model import Equation, Items, Paragraph, Section, Theorem
from symderive.spec import Spec

LAYERS = {p.stem: p for p in LAYER_BUNDLED}


def _derived(name: str):
    return bundled_derivation(LAYERS[name])


def _plain(markdown_line: str) -> str:
    return re.sub(r"[*\\]", "", markdown_line)


def _text(paragraph: Paragraph) -> str:
    return "".join(getattr(p, "text", "") for p in paragraph.parts)


# ------------------------------------------------------------------ every format


@pytest.mark.parametrize("path", LAYER_BUNDLED, ids=[p.stem for p in LAYER_BUNDLED])
def test_every_format_opens_its_answer_with_the_judgement(path):
    """Markdown (brief, full, the notebook's), JSON, LaTeX and beamer: the answer's first
    line is the judgement paragraph (with ``[init]``: the answer about the starting
    point, or the judgement of its claim), not a list."""
    from symderive.report.layer_start_answer import stack_start_opening

    d = bundled_derivation(path)
    opening = stack_start_opening(d)
    assert bool(opening) == (d.spec.init is not None)
    head = _text(opening[0] if opening else judgement(d))
    assert head.endswith(".") and len(head) > 40
    start = head[:30]
    for text in (markdown.render(d), markdown.render(d, detail="full"), d._repr_markdown_()):
        answer = text.split("## Answer\n\n", 1)[1]
        assert not answer.startswith("- ") and start in _plain(answer.split("\n")[0])
    first = json.loads(json_render.render(d))["answer"].split("\n")[0]
    assert not first.startswith("- ") and start in first
    tex = latex.render(d).split("\\section{Answer}", 1)[1].lstrip()
    assert not tex.startswith("\\begin{itemize}")
    talk = beamer.render(d)
    answer = talk.split("\\textbf{Answer}", 1)[1] if "\\textbf{Answer}" in talk else \
        talk.split("\\frametitle{Answer}", 1)[1].split("\\small\n", 1)[1]
    assert not answer.lstrip().startswith("\\begin{itemize}")


# ------------------------------------------------------------------ the judgement


def test_tied_filters_with_different_outgoing_slices_separate():
    d = _derived("conv_filters_tied")
    text = _text(judgement(d))
    assert text.startswith("Identical filters and biases are not enough: channels 1 and 2 of "
                           "layer 1 separate while their outgoing slices differ (H1")
    assert "stay identical once those are identical too (H2)" in text
    # "differ" is true of the witness: the two channels' slices of layer 2's kernel
    w = next(g.witness for g in d.results[0].groups if g.witness is not None)
    kernel = np.asarray(w.parameters["W2"])
    assert not np.array_equal(kernel[:, 0, :], kernel[:, 1, :])
    brief = markdown.render(d)
    assert "**A common intuition is wrong.**" in brief      # the claim, judged


def test_free_groups_equal_at_the_witness_are_not_called_different():
    d = _derived("conv_filters_tied")
    r = d.results[0]
    units = Units(d.spec.network, r.hypothesis)
    assert differ_at_witness(r, units, "outgoing")
    g = next(g for g in r.groups if g.witness is not None)
    params = {k: np.asarray(v, dtype=float) for k, v in g.witness.parameters.items()}
    params["W2"][:, 1, :] = params["W2"][:, 0, :]
    same = dataclasses.replace(g.witness, parameters={k: v.tolist() for k, v in params.items()})
    groups = tuple(dataclasses.replace(x, witness=same) if x is g else x for x in r.groups)
    assert not differ_at_witness(dataclasses.replace(r, groups=groups), units, "outgoing")


def _only(name: str, keep: int):
    spec = symderive.load(LAYERS[name])
    data = spec.to_dict()
    data["hypothesis"] = [data["hypothesis"][keep]]
    return symderive.derive(Spec.from_dict(data), numeric=False)


def test_the_lead_follows_the_verdicts():
    """Without a preserved case to contrast, the judgement says what every case does."""
    assert _text(judgement(_only("conv_filters_tied", 0))).startswith(
        "They separate: channels 1 and 2 of layer 1 with identical filters and biases but "
        "different outgoing slices separate (H1: a witness).")
    assert _text(judgement(_only("conv_filters_tied", 1))).startswith(
        "They stay identical: channels 1 and 2 of layer 1 with identical filters, biases and "
        "outgoing slices stay identical (H1), because exchanging them leaves the loss")


def test_a_residual_stream_is_named_layer_by_layer():
    """Layer 3 (a batch norm of layer 2) adds layer 1's output: the swap of channels 1 and
    2 of layer 2 exchanges them in layer 1 too."""
    d = _derived("batchnorm_zero_scale_residual")
    assert "in every layer of their residual stream (layers 1 and 2)" in _text(judgement(d))
    assert Units(d.spec.network, d.results[1].hypothesis).stream == (1, 2)


@pytest.mark.parametrize("name,words", [
    ("conv_filters_tied", ["sum over positions", "difference of their outgoing slices"]),
    ("layer_norm_after_dense", ["gains are part of the unit"]),
    ("attention_identical_heads", ["softmax Jacobian"]),
    ("lstm_zero_state", ["recurrent", "diagonal of U"]),
])
def test_each_broken_case_says_what_is_particular_to_its_kind(name, words):
    d = _derived(name)
    items = next(b for b in markdown_blocks(d) if isinstance(b, Items))
    first = "".join(getattr(p, "text", "") for p in items.items[0])
    assert all(w in first for w in words), first


def markdown_blocks(d):
    from symderive.report.layers import opening

    return opening(d)


def test_the_conservation_judgement_states_the_proved_growth():
    d = _derived("weight_norms_batch_norm")
    text = _text(judgement(d))
    assert text.startswith("The growth is forced by the network:")
    assert "(3 scale laws, proved)" in text and "η²‖∇L‖²" in text
    assert len(d.facts[0].details["laws"]) == 3


# ------------------------------------------------------------------ the talk


def test_the_talk_draws_the_stack_with_its_skip_and_stream():
    d = _derived("batchnorm_zero_scale_residual")
    doc = stack_talk(d)
    titles = [b.title for b in doc.body if isinstance(b, Section)]
    assert titles == ["Question", "Answer", "The network", "Why", "Numeric cross-check"]
    picture = doc.body[2].body[0]
    assert isinstance(picture, StackDiagram)
    assert len(picture.boxes) == 1 + len(d.spec.network.stack)
    assert picture.skips == ((1, 3),)
    # channels 1 and 2 coloured in both layers of the stream, nowhere else
    assert picture.classes[1] == (0, 0, None) and picture.classes[2] == (0, 0, None)
    assert picture.classes[5] == (None,)
    tex = beamer.render(d)
    assert tex.count("skip: $+$") == 1 and tex.count("fill=blue!35") == 4


def test_a_broken_case_shows_a_difference_torch_recomputes():
    """The talk's formula: the largest paired difference at the witness, whose value torch
    autograd recomputes from the listed parameters (no code of the kinds)."""
    for name in ("conv_filters_tied", "attention_identical_heads", "lstm_zero_state"):
        d = _derived(name)
        why = next(b for b in stack_talk(d).body if isinstance(b, Section) and b.title == "Why")
        case = why.body[0]
        eq = next(b for b in case.body if isinstance(b, Equation)).exprs[0]
        r = d.results[0]
        units = Units(d.spec.network, r.hypothesis)
        g = next(g for g in r.groups if g.witness is not None and units.assumed(g.group))
        w = g.witness
        theta = {k: np.asarray(v, dtype=float) for k, v in w.parameters.items()}
        grads = torch_gradient(d.spec, theta, np.asarray(w.inputs), np.asarray(w.targets))
        diff = units.difference(grads, g.group)
        n = int(np.argmax(np.abs(diff)))
        (ta, ia), (tb, ib) = units.groups[g.group][0][n], units.groups[g.group][1][n]
        assert float(eq.rhs) == pytest.approx(diff[n], rel=1e-3)
        names = {v.name for der in eq.lhs.atoms(sp.Derivative) for v in der.variables}
        assert {entry_symbol(d.spec.network, ta, ia).name,
                entry_symbol(d.spec.network, tb, ib).name} <= names


def test_the_preserved_cases_are_one_theorem_with_the_swap_as_proof():
    d = _derived("small_cnn")
    why = next(b for b in stack_talk(d).body if isinstance(b, Section) and b.title == "Why")
    assert [s.title for s in why.body] == ["H1: broken", "H2 and H3: preserved"]
    theorem = why.body[1].body[0]
    assert isinstance(theorem, Theorem) and theorem.name == "H2 and H3"
    statement = _text(theorem.body[0])
    assert "channels 1 and 2 of layer 2" in statement and "channels 3 and 4 of layer 1" in \
        statement


def test_entry_symbols_use_the_kinds_notation():
    d = _derived("conv_filters_tied")
    assert sp.latex(entry_symbol(d.spec.network, "W1", (1, 0, 2))) == "K^{(1)}_{2,1,3}"
    d = _derived("attention_identical_heads")
    assert re.fullmatch(r"\{b_\{\\mathrm\{v\}\}\^\{\(1\)\}\}_\{2\}",
                        entry_symbol(d.spec.network, "bv1", (1,)).name)


def test_the_contrast_is_the_largest_broken_assumption_inside_the_preserved_one():
    """LSTM: H1 ⊂ H2 ⊂ H3; H2 against H3 says what decides (the recurrent columns), H1 is
    the weaker case that separates too; its local formula is not repeated under H2."""
    d = _derived("lstm_zero_state")
    text = _text(judgement(d))
    assert "separate while their recurrent columns differ (H2: a witness), and stay " \
           "identical once those are identical too (H3)" in text
    assert text.endswith("; with only identical incoming weights, recurrent rows and biases "
                         "they separate too (H1: a witness).")
    items = next(b for b in markdown_blocks(d) if isinstance(b, Items)).items
    second = "".join(getattr(p, "text", "") for p in items[1])
    assert "(The local formula of H1 applies.)" in second and "diagonal of U" not in second


def _case_text(name: str, title: str) -> str:
    why = next(b for b in stack_talk(_derived(name)).body
               if isinstance(b, Section) and b.title == "Why")
    case = next(s for s in why.body if s.title == title)
    return " ".join(_text(b) for b in case.body if isinstance(b, Paragraph))


def test_a_slide_gives_the_norms_gains_and_cites_a_formula_already_given():
    assert "the gains are part of the unit" in _case_text("layer_norm_after_dense",
                                                          "H1: broken")
    first, second = (_case_text("lstm_zero_state", t) for t in ("H1: broken", "H2: broken"))
    assert "recurrent_outgoing column" in first
    assert "is that of H1." in second and "recurrent_outgoing column" not in second


@pytest.mark.parametrize("name", ["attention_identical_heads", "conv_filters_tied"])
def test_the_notebook_formula_of_a_layer_network_is_in_the_kinds_notation(name):
    """The notebook's display math: each decided group as one paired entry's difference of
    gradients in the kind's symbols, 0 only for an equal group, and a different group's
    value recomputed from its witness."""
    d = _derived(name)
    text = d._repr_latex_()
    assert "None" not in text and "W_{2" not in text
    rows = text.split("\\\\\n")
    for r in d.results:
        for g in r.groups:
            if g.status == "different":
                value = max(g.witness.difference, key=abs)
                assert any(f"&= {value:.4g}" in row and "different" in row for row in rows)
    assert all(not ("different" in row and "&= 0 " in row) for row in rows)


def test_mixed_verdicts_without_a_contrast_are_not_called_unsettled():
    """Two pairs of heads, one broken and one preserved, on different pairs (so no
    contrast of one pair): every case is decided, and the lead says it depends on what
    is tied (it said 'Not all settled')."""
    from test_layer_kinds2_specs import ATTENTION

    text = ATTENTION.replace("heads = 2", "heads = 4").replace(
        'units = [1, 2]\ntie = ["query", "key", "value", "output"]',
        'units = [3, 4]\ntie = ["query", "key", "value", "output"]')
    derivation = symderive.derive(Spec.from_toml(text, "t"), numeric=False)
    assert [r.verdict for r in derivation.results] == ["broken", "preserved"]
    assert _text(judgement(derivation)).startswith("It depends on what is tied: ")


def test_a_broken_case_says_which_tied_groups_stay_equal_and_why():
    """One token: heads with tied query, key and value but different output columns
    separate through their values, while their queries and keys get equal gradients
    (the softmax Jacobian vanishes on one visible token). The answer says both, and the
    full report's local formula speaks of heads, not of an output feature's row of O."""
    from test_layer_kinds2_specs import ATTENTION

    from symderive.render.markdown import render

    text = ATTENTION.replace("input = [2, 2]", "input = [1, 2]")
    derivation = symderive.derive(Spec.from_toml(text, "t"), numeric=False)
    r = derivation.results[0]
    assert {g.group: g.status for g in r.groups} == {
        "query": "equal", "key": "equal", "value": "different", "output": "equal"}
    brief = render(derivation)
    assert "Their query and key weights get equal gradients all the same (proved)." in brief
    assert "one visible token" in brief
    full = render(derivation, detail="full")
    formula = full.split("Local difference formula. ")[1].split("\n")[0]
    assert "query and key rows" in formula and "value rows" in formula
    assert "output feature's row of O" not in formula


def test_a_free_group_with_every_group_proved_equal_says_why_it_is_undecided():
    """Zero queries make the attention uniform whatever the keys, so with zero output
    columns and tied values every group of the two heads is proved equal while their keys
    are free: undecided, and every format says why (it raised IndexError listing no
    group)."""
    from test_layer_kinds2_specs import ATTENTION

    text = ATTENTION.split("[[hypothesis]]")[0].replace("input = [2, 2]", "input = [2, 1]")
    text += '[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["value"]\nzero = ["query", "output"]\n'
    derivation = symderive.derive(Spec.from_toml(text, "t"), numeric=False)
    (r,) = derivation.results
    assert r.verdict == "undecided" and all(g.status == "equal" for g in r.groups)
    why = "every group's gradients are proved equal, but their key weights are not assumed"
    assert why in derivation.to_markdown()
    assert why in json.loads(derivation.to_json())["answer"]
    from symderive.render.beamer import render as beamer
    assert why in beamer(derivation).replace("\n", " ")
