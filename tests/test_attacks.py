"""Attacks beyond the bad-input corpus (issue 18): nothing lost, nothing hangs, no traceback.

Each test runs the real command line in a fresh process (signals, file-size limits,
closed descriptors only exist there) and checks what is left on disk and on stderr.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DERIVATIONS, ROOT, descendants, one_line_error, run_subprocess
from symderive.cli import batch
from symderive.render.text import latex_escape
from symderive.spec.latex import parse_activation
from symderive.spec.latex.complexity import degree, kink_degree, nesting, problem

SEED = DERIVATIONS / "weight_symmetry.toml"


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "q.toml"
    path.write_bytes(SEED.read_bytes())
    return path



# ------------------------------------------------------------------ data loss


def test_output_onto_the_spec_is_refused_and_the_spec_is_kept(spec):
    before = spec.read_bytes()
    for target in (str(spec), str(spec.parent / "." / spec.name)):
        result = run_subprocess("derive", str(spec), "-o", target, cwd=spec.parent)
        assert result.returncode == 2
        assert "is the spec being derived" in one_line_error(result)
    assert spec.read_bytes() == before


def test_a_symlink_at_o_is_not_followed_unless_asked(spec, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(spec)
    result = run_subprocess("derive", str(spec), "-o", str(link))
    assert result.returncode == 2 and "--follow-symlinks" in one_line_error(result)
    # following it onto the spec is still refused
    result = run_subprocess("derive", str(spec), "-o", str(link), "--follow-symlinks")
    assert result.returncode == 2 and "is the spec being derived" in one_line_error(result)
    assert spec.read_bytes() == SEED.read_bytes()
    elsewhere = tmp_path / "report.json"
    elsewhere.write_text("old")
    other = tmp_path / "other"
    other.symlink_to(elsewhere)
    result = run_subprocess("derive", str(spec), "-o", str(other), "--follow-symlinks",
                            "--format", "json")
    assert result.returncode == 0, result.stderr
    assert other.is_symlink() and elsewhere.read_text().startswith("{")


def test_an_unwritable_output_is_refused_before_any_work(spec, tmp_path):
    started = time.monotonic()
    result = run_subprocess("derive", str(spec), "-o", str(tmp_path / "no" / "such" / "x.md"))
    assert result.returncode == 2 and "no such folder" in one_line_error(result)
    result = run_subprocess("derive", str(spec), "-o", str(tmp_path))
    assert result.returncode == 2 and "is a directory" in one_line_error(result)
    # nothing was derived: both refusals together cost less than one derivation's numerics
    assert not list(tmp_path.glob("*.partial"))
    assert time.monotonic() - started < 120


def _with_file_size_limit(limit_bytes: int):
    def preexec():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return preexec


@pytest.mark.parametrize("fmt", ["markdown", "pdf"])
def test_a_file_size_limit_leaves_the_old_report_untouched(spec, tmp_path, fmt):
    if fmt == "pdf" and not _has_pdflatex():
        pytest.skip("pdflatex not installed")
    report = tmp_path / ("r.pdf" if fmt == "pdf" else "r.md")
    old = b"the previous report\n" * 1000          # 20 kB, bigger than the limit
    report.write_bytes(old)
    detail = ("--detail", "full")        # both over the 8 kB limit (a brief answer is not)
    result = subprocess.run([sys.executable, "-m", "symderive", "derive", str(spec), "-o",
                             str(report), "--format", fmt, *detail], capture_output=True,
                            cwd=ROOT,
                            preexec_fn=_with_file_size_limit(8192), timeout=300)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "limit" in line or "File too large" in line
    assert report.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.toml", report.name]


def _has_pdflatex() -> bool:
    import shutil

    return shutil.which("pdflatex") is not None


def test_sigterm_during_a_run_leaves_the_old_report_and_no_partial_file(spec, tmp_path):
    report = tmp_path / "r.json"
    report.write_text("old")
    proc = subprocess.Popen([sys.executable, "-m", "symderive", "derive", str(spec), "-o",
                             str(report), "--format", "json"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err
    text = report.read_text()
    if proc.returncode == 0:                    # it finished first: the new report is whole
        assert json.loads(text)["hypotheses"]
    else:
        assert proc.returncode in (143, -signal.SIGTERM)
        # the old report, or (the signal came between the rename and the exit) the whole
        # new one: never a part of it
        assert text == "old" or json.loads(text)["hypotheses"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.toml", "r.json"]



@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_batch_leaves_no_worker_behind(tmp_path, sig):
    specs = tmp_path / "specs"
    specs.mkdir()
    for k in range(6):
        (specs / f"s{k}.toml").write_bytes(SEED.read_bytes())
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "symderive", "derive", str(specs), "-o",
                             str(out), "--jobs", "2", "--format", "json"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(descendants(proc.pid)) < 2:
        time.sleep(0.1)
    workers = descendants(proc.pid)
    assert workers, "the batch started no worker"
    proc.send_signal(sig)
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - started < 15, "the queued specs were derived after the signal"
    assert proc.returncode != 0 and b"Traceback" not in err
    time.sleep(0.5)
    alive = {p for p in workers if Path(f"/proc/{p}").exists()
             and "symderive" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")}
    assert alive == set()
    assert not list(out.glob(".*partial")) if out.exists() else True


def test_a_file_name_with_brackets_is_that_file(tmp_path):
    path = tmp_path / "a[1].toml"
    path.write_bytes(SEED.read_bytes())
    assert not batch.is_batch(str(path))
    assert batch.is_batch(str(tmp_path / "*.toml"))
    result = run_subprocess("derive", str(path), "--format", "json", "-o",
                            str(tmp_path / "a.json"))
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------ tracebacks


def test_closed_stdout_is_one_line_and_non_zero(spec):
    result = subprocess.run(f'"{sys.executable}" -m symderive derive "{spec}" --format json >&-',
                            shell=True, capture_output=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert "standard output is closed" in one_line_error(result)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [("derive", "{spec}", "--format", "json"), ("list",)])
def test_a_full_stdout_is_one_line_and_non_zero(spec, args):
    argv = [a.format(spec=spec) for a in args]
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, "-m", "symderive", *argv], stdout=full,
                                stderr=subprocess.PIPE, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    assert "No space left" in result.stderr.decode() or "no space left" in result.stderr.decode()
    one_line_error(result)


def test_the_time_limit_stops_a_run_with_one_line(spec):
    result = run_subprocess("derive", str(spec), "--format", "json", "--time-limit", "0.01")
    assert result.returncode == 2
    assert "time limit of 0.01 s" in one_line_error(result)
    assert result.stdout == b""


@pytest.mark.parametrize("bad", ["-1", "abc", "nan"])
def test_a_bad_time_limit_is_a_usage_error(spec, bad):
    result = run_subprocess("derive", str(spec), "--time-limit", bad)
    assert result.returncode == 2 and b"--time-limit" in result.stderr


# ------------------------------------------------------------------ complexity


@pytest.mark.parametrize("formula,nest,deg,kink", [
    ("z", 0, 1, 0),
    (r"\max(0, z)", 0, 1, 1),
    (r"z \tanh(\ln(1+e^{z}))", 3, 2, 0),
    (r"\frac{z}{1+|z|}", 2, 2, 1),
    (r"e^{e^{e^{z}}}", 3, 1, 0),
    (r"(1+z)^{9}(2+z)^{9}", 1, 18, 0),
    (r"|z^{100}-1|", 2, 100, 100),
    (r"\begin{cases} z & z^{3} > 1 \\ 0 & \text{otherwise} \end{cases}", 2, 3, 3),
])
def test_complexity_measures(formula, nest, deg, kink):
    expr = parse_activation(formula)
    assert (nesting(expr), degree(expr), kink_degree(expr)) == (nest, deg, kink)


@pytest.mark.parametrize("formula,ok", [
    (r"\frac{z}{2}\left(1+\operatorname{erf}\left(\frac{z}{\sqrt{2}}\right)\right)", True),
    (r"\begin{cases} z & z > 0 \\ e^{z}-1 & z \le 0 \end{cases}", True),
    (r"\frac{1}{1+\frac{1}{1+\frac{1}{1+\frac{1}{1+z^2}}}}", True),
    (r"\frac{1}{1+\frac{1}{1+\frac{1}{1+\frac{1}{1+\frac{1}{1+z^2}}}}}", False),
    (r"e^{e^{e^{e^{e^{e^{z}}}}}}", False),
    (r"\max(0, z^{13} - 1)", False),
    (r"z^{100} + z", True),
])
def test_complexity_refuses_towers_and_high_degree_kinks_only(formula, ok):
    assert (problem(parse_activation(formula)) is None) == ok


# ------------------------------------------------------------------ hostile text


@pytest.mark.parametrize("char,shown", [("\u03da", "[U+03DA]"), ("\u03df", "[U+03DF]"),
                                        ("\u03dd", "[U+03DD]"), ("\u03e1", "[U+03E1]"),
                                        ("\u03c2", "[U+03C2]"), ("\u03b1", r"\alpha")])
def test_greek_letters_without_a_latex_command_are_shown_as_code_points(char, shown):
    assert shown in latex_escape(char)


def test_a_title_with_archaic_greek_compiles(tmp_path):
    if not _has_pdflatex():
        if os.environ.get("SYMDERIVE_CI"):
            pytest.fail("pdflatex is required in CI")
        pytest.skip("pdflatex not installed")
    text = SEED.read_text(encoding="utf-8").replace(
        'title = "', 'title = "Koppa \u03de\u03df stigma \u03da\u03db sampi \u03e0 ', 1)
    path = tmp_path / "greek.toml"
    path.write_text(text, encoding="utf-8")
    result = run_subprocess("derive", str(path), "-o", str(tmp_path / "greek.pdf"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "greek.pdf").read_bytes().startswith(b"%PDF")
