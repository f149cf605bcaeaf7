"""Do the numbers agree with the proof?  Problems (contradictions) and plain notes.

A *problem* is a numeric result that contradicts the symbolic one: the
gradient check fails; a group proved ``equal`` has visibly different
gradients at a check point; a ``preserved`` hypothesis's units separate
(gap > :data:`PRESERVED_LIMIT`); a ``broken`` one's never do (gap never
> :data:`BROKEN_LIMIT`) although the run could show it.  Any problem makes
the CLI exit with status 1.  A check that could not be made (no finite point,
a diverged run, no steps, units that cannot move) is *inconclusive*: a note,
never a problem.

Rounding noise that appears in a preserved run and then grows is *not* a
problem: the proof is about exact arithmetic, and growth from ~1e-16 means
that the tied set is unstable under the optimizer.  It gets a plain note.
"""
from __future__ import annotations

import numpy as np

from ..engine.witness import witness_params
from ..engine.symmetry import BROKEN, DIFFERENT, EQUAL, PRESERVED, HypothesisResult
from ..spec import Hypothesis, NetworkSpec
from .gradcheck import ATOL, POINTS, RTOL, GradientCheck
from .points import Start
from .training import SEPARATED, Training, gradient_gap

PRESERVED_LIMIT = 1e-9
BROKEN_LIMIT = 1e-6


def gradient_problems(result: HypothesisResult, check: GradientCheck,
                      smooth: bool = True) -> list[str]:
    """The gradient check's contradictions, and groups proved equal that are not.

    Too few check points contradicts nothing: no finite, kink-free point was
    found (a loss that overflows everywhere, or structure that puts a
    pre-activation on a kink at every point), so the check could not run;
    :func:`notes` says so.  ``smooth`` only words that note."""
    out = []
    if check.points == POINTS and check.components > 0 and not check.passed:
        out.append(f"gradient check failed: symbolic ({check.method}) and finite-difference "
                   f"gradients differ by up to {check.max_abs_error:.3g} (worst at "
                   f"{check.worst}), beyond |a - n| <= {ATOL:g} + {RTOL:g}·|n|")
    status = {g.group: g.status for g in result.groups}
    i, j = result.hypothesis.units
    for d in check.differences:
        if status.get(d.group) == EQUAL and not d.within_tolerance:
            out.append(f"the {d.group} group is proved equal, but the NumPy gradients of "
                       f"units {i} and {j} differ by {d.max_abs:.3g} at a check point")
    return out


def training_problems(spec: NetworkSpec, result: HypothesisResult,
                      run: Training) -> list[str]:
    """The simulation's contradictions of the verdict; a run that could not check
    anything (:func:`inconclusive`) contradicts nothing."""
    i, j = result.hypothesis.units
    if inconclusive(spec, result, run):
        return []
    hyp = result.hypothesis
    if result.verdict == PRESERVED and not (hyp.tie or hyp.zero) and run.gaps:
        # nothing assumed: the units differ from the start, so only a change of their gap
        # (a constant loss moves nothing) could contradict the verdict
        moved = max(abs(g - run.gaps[0]) for g in run.gaps)
        return [] if moved <= PRESERVED_LIMIT else [
            f"verdict preserved, but the gap between units {i} and {j} changed by "
            f"{moved:.3g} from its start under {run.optimizer}"]
    if result.verdict == PRESERVED and run.max_gap > PRESERVED_LIMIT and not run.noise_grew:
        return [f"verdict preserved, but the gap between units {i} and {j} reached "
                f"{run.max_gap:.3g} (over {PRESERVED_LIMIT:g} from step "
                f"{run.first_step_over(PRESERVED_LIMIT)}) under {run.optimizer}"]
    if result.verdict == BROKEN and run.max_gap <= BROKEN_LIMIT:
        return [f"verdict broken, but the gap between units {i} and {j} never exceeded "
                f"{BROKEN_LIMIT:g} in {run.steps} steps of {run.optimizer} "
                f"(largest {run.max_gap:.3g}), although their gradients differed by "
                f"{run.initial_gradient_gap:.3g} at the start"]
    return []


def inconclusive(spec: NetworkSpec, result: HypothesisResult, run: Training) -> str | None:
    """Why the run cannot confirm or contradict the verdict, or None if it can.

    A diverged run, no steps, or — for a broken verdict that the run did not
    show — a start where the units' gradients agree (all dead, say), a learning
    rate so small that the updates' difference is lost to rounding, or a gap
    that grew but stayed small: the witnesses decide "broken", not the run."""
    if run.diverged_at_step is not None:
        return (f"the training diverged (loss not finite or exploding at step "
                f"{run.diverged_at_step}) even with learning rate {run.learning_rate:.3g}, "
                "so the gap could not be followed")
    if run.steps == 0:
        return "[check] steps = 0: no training step was run"
    if result.verdict != BROKEN or run.max_gap > BROKEN_LIMIT:
        return None
    if run.initial_gradient_gap <= SEPARATED:
        if not witness_reproduces(spec, result):
            return None
        return ("at every start tried the two units' gradients agreed (for instance, units "
                "that are inactive on every sample), so training cannot separate them")
    if not run.update_visible:
        return (f"with learning rate {run.learning_rate:.3g} the difference of the two "
                "units' updates is lost to floating-point rounding")
    if run.max_gap > 0.0:
        return (f"the gap grew to {run.max_gap:.3g} but not past {BROKEN_LIMIT:g} in "
                f"{run.steps} steps at learning rate {run.learning_rate:.3g}")
    return None


