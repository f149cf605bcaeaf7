"""The document model and its builder: structure, and the mathematics of the steps."""
from __future__ import annotations

import random
from dataclasses import replace

import pytest
import sympy as sp

from report_helpers import FOUNDING, bundled_derivation, extra_derivation, with_numeric
from symderive.engine.local import LocalModel, act, dact
from symderive.engine.network import (activation_value, delta, output_value, preactivation, target,
                               weight)
from symderive.notation import tex
from symderive.render import latex as latex_render
from symderive.render import markdown as markdown_render
from symderive.report import (Aligned, Alert, Document, Plot, Proof, Section, Theorem,
                              build_report)
from symderive.report.formulas import output_delta
from symderive.report.numeric import FLOOR, MAX_POINTS, thin
from symderive.report.steps import readable, settled
from symderive.engine.symmetry import EQUAL



def _titles(doc: Document) -> list[str]:
    return [b.title for b in doc.body]


def _section(doc: Document, label: str) -> Section:
    return next(b for b in doc.blocks() if isinstance(b, Section) and b.label == label)


def test_founding_report_has_every_part_in_order():
    doc = build_report(bundled_derivation(FOUNDING))
    assert _titles(doc) == ["Question", "Answer", "The network",
                            "Hypothesis H1: identical incoming weights and bias only",
                            "Hypothesis H2: identical outgoing weights only",
                            "Hypothesis H3: incoming weights, bias and outgoing weights all tied",
                            "Hypothesis H4: identical incoming weights and bias, zero outgoing "
                            "weights",
                            "Hypothesis H5: identical incoming weights and bias, different "
                            "outgoing weights",
                            "Fact F1: backpropagation equals differentiating the whole loss",
                            "Numeric cross-check"]
    h1 = _section(doc, "sec:h1")
    assert [b.title for b in h1.body if isinstance(b, Section)] == [
        "Incoming weights", "Bias", "Outgoing weights"]
    # a theorem and its proof close every settled hypothesis
    assert [type(b) for b in h1.body[-2:]] == [Theorem, Proof]
    assert doc.theorem_numbers() == {"thm:h1": 1, "thm:h2": 2, "thm:h3": 3, "thm:h4": 4,
                                     "thm:h5": 5, "thm:f1": 6}


def test_question_is_optional_and_undecided_hypotheses_get_no_theorem():
    d = extra_derivation("no-bias")
    doc = build_report(d)
    assert "Question" not in _titles(doc)
    assert [r.verdict for r in d.results] == ["broken", "undecided"]
    assert doc.theorem_numbers() == {"thm:h1": 1}
    h2 = _section(doc, "sec:h2")
    assert not any(isinstance(b, (Theorem, Proof)) for b in h2.body)


def test_building_is_deterministic():
    d = bundled_derivation(FOUNDING)
    assert build_report(d) == build_report(d)


# ------------------------------------------------------------------ the steps are right


def _expand_indices(expr: sp.Expr) -> sp.Expr:
    """Write out Σ over our name-indexed symbols (SymPy's doit cannot see the index)."""
    def expand(s: sp.Sum) -> sp.Expr:
        body, (index, low, high) = s.function, s.limits[0]
        name = str(index)
        terms = []
        for v in range(int(low), int(high) + 1):
            rename = {sym: sp.Symbol("_".join(str(v) if p == name else p
                                              for p in sym.name.split("_")), real=True)
                      for sym in body.free_symbols if name in sym.name.split("_")[1:]}
            terms.append(_expand_indices(body.xreplace(rename)))
        return sp.Add(*terms)
    return expr.replace(lambda e: isinstance(e, sp.Sum), expand)


def _definitions(network, hyp) -> dict:
    """δ^{(l)}_u and a^{(l)}_u of the two units by their definitions (one sample)."""
    l, M = hyp.layer, network.layers[hyp.layer + 1]
    out = {}
    for u in hyp.units:
        z = preactivation(l, 1, u)
        out[delta(l, 1, u)] = dact(z) * sp.Add(*[weight(l + 1, m, u) * delta(l + 1, 1, m)
                                                 for m in range(1, M + 1)])
        out[activation_value(l, 1, u)] = act(z)
    L = network.depth
    out.update({delta(L, 1, m): output_delta(network, 1, m)
                for m in range(1, network.layers[-1] + 1)})
    return out


