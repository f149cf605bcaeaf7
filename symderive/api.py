"""The orchestrator: a spec in, a :class:`Derivation` out, one call per stage.

This is the Python API that ``import symderive`` exposes (lazily, see
:mod:`symderive`): :func:`derive`, :func:`load` and :class:`Derivation`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union

from .engine.generic import instantiated
from .engine.mlp import blas_controller, single_threaded_blas
from .engine.output import settle, spec_targets
from .engine.symmetry import HypothesisResult
from .budget import time_budget
from .errors import SpecError, symderive_errors
from .sources import read_source
from .spec import Spec, load_spec

# The BLAS libraries NumPy loaded are looked up once per process (threadpoolctl reads the
# memory map); every derive needs them, so the API finds them when it is imported and a
# first derive costs what a later one does (docs/speed-layers.md).
blas_controller()

if TYPE_CHECKING:  # imported where used: a run without them does not pay their import
    from .facts import FactResult
    from .numeric import NumericResult
    from .numeric.startpoint import StartResult

#: What :func:`derive` and :func:`load` accept: a Spec, a bundled name, or a path.
SpecLike = Union[Spec, str, "os.PathLike[str]"]


@dataclass(frozen=True)
class Derivation:
    """Everything symderive established about a spec; renderers turn it into text.

    ``results`` has one :class:`~symderive.engine.symmetry.HypothesisResult` per
    ``[[hypothesis]]`` (``.verdict``; ``.groups``, each with ``.status`` and
    ``.witness``), ``facts`` one result per ``[[fact]]`` (``.verdict``), ``numeric``
    the cross-check per hypothesis (empty when not run).  The reports::

        >>> d = symderive.derive("weight-symmetry")
        >>> d.results[2].verdict
        'preserved'
        >>> report = json.loads(d.to_json())      # also to_markdown, to_latex, to_pdf
    """

    spec: Spec
    results: tuple[HypothesisResult, ...]
    numeric: tuple[NumericResult, ...] = field(default=())  # per hypothesis, or () when not run
    facts: tuple[FactResult, ...] = field(default=())       # per [[fact]] table
    start: StartResult | None = None                        # the [init] starting point
    #: ``activation = [...]``: one derivation per activation (the fields above: the first's)
    variants: tuple[Derivation, ...] = field(default=())

    @property
    def problems(self) -> list[str]:
        """The starting point's contradictions between proof and simulation, and every
        contradiction of the other activations compared (``variants``)."""
        out = list(self.start.check.problems) if self.start and self.start.check else []
        for v in self.variants[1:]:
            name = v.spec.network.activation.name
            out += [f"with {name}: {p}" for p in v.contradictions()]
        return out

    def contradictions(self) -> list[str]:
        """Every place the numbers contradict a proof: hypotheses, facts, starting point."""
        from .numeric import contradictions

        found = contradictions(self.results, self.numeric)
        found += [p for f in self.facts if f.numeric is not None for p in f.numeric.problems]
        return found + self.problems

    @property
    def agreement(self) -> bool:
        """False when the numeric cross-check contradicts a symbolic result (or a fact)."""
        return (all(n.agreement for n in self.numeric)
                and all(f.numeric is None or f.numeric.agreement for f in self.facts)
                and not self.problems)   # the other activations' contradictions too

    def to_json(self, **options: Any) -> str:
        """The JSON report (the format of ``symderive derive --format json``)."""
        return self._render("json", options)

    def to_markdown(self, **options: Any) -> str:
        """The Markdown report, for Q&A sites with MathJax; ``options`` are those of
        :func:`symderive.render.markdown.render`."""
        return self._render("markdown", options)

    def to_latex(self, **options: Any) -> str:
        """The LaTeX article; ``to_latex(fragment=True)`` gives a piece to ``\\input``.
        ``options`` are those of :func:`symderive.render.latex.render`."""
        return self._render("latex", options)

    def to_pdf(self, path: str | os.PathLike[str] | None = None, **options: Any) -> bytes:
        """The PDF report compiled with pdflatex (TeX Live needed), written to ``path``
        when given; returns its bytes either way.

        ``path`` is written as the command line writes ``-o``: checked before
        pdflatex runs (never the spec itself, a folder or a symbolic link), then
        replaced only by the complete PDF (a temporary file renamed into place), so
        a full disk leaves the old file as it was; a device or FIFO is written in
        place.  Problems raise :class:`~symderive.errors.SpecError` naming ``path``."""
        from . import files as output

        target = None
        if path is not None:
            inputs = (Path(self.spec.source),) if Path(self.spec.source).is_file() else ()
            name = os.fspath(path)
            target = output.check_target("./-" if name == output.STDOUT else name, inputs)
        data = self._render("pdf", options)
        if target is not None:
            output.write(data, target, os.fspath(path))
        return data

    def _render(self, fmt: str, options: dict[str, Any]) -> Any:
        import importlib

        with symderive_errors():
            return importlib.import_module(f"symderive.render.{fmt}").render(self, **options)

    def __repr__(self) -> str:
        """A few lines: the title, each hypothesis's verdict, each fact's, the check."""
        lines = [f"<Derivation {self.spec.title!r}"]
        for r in self.results:
            groups = ", ".join(f"{g.group} {g.status}" for g in r.groups)
            lines.append(f"  hypothesis {r.hypothesis.name!r}: {r.verdict} ({groups})")
        lines += [f"  fact {f.fact.name!r}: {f.verdict}" for f in self.facts]
        if self.start is not None:
            widths = ", ".join(str(self.start.partition.width(l))
                               for l in range(1, self.start.start.depth)) \
                if not self.spec.network.stack else ", ".join(
                    f"layer {l}: {len(c.classes)}" for l, c in self.start.classes.items())
            lines.append(f"  starting point: {self.start.verdict} (effective widths: "
                         f"{widths or 'no hidden layer'})")
        if self.numeric or any(f.numeric is not None for f in self.facts):
            lines.append("  numeric cross-check: "
                         + ("agrees" if self.agreement else "CONTRADICTS a proof"))
        return "\n".join(lines) + ">"

    def _repr_markdown_(self) -> str:
        """Notebooks: the brief answer in Markdown (the notebook's MathJax typesets it)."""
        from .render.markdown import render

        return render(self, detail="brief")

    def _repr_latex_(self) -> str:
        """Notebooks and their LaTeX/PDF export: the key result as math only, one
        ``$$...$$`` display (as SymPy's own objects do), never document structure."""
        from .render.latex import render_math

        return render_math(self)


#: Hidden or output units: :func:`symderive.engine.output.settle` dispatches on the layer.
settle_hypothesis = settle


def load(spec: SpecLike) -> Spec:
    """The validated :class:`Spec` of a path (``str`` or ``Path``) or of the name of a
    bundled derivation (a file of that name wins); a Spec is validated (see
    :meth:`Spec.validated`).  Bad input raises :class:`~symderive.errors.SpecError`
    naming the file, the line and the field, as the CLI does::

        >>> symderive.load("weight-symmetry").network.layers
        (2, 2, 1)
    """
    if isinstance(spec, Spec):
        with symderive_errors():
            return spec.validated()
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"symderive.load takes a Spec, a bundled name or a path, not "
                        f"{type(spec).__name__}")
    if isinstance(spec, str) and "\n" in spec and not os.path.exists(spec):
        raise SpecError("looks like the text of a spec, not a file name or a bundled "
                        "derivation: give symderive.Spec.from_toml(text) instead",
                        source="<text>")
    with symderive_errors():
        return load_spec(*read_source(os.fspath(spec)))


