"""The README and docs/ stay true: links resolve, the example's answer is the tool's.

The README's example is a spec and the answer symderive gives for it, each in a
fenced block right after a marker comment (``<!-- readme-example: spec -->``,
``<!-- readme-example: answer -->``).  The spec is derived here by the real
command line, so a change to the reports that alters the answer fails this
test until the README is updated.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SETUP = "pip install -e '.[test]' && symderive derive weight-symmetry --format json"
TEST_COMMAND = "python -m pytest"

#: [text](target) or [text](<target>), not preceded by '!' for images alike.
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_FENCE = re.compile(r"^(```+|~~~+)")


def _pages() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code spans (no links live there)."""
    out, fence = [], None
    for line in text.splitlines():
        m = _FENCE.match(line.strip())
        if m and (fence is None or m.group(1).startswith(fence)):
            fence = None if fence else m.group(1)
            continue
        if fence is None:
            out.append(line)
    return re.sub(r"`[^`\n]*`", "", "\n".join(out))


def relative_links(page: Path) -> list[str]:
    """The link targets of ``page`` that point into the repository (no URLs, no anchors)."""
    targets = _LINK.findall(_prose(page.read_text(encoding="utf-8")))
    return [t for t in targets
            if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")]


def fenced_after(text: str, marker: str) -> str:
    """The contents of the first fenced block after the line ``marker``."""
    lines = text.splitlines()
    start = lines.index(marker)
    open_at = next(k for k in range(start + 1, len(lines)) if _FENCE.match(lines[k]))
    fence = _FENCE.match(lines[open_at]).group(1)
    close = next(k for k in range(open_at + 1, len(lines)) if lines[k].strip() == fence)
    return "\n".join(lines[open_at + 1:close])


def test_docs_exist_with_an_index():
    pages = {p.name for p in DOCS.glob("*.md")}
    assert {"README.md", "spec-format.md", "json-report.md", "cli.md", "report-formats.md",
            "status.md", "numeric-check.md", "security.md", "architecture.md",
            "performance-history.md"} <= pages
    indexed = {Path(t.split("#")[0]).name for t in relative_links(DOCS / "README.md")}
    assert pages - {"README.md"} <= indexed, "docs/README.md must link every page"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    links = relative_links(page)
    if page == README:
        assert links, "the README links into docs/"
    for target in links:
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.name}: link to {target} points at nothing"
        assert path.is_relative_to(ROOT), f"{page.name}: link to {target} leaves the repository"


def test_link_checker_sees_broken_links(tmp_path):
    """The checker itself: a missing target and code spans are told apart."""
    page = tmp_path / "page.md"
    page.write_text("[a](missing.md) `[b](in-code.md)` [c](https://example.org) [d](#here)\n"
                    "```\n[e](in-fence.md)\n```\n", encoding="utf-8")
    assert relative_links(page) == ["missing.md"]


def test_readme_stays_inside_the_repository():
    text = README.read_text(encoding="utf-8")
    assert "../shared" not in text
    assert "CONTRACT.md" not in text
    assert len(text.splitlines()) <= 120


def test_readme_shows_the_two_setup_commands():
    text = README.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    assert SETUP in lines
    assert TEST_COMMAND in lines


def _ci_commands() -> list[list[str]]:
    """The commands of .ci/run, each without its environment assignments."""
    commands = []
    for line in (ROOT / ".ci" / "run").read_text().splitlines():
        if not line.strip() or line.strip().startswith("#"):
            continue
        try:
            words = shlex.split(line.strip())
        except ValueError:      # a line of the embedded Python check, not a command
            continue
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words.pop(0)
        commands.append(["python" if w == "python3" else w for w in words])
    return commands


def test_ci_runs_the_readme_test_command():
    """CI runs the README's command exactly (in a newcomer's venv), then every tier."""
    commands = _ci_commands()
    assert shlex.split(TEST_COMMAND) in commands
    assert commands[-1] == shlex.split(TEST_COMMAND) + ["--all-tiers"]


def test_readme_example_gives_the_answer_shown(tmp_path):
    text = README.read_text(encoding="utf-8")
    spec = fenced_after(text, "<!-- readme-example: spec -->")
    answer = fenced_after(text, "<!-- readme-example: answer -->")
    assert "[[hypothesis]]" in spec and "**In short:**" in answer
    path = tmp_path / "twins.toml"
    path.write_text(spec + "\n", encoding="utf-8")
    assert "symderive derive twins.toml" in text
    done = subprocess.run([sys.executable, "-m", "symderive", "derive", str(path)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert answer in done.stdout, "the README's example answer is not what symderive prints"


# ---------------------------------------------------------------- the Python API page

API_PAGE = DOCS / "python-api.md"


def test_python_api_repr_example_is_the_real_repr():
    """The printed Derivation in docs/python-api.md is what the seed's derivation prints."""
    import symderive

    text = API_PAGE.read_text(encoding="utf-8")
    shown = re.search(r"^>>> d\n(<Derivation .*?>)\n```", text, re.M | re.S)
    assert shown is not None, "python-api.md has no `>>> d` example"
    assert shown.group(1) == repr(symderive.derive("weight-symmetry"))


def test_python_api_documents_every_field_of_a_derivation():
    import dataclasses

    from symderive.api import Derivation
    from symderive.numeric.startpoint import StartResult

    text = API_PAGE.read_text(encoding="utf-8")
    fields = [f.name for f in dataclasses.fields(Derivation) if not f.name.startswith("_")]
    missing = [f for f in fields + ["agreement"] if f"`d.{f}`" not in text]
    assert missing == [], f"python-api.md does not document Derivation.{missing}"
    start = [f.name for f in dataclasses.fields(StartResult) if f.name != "start"]
    assert [f for f in start if f"`.{f}`" not in text] == []


def test_install_page_describes_what_ci_checks_of_the_installed_wheel():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    verdicts = re.search(r"assert verdicts == \[(.*?)\]", ci).group(1).split(",")
    claims = re.search(r"assert claims == \[(.*?)\]", ci).group(1).split(",")
    words = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
    text = " ".join((DOCS / "install.md").read_text(encoding="utf-8").split())
    assert f"{words[len(verdicts)]} hypothesis verdicts and {words[len(claims)]} claims" in text
