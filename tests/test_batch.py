"""`symderive derive DIR|GLOB -o OUTDIR --jobs N`: many specs, same reports as one by one."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from symderive.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "derivations" / "weight_symmetry.toml"


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    d = tmp_path / "specs"
    d.mkdir()
    shutil.copy(SEED, d / "a.toml")
    text = SEED.read_text().replace('tie = ["outgoing"]', 'tie = ["incoming"]')
    (d / "b.toml").write_text(text)
    return d


@pytest.mark.parametrize("jobs", [1, 2])
def test_batch_matches_single_runs(specs: Path, tmp_path: Path, jobs: int, capsys) -> None:
    out = tmp_path / f"out{jobs}"
    assert main(["derive", str(specs), "--format", "json", "-o", str(out), "--jobs", str(jobs)]) == 0
    for name in ("a", "b"):
        single = tmp_path / f"{name}.single.json"
        assert main(["derive", str(specs / f"{name}.toml"), "--format", "json",
                     "-o", str(single)]) == 0
        assert (out / f"{name}.json").read_bytes() == single.read_bytes()


def test_glob_selects_files(specs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["derive", str(specs / "a*.toml"), "--format", "json", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.json"]


def test_bad_spec_in_batch_exits_2_and_names_it(specs: Path, tmp_path: Path, capsys) -> None:
    (specs / "c.toml").write_text("[network]\nlayers = [2]\n")   # no output layer
    status = main(["derive", str(specs), "--format", "json", "-o", str(tmp_path / "o"),
                   "--jobs", "2"])
    err = capsys.readouterr().err
    assert status == 2
    assert "c.toml" in err and "network.layers" in err
    assert (tmp_path / "o" / "a.json").exists()  # the good ones are still written


def test_batch_needs_output_directory(specs: Path, capsys) -> None:
    assert main(["derive", str(specs), "--format", "json"]) == 2
    assert "-o OUTDIR" in capsys.readouterr().err


def test_glob_matching_nothing(tmp_path: Path, capsys) -> None:
    assert main(["derive", str(tmp_path / "*.toml"), "-o", str(tmp_path / "o")]) == 2
    assert "matches no .toml" in capsys.readouterr().err
