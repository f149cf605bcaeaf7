"""The whole derivation request, :class:`Spec`, beside the constructors that validate it.

A Spec comes from TOML text (:meth:`Spec.from_toml`, what the CLI reads), from plain
Python tables (:meth:`Spec.from_dict`, for scripts), or straight from the dataclasses.
The first two validate; the third is validated by :meth:`Spec.validated` (which
:func:`symderive.derive` calls) by turning it back into tables (:meth:`Spec.to_dict`)
and running the same validator, so every route reports the same
:class:`~symderive.errors.SpecError` naming the same field.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from .facts import KINDS, FactSpec
from .functions import Activation, Loss
from .load import _find_line, decode, read_toml
from .model import CheckSpec, DataSpec, Hypothesis, InitSpec, NetworkSpec
from .validate import spec_fields

#: Spec fields whose TOML key differs (an array of tables is named in the singular).
_KEYS = {"hypotheses": "hypothesis", "facts": "fact"}
#: Marks an instance built by the validator (frozen: set once, by object.__setattr__).
_VALIDATED = "_symderive_validated"


@dataclass(frozen=True)
class Spec:
    """A whole derivation request: the network, the hypotheses, facts and check settings.

    Build one from TOML or from plain tables; both validate exactly as the CLI does::

        >>> from symderive import Spec
        >>> spec = Spec.from_dict({
        ...     "network": {"layers": [2, 3, 1], "activation": "tanh"},
        ...     "hypothesis": [{"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}]})
        >>> spec.network.layers
        (2, 3, 1)
        >>> Spec.from_toml('[network]\\nlayers = [2, 3, 1]\\n[[hypothesis]]\\nlayer = 5\\n'
        ...                'units = [1, 2]')
        Traceback (most recent call last):
        symderive.errors.SpecError: <string>:4: hypothesis[1].layer: ...

    A Spec may also be built from the dataclasses (``NetworkSpec``, ``Hypothesis``,
    ``CheckSpec`` of :mod:`symderive.spec`; activations may be given by name);
    :func:`symderive.derive` validates it first (:meth:`validated`).
    """

    title: str
    question: str | None
    network: NetworkSpec
    hypotheses: tuple[Hypothesis, ...]
    check: CheckSpec = CheckSpec()
    source: str = field(default="<spec>", compare=False)   # where it was read: not content
    description: str | None = None   # one line for `symderive list`
    facts: tuple = ()                # [[fact]] tables: symderive.spec.facts.FactSpec
    init: InitSpec | None = None     # [init]: the starting point of training
    data: DataSpec | None = None     # [data]: concrete training data

    @classmethod
    def from_toml(cls, text: str | bytes, source: str = "<string>") -> Spec:
        """The validated spec written in TOML ``text`` (bytes must be UTF-8); errors name
        ``source`` (a file name, ``<stdin>``), the line and the field."""
        text = decode(source, text)
        data = read_toml(text, source)
        try:
            return cls(**spec_fields(data, source))._mark_validated()
        except SpecError as exc:
            raise exc.located(source, _find_line(text, exc.field)) from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> Spec:
        """The validated spec of plain tables shaped like the TOML file (keys ``title``,
        ``network``, ``hypothesis`` (a list of dicts), ``fact``, ``check``, ...).
        Tuples are taken for lists; errors are those of :meth:`from_toml`."""
        if not isinstance(data, Mapping):
            raise SpecError(f"a spec must be a dict of tables, not {type(data).__name__}",
                            source=source)
        try:
            return cls(**spec_fields(_lists(data), source))._mark_validated()
        except SpecError as exc:
            raise exc.located(source) from None

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain tables, as written in TOML: ``from_dict(spec.to_dict())``
        gives back an equal spec (defaults filled in, absent values left out)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "source" or value is None or (f.name in _KEYS and value == ()):
                continue
            out[_KEYS.get(f.name, f.name)] = _plain(value)
        if getattr(self.network, "stack", ()):     # a built Spec may hold anything here
            out["layer"] = _plain(self.network.layer_tables())
        return out

    def validated(self) -> Spec:
        """This spec if a validator built it, else the spec the validator makes of its
        :meth:`to_dict` (a :class:`SpecError` names the faulty field)."""
        if getattr(self, _VALIDATED, False):
            return self
        source = self.source if isinstance(self.source, str) else "<spec>"
        return type(self).from_dict(self.to_dict(), source)

    def _mark_validated(self) -> Spec:
        object.__setattr__(self, _VALIDATED, True)
        return self

    def __repr__(self) -> str:
        network = self.network
        layers = list(getattr(network, "layers", ()) or ())
        parts = [f"network {layers}" if layers else "network ?",
                 _count(self.hypotheses, "hypothesis", "hypotheses"),
                 _count(self.facts, "fact", "facts")]
        return f"<Spec {self.title!r} ({self.source}): {', '.join(parts)}>"


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    """Parse TOML ``text`` (from file ``source``) into a validated :class:`Spec`."""
    return Spec.from_toml(text, source)


def load_spec(path: str, data: bytes | str) -> Spec:
    """The validated spec of a file's bytes; invalid UTF-8 is a :class:`SpecError`."""
    return Spec.from_toml(data, path)


def _count(items: Any, one: str, many: str) -> str:
    n = len(items) if isinstance(items, (tuple, list)) else 0
    return f"{n} {one if n == 1 else many}"


def _plain(value: Any) -> Any:
    """A value of the data model as it is written in TOML (lists, tables, names).

    A dataclass becomes the table of its fields; one whose TOML differs from its
    fields (``[init]``, say) defines ``to_toml()`` returning its table."""
    if hasattr(value, "to_toml") and not isinstance(value, type):
        return _lists(value.to_toml())
    if isinstance(value, (Activation, Loss)):
        return value.name if value.latex_source is None else {"latex": value.latex_source}
    if isinstance(value, FactSpec) and value.kind in KINDS:
        return value.to_json()                   # only the keys its kind reads
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(v) for f in dataclasses.fields(value)
                if (v := getattr(value, f.name)) is not None}
    return _lists(value)


def _lists(value: Any) -> Any:
    """Tuples as lists and mappings as dicts, all the way down (as TOML gives them)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value
