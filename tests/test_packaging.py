"""The package as a user installs it: the wheel's files, its metadata, and the CLI run
from a folder outside the checkout in a fresh virtual environment.

Building needs the build backend (setuptools, from the package index through pip's
build isolation); the virtual environment reuses the site packages of the interpreter
running the tests for the dependencies (a ``.pth`` file naming them, so that this works
from inside a virtual environment too, where ``--system-site-packages`` would see the base
interpreter's packages instead), so installing needs no network.
"""
from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

import symderive
from conftest import BUNDLED, BUNDLED_NAMES, LAYER_BUNDLED, ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NAMES = BUNDLED_NAMES


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


# --- pyproject.toml ------------------------------------------------------------------

def test_every_package_is_listed_and_derivations_map_to_the_folder():
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "symderive").rglob("__init__.py")}
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert set(setuptools["packages"]) == found | {"symderive.derivations"}
    assert setuptools["package-dir"] == {"symderive.derivations": "derivations"}
    assert "*.toml" in setuptools["package-data"]["symderive.derivations"]


def test_the_version_has_one_source():
    assert PYPROJECT["project"]["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "symderive.__version__"}


# --- the wheel -----------------------------------------------------------------------

#: What a build reads from the checkout (setuptools writes build/ and *.egg-info
#: beside it, so the tests build a copy).
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "symderive", "derivations"]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A copy of the checkout's files that go into a build."""
    out = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "rendered")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, out / name, ignore=ignore)
        else:
            shutil.copy2(path, out / name)
    return out


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    r = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, source,
             cwd=out)
    assert r.returncode == 0, r.stderr
    (path,) = out.glob("symderive-*.whl")
    return path


def test_the_wheel_holds_the_package_and_every_bundled_derivation(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for p in BUNDLED:
        assert f"symderive/derivations/{p.name}" in names, p.name
    for p in LAYER_BUNDLED:
        assert f"symderive/derivations/layers/{p.name}" in names, p.name
    for p in (ROOT / "symderive").rglob("*.py"):
        assert p.relative_to(ROOT).as_posix() in names, p
    assert "symderive/py.typed" in names
    assert not any(n.startswith(("tests/", "derivations/", "symderive/derivations/rendered"))
                   for n in names)


def test_the_wheels_metadata_is_what_an_index_shows(wheel):
    with zipfile.ZipFile(wheel) as z:
        (meta_name,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        text = z.read(meta_name).decode("utf-8")
        meta = email.message_from_string(text)
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in z.namelist())
    assert meta["Name"] == "symderive" and meta["Version"] == symderive.__version__
    assert meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["Description-Content-Type"] == "text/markdown"
    long_description = text.split("\n\n", 1)[1]
    assert long_description.strip() == (ROOT / "README.md").read_text(encoding="utf-8").strip()
    assert len(meta["Summary"]) > 40 and "sympy" in meta["Keywords"]
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Topic :: Scientific/Engineering") for c in classifiers)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed: its bin/ folder."""
    env = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(env)
    bin_ = env / ("Scripts" if os.name == "nt" else "bin")
    _see_our_dependencies(bin_ / "python")
    r = _run(bin_ / "python", "-m", "pip", "install", "--no-deps", "-q", wheel, cwd=env)
    assert r.returncode == 0, r.stderr
    return bin_


def _see_our_dependencies(python: Path) -> None:
    """Let the fresh environment import this interpreter's packages (sympy, numpy, ...).

    A ``.pth`` line adds a folder to ``sys.path`` after the environment's own
    site-packages, so the wheel installed there wins; the folder's own ``.pth`` files
    (this checkout's editable install among them) are not run.
    """
    ours = sorted({sysconfig.get_paths()[k] for k in ("purelib", "platlib")})
    r = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
             cwd=python.parent)
    assert r.returncode == 0, r.stderr
    Path(r.stdout.strip(), "symderive-test-dependencies.pth").write_text(
        "".join(f"{folder}\n" for folder in ours), encoding="utf-8")


def test_the_installed_package_is_the_wheels_not_the_checkout(installed, tmp_path):
    r = _run(installed / "python", "-c", "import symderive; print(symderive.__file__)",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()).is_relative_to(installed.parent)


def test_installed_version_and_list_from_another_folder(installed, tmp_path):
    r = _run(installed / "symderive", "--version", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, f"symderive {symderive.__version__}\n")
    r = _run(installed / "symderive", "list", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [line.split()[0] for line in r.stdout.splitlines()] == NAMES


def test_installed_readme_command_from_another_folder(installed, tmp_path):
    r = _run(installed / "symderive", "derive", "weight-symmetry", "--format", "json",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    expected = json.loads(symderive.derive("weight-symmetry").to_json())
    assert [h["verdict"] for h in report["hypotheses"]] == [
        h["verdict"] for h in expected["hypotheses"]]
    assert len(report["hypotheses"]) == len(symderive.load("weight-symmetry").hypotheses)


def test_installed_python_api_and_a_latex_activation(installed, tmp_path):
    """The LaTeX parser runs in a worker process: it must find the installed package."""
    code = ("import symderive\n"
            "print(symderive.bundled() == %r)\n"
            "spec = symderive.Spec.from_dict({'network': {'layers': [2, 2, 1], 'activation':"
            " {'latex': r'\\frac{z}{1+|z|}'}}, 'hypothesis': [{'layer': 1, 'units': [1, 2],"
            " 'tie': ['incoming', 'bias', 'outgoing']}]})\n"
            "print(symderive.derive(spec, numeric=False).results[0].verdict)\n" % NAMES)
    r = _run(installed / "python", "-c", code, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "preserved"]


# --- the sdist -----------------------------------------------------------------------

def test_the_sdist_holds_the_bundled_derivations_and_builds_a_complete_wheel(source,
                                                                              tmp_path):
    try:
        import build  # noqa: F401 - the PyPA builder, in the [test] extra
    except ImportError:
        from report_helpers import IN_CI

        if IN_CI:
            raise
        pytest.skip("the 'build' package is not installed (pip install build)")
    r = _run(sys.executable, "-m", "build", "--sdist", "-o", tmp_path, source, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (sdist,) = tmp_path.glob("symderive-*.tar.gz")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {f"derivations/{p.name}" for p in BUNDLED} <= names
    assert {f"derivations/layers/{p.name}" for p in LAYER_BUNDLED} <= names
    assert {"README.md", "LICENSE", "pyproject.toml", "derivations/__init__.py"} <= names
    r = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, sdist,
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("symderive-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    assert {f"symderive/derivations/{p.name}" for p in BUNDLED} <= inside
    assert {f"symderive/derivations/layers/{p.name}" for p in LAYER_BUNDLED} <= inside
