"""The bad-input corpus (tests/bad_inputs/): every file exits 2 with one clear line.

tests/bad_inputs/expected.toml says, per file, why it is bad and what the
message must contain: the file, the line where TOML or the key gives one,
the field, and what is allowed.  Every file runs in-process (fast); a few
run in a fresh interpreter as well, to prove that nothing but that one line
reaches stderr -- no traceback, no warning, no output of the LaTeX worker.
The table of tests/test_spec.py covers the spec's structure cell by cell;
this corpus is files as strangers send them, formulas included.
"""
from __future__ import annotations

import concurrent.futures
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

CORPUS = ROOT / "tests" / "bad_inputs"
INDEX = CORPUS / "expected.toml"
EXPECTED: dict[str, dict] = tomllib.loads(INDEX.read_text(encoding="utf-8"))
MESSAGE = re.compile(r"symderive: (?P<path>.+?)(?::(?P<line>\d+))?: (?P<rest>.*)\n")


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p != INDEX)


def check_message(err: str, path: Path, entry: dict) -> None:
    """``err`` is the one line ``entry`` of the index asks for."""
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), f"not one line: {err!r}"
    assert all(c.isprintable() for c in err[:-1]), f"unprintable character in {err!r}"
    assert err.startswith(f"symderive: {path}"), f"file not named first: {err!r}"
    m = MESSAGE.fullmatch(err)
    assert m, err
    if "line" in entry:
        assert err.startswith(f"symderive: {path}:{entry['line']}: "), \
            f"line {entry['line']} not given: {err!r}"
    if "field" in entry:
        assert f": {entry['field']}: " in err, f"field {entry['field']} not named: {err!r}"
    for piece in entry["says"]:
        assert piece in err, f"{piece!r} not said: {err!r}"


def test_the_corpus_has_at_least_50_files_each_with_an_entry():
    names = {p.name for p in corpus_files()}
    assert len(names) >= 50
    assert names == set(EXPECTED), (
        f"files without an entry: {sorted(names - set(EXPECTED))}; "
        f"entries without a file: {sorted(set(EXPECTED) - names)}")
    for name, entry in EXPECTED.items():
        assert entry.get("why") and entry.get("says"), name
        assert set(entry) <= {"why", "line", "field", "says"}, name


def test_the_corpus_covers_every_kind_of_bad_input_of_issue_8():
    """One or more files per kind the issue names (by the file-name prefixes)."""
    kinds = ["toml_", "type_", "missing_", "unknown_key", "size_", "one_layer", "units_equal",
             "units_out_of_range", "layer_input", "layer_output", "group_misspelt",
             "group_bias_without_bias", "activation_unknown", "loss_unknown",
             "formula_free_symbols", "formula_input_file", "formula_huge_exponent",
             "formula_deep", "formula_10000_chars", "formula_python", "binary_", "utf8_",
             "empty_file"]
    names = [p.name for p in corpus_files()]
    for kind in kinds:
        assert any(n.startswith(kind) for n in names), kind


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_exits_2_with_one_line_naming_file_line_field_and_what_is_allowed(
        cli, name):
    path = CORPUS / name
    status, out, err = cli("derive", str(path), "--format", "json")
    assert status == 2, err
    assert out == ""
    check_message(err, path, EXPECTED[name])


#: Files that go through every layer that could leak: decoding, TOML's recursion,
#: the LaTeX worker process, the resource guard.
IN_A_FRESH_PROCESS = ["binary_png.toml", "utf8_latin1_name.toml", "empty_file.toml",
                      "toml_deep_inline_tables.toml", "formula_python_import.toml",
                      "formula_write18.toml", "guard_too_many_parameters.toml",
                      "formula_huge_exponent.toml"]


def _run(name: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symderive", "derive", str(CORPUS / name),
                           "--format", "json"], capture_output=True, cwd=ROOT, timeout=300)


def test_in_a_fresh_process_only_the_one_line_reaches_stderr():
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip(IN_A_FRESH_PROCESS, pool.map(_run, IN_A_FRESH_PROCESS)))
    for name, r in runs.items():
        assert r.returncode == 2, (name, r.stderr)
        assert r.stdout == b"", name
        check_message(r.stderr.decode("utf-8"), CORPUS / name, EXPECTED[name])

