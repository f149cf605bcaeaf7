"""Error messages say what is wrong, in the caller's terms (CLI flags only on the CLI)."""
from __future__ import annotations

import pytest

import symderive
from conftest import run_subprocess
from report_helpers import FOUNDING, bundled_derivation
from symderive.errors import SpecError
from symderive.render.preamble import OptionError

SPEC = FOUNDING.read_text(encoding="utf-8")


def test_layers_of_the_wrong_type_are_called_wrong_not_missing(tmp_path, cli):
    path = tmp_path / "bad.toml"
    path.write_text(SPEC.replace("layers = [2, 2, 1]", 'layers = "2,2,1"'), encoding="utf-8")
    status, out, err = cli("derive", str(path), "-q")
    assert status == 2 and out == "" and "Traceback" not in err
    assert "network.layers: must be an array of layer sizes" in err
    assert "not a string" in err and "is required" not in err
    path.write_text(SPEC.replace("layers = [2, 2, 1]\n", ""), encoding="utf-8")
    status, _, err = cli("derive", str(path), "-q")
    assert status == 2 and "network.layers: is required" in err       # missing: required


def test_derive_of_toml_text_points_to_spec_from_toml():
    with pytest.raises(SpecError) as caught:
        symderive.derive(SPEC, numeric=False)
    message = str(caught.value)
    assert "Spec.from_toml" in message
    assert "lecturer" not in message and len(message) < 200     # the text is not echoed
    spec = symderive.Spec.from_toml(SPEC)                        # the hint works
    assert [r.verdict for r in symderive.derive(spec, numeric=False).results] == \
        ["broken", "broken", "preserved", "preserved", "broken"]


@pytest.mark.parametrize("call", [
    lambda d: d.to_latex(paper="a5"),
    lambda d: d.to_pdf("never-written.pdf", paper="a5"),
    lambda d: d.to_latex(fragment=True, paper="a4"),
])
def test_the_api_speaks_of_its_arguments_not_of_cli_flags(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OptionError) as caught:
        call(bundled_derivation(FOUNDING))
    assert "--" not in str(caught.value) and "paper" in str(caught.value)
    assert not (tmp_path / "never-written.pdf").exists()


def test_the_cli_still_names_its_flag():
    done = run_subprocess("derive", "weight-symmetry", "--format", "latex", "--paper", "a5")
    assert done.returncode == 2 and b"--paper" in done.stderr and b"'a5'" in done.stderr