def _point(network, hyp, symbols, rng: random.Random) -> dict:
    """Random values for ``symbols`` that satisfy the hypothesis (z, outgoing weights)."""
    values = {s: rng.uniform(-2, 2) for s in sorted(symbols, key=str)}
    model = LocalModel(network, hyp)
    (i, j), l = hyp.units, hyp.layer
    zi, zj = preactivation(l, 1, i), preactivation(l, 1, j)
    if model.z(1, 1) == model.z(1, 0):
        values[zj] = values[zi] = 0.0 if model.z(1, 0) == 0 else values.get(zi, 0.3)
    for m in range(1, network.layers[l + 1] + 1):
        vi, vj = weight(l + 1, m, i), weight(l + 1, m, j)
        if model.V(m, 1) == model.V(m, 0):
            values[vj] = values[vi] = 0.0 if model.V(m, 0) == 0 else values.get(vi, 0.7)
    return values


def _at(expr, definitions, values):
    e = _expand_indices(expr).xreplace(definitions).xreplace(definitions)
    e = e.replace(act, sp.sin).replace(dact, sp.cos)
    return float(e.xreplace(values).evalf())


def _group_chains(doc: Document, k: int):
    hyp = _section(doc, f"sec:h{k}")
    for group in (b for b in hyp.body if isinstance(b, Section)):
        yield group.label, [b for b in group.body if isinstance(b, Aligned)]


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_every_step_is_an_equality_under_the_hypothesis(k):
    """At points satisfying the hypothesis, every row of a derivation has the same value."""
    d = bundled_derivation(FOUNDING)
    doc, network, hyp = build_report(d), d.spec.network, d.results[k - 1].hypothesis
    definitions, rng = _definitions(network, hyp), random.Random(k)
    for label, chains in _group_chains(doc, k):
        rows = chains[0].rows
        symbols = set().union(*(_expand_indices(r.rhs).xreplace(definitions).xreplace(
            definitions).free_symbols for r in rows))
        for trial in range(3):
            values = _point(network, hyp, symbols, rng)
            got = [_at(r.rhs, definitions, values) for r in rows]
            assert got == pytest.approx([got[-1]] * len(got), abs=1e-12), (label, trial)


def test_the_founding_derivation_shows_each_step():
    doc = build_report(bundled_derivation(FOUNDING))
    chains = dict(_group_chains(doc, 1))
    rows = chains["sec:h1-incoming"][0].rows
    assert [r.note for r in rows] == ["chain rule", "backpropagation", "hypothesis", "simplified"]
    assert tex(rows[2].rhs) == (r"\left(\sigma'(z^{(1)}_{1}) W^{(2)}_{11} \delta^{(2)}_{1} - "
                                r"\sigma'(z^{(1)}_{1}) W^{(2)}_{12} \delta^{(2)}_{1}\right) x_{k}")
    outgoing = chains["sec:h1-outgoing"][0].rows
    assert [r.note for r in outgoing] == ["chain rule", "forward pass", "hypothesis",
                                          "any activation"]


def test_final_rows_are_the_symmetry_results():
    d = bundled_derivation(FOUNDING)
    doc = build_report(d)
    for k, r in enumerate(d.results, start=1):
        chains = dict(_group_chains(doc, k))
        for g in r.groups:
            last = chains[f"sec:h{k}-{g.group}"][-1].rows[-1].rhs
            assert last == settled(g)
            if g.status != EQUAL:       # the shown form is the settled residual, regrouped
                assert sp.expand(last - g.residual) == 0