def witness_start(spec: NetworkSpec, result: HypothesisResult) -> Start | None:
    """The point of the first witness of a tied or zeroed group, as a training start:
    there the two units' gradients differ, so a run from it can show them separate."""
    assumed = set(result.hypothesis.tie) | set(result.hypothesis.zero)
    for g in result.groups:
        if g.group in assumed and g.status == DIFFERENT and g.witness is not None:
            w = g.witness
            return Start(witness_params(spec, w),
                         np.asarray(w.inputs, dtype=float), np.asarray(w.targets, dtype=float))
    return None


def witness_reproduces(spec: NetworkSpec, result: HypothesisResult) -> bool:
    """Does the witness, re-evaluated by NumPy backprop, show the two units' gradients
    differing?  Then "broken" stands on numbers, and a run whose units never moved
    apart is inconclusive, not a contradiction."""
    start = witness_start(spec, result)
    if start is None:
        return False
    groups = tuple(g for g in spec.groups()
                   if g in result.hypothesis.tie or g in result.hypothesis.zero)
    return gradient_gap(spec, result.hypothesis, start, groups) > 0.0


def _incomplete(check: GradientCheck) -> str:
    return (f"gradient check incomplete: found only {check.points} of {POINTS} random "
            "points away from kinks with a finite loss")


def notes(spec: NetworkSpec, result: HypothesisResult, check: GradientCheck, run: Training,
          smooth: bool = True) -> list[str]:
    """Plain statements a reader needs to read the figures right."""
    out = []
    if check.points < POINTS:
        why = ("the network's structure puts some pre-activation on a kink of its "
               "activation at every point, where the loss is not differentiable"
               if not smooth else "the loss or its gradient was not finite elsewhere")
        out.append(f"{_incomplete(check)}; {why}: inconclusive, not a contradiction")
    if check.imprecise:
        out.append(f"{check.imprecise} of {check.imprecise + check.components} comparisons "
                   "were left out: there the finite differences at steps 1e-6, 1e-4, 1e-3 and 1e-2 "
                   "disagreed with one another (rounding noise of a saturated loss), or even the "
                   "largest moved the loss by less than its rounding (a very large loss), so "
                   "they measure no derivative")
    if check.skipped_at_kink:
        i, j = result.hypothesis.units
        out.append(f"{check.skipped_at_kink} incoming parameters of units {i} and {j} sit on "
                   "the kink z = 0 that the hypothesis forces; the loss is not differentiable "
                   "in them there, so they were not compared")
    if run.start == "witness":
        out.append("no random start had the two units' gradients differ measurably (inactive "
                   "units, or a loss that is not finite there), so the run starts from the "
                   "witness's parameters and data")
    if run.learning_rate != run.requested_learning_rate and run.diverged_at_step is None:
        out.append(f"learning rate {run.requested_learning_rate:g} made the loss blow up; "
                   f"the run shown uses {run.learning_rate:g}, halved until it did not")
    if run.dead_at_start:
        i, j = result.hypothesis.units
        out.append(f"units {i} and {j} are both dead on these samples at the training start: "
                   "σ'(z) = 0 for every sample, so no gradient reaches their incoming weights "
                   "and bias, which therefore cannot separate there")
    why = inconclusive(spec, result, run)
    if why:
        out.append(f"the training simulation is inconclusive: {why}")
    else:
        out.extend(_gap_notes(result.hypothesis, run))
    return out


def _gap_notes(hyp: Hypothesis, run: Training) -> list[str]:
    i, j = hyp.units
    if run.diverged_at_step is not None or run.behaviour == "untied at the start":
        return []
    if run.exact_zero:
        return [f"the gap between units {i} and {j} stayed exactly 0.0 at every step: "
                "their updates were bitwise identical"]
    if run.rounding_level:
        return [f"the gap stayed at rounding level (at most {run.max_gap:.3g}): the two "
                "units sit in different positions of the floating-point sums, which round "
                "differently; the proof is about exact arithmetic"]
    k = run.first_step_over(0.0)
    if run.noise_grew:
        return [f"rounding noise of {run.gaps[k]:.3g} at step {k} grew to {run.max_gap:.3g}: "
                f"the tied set is unstable under {run.optimizer}, which is not the proof "
                "being wrong (in exact arithmetic the updates are identical)"]
    over = run.first_step_over(SEPARATED)
    if over is None:
        return [f"the gap between units {i} and {j} grew from step {k} to {run.max_gap:.3g}, "
                f"never over {SEPARATED:g}"]
    return [f"the units separated: the gap exceeds {SEPARATED:g} from step {over} and "
            f"reaches {run.max_gap:.3g}"]
