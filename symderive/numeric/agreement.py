"""Do the numbers agree with the proof?  Problems (contradictions) and plain notes.

A *problem* is a numeric result that contradicts the symbolic one: the
gradient check fails; a group proved ``equal`` has visibly different
gradients at a check point; a ``preserved`` hypothesis's units separate
(gap > :data:`PRESERVED_LIMIT`); a ``broken`` one's never do (gap never
> :data:`BROKEN_LIMIT`); or the simulation cannot be run.  Any problem makes
the CLI exit with status 1.

Rounding noise that appears in a preserved run and then grows is *not* a
problem: the proof is about exact arithmetic, and growth from ~1e-16 means
that the tied set is unstable under the optimizer.  It gets a plain note.
"""
from __future__ import annotations

from ..engine.symmetry import BROKEN, EQUAL, PRESERVED, HypothesisResult
from ..spec import Hypothesis
from .gradcheck import ATOL, POINTS, RTOL, GradientCheck
from .training import SEPARATED, Training

PRESERVED_LIMIT = 1e-9
BROKEN_LIMIT = 1e-6


def gradient_problems(result: HypothesisResult, check: GradientCheck,
                      smooth: bool = True) -> list[str]:
    """The gradient check's contradictions, and groups proved equal that are not.

    Too few check points is a problem for a smooth network (the loss was not
    finite); with a non-smooth activation the network's structure may force a
    pre-activation onto a kink at every point (zeroed outgoing weights feeding a
    ReLU layer), which contradicts nothing: :func:`notes` says so instead."""
    out = []
    if check.points < POINTS and smooth:
        out.append(_incomplete(check))
    elif check.points < POINTS:
        pass
    elif not check.passed:
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


def training_problems(result: HypothesisResult, run: Training) -> list[str]:
    """The simulation's contradictions of the verdict."""
    i, j = result.hypothesis.units
    if run.diverged_at_step is not None:
        return [f"training diverged (loss not finite or exploding at step "
                f"{run.diverged_at_step}) even with learning rate {run.learning_rate:.3g}; "
                "the gap could not be followed"]
    if result.verdict == PRESERVED and run.max_gap > PRESERVED_LIMIT and not run.noise_grew:
        return [f"verdict preserved, but the gap between units {i} and {j} reached "
                f"{run.max_gap:.3g} (over {PRESERVED_LIMIT:g} from step "
                f"{run.first_step_over(PRESERVED_LIMIT)}) under {run.optimizer}"]
    if result.verdict == BROKEN and run.max_gap <= BROKEN_LIMIT:
        return [f"verdict broken, but the gap between units {i} and {j} never exceeded "
                f"{BROKEN_LIMIT:g} in {run.steps} steps of {run.optimizer} "
                f"(largest {run.max_gap:.3g})"]
    return []


def _incomplete(check: GradientCheck) -> str:
    return (f"gradient check incomplete: found only {check.points} of {POINTS} random "
            "points away from kinks with a finite loss")


def notes(result: HypothesisResult, check: GradientCheck, run: Training,
          smooth: bool = True) -> list[str]:
    """Plain statements a reader needs to read the figures right."""
    out = []
    if check.points < POINTS and not smooth:
        out.append(_incomplete(check) + "; the network's structure puts some pre-activation "
                   "on a kink of its activation at every point, where the loss is not "
                   "differentiable")
    if check.skipped_at_kink:
        i, j = result.hypothesis.units
        out.append(f"{check.skipped_at_kink} incoming parameters of units {i} and {j} sit on "
                   "the kink z = 0 that the hypothesis forces; the loss is not differentiable "
                   "in them there, so they were not compared")
    if run.learning_rate != run.requested_learning_rate:
        out.append(f"learning rate {run.requested_learning_rate:g} made the loss blow up; "
                   f"the run shown uses {run.learning_rate:g}, halved until it did not")
    if run.dead_at_start:
        i, j = result.hypothesis.units
        out.append(f"units {i} and {j} are both dead on these samples at the training start: "
                   "σ'(z) = 0 for every sample, so no gradient reaches their incoming weights "
                   "and bias, which therefore cannot separate there")
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
