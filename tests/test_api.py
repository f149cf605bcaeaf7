"""The Python API (``import symderive``): derive, load, Spec, SpecError, Derivation.

Every check compares the API with an independent route to the same thing: the CLI
(in-process or in a fresh interpreter), the renderers called directly, the TOML
file read by hand.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import symderive
from conftest import BUNDLED, BUNDLED_NAMES, ROOT, spec_toml
from symderive.errors import SpecError, one_line
from symderive.spec import CheckSpec, Hypothesis, NetworkSpec, Spec

CORPUS = ROOT / "tests" / "bad_inputs"
FOUNDING = ROOT / "derivations" / "weight_symmetry.toml"


def _fresh(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


# --- import symderive: the names, lazily ---------------------------------------------

def test_import_symderive_does_not_import_sympy_or_numpy():
    r = _fresh("import sys, symderive; print(sorted(m for m in ('sympy', 'numpy', "
               "'symderive.api', 'symderive.spec') if m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_the_public_names_are_listed_and_load_on_first_use():
    r = _fresh("import sys, symderive; names = dir(symderive); "
               "before = 'sympy' in sys.modules; symderive.Spec; "
               "print(names, before, 'sympy' in sys.modules)")
    assert r.returncode == 0, r.stderr
    names, before, after = r.stdout.rsplit(" ", 2)
    for name in ("derive", "load", "Spec", "SpecError", "Derivation", "bundled"):
        assert repr(name) in names
    assert (before, after.strip()) == ("False", "True")


def test_the_lazy_names_are_the_modules_objects():
    from symderive.api import Derivation, derive, load

    assert (symderive.derive, symderive.load, symderive.Derivation) == (derive, load,
                                                                          Derivation)
    assert symderive.Spec is Spec and symderive.SpecError is SpecError
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        symderive.nope  # noqa: B018


def test_help_teaches_the_api():
    import pydoc

    text = pydoc.render_doc(symderive, renderer=pydoc.plaintext)
    for piece in ("symderive.derive(", "Spec.from_toml", "Spec.from_dict", "to_markdown",
                  "to_pdf", "SpecError"):
        assert piece in text, piece
    doc = pydoc.render_doc(symderive.derive, renderer=pydoc.plaintext)
    assert "bundled" in doc and ">>> d = symderive.derive(" in doc
    assert "from_dict" in pydoc.render_doc(symderive.Spec, renderer=pydoc.plaintext)


def test_bundled_lists_the_derivations_folder():
    assert symderive.bundled() == BUNDLED_NAMES


# --- derive: a Spec, a bundled name or a path, all the same --------------------------

@pytest.fixture(scope="module")
def founding():
    return symderive.derive("weight-symmetry")


def test_derive_takes_a_name_a_str_path_a_path_and_a_spec_alike(founding):
    text = founding.to_json()
    assert symderive.derive(str(FOUNDING)).to_json() == text
    assert symderive.derive(FOUNDING).to_json() == text
    spec = Spec.from_toml(FOUNDING.read_text(encoding="utf-8"), "weight_symmetry.toml")
    assert symderive.derive(spec).to_json() == text


def test_the_reports_are_those_of_the_cli_and_the_renderers(founding, cli):
    status, out, err = cli("derive", "weight-symmetry", "--format", "json")
    assert status == 0, err
    assert founding.to_json() == out
    status, out, err = cli("derive", "weight-symmetry", "--format", "markdown")
    assert founding.to_markdown() == out
    from symderive.render import latex, markdown

    assert founding.to_markdown() == markdown.render(founding)
    assert founding.to_latex() == latex.render(founding)
    assert founding.to_latex(fragment=True) == latex.render(founding, fragment=True)
    assert founding.to_latex(fragment=True) != founding.to_latex()


def test_renderer_options_reach_the_renderer(founding):
    with pytest.raises(TypeError, match="no_such_option"):
        founding.to_latex(no_such_option=True)


def test_to_pdf_writes_the_file_and_returns_its_bytes(founding, tmp_path):
    from report_helpers import IN_CI
    import shutil

    if not shutil.which("pdflatex") and not IN_CI:
        pytest.skip("pdflatex not installed")
    out = tmp_path / "w.pdf"
    data = founding.to_pdf(out)
    assert data.startswith(b"%PDF") and out.read_bytes() == data
    assert founding.to_pdf(str(tmp_path / "again.pdf")) == data     # deterministic


def test_repr_is_a_few_lines_with_every_verdict(founding):
    text = repr(founding)
    assert len(text) < 1500 and "\n" in text
    lines = text.splitlines()
    assert lines[0] == f"<Derivation {founding.spec.title!r}"
    assert len(lines) == 1 + len(founding.results) + len(founding.facts) + 1
    for line, r in zip(lines[1:], founding.results):
        assert r.hypothesis.name in line and f": {r.verdict} (" in line
        for g in r.groups:
            assert f"{g.group} {g.status}" in line


def test_repr_lists_facts():
    d = symderive.derive("sigmoid-bce-gradient", numeric=False)
    assert d.facts
    for f in d.facts:
        assert f"fact {f.fact.name!r}: {f.verdict}" in repr(d)
    assert "numeric" not in repr(d)                  # not run, so not claimed


def test_spec_repr_is_one_short_line():
    spec = symderive.load("weight-symmetry")
    text = repr(spec)
    assert "\n" not in text and len(text) < 200
    assert spec.title in text and f"{len(spec.hypotheses)} hypotheses" in text
    assert "[2, 2, 1]" in text and f"{len(spec.facts)} fact" in text


def test_load_and_derive_refuse_what_is_not_a_spec():
    with pytest.raises(TypeError, match="not int"):
        symderive.load(42)
    with pytest.raises(SpecError, match="no such file, nor a bundled derivation"):
        symderive.derive("no-such-derivation")


# --- Spec.from_toml and Spec.from_dict validate exactly as the CLI -------------------

def _corpus() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.name != "expected.toml")


@pytest.mark.parametrize("path", _corpus(), ids=lambda p: p.name)
def test_from_toml_gives_the_clis_message_for_every_bad_input(path, cli):
    from symderive.guards import check_resources
    from symderive.sources import read_source

    status, _, err = cli("derive", str(path), "--format", "json")
    assert status == 2
    try:
        source, data = read_source(str(path))     # over the size limit: before parsing
        spec = Spec.from_toml(data, source)
        check_resources(spec, data, "json")       # the CLI's resource limits come next
    except SpecError as exc:
        assert f"symderive: {one_line(str(exc))}\n" == err
    else:
        pytest.fail(f"accepted: {path.name}")


def _toml_tables(path: Path):
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None


@pytest.mark.parametrize("path", [p for p in _corpus() if _toml_tables(p) is not None],
                         ids=lambda p: p.name)
def test_from_dict_names_the_same_field_with_the_same_message(path):
    try:
        Spec.from_toml(path.read_bytes(), path.name)
    except SpecError as exc:
        by_toml = exc
    else:
        pytest.skip("refused by the resource guard only, not by validation")
    if by_toml.field is None:
        pytest.skip("an error of the text itself (empty), not of a table")
    with pytest.raises(SpecError) as by_dict:
        Spec.from_dict(_toml_tables(path), path.name)
    assert (by_dict.value.field, by_dict.value.message) == (by_toml.field, by_toml.message)
    assert by_dict.value.source == path.name and by_dict.value.line is None


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_spec_round_trips_through_dicts(path):
    spec = symderive.load(path)
    assert Spec.from_dict(tomllib.loads(path.read_text(encoding="utf-8")), str(path)) == spec
    assert Spec.from_dict(spec.to_dict(), spec.source) == spec
    assert json.loads(json.dumps(spec.to_dict())) == spec.to_dict()     # plain values only


def test_where_a_spec_was_read_is_not_part_of_its_value():
    text = FOUNDING.read_text(encoding="utf-8")
    by_toml, by_dict = Spec.from_toml(text), Spec.from_dict(tomllib.loads(text))
    assert (by_toml.source, by_dict.source) == ("<string>", "<dict>")
    assert by_toml == by_dict == symderive.load("weight-symmetry")


def test_from_dict_takes_tuples_for_lists_and_fills_defaults():
    spec = Spec.from_dict({"network": {"layers": (2, 3, 1)},
                           "hypothesis": ({"layer": 1, "units": (1, 2), "tie": ("incoming",)},)})
    assert spec.network.layers == (2, 3, 1) and spec.network.activation.name == "tanh"
    assert spec.hypotheses[0].tie == ("incoming",) and spec.title == "Derivation"
    assert spec == Spec.from_toml(spec_toml((2, 3, 1), hypotheses=[
        {"layer": 1, "units": [1, 2], "tie": ["incoming"]}]), "<dict>")


@pytest.mark.parametrize("data,field", [
    ([1, 2], None),
    ({}, "network"),
    ({"network": {"layers": [2, 3, 1]}, "hypothesis": [{"layer": 5, "units": [1, 2]}]},
     "hypothesis[1].layer"),
    ({"network": {"layers": [2, 3, 1], "activation": len}, "hypothesis": [{"layer": 1}]},
     "network.activation"),
    ({"network": {"layers": [2, 3, 1], "bogus": 1}}, "network.bogus"),
])
def test_from_dict_errors_name_the_field(data, field):
    with pytest.raises(SpecError) as e:
        Spec.from_dict(data)
    assert e.value.field == field and e.value.source == "<dict>"


# --- a Spec built from the dataclasses is validated when derived ---------------------

def _built(**changes) -> Spec:
    network = NetworkSpec((2, 3, 1), "tanh", "identity")
    hyp = Hypothesis("h", 1, (1, 2), ("incoming", "bias"))
    spec = Spec("built", None, network, (hyp,))
    return dataclasses.replace(spec, **changes)


def test_a_built_spec_with_names_for_functions_derives_like_its_toml():
    toml = Spec.from_toml(spec_toml((2, 3, 1), hypotheses=[
        {"name": "h", "layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}]), "x.toml")
    built = symderive.derive(_built(), numeric=False)
    expected = symderive.derive(dataclasses.replace(toml, title="built"), numeric=False)
    assert [r.verdict for r in built.results] == [r.verdict for r in expected.results]
    assert built.to_json() == expected.to_json()


@pytest.mark.parametrize("change,field", [
    ({"hypotheses": (Hypothesis("h", 5, (1, 2)),)}, "hypothesis[1].layer"),
    ({"hypotheses": (Hypothesis("h", 1, (1, 9)),)}, "hypothesis[1].units"),
    ({"hypotheses": (Hypothesis("h", 1, 7),)}, "hypothesis[1].units"),
    ({"hypotheses": (Hypothesis("h", 1, (1, 2), ("incomming",)),)}, "hypothesis[1].tie"),
    ({"network": NetworkSpec((2, 3, 1), "tanhh", "identity")}, "network.activation"),
    ({"network": NetworkSpec((2, 3, 1), 3, "identity")}, "network.activation"),
    ({"network": NetworkSpec((2, 3, 1), "tanh", "identity", loss="l2")}, "network.loss"),
    ({"network": NetworkSpec((2, 3, 1), "tanh", "identity", samples=0)}, "network.samples"),
    ({"network": None}, "network"),
    ({"check": CheckSpec(learning_rate=-1.0)}, "check.learning_rate"),
    ({"check": CheckSpec(optimizer="lbfgs")}, "check.optimizer"),
    ({"title": 5}, "title"),
])
def test_a_bad_built_spec_is_a_spec_error_naming_the_field(change, field):
    with pytest.raises(SpecError) as e:
        symderive.derive(_built(**change), numeric=False)
    assert e.value.field == field, str(e.value)
    assert str(e.value).startswith(f"<spec>: {field}: ")


def test_a_validated_spec_is_not_validated_again():
    spec = symderive.load("weight-symmetry")
    assert spec.validated() is spec and symderive.load(spec) is spec
    built = _built()
    assert built.validated() is not built and built.validated() == built.validated()
