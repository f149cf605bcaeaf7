"""Where specs come from (symderive.sources): files, bundled names, standard
input (``symderive derive -``), and ``symderive --version``."""
from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import symderive
from conftest import BUNDLED, BUNDLED_NAMES, DERIVATIONS, ROOT, run_subprocess, spec_toml
from symderive import sources

FOUNDING = DERIVATIONS / "weight_symmetry.toml"
BAD_LAYER = spec_toml((2, 3, 1), hypotheses=[{"layer": 5, "units": [1, 2]}])


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_version_is_the_packages(capsys):
    from symderive.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"symderive {symderive.__version__}\n"
    r = run_subprocess("--version")
    assert r.returncode == 0 and r.stdout.decode() == f"symderive {symderive.__version__}\n"


def test_the_version_is_a_release_number():
    parts = symderive.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_a_spec_on_stdin_gives_the_report_of_the_file(cli, monkeypatch):
    status, by_file, err = cli("derive", str(FOUNDING), "--format", "json", "-q")
    assert status == 0, err
    _stdin(monkeypatch, FOUNDING.read_bytes())
    status, by_stdin, err = cli("derive", "-", "--format", "json", "-q")
    assert status == 0, err
    assert by_stdin == by_file


def test_a_spec_on_stdin_without_title_is_called_derivation(cli, monkeypatch):
    _stdin(monkeypatch, spec_toml((2, 3, 1), hypotheses=[
        {"layer": 1, "units": [1, 2], "tie": ["incoming"]}]).encode())
    status, out, err = cli("derive", "-", "--format", "json", "-q")
    assert status == 0, err
    assert json.loads(out)["title"] == "Derivation"


@pytest.mark.parametrize("data,expected", [
    (b"", "symderive: <stdin>: the spec is empty"),
    (b"  \n# only a comment\n", "symderive: <stdin>: the spec is empty"),
    (b"[network]\nlayers = [2, \xff]\n", "symderive: <stdin>:2: not valid UTF-8 text: byte 0xff"),
    (BAD_LAYER.encode(), "symderive: <stdin>:10: hypothesis[1].layer: "),
    (b"[network\n", "symderive: <stdin>:1: invalid TOML"),
    (b"#" * (sources.MAX_SPEC_BYTES + 10), "symderive: <stdin>: is larger than 1000000 bytes"),
])
def test_bad_input_on_stdin_names_stdin_and_exits_2(cli, monkeypatch, data, expected):
    _stdin(monkeypatch, data)
    status, out, err = cli("derive", "-", "--format", "json")
    assert (status, out) == (2, "")
    assert err.startswith(expected) and err.count("\n") == 1, err


def test_stdin_in_a_fresh_process_one_line_no_traceback():
    for data, expected in [(b"\x89PNG\r\n\x1a\n\x00\x00", b"symderive: <stdin>:1: not valid UTF-8"),
                           (BAD_LAYER.encode(), b"symderive: <stdin>:10: hypothesis[1].layer")]:
        r = subprocess.run([sys.executable, "-m", "symderive", "derive", "-"], input=data,
                           capture_output=True, cwd=ROOT, timeout=120)
        assert r.returncode == 2 and r.stdout == b""
        assert r.stderr.startswith(expected) and r.stderr.count(b"\n") == 1, r.stderr


def test_no_stdin_at_all_is_a_clear_error(cli, monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    status, _, err = cli("derive", "-")
    assert status == 2 and err.startswith("symderive: <stdin>: there is no standard input")


def test_a_file_named_dash_is_reached_by_its_path(cli, tmp_path, monkeypatch):
    (tmp_path / "-").write_bytes(FOUNDING.read_bytes())
    monkeypatch.chdir(tmp_path)
    _stdin(monkeypatch, b"")
    status, out, err = cli("derive", "./-", "--format", "json", "-q")
    assert status == 0, err
    assert len(json.loads(out)["hypotheses"]) == FOUNDING.read_text().count("[[hypothesis]]")


# --- bundled derivations -------------------------------------------------------------

def test_in_a_checkout_the_bundled_folder_is_the_derivations_folder():
    assert sources.bundled_folder() == DERIVATIONS
    assert list(sources.bundled_specs()) == BUNDLED_NAMES


@pytest.mark.parametrize("name", ["weight-symmetry", "weight_symmetry",
                                  "weight_symmetry.toml", "weight-symmetry.toml"])
def test_a_bundled_name_in_any_spelling_reads_the_file(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                       # no such file here
    assert sources.read_source(name) == ("weight_symmetry.toml", FOUNDING.read_bytes())


def test_a_file_of_the_bundled_name_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weight_symmetry.toml").write_text("# mine\n")
    assert sources.read_source("weight_symmetry.toml") == ("weight_symmetry.toml",
                                                           b"# mine\n")


def test_installed_without_the_data_nothing_is_bundled(cli, monkeypatch, tmp_path):
    """Outside a checkout the package data is all there is (here: none)."""
    monkeypatch.setattr(sources, "_CHECKOUT", tmp_path)
    # an editable install maps symderive.derivations onto the checkout: hide it too
    monkeypatch.setattr(sources, "BUNDLED_PACKAGE", "symderive_test_no_such_package")
    assert sources.bundled_folder() is None and sources.bundled_specs() == {}
    status, out, err = cli("list")
    assert (status, out) == (0, "")
    status, _, err = cli("derive", "weight-symmetry")
    assert status == 2 and "(bundled: none)" in err


def test_a_directory_is_not_a_spec(tmp_path):
    with pytest.raises(symderive.SpecError, match="is not a regular file"):
        sources.read_source(str(tmp_path / "."))


def test_list_and_version_answer_without_loading_sympy():
    code = ("import sys\nfrom symderive.cli import main\nmain(['list'])\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print('sympy' in sys.modules, 'numpy' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "False False"
    assert "weight-symmetry" in r.stdout


def test_a_closed_stdin_is_a_clear_error():
    code = ("import sys\nsys.stdin.close()\nfrom symderive.cli import main\n"
            "sys.exit(main(['derive', '-']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 2 and r.stderr == "symderive: <stdin>: cannot be read: it is closed\n"
