"""From a :class:`~symderive.api.Derivation` to a :class:`Document`: the recipe of a report.

``detail="full"``: question → answer (judgement of the claims, one sentence per
hypothesis and fact, then each difference) → the network → one section per
hypothesis → facts → numeric cross-check.  ``detail="brief"``: question →
answer → why (:mod:`.brief`), sized for a Q&A site.  Only words and SymPy
objects are produced here; the renderers decide the markup.
"""
from __future__ import annotations

import re
import shlex

import sympy as sp

from ..engine.local import LocalModel
from ..engine.output import is_output, spec_targets
from ..engine.symmetry import BROKEN, DIFFERENT, PRESERVED, HypothesisResult
from ..spec import NetworkSpec, Spec
from .facts import extra_sections
from .formulas import (activation_rows, backprop_rows, forward_rows, gradient_rows, loss_rows,
                       uses_heaviside)
from .answer import difference_words, entries, merged, opening
from .brief import why_section
from .hypothesis import hypothesis_section
from .init import start_section
from .model import (Aligned, Block, Document, Math, Paragraph, Ref, Row, Section, Strong, Table,
                    inline, para)
from .numeric import numeric_alerts, numeric_section
from .output import output_answer, output_section
from .proofs import joined
from .steps import GROUP_NAMES, difference, settled

_LOSS_NAMES = {"mse": "the squared error", "bce": "the binary cross-entropy",
               "softmax_ce": "the softmax cross-entropy", "latex": "the loss given below",
               "any": "an arbitrary differentiable per-output loss"}
_FUNCTION_NAMES = {"latex": "as given below", "any": "an arbitrary differentiable function"}


DETAILS = ("brief", "full")


def build_report(derivation, detail: str = "full", limit: int | None = None) -> Document:
    """The document of a derivation (see the module docstring for its parts).

    ``limit`` caps how many hypotheses the brief answer treats one by one
    (the renderer lowers it until the answer fits a site's length limit)."""
    if detail not in DETAILS:
        raise ValueError(f"detail must be one of {', '.join(DETAILS)}, not {detail!r}")
    spec: Spec = derivation.spec
    if spec.network.stack:
        from .layers import build_stack_report

        return build_stack_report(derivation, detail, document_key(spec), _name(spec.source))
    body: list[Block] = []
    if spec.question:
        body.append(Section("Question", _question(spec.question), label="sec:question"))
    start = start_section(derivation)   # a whole starting point: the asker's own answer
    if detail == "brief":
        body += _brief(derivation, limit)
        body += [start] if start is not None else []
        return Document(spec.title, tuple(body), name=_name(spec.source),
                        samples=spec.network.samples, key=document_key(spec))
    body.append(_answer(derivation))
    if start is not None:
        body.append(start)
    body.append(_network(spec.network))
    body += [_section(spec, k, r) for k, r in enumerate(derivation.results, start=1)]
    body += extra_sections(derivation)  # generic-mode assumptions, [[fact]] sections
    numeric = numeric_section(derivation.results, derivation.numeric)
    if numeric is not None:
        body.append(numeric)
    return Document(spec.title, tuple(body), name=_name(spec.source),
                    samples=spec.network.samples, key=document_key(spec))


def _section(spec: Spec, k: int, r: HypothesisResult) -> Section:
    """The section of a hypothesis about hidden units or about output units."""
    if is_output(spec.network, r.hypothesis):
        return output_section(spec.network, k, r, spec_targets(spec))
    return hypothesis_section(spec.network, k, r)


