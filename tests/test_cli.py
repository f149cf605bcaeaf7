"""The command line: list, derive by name or path, -o, exit statuses, determinism."""
from __future__ import annotations

import json

import pytest

from conftest import DERIVATIONS, run_subprocess, spec_toml

SEED = DERIVATIONS / "weight_symmetry.toml"

#: A spec exercising more of the pipeline than the seed: ReLU, softmax, 2 samples, no bias.
VARIED = spec_toml(layers=(2, 3, 2), activation="relu", loss="softmax_ce", bias_=False,
                   samples=2, hypotheses=[
                       {"layer": 1, "units": [1, 3], "tie": ["incoming"]},
                       {"layer": 1, "units": [2, 3], "tie": ["outgoing"], "zero": ["incoming"]},
                       {"layer": 1, "units": [1, 2], "tie": ["incoming", "outgoing"]},
                   ])


def test_list_names_the_seed_derivation(cli):
    status, out, err = cli("list")
    assert (status, err) == (0, "")
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert "weight-symmetry" in names
    bundled = {p.stem.replace("_", "-") for p in DERIVATIONS.glob("*.toml")}
    assert bundled <= set(names)


def test_derive_by_bundled_name_and_by_path_agree(cli):
    by_name = cli("derive", "weight-symmetry", "--format", "json")
    by_path = cli("derive", str(SEED), "--format", "json")
    by_underscore = cli("derive", "weight_symmetry", "--format", "json")
    assert by_name[0] == by_path[0] == by_underscore[0] == 0
    assert by_name[1] == by_path[1] == by_underscore[1]
    report = json.loads(by_name[1])
    assert report["title"].startswith("Do identical incoming weights")
    assert by_name[1].endswith("\n")


def test_output_file(cli, tmp_path):
    out_path = tmp_path / "report.json"
    status, out, err = cli("derive", "weight-symmetry", "--format", "json", "-o", str(out_path))
    assert (status, out, err) == (0, "", "")
    _, stdout_text, _ = cli("derive", "weight-symmetry", "--format", "json")
    assert out_path.read_text(encoding="utf-8") == stdout_text
    assert json.loads(out_path.read_bytes())["hypotheses"][2]["verdict"] == "preserved"


def test_output_into_missing_directory_is_exit_2(cli, tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "r.json"
    status, out, err = cli("derive", "weight-symmetry", "--format", "json", "-o", str(target))
    assert (status, out) == (2, "")
    assert str(target) in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv", [["derive"], ["derive", "weight-symmetry", "--format", "docx"],
                                  ["frobnicate"], []])
def test_usage_errors_exit_2(cli, argv):
    with pytest.raises(SystemExit) as info:
        cli(*argv)
    assert info.value.code == 2


def test_json_is_byte_identical_across_runs_and_hash_seeds(tmp_path):
    """Two runs, and PYTHONHASHSEED 0 vs 1 (set/dict order of SymPy objects)."""
    spec = tmp_path / "varied.toml"
    spec.write_text(VARIED)
    for target in (str(SEED), str(spec)):
        runs = [run_subprocess("derive", target, "--format", "json",
                               env={"PYTHONHASHSEED": seed}) for seed in ("0", "1", "1")]
        for r in runs:
            assert r.returncode == 0, r.stderr.decode()
            assert r.stderr == b""
        assert runs[0].stdout == runs[1].stdout == runs[2].stdout
        json.loads(runs[0].stdout)


@pytest.mark.parametrize("name,content", [
    ("missing", None),
    ("deep", b"x = " + b"[" * 20000 + b"]" * 20000 + b"\n"),
    ("latin1", "title = 'caf\u00e9'\n".encode("latin-1")),
    ("garbage", bytes(range(255, -1, -1)) * 8),
    ("newline-key", b'[network]\nlayers = [2, 2, 1]\n"evil\\nline" = 1\n'),
], ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_in_a_real_process_is_one_line_exit_2(tmp_path, name, content):
    """In a fresh interpreter: no traceback, exactly one line on stderr, nothing on stdout."""
    path = tmp_path / f"{name}.toml"
    if content is not None:
        path.write_bytes(content)
    r = run_subprocess("derive", str(path), "--format", "json")
    assert r.returncode == 2
    assert r.stdout == b""
    err = r.stderr.decode("utf-8")
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and str(path) in err


def test_oversized_spec_is_refused_unread(tmp_path, cli):
    path = tmp_path / "huge.toml"
    path.write_text(VARIED + "\n# " + "x" * 2_000_000 + "\n")
    status, out, err = cli("derive", str(path), "--format", "json")
    assert (status, out) == (2, "")
    assert str(path) in err and "bytes" in err and err.count("\n") == 1


def test_a_path_wins_over_a_bundled_name(cli, tmp_path, monkeypatch):
    """A file called weight-symmetry in the working directory is the file, not the bundle."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weight-symmetry").write_text(spec_toml(
        layers=(1, 2, 1), hypotheses=[{"name": "local", "layer": 1, "units": [1, 2]}]))
    status, out, _ = cli("derive", "weight-symmetry", "--format", "json")
    assert status == 0
    assert [h["name"] for h in json.loads(out)["hypotheses"]] == ["local"]