#: What ``derive(spec, limits=...)`` accepts: False (none), True (the command line's
#: guards and its default time budget) or a number of seconds for the budget.
Limits = Union[bool, float]


def derive(spec: SpecLike, numeric: bool = True,
           progress: Callable[[str], None] | None = None, *,
           limits: Limits = False) -> Derivation:
    """Settle every hypothesis of ``spec`` symbolically, then cross-check it
    numerically (gradient check and training simulation) unless ``numeric`` is false.

    ``spec`` is a :class:`Spec`, the name of a bundled derivation or a path (see
    :func:`load`).  ``progress`` receives one line per stage
    (:class:`symderive.guards.Progress`).  ``limits=True`` applies what the command
    line applies: the resource guards (a spec over a limit raises
    :class:`~symderive.errors.SpecError` before any work) and a time budget of
    :data:`~symderive.budget.DEFAULT_TIME_LIMIT` seconds over loading and deriving
    (:class:`~symderive.errors.ResourceLimitError` when it runs out); a number is
    that many seconds instead.  The default, ``False``, runs whatever it is given, as
    long as it takes.  The budget needs ``SIGALRM``: in the main thread of a POSIX
    process; elsewhere only the guards apply.  Every error is a
    :class:`~symderive.errors.SymderiveError` with a message.  ::

        >>> d = symderive.derive("weight-symmetry")
        >>> [r.verdict for r in d.results]
        ['broken', 'broken', 'preserved', 'preserved', 'broken']
        >>> d.to_markdown()[:40]
        '# Do identical incoming weights keep two'
    """
    with symderive_errors(), time_budget(_seconds(limits), "limits=SECONDS"):
        spec = load(spec)
        if limits is not False:
            from .guards import check_resources

            check_resources(spec, _text_of(spec))
        return _derive(spec, numeric, progress or (lambda message: None))


