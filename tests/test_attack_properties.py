"""Property tests for the attack shapes of issue 18: formula depth, dotted keys, many
hypotheses, output paths.  Each generated input is either refused at once with a
message naming the limit, or accepted; nothing in between (no hang, no traceback)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DERIVATIONS
from symderive import files as output
from symderive.errors import SpecError
from symderive.spec import parse_spec
from symderive.spec.latex import parse_activation
from symderive.spec.latex.complexity import MAX_NESTING, nesting, problem
from symderive.spec.load import MAX_KEY_PARTS, MAX_TABLE_HEADERS
from symderive.spec.model import MAX_HYPOTHESES

SEED = DERIVATIONS / "weight_symmetry.toml"

#: One level of nesting around a formula u (each adds exactly one function or power).
WRAPPERS = [r"e^{{{u}}}", r"\frac{{1}}{{1+{u}}}", r"\tanh({u})", r"\ln(1+e^{{{u}}})",
            r"({u})^{{2}}", r"\sqrt{{1+({u})^{{2}}}}", r"\sin({u})"]


@st.composite
def towers(draw):
    """A formula in z nested ``depth`` levels deep, and that depth."""
    depth = draw(st.integers(min_value=1, max_value=MAX_NESTING + 3))
    formula = "z"
    for _ in range(depth):
        formula = draw(st.sampled_from(WRAPPERS)).format(u=formula)
    return formula


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(towers())
def test_a_formula_is_refused_exactly_when_it_nests_too_deep(formula):
    try:
        expr = parse_activation(formula)
    except SpecError:
        return
    except Exception as exc:      # LatexInputError/ResourceLimitError: refused, one line
        assert "\n" not in str(exc)
        return
    why = problem(expr)
    if nesting(expr) > MAX_NESTING:
        assert why is not None and f"at most {MAX_NESTING}" in why
    else:
        assert why is None or "degree" in why    # (u^2)^2... may hit the degree limit


def _spec_with(extra: str) -> str:
    return SEED.read_text(encoding="utf-8") + "\n" + extra


@settings(deadline=None, max_examples=60)
@given(st.integers(min_value=1, max_value=3 * MAX_KEY_PARTS),
       st.sampled_from(["bare", "quoted", "header"]))
def test_dotted_keys_are_refused_beyond_the_limit_with_the_line(parts, style):
    names = [f'"k{i}"' if style == "quoted" and i % 2 else f"k{i}" for i in range(parts)]
    key = " . ".join(names) if style == "quoted" else ".".join(names)
    extra = f"[{key}]\nx = 1\n" if style == "header" else f"{key} = 1\n"
    text = _spec_with(extra)
    with pytest.raises(SpecError) as info:
        parse_spec(text, "attack.toml")
    message = str(info.value)
    if parts > MAX_KEY_PARTS:
        assert f"more than {MAX_KEY_PARTS} dotted parts" in message
        assert f":{text.count(chr(10), 0, text.index(names[0])) + 1}:" in message
    else:
        assert "unknown key" in message       # an ordinary validation error instead


@settings(deadline=None, max_examples=20)
@given(st.integers(min_value=MAX_HYPOTHESES - 2, max_value=MAX_HYPOTHESES + 40))
def test_many_hypotheses_are_refused_before_any_work(count):
    block = '[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["incoming"]\n'
    text = "[network]\nlayers = [2, 3, 1]\n\n" + block * count
    assert count + 1 <= MAX_TABLE_HEADERS      # the header limit is not what refuses
    if count > MAX_HYPOTHESES:
        with pytest.raises(SpecError, match=f"at most {MAX_HYPOTHESES}"):
            parse_spec(text, "many.toml")
    else:
        assert len(parse_spec(text, "many.toml").hypotheses) == count


#: Ways to name the spec itself as the output, relative to its folder.
SAME = ["q.toml", "./q.toml", "sub/../q.toml", "link", "hard", "./link"]


@settings(deadline=None, max_examples=30,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SAME), st.booleans())
def test_no_output_path_reaches_the_spec(tmp_path_factory, name, follow):
    folder = tmp_path_factory.mktemp("out")
    spec = folder / "q.toml"
    spec.write_text("spec")
    (folder / "sub").mkdir()
    (folder / "link").symlink_to(spec)
    os.link(spec, folder / "hard")
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with pytest.raises(SpecError):
            output.check_target(name, (Path("q.toml"),), follow_symlinks=follow)
    finally:
        os.chdir(cwd)
    assert spec.read_text() == "spec"
