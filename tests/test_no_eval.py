"""No eval paths: nothing a spec says is ever run as code.

Statically, every call in symderive/ that can turn a string into code
(eval, exec, compile, __import__, sympify, parse_expr, parse_latex, lambdify,
import_module, unpickling, a shell) must be in :data:`ALLOWED`, with the
reason it never sees user text.  A new such call fails the test until it is
reviewed and listed; a listed call that disappeared fails too, so the list
stays true.

At run time, hostile specs (Python in formulas, titles and names) are
refused or shown literally, no file they try to create appears, and
SymPy's string parser is never called during a whole derivation.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BUNDLED, ROOT

PACKAGE = ROOT / "symderive"

#: Called names that evaluate, compile, import or unpickle what they are given.
EVALUATING = {"eval", "exec", "compile", "__import__", "sympify", "parse_expr", "parse_latex",
              "latex2sympy", "lambdify", "import_module", "S", "Number", "recv", "loads",
              "load", "system", "popen", "execv", "execvp", "spawnv"}
#: Modules whose ``loads``/``load`` only parse data (no code): not evaluating.
DATA_PARSERS = {"tomllib", "json"}

#: (module, enclosing function, called name) -> why it never receives user text as code.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("spec/functions.py", "lambdify_safe", "lambdify"):
        "the only lambdify: the expressions' free symbols must be among the given symbols, "
        "which its callers fix to generated ones (z, yhat, y; numeric.symbolic.numpy_function "
        "also checks every name against GENERATED: W1_2_1, z1_n_2, ...); the code is printed "
        "from a SymPy tree, never from user text; raises before lambdify otherwise",
    ("cli/main.py", "derive_one", "import_module"):
        "the module name comes from TEXT_FORMATS | BINARY_FORMATS, keyed by an argparse "
        "choice, never from the spec",
    ("__init__.py", "__getattr__", "import_module"):
        "the lazy public names: the module comes from the _LAZY table, looked up only for an "
        "attribute name that is one of its keys, never from a spec",
    ("spec/layers/__init__.py", "spec_kind", "import_module"):
        "a module of the spec.layers package named by a value of the KINDS table (a "
        "constant), looked up by a layer's kind: KINDS[name] raises for any other name, and "
        "validation checks the name against KINDS's keys first",
    ("engine/layers/__init__.py", "layer_kind", "import_module"):
        "a module of the engine.layers package named by a value of the same KINDS table, "
        "looked up by a validated layer's kind",
    ("facts/__init__.py", "Kind._function", "import_module"):
        "a module of the facts package named in the KINDS table (a constant), chosen by a "
        "fact's kind, which validation checked against KINDS's keys",
    ("api.py", "Derivation._render", "import_module"):
        "the renderer module named by the to_json/to_markdown/to_latex/to_pdf method that "
        "calls it (a literal), never by user text",
    ("api.py", "derive", "load"):
        "symderive.api.load, our own function: it reads a spec's bytes and validates them "
        "through tomllib and the spec validator; nothing is unpickled or evaluated",
    ("spec/latex/worker.py", "WorkerHandle.request", "recv"):
        "unpickles the reply of our own worker process, which writes only SymPy objects it "
        "built from generated symbols, or strings; its stdout is redirected so that nothing "
        "else reaches the pipe",
    ("spec/latex/worker.py", "WorkerHandle._wait_ready", "recv"):
        "the worker's readiness message, written by our own code before any user text",
    ("spec/latex/worker.py", "main", "recv"):
        "the worker unpickles requests from its parent (symderive itself): (kind, text) "
        "tuples whose text is then tokenised, never evaluated",
}


def _calls(tree: ast.AST):
    """(enclosing function qualname, called name, call node) for every call."""
    def visit(node, scope):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from visit(child, scope + [child.name])
                continue
            if isinstance(child, ast.Call):
                func = child.func
                if isinstance(func, ast.Name):
                    yield ".".join(scope), func.id, None, child
                elif isinstance(func, ast.Attribute):
                    owner = func.value.id if isinstance(func.value, ast.Name) else None
                    yield ".".join(scope), func.attr, owner, child
            yield from visit(child, scope)
    yield from visit(tree, [])


def _aliases(tree: ast.AST) -> dict[str, str]:
    """``from m import sympify as s``: {"s": "sympify"}, so that renaming does not hide a call."""
    return {a.asname: a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
            for a in node.names if a.asname and a.name in EVALUATING}


def evaluating_calls() -> set[tuple[str, str, str]]:
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases = _aliases(tree)
        for scope, name, owner, call in _calls(tree):
            name = aliases.get(name, name) if owner is None else name
            if name in ("loads", "load") and owner in DATA_PARSERS:
                continue
            if name == "compile" and owner == "re":
                continue
            if name in EVALUATING:
                found.add((module, scope, name))
    return found


def shell_calls() -> list[str]:
    """Calls with shell=True anywhere in the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                for kw in node.keywords:
                    if kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                                  and kw.value.value is False):
                        out.append(f"{path.name}:{node.lineno}")
    return out