def _seconds(limits: Limits) -> float | None:
    """The time budget ``limits`` asks for (None: no budget)."""
    from .budget import DEFAULT_TIME_LIMIT

    if isinstance(limits, bool):
        return DEFAULT_TIME_LIMIT if limits else None
    if not isinstance(limits, (int, float)) or not limits >= 0:
        raise TypeError(f"limits must be True, False or seconds >= 0, not {limits!r}")
    return float(limits) or None


def _text_of(spec: Spec) -> str | None:
    """The spec's file text, so that a refusal names the line of its field."""
    try:
        return Path(spec.source).read_text(encoding="utf-8-sig")
    except (OSError, ValueError):
        return None


def _derive(spec: Spec, numeric: bool, say: Callable[[str], None]) -> Derivation:
    if spec.activations:    # compared: derived once per activation, reported together
        variants = []
        for v in spec.variants():
            say(f"activation {v.network.activation.name}")
            variants.append(_derive(v, numeric, say))
        return replace(variants[0], spec=spec, variants=tuple(variants))
    total = len(spec.hypotheses)
    results = []
    targets = spec_targets(spec)
    settle_one = _stack_settle if spec.network.stack else settle_hypothesis
    from .engine.expansion import allowance   # the whole-loss steps' shared budget

    with single_threaded_blas(), allowance():  # the witnesses' NumPy passes, as the cross-check's
        for k, h in enumerate(spec.hypotheses):
            say(f'[{k + 1}/{total}] hypothesis "{h.name}"')
            results.append(settle_one(spec.network, h, spec.check.seed + 1000 * k, targets))
    if numeric and total:
        say(f"numeric cross-check of {total} hypothes{'is' if total == 1 else 'es'}")
    checked = _cross_check(spec, results) if numeric and total else ()
    return Derivation(spec, tuple(results), checked, _facts(spec, numeric, say),
                      settle_start(spec, numeric, say))


def _stack_settle(network, hyp, seed: int, targets) -> HypothesisResult:
    """A hypothesis on a ``[[layer]]`` network (:mod:`symderive.engine.layers`)."""
    from .engine.layers.settle import settle_stack

    return settle_stack(network, hyp, seed)


def _cross_check(spec: Spec, results: list[HypothesisResult]) -> tuple[NumericResult, ...]:
    if spec.network.stack:
        from .numeric.layers import check_stack

        with single_threaded_blas():
            return tuple(check_stack(spec, r, spec.check.seed + 1000 * k + 17)
                         for k, r in enumerate(results))
    from .numeric import cross_check_all

    return cross_check_all(instantiated(spec), results)


def _facts(spec: Spec, numeric: bool, say: Callable[[str], None]) -> tuple[FactResult, ...]:
    """Every [[fact]] table settled (and checked unless not ``numeric``); () without any."""
    if not spec.facts:
        return ()
    from .facts import check_facts, settle_facts

    say(f"{len(spec.facts)} [[fact]] table{'' if len(spec.facts) == 1 else 's'}")
    facts = settle_facts(spec)
    if numeric and facts:
        say(f"numeric check of {len(facts)} fact{'' if len(facts) == 1 else 's'}")
        facts = check_facts(spec, facts)
    return facts


def settle_start(spec: Spec, numeric: bool = True,
                 say: Callable[[str], None] = lambda message: None) -> StartResult | None:
    """Classes and frozen sets of the [init] starting point (proved), its trajectory,
    and (``numeric``) the simulation that cross-checks them."""
    if spec.init is None:
        return None
    if spec.network.stack:      # a [[layer]] network: numeric.layer_verdict
        from .numeric.layer_verdict import settle_stack_start

        say("the starting point: classes of units and frozen parameters")
        return settle_stack_start(spec, numeric)
    from .engine.frozen import frozen_parameters
    from .engine.partition import coarsest_partition
    from .engine.start import spec_start
    from .numeric.startpoint import StartResult, check_start
    from .numeric.trajectory import trajectory

    start = spec_start(spec)          # not None: the spec has an [init] table
    say("the starting point: classes of units and frozen parameters")
    frozen = frozen_parameters(start)
    result = StartResult(start, coarsest_partition(start, frozen), frozen)
    concrete = instantiated(spec)
    traj = trajectory(concrete.network, start, spec.check)
    check = (check_start(concrete.network, start, result.partition, result.frozen, spec.check)
             if numeric else None)
    return replace(result, trajectory=traj, check=check)
