"""The JSON report of CONTRACT.md."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..engine.output import is_output, spec_targets, summary
from ..engine.symmetry import GroupResult, HypothesisResult
from ..notation.printing import latex

if TYPE_CHECKING:  # the type only: api (above) calls this renderer
    from ..api import Derivation


def report_dict(d: Derivation) -> dict[str, Any]:
    spec = d.spec
    out = {
        "title": spec.title,
        "question": spec.question,
        "network": spec.network.to_json(),
        "hypotheses": [_hypothesis(d, k, r) for k, r in enumerate(d.results)],
    }
    if getattr(spec, "description", None):
        out["description"] = spec.description
    if getattr(d, "facts", ()):
        out["facts"] = [_fact(f, spec.network.samples) for f in d.facts]
    if getattr(d, "start", None) is not None:
        out["init"] = {**d.start.to_json(), "start": spec.init.to_json()}
        if spec.data is not None:
            out["data"] = spec.data.to_json()
    out["answer"] = answer_text(d)
    return out


def answer_text(d: Derivation) -> str:
    """The report's opening as plain text (judgement of the claims, one line per case),
    formulas in Unicode: what a script posts or shows without rendering anything."""
    from ..report.answer import opening
    from ..report.model import Items, Paragraph

    if d.spec.network.stack:
        from ..report.layers import opening

    lines: list[str] = []
    for block in opening(d):
        if isinstance(block, Paragraph):
            lines.append(_plain(block.parts, d.spec.network.samples))
        elif isinstance(block, Items):
            lines += ["- " + _plain(item, d.spec.network.samples) for item in block.items]
    return "\n".join(lines)


def _plain(parts, samples: int) -> str:
    from ..notation.unicode import linear

    return "".join(linear(p.expr, samples) if hasattr(p, "expr") else p.text for p in parts)


def _fact(f, samples: int) -> dict[str, Any]:
    out = f.to_json(samples)
    if f.fact.claim is not None:
        out["claim"] = f.fact.claim.to_json(f.verdict)
    if getattr(f, "numeric", None) is not None:   # only when the numeric check ran
        out["numeric"] = f.numeric.to_json()
    return out


def _hypothesis(d: Derivation, k: int, r: HypothesisResult) -> dict[str, Any]:
    out = r.hypothesis.to_json()
    out["groups"] = {g.group: _group(g, d.spec.network.samples) for g in r.groups}
    if d.spec.network.stack:   # no readable residual is built for a stack's groups
        for g in out["groups"].values():
            g["difference_latex"] = None
    out["verdict"] = r.verdict
    if is_output(d.spec.network, r.hypothesis) and not d.spec.network.stack:   # output units: why their targets matter
        out["output_layer"] = summary(d.spec.network, r, spec_targets(d.spec))
    if r.hypothesis.claim is not None:
        out["claim"] = r.hypothesis.claim.to_json(r.verdict)
    out["proof"] = {"swap_invariant": r.swap_invariant, "swap_checked_on": r.swap_method,
                    "covered": r.covered}
    if r.assumptions:  # generic mode: what the proof assumed
        out["generic"] = True
        out["assumptions"] = list(r.assumptions)
    numeric = d.numeric[k] if d.numeric else None
    out["numeric"] = numeric.to_json() if hasattr(numeric, "to_json") else numeric
    return out


def _group(g: GroupResult, samples: int) -> dict[str, Any]:
    return {
        "status": g.status,
        "difference_latex": latex(g.residual, samples=samples),
        "component_index": g.index,
        "method": g.method,
        "witness": g.witness.to_json() if g.witness else None,
    }


def render(d: Derivation) -> str:
    """Deterministic JSON text (key order is the contract's order)."""
    return dumps(report_dict(d)) + "\n"


def dumps(value: Any, indent: str = "") -> str:
    """JSON indented like ``indent=2``, but a list of numbers (or of lists of
    numbers: a matrix) stays on one line per row, so witnesses of wide
    networks are compact and still diff-friendly."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dumps(v, inner)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value and not _flat(value):
        if all(isinstance(v, list) and _flat(v) for v in value):
            rows = [inner + json.dumps(v, separators=(", ", ": ")) for v in value]
        else:
            rows = [inner + dumps(v, inner) for v in value]
        return "[\n" + ",\n".join(rows) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _flat(values: list) -> bool:
    return all(isinstance(v, (int, float, str, bool)) or v is None for v in values)
