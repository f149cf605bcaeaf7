"""Shared helpers: spec text, running the CLI, evaluating SymPy expressions at a point."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

import numpy as np
import pytest
import sympy as sp

from symderive.engine.network import bias, input_, target, weight

ROOT = Path(__file__).resolve().parent.parent
DERIVATIONS = ROOT / "derivations"
BUNDLED = sorted(DERIVATIONS.glob("*.toml"))
#: Bundled derivations whose networks are given layer by layer ([[layer]] tables).
LAYER_BUNDLED = sorted((DERIVATIONS / "layers").glob("*.toml"))
#: The names `symderive list` gives: every bundled derivation's.
BUNDLED_NAMES = sorted(p.stem.replace("_", "-") for p in BUNDLED + LAYER_BUNDLED)


def spec_toml(layers=(2, 3, 2), activation="tanh", output_activation="identity",
              bias_=True, loss="mse", samples=1, hypotheses=(), extra: str = "") -> str:
    """TOML text of a spec; ``hypotheses`` are dicts with layer, units, tie, zero."""
    def fmt(v):
        return json.dumps(v)
    lines = ["[network]", f"layers = {fmt(list(layers))}", f"activation = {fmt(activation)}",
             f"output_activation = {fmt(output_activation)}", f"bias = {fmt(bias_)}",
             f"loss = {fmt(loss)}", f"samples = {samples}", ""]
    for h in hypotheses:
        lines.append("[[hypothesis]]")
        lines += [f"{k} = {fmt(list(v) if isinstance(v, tuple) else v)}" for k, v in h.items()]
        lines.append("")
    return "\n".join(lines) + extra


def run_subprocess(*args: str, env: Mapping[str, str] | None = None,
                   cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``python -m symderive ARGS`` in a fresh interpreter (bytes in, bytes out)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "symderive", *args], capture_output=True,
                          env=full_env, cwd=cwd or ROOT, timeout=300)


def fresh_layer_caches() -> None:
    """Forget the groups, swaps and swap lemmas kept per spec (a test that changes a
    kind's code, with monkeypatch, must not see what was kept before)."""
    from symderive.engine.layers.swap import clear_lemmas
    from symderive.engine.layers.units import clear_layouts

    clear_layouts()
    clear_lemmas()


@pytest.fixture(autouse=True)
def _fresh_layer_caches():
    """Each test starts and ends without them."""
    fresh_layer_caches()
    yield
    fresh_layer_caches()


@pytest.fixture
def cli(capsys):
    """Run ``symderive.cli.main(argv)`` in-process: returns (status, stdout, stderr)."""
    from symderive.cli import main

    def run(*argv: str):
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err
    return run


def parameter_values(params: Mapping, bias_: bool = True) -> dict[sp.Symbol, float]:
    """Network symbols -> values from a witness-style dict {"W1": [[...]], "b1": [...]}."""
    out: dict[sp.Symbol, float] = {}
    for key, value in params.items():
        arr = np.asarray(value, dtype=float)
        layer = int(key[1:])
        if key[0] == "W":
            for (i, k), v in np.ndenumerate(arr):
                out[weight(layer, i + 1, k + 1)] = float(v)
        elif bias_:
            for i, v in enumerate(arr):
                out[bias(layer, i + 1)] = float(v)
    return out


def data_values(inputs, targets) -> dict[sp.Symbol, float]:
    out: dict[sp.Symbol, float] = {}
    for n, (x, y) in enumerate(zip(inputs, targets), start=1):
        out.update({input_(n, k + 1): float(v) for k, v in enumerate(x)})
        out.update({target(n, m + 1): float(v) for m, v in enumerate(y)})
    return out


def evaluate(expr: sp.Expr, values: Mapping[sp.Symbol, float]) -> float:
    """``expr`` at a point, by SymPy's own arithmetic (no lambdify, no symderive.mlp)."""
    point = {s: sp.Float(v, 30) for s, v in values.items()}
    result = sp.sympify(expr).xreplace(point).evalf(30)
    assert not result.free_symbols, f"unassigned symbols {result.free_symbols}"
    return float(result)


def proved_zero(expr: sp.Expr) -> bool:
    """``expr`` is identically 0: expand, else simplify.  Random points are tried first so
    that an expression that is not zero fails fast instead of keeping simplify busy."""
    e = sp.expand(expr)
    if e == 0:
        return True
    rng = np.random.default_rng(0)
    symbols = sorted(e.free_symbols, key=str)
    for _ in range(3):
        point = dict(zip(symbols, rng.uniform(-1.5, 1.5, len(symbols)).tolist()))
        if abs(evaluate(e, point)) > 1e-9:
            return False
    return sp.simplify(e) == 0


def random_params(layers, bias_: bool, rng: np.random.Generator,
                  scale: float = 1.0) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for l in range(1, len(layers)):
        out[f"W{l}"] = rng.normal(0, scale, (layers[l], layers[l - 1]))
        if bias_:
            out[f"b{l}"] = rng.normal(0, scale, layers[l])
    return out


def random_data(layers, samples: int, loss: str, rng: np.random.Generator):
    X = rng.normal(0, 1, (samples, layers[0]))
    if loss == "mse":
        Y = rng.normal(0, 1, (samples, layers[-1]))
    elif loss == "bce":
        Y = rng.uniform(0, 1, (samples, layers[-1]))
    else:  # softmax_ce: not necessarily one-hot nor summing to 1, to test the general formula
        Y = rng.uniform(0, 1, (samples, layers[-1]))
    return X, Y


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single line a failed run wrote on stderr (no traceback, nothing else)."""
    err = result.stderr.decode()
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = set(), [pid]
    while stack:
        for c in children.get(stack.pop(), []):
            found.add(c)
            stack.append(c)
    return found


# ------------------------------------------------------------------ test tiers
# `python -m pytest` (the README's command) runs the default tier, sized to finish in a
# few minutes on two cores. Tests marked `ci_tier` (the slowest compile, property and
# whole-process tests) run with `--all-tiers`, which .ci/run adds.

def pytest_addoption(parser):
    parser.addoption("--all-tiers", action="store_true", default=False,
                     help="also run the tests marked ci_tier (what CI runs)")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ci_tier: slow; runs only with --all-tiers (CI runs every tier)")
    if os.environ.get("SYMDERIVE_CI"):   # CI has every optional part: its tests must run
        try:
            import torch  # noqa: F401
        except ImportError:
            raise pytest.UsageError("SYMDERIVE_CI is set but torch is missing: the bridge's "
                                    "tests would skip (.ci/run installs torch==2.13.0)")


#: The CI tier: test functions (by file; "*" a whole file) too slow for the default tier. Compile tests
#: parametrized over every bundled derivation keep the founding question's case in the
#: default tier (FOUNDING_CASE in the case's id) and run the others with --all-tiers.
CI_TIER = {
    "test_slides.py": {"test_slides_compile_with_no_overfull_box_over_10pt"},
    "test_render_latex.py": {"test_article_compiles_without_overfull_boxes",
                             "test_two_fragments_in_one_document",
                             "test_hostile_text_is_typeset_literally"},
    "test_determinism.py": {"test_every_bundled_report_is_byte_identical_across_runs_and_hash_seeds"},
    "test_cli.py": {"test_json_is_byte_identical_across_runs_and_hash_seeds"},
    "test_api.py": {"test_from_dict_names_the_same_field_with_the_same_message",
                    "test_to_pdf_writes_the_file_and_returns_its_bytes"},
    "test_hardening.py": {"test_in_a_fresh_process_only_the_one_line_reaches_stderr"},
    "test_attack_properties.py": {"test_a_formula_is_refused_exactly_when_it_nests_too_deep"},
    "test_talk.py": {"test_compiled_talk_frames_are_few_and_none_mostly_empty",
                     "test_compiled_lists_fill_every_frame_and_none_overflows"},
    "test_layer_attention.py": {"test_symbolic_gradient_matches_numpy"},
    "test_layer_lstm.py": {"test_symbolic_gradient_matches_numpy"},
    "test_bridge_training.py": {"*"},     # 50 steps of torch training per model
    "test_layer_start_torch.py": {"*"},   # [init] of [[layer]] networks against torch
    "test_layer_kinds.py": {"test_symbolic_forward_agrees_with_the_numpy_pass"},  # SymPy norms
    "test_stability.py": {"test_observed_growth_follows_the_prediction"},
    # the slowest of the default tier, moved when it passed 5 minutes on 2 cores (5 min 24 s,
    # 2026-12-06); each has a faster sibling there (a compile, a fresh process, a property)
    "test_properties.py": {"test_symbolic_verdicts_agree_with_the_numbers",
                           "test_latex_activations_never_crash_or_falsely_contradict"},
    "test_pdf.py": {"test_cli_writes_a_reproducible_pdf", "test_a_runaway_document_times_out"},
    "test_time_budget.py": {"test_a_spec_with_many_kinks_reads_within_a_short_budget",
                            "test_spec_from_dict_reads_many_kinks_quickly"},
    "test_whole_loss_cost.py": {"test_the_residual_batch_norm_escape_is_skipped_and_decides_nothing"},
    "test_hosts.py": {"test_beamer_host_with_fragments_between_its_frames",
                      "test_koma_host_in_german_with_its_own_theorem_environment",
                      "test_beamer_handout_puts_two_slides_on_a_page_of_the_paper",
                      "test_article_host_with_two_fragments_at_subsection_level"},
    "test_no_eval.py": {"test_python_in_title_and_name_is_text_in_a_fresh_process"},
    "test_conservation.py": {"test_every_identity_against_finite_differences"},
    "test_notebook.py": {"test_a_notebook_displays_two_derivations"},
    "test_scale.py": {"test_the_guard_counts_the_fact"},
    "test_api_limits.py": {"test_the_wide_network_that_exceeded_the_recursion_limit"},
    "test_stack_facts.py": {"test_the_facts_are_byte_identical_across_hash_seeds"},
    "test_render_markdown.py": {"test_output_does_not_depend_on_hash_seed"},
    "test_attacks.py": {"test_a_title_with_archaic_greek_compiles",
                        "test_a_symlink_at_o_is_not_followed_unless_asked",
                        "test_an_interrupted_batch_leaves_no_worker_behind"},
    "test_answer.py": {"test_any_brief_answer_fits_a_stack_exchange_answer"},
    "test_messages.py": {"test_a_power_whose_loss_hides_a_gradient_is_not_a_contradiction"},
    "test_numeric.py": {"test_local_and_whole_loss_agree_on_a_deeper_net"},
    "test_article.py": {"test_the_plot_is_never_alone_on_its_page"},
    "test_containment.py": {"test_sigkill_on_a_batch_takes_its_workers_and_parsers_with_it"},
    "test_fuzz_findings.py": {"test_no_library_warning_reaches_stderr"},
    "test_packaging.py": {"test_the_sdist_holds_the_bundled_derivations_and_builds_a_complete_wheel",
                          "test_the_installed_package_is_the_wheels_not_the_checkout",
                          "test_the_wheel_holds_the_package_and_every_bundled_derivation",
                          "test_installed_python_api_and_a_latex_activation",
                          "test_installed_readme_command_from_another_folder",
                          "test_the_wheels_metadata_is_what_an_index_shows",
                          "test_installed_version_and_list_from_another_folder"},
}
FOUNDING_CASE = ("weight_symmetry", "weight-symmetry")


def _in_ci_tier(item) -> bool:
    if item.get_closest_marker("ci_tier"):
        return True
    names = CI_TIER.get(item.path.name, set())
    if "*" in names:
        return True
    if getattr(item, "originalname", item.name) not in names:
        return False
    case = item.callspec.id if hasattr(item, "callspec") else ""
    return not any(f in case for f in FOUNDING_CASE)


def pytest_collection_modifyitems(config, items):
    if config.getoption("--all-tiers"):
        return
    kept, deselected = [], []
    for item in items:
        (deselected if _in_ci_tier(item) else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