def test_every_evaluating_call_is_reviewed_and_listed():
    found = evaluating_calls()
    unlisted = sorted(found - set(ALLOWED))
    assert not unlisted, (
        "new calls that may turn a string into code; make sure no user text reaches them "
        f"and list them in ALLOWED with the reason: {unlisted}")
    stale = sorted(set(ALLOWED) - found)
    assert not stale, f"ALLOWED lists calls that no longer exist: {stale}"
    assert all(len(why) > 40 for why in ALLOWED.values())


def test_the_scan_would_catch_a_new_eval(tmp_path, monkeypatch):
    (tmp_path / "new.py").write_text(
        "from sympy import parse_expr as p\nimport re, tomllib\n"
        "def f(text):\n    return eval(text) + sympy.sympify(text) + p(text)\n"
        "x = re.compile('a')\ny = tomllib.loads('a = 1')\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    assert evaluating_calls() == {("new.py", "f", "eval"), ("new.py", "f", "sympify"),
                                  ("new.py", "f", "parse_expr")}


def test_nothing_runs_a_shell():
    assert shell_calls() == []


# ------------------------------------------------------------------ at run time


def _code(sentinel: Path) -> str:
    return f"__import__('os').system('touch {sentinel}')"


def _spec(activation: str = '"tanh"', title: str = "t", name: str = "h") -> str:
    return (f"title = {json.dumps(title)}\n[network]\nlayers = [2, 2, 1]\n"
            f"activation = {activation}\n[[hypothesis]]\nname = {json.dumps(name)}\n"
            "layer = 1\nunits = [1, 2]\ntie = [\"incoming\", \"bias\", \"outgoing\"]\n"
            "[check]\nsteps = 5\n")


@pytest.mark.parametrize("where", ["activation", "loss", "output_activation", "layers"])
def test_python_in_a_formula_or_value_is_refused_and_never_run(cli, tmp_path, where):
    sentinel = tmp_path / "pwned"
    code = json.dumps(_code(sentinel))
    text = _spec()
    if where == "layers":
        text = text.replace("layers = [2, 2, 1]", f"layers = {code}")
    elif where == "activation":
        text = text.replace('activation = "tanh"', f"activation = {{ latex = {code} }}")
    else:
        text = text.replace('activation = "tanh"',
                            f'activation = "tanh"\n{where} = {{ latex = {code} }}')
    path = tmp_path / "evil.toml"
    path.write_text(text)
    status, out, err = cli("derive", str(path), "--format", "json")
    assert (status, out) == (2, "")
    assert f"network.{where}" in err and err.count("\n") == 1
    assert not sentinel.exists()


def test_python_in_title_and_name_is_text_in_a_fresh_process(tmp_path):
    sentinel = tmp_path / "pwned"
    code = _code(sentinel)
    path = tmp_path / "evil.toml"
    path.write_text(_spec(title=code, name="{{" + code + "}}"))
    for fmt in ("json", "markdown", "latex"):
        r = subprocess.run([sys.executable, "-m", "symderive", "derive", str(path),
                            "--format", fmt], capture_output=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0, r.stderr
        assert not sentinel.exists()
    report = json.loads(subprocess.run(
        [sys.executable, "-m", "symderive", "derive", str(path), "--format", "json"],
        capture_output=True, cwd=ROOT, timeout=300).stdout)
    assert report["title"] == code
    assert report["hypotheses"][0]["name"] == "{{" + code + "}}"
    assert not sentinel.exists()


def test_sympys_string_parser_is_never_called(monkeypatch, tmp_path):
    """sympify(str) always goes through sympy_parser.parse_expr: trap it during whole
    derivations, the LaTeX parsing (in this process) and every report format."""
    import sympy.parsing.sympy_parser as parser

    from symderive.api import derive
    from symderive.cli.main import read_spec
    from symderive.spec.latex.grammar import parse_untrusted
    from symderive.render import json as render_json
    from symderive.render import latex as render_latex
    from symderive.render import markdown as render_markdown

    called: list[str] = []

    def trap(text, *args, **kwargs):
        called.append(text)
        raise AssertionError(f"parse_expr called on {text!r}")

    # SymPy parses constant strings of its own while importing some modules lazily (the
    # grammar, sympy.physics for simplify): import them before setting the trap.
    import sympy.physics.units  # noqa: F401

    parse_untrusted("activation", "z")
    monkeypatch.setattr(parser, "parse_expr", trap)
    for formula in (r"\frac{z}{1+|z|}", r"\sigma(z) \tanh(z)^{2}", r"\max(z, 0.5 z)",
                    r"\begin{cases} z & z > 0 \\ 0.1 z & \text{otherwise} \end{cases}"):
        parse_untrusted("activation", formula)
    parse_untrusted("loss", r"-y\log(\hat{y}) - (1-y)\log(1-\hat{y})")
    hostile = tmp_path / "hostile.toml"
    hostile.write_text(_spec(activation="{ latex = '\\frac{z}{1+|z|}' }",
                             title="x**2 + __import__('os')", name="Symbol('a')"))
    for path in [hostile, *BUNDLED[:4]]:
        d = derive(read_spec(str(path)))
        for module in (render_json, render_latex, render_markdown):
            module.render(d)
    assert called == []