def _brief(derivation, limit: int | None) -> list[Block]:
    """Answer (a numeric contradiction first) and Why; ``limit`` cases one by one."""
    alerts = numeric_alerts(derivation.numeric)
    cases = {} if limit is None else {"limit": limit}
    broken = {} if limit is None else {"limit": max(1, limit // 4)}
    return [Section("Answer", tuple(alerts + opening(derivation, **cases)), label="sec:answer"),
            why_section(derivation, full_command(derivation.spec), **broken)]


def full_command(spec: Spec) -> str:
    """The command line that writes this spec's full derivation (SPEC.toml from Python)."""
    source = spec.source if spec.source and not spec.source.startswith("<") else "SPEC.toml"
    return f"symderive derive {shlex.quote(source)} --detail full"


def _name(source: str) -> str:
    """A label-safe name from the spec file: letters, digits and '-'."""
    stem = re.sub(r"\.toml$", "", source.replace("\\", "/").split("/")[-1])
    return _slug(stem) or "derivation"


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-")


def document_key(spec: Spec) -> str:
    """A label prefix unique per derivation: the spec file's name (its title when it has
    none: standard input, a dict) and a digest of the whole spec.  The same spec gives
    the same key in every run; two different specs, different keys."""
    import hashlib
    import json

    named = not spec.source.startswith("<") and spec.source not in ("-", "")
    base = _name(spec.source) if named else (_slug(spec.title) or "derivation")
    content = json.dumps(spec.to_dict(), sort_keys=True, default=str)   # not the short repr
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:8]
    return f"{base}-{digest}"


def _question(text: str) -> tuple[Block, ...]:
    """The question's paragraphs (blank lines separate them; line breaks do not)."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip())]
    return tuple(para(p) for p in paragraphs if p)


# ------------------------------------------------------------------ answer


def _answer(derivation) -> Section:
    """The opening, then each hypothesis's difference (asked ones first), the table."""
    spec, results = derivation.spec, derivation.results
    body: list[Block] = list(opening(derivation, len(results) + len(derivation.facts)))
    for group in merged(entries(derivation)):   # the same case twice is shown once
        if group[0].result is not None:
            labels = joined(e.label for e in group)
            body += _answer_for(spec.network, int(group[0].label[1:]), group[0].result, labels)
    if results:
        body.append(_summary_table(spec.network, results))
        body.append(_backprop_paragraph(derivation))
    return Section("Answer", tuple(body), label="sec:answer")


def _answer_for(network: NetworkSpec, k: int, r: HypothesisResult,
                labels: str | None = None) -> list[Block]:
    head = Strong(f"{labels or f'H{k}'} ({r.hypothesis.name}): {r.verdict}.")
    if r.verdict == PRESERVED:
        return [para(head, " The two units stay identical at every step of gradient descent (",
                     Ref(f"thm:h{k}", f"Theorem H{k}"), ").")]
    if r.verdict != BROKEN:
        return [para(head, " Neither conclusion could be proved (see ",
                     Ref(f"sec:h{k}", f"Hypothesis H{k}"), ").")]
    if is_output(network, r.hypothesis):
        return output_answer(network, k, r)
    model = LocalModel(network, r.hypothesis)
    assumed = set(r.hypothesis.tie) | set(r.hypothesis.zero)
    g = next(g for g in r.groups if g.group in assumed and g.status == DIFFERENT)
    out: list[Block] = [
        para(head, " The units separate after one step of gradient descent (",
             Ref(f"thm:h{k}", f"Theorem H{k}"), "): the gradients of their "
             f"{GROUP_NAMES[g.group]} differ by"),
        Aligned((Row(difference(model, g.group), settled(g)),))]
    out.append(para("The difference is ", *difference_words(model, settled(g)), "."))
    return out


def _summary_table(network: NetworkSpec, results) -> Table:
    output_only = all(is_output(network, r.hypothesis) for r in results)
    groups = network.unit_groups(network.depth) if output_only else network.groups()
    rows = []
    for k, r in enumerate(results, start=1):
        h = r.hypothesis
        cells = [inline(f"H{k}: {h.name} ({_assumes(h)})")]
        status = {g.group: g.status for g in r.groups}
        cells += [inline(status.get(g, "n/a")) for g in groups]   # n/a: an output unit's outgoing
        cells.append((Strong(r.verdict),))
        rows.append(tuple(cells))
    header = ("hypothesis (assumption)", *groups, "verdict")
    caption = inline("For each hypothesis, whether the gradients of the two units' parameter "
                     "groups are equal, and the verdict.")
    return Table(header, tuple(rows), caption, label="tab:summary")


def _assumes(h) -> str:
    parts = [f"tie {', '.join(h.tie)}"] if h.tie else []
    parts += [f"zero {', '.join(h.zero)}"] if h.zero else []
    return "; ".join(parts) or "no assumption"


def _backprop_paragraph(derivation) -> Paragraph:
    """Why the algorithm is not the cause: the chain rule itself, and the fact if derived."""
    exact = [f"F{k}" for k, f in enumerate(derivation.facts, start=1)
             if f.fact.kind == "backprop_exact" and f.verdict == "exact"]
    evidence = (f" {joined(exact)} below derives this for every parameter of this network, "
                "term by term." if exact else "")
    return para(
        Strong("Backpropagation is not the cause."), " Backpropagation computes the exact "
        "gradient of the loss: each δ is obtained from the next layer's by the chain rule "
        "(the rows marked \"backpropagation\" below are that rule, applied once), so it gives "
        "the same derivatives as differentiating the whole loss directly." + evidence +
        " Whether two units stay identical is therefore a property of the loss function, "
        "namely whether exchanging the two units leaves it unchanged at the starting point, "
        "and not of the algorithm that computes its gradient.")


# ------------------------------------------------------------------ network


def _network(network: NetworkSpec) -> Section:
    sizes = ", ".join(str(n) for n in network.layers)
    act = network.activation.name
    samples = "one sample" if network.samples == 1 else f"{network.samples} samples"
    body: list[Block] = [
        para(f"A multilayer perceptron with layer sizes {sizes} ({_roles(network)}), "
             f"{_hidden(network, act)}output activation "
             f"{_function_name(network.output_activation.name)}, "
             f"{'with' if network.bias else 'without'} biases, and "
             f"{_LOSS_NAMES.get(network.loss.name, network.loss.name)} summed over "
             f"{samples}. The forward pass, for every unit ", Math(sp.Symbol("i")), " (",
             Math(sp.Symbol("m")), " in the output layer):"),
        Aligned(forward_rows(network), label="eq:forward"),
    ]
    activations = activation_rows(network)
    if activations:
        body += [para("with the activations"), Aligned(activations, label="eq:activation")]
    if uses_heaviside(network):
        body.append(para("where H is the Heaviside step with H(0) = 0, as in PyTorch."))
    body += [para("The loss is"), Aligned(loss_rows(network), label="eq:loss")]
    body += [
        para("Backpropagation names ", Math(sp.Symbol("delta")), " the derivative of the "
             "loss of one sample, ", Math(sp.Symbol("ell")), ", with respect to a "
             "pre-activation, and obtains it layer by layer by the chain rule:"),
        Aligned(backprop_rows(network), label="eq:backprop"),
        para("Every gradient is a sum over samples of a delta times the activation feeding "
             "the parameter:"),
        Aligned(gradient_rows(network), label="eq:gradients"),
    ]
    return Section("The network", tuple(body), label="sec:network")


def _roles(network: NetworkSpec) -> str:
    return "input, output: no hidden layer" if network.depth == 1 else "input, hidden, output"


def _hidden(network: NetworkSpec, act: str) -> str:
    return "" if network.depth == 1 else f"hidden activation {_function_name(act)}, "


def _function_name(name: str) -> str:
    return _FUNCTION_NAMES.get(name, name)


__all__ = ["build_report"]
