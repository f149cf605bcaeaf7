"""Issue 23: nothing is replaced that isn't a report, nothing is left running.

``-o`` onto a device or a FIFO writes into it (never renames a file over it), a
trailing slash is refused, ``Derivation.to_pdf`` writes like ``-o``, a short write
to standard output is an error, and a batch's workers, LaTeX parsers and temporary
folders do not outlive it, even when it is killed with SIGKILL.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import DERIVATIONS, ROOT, descendants, one_line_error, run_subprocess
from symderive import files as output
from symderive.errors import SpecError

SEED = DERIVATIONS / "weight_symmetry.toml"
LINUX_PROC = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")


@pytest.fixture
def spec(tmp_path) -> Path:
    path = tmp_path / "q.toml"
    path.write_bytes(SEED.read_bytes())
    return path



@pytest.fixture
def no_rename(monkeypatch):
    """Fail the test if anything is renamed into place (a device must never be replaced)."""
    def refuse(src, dst, *a, **k):
        raise AssertionError(f"renamed {src} over {dst}")
    monkeypatch.setattr(os, "replace", refuse)
    monkeypatch.setattr(os, "rename", refuse)


# ------------------------------------------------------------------ -o onto non-files


def test_a_fifo_with_a_reader_is_written_into_never_replaced(spec, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = run_subprocess("derive", str(spec), "--format", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0].startswith(b"{") and b'"hypotheses"' in received[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe", "q.toml"]


def test_a_fifo_nobody_reads_is_refused_not_waited_on(spec, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run_subprocess("derive", str(spec), "--format", "json", "-o", str(fifo))
    assert result.returncode == 2
    line = one_line_error(result)
    assert str(fifo) in line and "nobody is reading" in line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="needs /dev/null")
def test_dev_null_is_written_to_not_renamed_over(spec, cli, no_rename):
    status, out, err = cli("derive", str(spec), "--format", "json", "-o", os.devnull)
    assert status == 0, err
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="needs /dev/full")
def test_dev_full_is_one_line_naming_it(spec, cli, no_rename):
    status, out, err = cli("derive", str(spec), "--format", "json", "-o", "/dev/full")
    assert status == 2
    assert "/dev/full" in err and "no space left" in err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_device_that_appears_after_the_check_is_not_renamed_over(tmp_path, monkeypatch):
    """The check and the rename are apart in time: write() looks again."""
    target = tmp_path / "r.json"
    checked = output.check_target(str(target))
    fifo_payloads = []
    monkeypatch.setattr(output, "_stream_at", lambda t: True)
    monkeypatch.setattr(output, "write_stream",
                        lambda data, t, shown: fifo_payloads.append((data, t)))
    output.write("report", checked, str(target))
    assert fifo_payloads == [(b"report", target)] and not target.exists()


def test_a_socket_is_refused(tmp_path):
    import socket

    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(SpecError, match="neither a regular file"):
            output.check_target(str(path))


def test_a_trailing_slash_is_refused_and_the_file_kept(spec, tmp_path):
    kept = tmp_path / "exists.md"
    kept.write_text("mine")
    result = run_subprocess("derive", str(spec), "-o", str(kept) + "/")
    assert result.returncode == 2
    assert "ends with a slash" in one_line_error(result)
    assert kept.read_text() == "mine"


def test_a_batch_writes_into_a_fifo_among_its_outputs(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    for name in ("a", "b"):
        (specs / f"{name}.toml").write_bytes(SEED.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    os.mkfifo(out / "a.json")
    received = []
    reader = threading.Thread(target=lambda: received.append((out / "a.json").read_bytes()))
    reader.start()
    result = run_subprocess("derive", str(specs), "-o", str(out), "--format", "json",
                            "--jobs", "2")
    reader.join(timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(out / "a.json").st_mode)
    assert received and b'"hypotheses"' in received[0]
    assert (out / "b.json").read_bytes().startswith(b"{")


def test_a_vanished_output_folder_is_named(tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    target = output.check_target(str(folder / "r.md"))
    folder.rmdir()
    with pytest.raises(SpecError) as caught:
        output.write("report", target, str(folder / "r.md"))
    assert str(folder) in str(caught.value)


def test_a_short_write_to_stdout_is_exit_2(spec, tmp_path):
    """``ulimit -f 4`` lets the first 2 or 4 kB through (blocks of 512 bytes in sh, of
    1024 in bash), then refuses the rest."""
    report = tmp_path / "out.tex"
    script = (f'ulimit -f 4; "{sys.executable}" -m symderive derive "{spec}" '
              f'--format latex > "{report}"')
    result = subprocess.run(["sh", "-c", script], capture_output=True, cwd=ROOT, timeout=300)
    assert report.stat().st_size in (2048, 4096)      # the limit really cut it short
    assert result.returncode == 2
    line = one_line_error(result)
    assert "standard output" in line and "file-size limit" in line


# ------------------------------------------------------------------ Derivation.to_pdf


@pytest.fixture(scope="module")
def derivation():
    import symderive

    return symderive.derive(SEED, numeric=False)


def test_to_pdf_refuses_the_specs_own_path(tmp_path, monkeypatch):
    import symderive

    path = tmp_path / "q.toml"
    path.write_bytes(SEED.read_bytes())
    d = symderive.derive(path, numeric=False)
    monkeypatch.setattr(type(d), "_render", lambda self, fmt, opts: b"%PDF-fake")
    with pytest.raises(SpecError, match="is the spec being derived"):
        d.to_pdf(path)
    assert path.read_bytes() == SEED.read_bytes()


def test_to_pdf_on_a_full_disk_keeps_the_old_file_and_names_the_path(
        derivation, tmp_path, monkeypatch):
    monkeypatch.setattr(type(derivation), "_render", lambda self, fmt, opts: b"%PDF-" * 1000)
    old = tmp_path / "r.pdf"
    old.write_bytes(b"old pdf")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[:100])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(SpecError) as caught:
        derivation.to_pdf(old)
    assert str(old) in str(caught.value) and "no space left" in str(caught.value)
    assert old.read_bytes() == b"old pdf"
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


def test_to_pdf_into_a_missing_folder_names_the_path(derivation, tmp_path, monkeypatch):
    monkeypatch.setattr(type(derivation), "_render", lambda self, fmt, opts: b"%PDF-")
    target = tmp_path / "no" / "r.pdf"
    with pytest.raises(SpecError) as caught:
        derivation.to_pdf(target)
    assert str(target) in str(caught.value)


def test_to_pdf_replaces_a_file_atomically(derivation, tmp_path, monkeypatch):
    monkeypatch.setattr(type(derivation), "_render", lambda self, fmt, opts: b"%PDF-new")
    target = tmp_path / "r.pdf"
    target.write_bytes(b"old")
    replaced = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append((a, b)), real(a, b)))
    assert derivation.to_pdf(target) == b"%PDF-new"
    assert target.read_bytes() == b"%PDF-new" and replaced and Path(replaced[0][1]) == target


# ------------------------------------------------------------------ processes



def _running_symderive(pids: set[int]) -> set[int]:
    """The ``pids`` still running symderive code (not zombies, not reused pids)."""
    alive = set()
    for p in pids:
        try:
            state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if state != "Z" and "symderive" in cmdline:
            alive.add(p)
    return alive


def _latex_specs(folder: Path, count: int) -> Path:
    """``count`` specs whose LaTeX activation makes every worker start a LaTeX parser."""
    folder.mkdir()
    text = SEED.read_text()
    for k in range(count):
        formula = f"activation = {{ latex = '\\tanh(z) + z^{{3}}/{k + 3}' }}"
        (folder / f"s{k}.toml").write_text(text.replace('activation = "tanh"', formula, 1))
    return folder


@LINUX_PROC
def test_sigkill_on_a_batch_takes_its_workers_and_parsers_with_it(tmp_path):
    specs = _latex_specs(tmp_path / "specs", 8)
    proc = subprocess.Popen([sys.executable, "-m", "symderive", "derive", str(specs), "-o",
                             str(tmp_path / "out"), "--jobs", "2", "--format", "json"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    below: set[int] = set()
    while time.monotonic() < deadline and len(below) < 4:   # 2 workers, 2 parsers
        time.sleep(0.1)
        below |= descendants(proc.pid)
    below |= descendants(proc.pid)
    assert len(_running_symderive(below)) >= 4, "no worker and parser processes seen"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running_symderive(below):
        time.sleep(0.2)
    assert _running_symderive(below) == set()


@LINUX_PROC
def test_a_latex_parser_dies_with_the_process_that_started_it(tmp_path):
    script = ("import os, time, symderive\n"
              "from symderive.spec.latex import parse_activation\n"
              "parse_activation(r'\\tanh(z)')\n"
              "print(os.getpid(), flush=True)\n"
              "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE)
    proc.stdout.readline()
    parsers = _running_symderive(descendants(proc.pid))
    assert parsers, "no parser process started"
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _running_symderive(parsers):
        time.sleep(0.2)
    assert _running_symderive(parsers) == set()


def _has_pdflatex() -> bool:
    import shutil

    return shutil.which("pdflatex") is not None


@LINUX_PROC
@pytest.mark.skipif(not _has_pdflatex(), reason="pdflatex not installed")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_pdf_batch_leaves_no_temporary_folder(tmp_path, sig):
    specs = tmp_path / "specs"
    specs.mkdir()
    for k in range(6):
        (specs / f"s{k}.toml").write_bytes(SEED.read_bytes())
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-m", "symderive", "derive", str(specs), "-o",
                             str(tmp_path / "out"), "--jobs", "2", "--format", "pdf"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120       # until pdflatex runs in some temporary folder
    while time.monotonic() < deadline and not list(scratch.rglob("*.tex")):
        time.sleep(0.05)
    assert list(scratch.rglob("*.tex")), "pdflatex never started"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and b"Traceback" not in err
    assert list(scratch.iterdir()) == []