def test_readable_groups_a_difference_by_output_errors():
    w11, w12 = weight(2, 1, 1), weight(2, 1, 2)
    yhat, y = output_value(1, 1), target(1, 1)
    messy = (w11 - w12) * yhat + w12 * y - w11 * y
    assert tex(readable(messy)) == (r"\left(W^{(2)}_{11} - W^{(2)}_{12}\right) "
                                    r"\left(\hat{y}_{1} - y_{1}\right)")
    assert sp.expand(readable(messy) - messy) == 0
    not_errors = w11 * yhat + w12 * y          # not a function of ŷ − y: left alone
    assert readable(not_errors) == not_errors


def test_several_samples_split_the_derivation_per_sample():
    doc = build_report(extra_derivation("hostile"))
    chains = dict(_group_chains(doc, 1))["sec:h1-incoming"]
    assert len(chains) == 3          # total, per sample, total again
    assert isinstance(chains[0].rows[0].rhs, sp.Sum)
    assert chains[1].rows[0].note == "backpropagation"


# ------------------------------------------------------------------ size and numbers


def test_wide_network_stays_small():
    doc = build_report(extra_derivation("wide"))
    text = markdown_render.render_document(doc)
    assert len(text) < 40_000
    assert max(len(line) for line in text.splitlines()) < 600


def test_numeric_section_plot_and_warning():
    d = with_numeric(bundled_derivation(FOUNDING), agreement=False, steps=999)
    doc = build_report(d)
    numeric = _section(doc, "sec:numeric")
    plot = next(b for b in numeric.body if isinstance(b, Plot))
    gaps = {f"H{k}": n.to_json()["training"]["gaps"] for k, n in enumerate(d.numeric, start=1)}
    zero = [h for h, g in gaps.items() if not any(g)]
    assert zero == ["H3", "H4"]                               # exactly 0: said, not drawn
    assert [s.name for s in plot.series] == [h for h in gaps if h not in zero]
    caption = "".join(getattr(p, "text", "") for p in plot.caption)
    assert "H3 and H4 are not drawn: their gaps are exactly 0 at every step." in caption
    assert all(len(s.points) <= MAX_POINTS for s in plot.series)
    assert all(y > 0 for s in plot.series for _, y in s.points)   # no zero on a log axis
    dropped = [h for h in gaps if h not in zero and 0.0 in gaps[h]]
    assert ("left out" in caption) == bool(dropped)
    assert min(y for s in plot.series for _, y in s.points) >= FLOOR
    assert plot.series[0].points[-1][0] == 999.0               # the last step is kept
    assert isinstance(numeric.body[1], Alert)
    without = replace(bundled_derivation(FOUNDING), numeric=())
    assert "Numeric cross-check" not in _titles(build_report(without))


def test_numeric_section_without_disagreement_has_no_warning():
    doc = build_report(with_numeric(bundled_derivation(FOUNDING), agreement=True))
    assert not any(isinstance(b, Alert) for b in doc.blocks())


@pytest.mark.parametrize("n,limit", [(5, 200), (1000, 200), (201, 200), (10001, 7)])
def test_thin_keeps_first_and_last_and_at_most_limit(n, limit):
    points = thin([float(v) for v in range(n)], limit)
    steps = [s for s, _ in points]
    assert len(points) <= limit and steps[0] == 0 and steps[-1] == n - 1
    assert steps == sorted(set(steps)) and all(v == s for s, v in points)


def test_notebook_representations():
    d = bundled_derivation(FOUNDING)
    doc = build_report(d)
    brief = d._repr_markdown_()
    assert brief == markdown_render.render(d, detail="brief") and "## Answer" in brief
    assert len(brief) < len(markdown_render.render_document(doc)) / 3
    assert d._repr_latex_() == latex_render.render_math(d)
    assert d._repr_latex_().startswith("$$\\begin{aligned}")


def test_numeric_may_be_plain_dicts_or_missing_per_hypothesis():
    d = bundled_derivation(FOUNDING)
    mixed = with_numeric(d).numeric
    d2 = replace(d, numeric=(mixed[0].to_json(), None, mixed[2], None))
    doc = build_report(d2)
    table = next(b for b in _section(doc, "sec:numeric").body if type(b).__name__ == "Table")
    assert [row[0][0].text for row in table.rows] == ["H1", "H2", "H3", "H4"]
    assert table.rows[1][2][0].text == "not run"
