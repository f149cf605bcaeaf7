"""Issue 23, the Python API: ``derive(spec, limits=True)`` guards as the command line
does, and every error the API raises is a SymderiveError with a message."""
from __future__ import annotations

import errno
import time

import pytest

import symderive
from conftest import DERIVATIONS, spec_toml
from symderive import api
from symderive.budget import DEFAULT_TIME_LIMIT
from symderive.errors import (OutputError, ResourceLimitError, SpecError, SymderiveError,
                              translated)
from symderive.guards import check_resources, refusals
from symderive.spec import Spec

SEED = DERIVATIONS / "weight_symmetry.toml"
#: Over the numeric limit: 100,000 training steps on a wide network.
OVER = spec_toml(layers=(8, 512, 512, 4), samples=256,
                 hypotheses=[{"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}],
                 extra="[check]\nsteps = 100000\n")


def test_limits_true_refuses_what_the_cli_refuses(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(OVER)
    spec = Spec.from_toml(OVER, str(path))
    assert refusals(spec), "the spec should be over a limit"
    with pytest.raises(SpecError) as from_api:
        symderive.derive(path, limits=True)
    with pytest.raises(SpecError) as from_guard:
        check_resources(spec, OVER)
    assert str(from_api.value) == str(from_guard.value)
    assert from_api.value.line is not None            # located in the file, as the CLI


def test_limits_default_is_off(monkeypatch):
    """Without limits, the guards are not asked (a caller may derive anything)."""
    asked = []
    monkeypatch.setattr("symderive.guards.check_resources", lambda *a, **k: asked.append(a))
    monkeypatch.setattr(api, "_derive", lambda spec, numeric, say: "derived")
    assert symderive.derive(SEED) == "derived" and asked == []
    assert symderive.derive(SEED, limits=True) == "derived" and len(asked) == 1


@pytest.mark.parametrize("limits,seconds", [(True, DEFAULT_TIME_LIMIT), (False, None),
                                            (2.5, 2.5), (0, None)])
def test_the_budget_limits_asks_for(limits, seconds):
    assert api._seconds(limits) == seconds


@pytest.mark.parametrize("bad", [-1, float("nan"), "10"])
def test_a_bad_limits_value_is_refused(bad):
    with pytest.raises(TypeError):
        symderive.derive(SEED, limits=bad)


def test_the_time_budget_covers_loading_and_deriving(monkeypatch):
    def slow(spec, numeric, say):
        time.sleep(5)
    monkeypatch.setattr(api, "_derive", slow)
    started = time.monotonic()
    with pytest.raises(ResourceLimitError, match="time limit of 0.2 s.*limits=SECONDS"):
        symderive.derive(SEED, limits=0.2)
    assert time.monotonic() - started < 4.5            # stopped, not slept through


def test_the_time_budget_covers_loading(monkeypatch):
    real = api.load_spec

    def slow_load(*args):
        time.sleep(5)
        return real(*args)
    monkeypatch.setattr(api, "load_spec", slow_load)
    with pytest.raises(ResourceLimitError, match="time limit"):
        symderive.derive(str(SEED), limits=0.2)


@pytest.mark.parametrize("raised,kind,says", [
    (RecursionError("maximum recursion depth exceeded"), ResourceLimitError, "too deep"),
    (MemoryError(), ResourceLimitError, "out of memory"),
    (OverflowError("(34, 'Numerical result out of range')"), ResourceLimitError,
     "grew too large"),
    (OSError(errno.ENOSPC, "No space left on device", "/tmp/x"), OutputError,
     "/tmp/x: No space left"),
])
def test_every_library_error_becomes_a_symderive_error(monkeypatch, raised, kind, says):
    def fail(*a, **k):
        raise raised
    monkeypatch.setattr(api, "settle_hypothesis", fail)
    with pytest.raises(kind) as caught:
        symderive.derive(SEED)
    assert isinstance(caught.value, SymderiveError) and says in str(caught.value)
    assert caught.value.__cause__ is raised


def test_a_bug_is_not_disguised():
    assert translated(ZeroDivisionError()) is None and translated(KeyError("x")) is None


def test_rendering_errors_are_symderive_errors(monkeypatch):
    d = symderive.derive(SEED, numeric=False)
    import symderive.render.markdown as markdown

    def deep(*a, **k):
        raise RecursionError("maximum recursion depth exceeded while printing")
    monkeypatch.setattr(markdown, "render", deep)
    with pytest.raises(ResourceLimitError, match="too deep"):
        d.to_markdown()


def test_a_missing_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError) as caught:
        symderive.derive(tmp_path / "missing.toml")
    assert "missing.toml" in str(caught.value)


def test_the_wide_network_that_exceeded_the_recursion_limit():
    """[2, 4096, 4096, 1] met a raw RecursionError after seconds; past the guards (the
    default: no limits) it is now a ResourceLimitError with a message, and limits=True
    refuses it before any work."""
    text = spec_toml(layers=(2, 4096, 4096, 1),
                     hypotheses=[{"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}])
    spec = Spec.from_toml(text)
    with pytest.raises(SpecError, match="parameters, over the limit"):
        symderive.derive(spec, limits=True)
    with pytest.raises(ResourceLimitError, match="too deep for Python"):
        symderive.derive(spec)
