"""Gating-ML 2.0: parse gates, compensation matrices and transforms into model objects.

Written from the ISAC Gating-ML 2.0 specification (Spidlen et al., Cytometry A
2015;87:683-687). This module only parses and checks the document; the gates are evaluated on
events by :mod:`remission.mrd.gating`, which passes the ISAC compliance suite (vendored under
``tests/data/gatingml``: ``data1.fcs`` + every ``Results_<gate>.txt`` event for event).

Supported:

- gates: ``RectangleGate`` (``min <= x < max``, either bound optional), ``PolygonGate``
  (even-odd rule, flowutils' C point-in-polygon), ``EllipsoidGate`` (Mahalanobis distance
  ``<= distanceSquare``), ``QuadrantGate`` (each ``Quadrant`` is a gate; divider intervals are
  ``[v_i, v_i+1)``), ``BooleanGate`` (``and``/``or``/``not``, ``use-as-complement``) and
  ``parent_id`` (a gate's events are always within its parent's);
- compensation references: ``uncompensated``, ``FCS`` (the file's $SPILL/$SPILLOVER; a file
  without one is used uncompensated, as the compliance suite requires) and the id of a
  ``spectrumMatrix``/``spilloverMatrix`` in the document (dimension names then refer to
  fluorochromes, i.e. the compensated detectors);
- transformations: ``fasinh``, ``hyperlog``, ``logicle``, ``flin``, ``flog`` and the ratio
  ``fratio`` as a ``new-dimension`` (log-ratio = ``flog`` on a ratio dimension).

Errors name the Gating-ML file and the gate (``GatingMLError``); a gate naming a channel the
FCS file lacks says which channel and which channels the file has.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from remission.errors import GatingMLError

__all__ = [
    "BooleanGate",
    "Dimension",
    "EllipsoidGate",
    "Gate",
    "GatingDocument",
    "Matrix",
    "PolygonGate",
    "Quadrant",
    "RectangleGate",
    "Transform",
    "parse_gatingml",
    "transform_parameter_problem",
]

NS = {
    "gating": "http://www.isac-net.org/std/Gating-ML/v2.0/gating",
    "transforms": "http://www.isac-net.org/std/Gating-ML/v2.0/transformations",
    "data-type": "http://www.isac-net.org/std/Gating-ML/v2.0/datatypes",
}
_G, _T, _D = ("{" + NS[k] + "}" for k in ("gating", "transforms", "data-type"))


def _attr(el: ET.Element, name: str, default: str | None = None) -> str | None:
    for pre in (_G, _T, _D, ""):
        v = el.get(pre + name)
        if v is not None:
            return v
    return default


def _float(el: ET.Element, name: str, default: float | None = None, *, where: str, path: str | None) -> float | None:
    v = _attr(el, name)
    if v is None:
        return default
    try:
        x = float(v)
    except ValueError as exc:
        raise GatingMLError(f"attribute {name}={v!r} is not a number", path=path, field=where) from exc
    if not math.isfinite(x):
        raise GatingMLError(f"attribute {name}={v!r} must be a finite number", path=path, field=where)
    return x


@dataclass(frozen=True)
class Dimension:
    """One gate dimension: a channel (or ratio transform) with compensation and scale."""

    name: str | None  # fcs-dimension name; None for a new-dimension (ratio)
    compensation_ref: str
    transformation_ref: str | None = None
    ratio_ref: str | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class RectangleGate:
    id: str
    parent: str | None
    dims: tuple[Dimension, ...]


@dataclass(frozen=True)
class PolygonGate:
    id: str
    parent: str | None
    dims: tuple[Dimension, ...]
    vertices: np.ndarray


@dataclass(frozen=True)
class EllipsoidGate:
    id: str
    parent: str | None
    dims: tuple[Dimension, ...]
    mean: np.ndarray
    covariance: np.ndarray
    distance_square: float


@dataclass(frozen=True)
class Quadrant:
    """One quadrant of a QuadrantGate: for each divider id, the interval index it lies in."""

    id: str
    parent: str | None
    quadrant_gate: str
    dividers: dict[str, tuple[Dimension, tuple[float, ...]]]
    positions: dict[str, int]


@dataclass(frozen=True)
class BooleanGate:
    id: str
    parent: str | None
    op: str  # and / or / not
    refs: tuple[tuple[str, bool], ...]  # (gate id, use as complement)


Gate = RectangleGate | PolygonGate | EllipsoidGate | Quadrant | BooleanGate


#: Gating-ML 2.0 §6 parameter ranges (the logicle ones are Moore & Parks, Cytometry A 2012;81A:273)
def transform_parameter_problem(kind: str, params: Mapping[str, object]) -> str | None:
    """Why ``params`` are not a valid ``kind`` transformation (``None`` when they are).

    ``kind``: ``logicle``/``hyperlog`` (T > 0, M > 0, 0 <= W <= M/2, -W <= A <= M - 2W),
    ``fasinh`` (T > 0, M > 0, A >= 0), ``flin`` (T > 0, A > -T), ``flog`` (T > 0, M > 0),
    ``fratio`` (A, B, C finite). Messages read ``"<name> must be <constraint>, but was <value>"``.
    """
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not math.isfinite(float(v)):
            return f"{k} must be a finite number, but was {v!r}"
    p = {k: float(v) for k, v in params.items()}  # type: ignore[arg-type]
    if kind != "fratio" and p.get("T", 1.0) <= 0:
        return f"T must be > 0, but was {params['T']!r}"
    if kind in ("logicle", "hyperlog", "fasinh", "flog") and p.get("M", 1.0) <= 0:
        return f"M must be > 0, but was {params['M']!r}"
    if kind in ("logicle", "hyperlog"):
        t, w, m, a = p["T"], p["W"], p["M"], p["A"]
        if not 0 <= w <= m / 2:
            return f"W must be in [0, M/2] = [0, {m / 2:g}], but was {params['W']!r}"
        if not -w <= a <= m - 2 * w:
            return f"A must be in [-W, M - 2W] = [{-w:g}, {m - 2 * w:g}], but was {params['A']!r}"
        del t
    if kind == "fasinh" and p["A"] < 0:
        return f"A must be >= 0, but was {params['A']!r}"
    if kind == "flin" and p["A"] <= -p["T"]:
        return f"A must be > -T = {-p['T']:g}, but was {params['A']!r}"
    return None


@dataclass(frozen=True)
class Transform:
    """A Gating-ML transformation: ``kind`` (fasinh, logicle, ...) and its parameters."""

    kind: str
    params: dict[str, float]
    ratio_dims: tuple[str, str] | None = None


@dataclass(frozen=True)
class Matrix:
    """A spectrumMatrix/spilloverMatrix of the document (fluorochromes x detectors)."""

    fluorochromes: tuple[str, ...]
    detectors: tuple[str, ...]
    spectrum: np.ndarray  # fluorochromes x detectors


@dataclass
class GatingDocument:
    """A parsed Gating-ML 2.0 document: gates (by id, in file order), transforms, matrices."""

    path: str | None
    gates: dict[str, Gate] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    matrices: dict[str, Matrix] = field(default_factory=dict)

    @property
    def gate_ids(self) -> list[str]:
        return list(self.gates)

    def channels_used(self) -> set[str]:
        out: set[str] = set()
        for g in self.gates.values():
            dims: Iterable[Dimension] = ()
            if isinstance(g, (RectangleGate, PolygonGate, EllipsoidGate)):
                dims = g.dims
            elif isinstance(g, Quadrant):
                dims = [d for d, _ in g.dividers.values()]
            for d in dims:
                if d.name:
                    out.add(d.name)
        return out


# --------------------------------------------------------------------------------- parsing


def _dimension(el: ET.Element, *, where: str, path: str | None, tag: str = "dimension") -> Dimension:
    comp = _attr(el, "compensation-ref")
    if comp is None:
        raise GatingMLError(f"{tag} has no compensation-ref attribute", path=path, field=where)
    fcs = el.find(_D + "fcs-dimension")
    new = el.find(_D + "new-dimension")
    name = ratio = None
    if fcs is not None:
        name = _attr(fcs, "name")
        if not name:
            raise GatingMLError("fcs-dimension has no name", path=path, field=where)
    elif new is not None:
        ratio = _attr(new, "transformation-ref")
        if not ratio:
            raise GatingMLError("new-dimension has no transformation-ref", path=path, field=where)
    else:
        raise GatingMLError(f"{tag} has neither fcs-dimension nor new-dimension", path=path, field=where)
    return Dimension(name=name, compensation_ref=comp, transformation_ref=_attr(el, "transformation-ref"),
                     ratio_ref=ratio, min=_float(el, "min", where=where, path=path),
                     max=_float(el, "max", where=where, path=path))


def _coords(el: ET.Element, *, where: str, path: str | None) -> list[float]:
    out = []
    for c in el.findall(_G + "coordinate"):
        v = _float(c, "value", where=where, path=path)
        if v is None:
            raise GatingMLError("coordinate has no value", path=path, field=where)
        out.append(v)
    return out


def parse_gatingml(source: str | Path | bytes) -> GatingDocument:
    """Parse a Gating-ML 2.0 document (path or XML bytes)."""
    path: str | None = None
    try:
        if isinstance(source, bytes):
            root = ET.fromstring(source)
        else:
            path = str(source)
            if Path(path).is_dir():
                raise IsADirectoryError(path)
            root = ET.parse(path).getroot()
    except FileNotFoundError as exc:
        raise GatingMLError("does not exist", path=path) from exc
    except IsADirectoryError as exc:
        raise GatingMLError("is a directory, not a Gating-ML file", path=path) from exc
    except PermissionError as exc:
        raise GatingMLError(f"cannot be read: {exc.strerror or exc}", path=path) from exc
    except ET.ParseError as exc:
        raise GatingMLError(f"is not well-formed XML: {exc}", path=path,
                            line=exc.position[0] if exc.position else None) from exc
    except (LookupError, UnicodeError) as exc:  # an unknown or wrong encoding declaration
        raise GatingMLError(f"cannot be decoded: {str(exc)[:80]}", path=path, field="encoding") from exc
    if root.tag != _G + "Gating-ML":
        raise GatingMLError(f"root element must be gating:Gating-ML (namespace {NS['gating']}), "
                            f"but was {root.tag!r}", path=path)
    doc = GatingDocument(path=path)
    for el in _top_level(root):
        tag = el.tag
        gid = _attr(el, "id")
        where = f"{tag.split('}')[-1]} {gid}"
        if tag == _T + "transformation":
            if not gid:
                raise GatingMLError("transformation without id", path=path)
            doc.transforms[gid] = _parse_transform(el, where=where, path=path)
        elif tag in (_T + "spectrumMatrix", _T + "spilloverMatrix"):
            doc.matrices[gid or ""] = _parse_matrix(el, where=where, path=path)
        elif tag.startswith(_G) and tag.endswith("Gate"):
            if not gid:
                raise GatingMLError(f"{tag.split('}')[-1]} without gating:id", path=path)
            _parse_gate(doc, el, gid, where=where, path=path)
    for g in doc.gates.values():
        refs = [g.parent] if g.parent else []
        if isinstance(g, BooleanGate):
            refs += [r for r, _ in g.refs]
        for r in refs:
            if r not in doc.gates:
                raise GatingMLError(f"refers to gate {r!r}, which the document does not define",
                                    path=path, field=f"gate {g.id}")
    return doc


def _top_level(root: ET.Element) -> list[ET.Element]:
    """Gating-ML elements directly under the root or inside foreign wrapper elements."""
    out: list[ET.Element] = []
    for el in root:
        if el.tag.startswith((_G, _T, _D)):
            out.append(el)
        else:  # e.g. a non-namespaced <sample> wrapper (compliance file gml_range_gate_attr_testing)
            out.extend(_top_level(el))
    return out


def _parse_transform(el: ET.Element, *, where: str, path: str | None) -> Transform:
    kids = list(el)
    if len(kids) != 1:
        raise GatingMLError("transformation must hold exactly one function element", path=path, field=where)
    f = kids[0]
    kind = f.tag.split("}")[-1]
    need = {"fasinh": "TMA", "logicle": "TWMA", "hyperlog": "TWMA", "flin": "TA", "flog": "TM",
            "fratio": "ABC"}.get(kind)
    if need is None:
        raise GatingMLError(f"transformation {kind!r} is not supported (fasinh, logicle, hyperlog, flin, "
                            "flog, fratio)", path=path, field=where)
    params = {}
    for k in need:
        v = _float(f, k, where=where, path=path)
        if v is None:
            raise GatingMLError(f"{kind} needs attribute {k}", path=path, field=where)
        params[k] = v
    problem = transform_parameter_problem(kind, params)
    if problem is not None:
        raise GatingMLError(f"{kind} {problem}", path=path, field=where)
    ratio = None
    if kind == "fratio":
        names = [_attr(d, "name") or "" for d in f.findall(_D + "fcs-dimension")]
        if len(names) != 2 or not all(names):
            raise GatingMLError("fratio needs exactly two named fcs-dimension elements", path=path, field=where)
        ratio = (names[0], names[1])
    return Transform(kind, params, ratio)


def _parse_matrix(el: ET.Element, *, where: str, path: str | None) -> Matrix:
    def names(tag: str) -> tuple[str, ...]:
        box = el.find(_T + tag)
        if box is None:
            raise GatingMLError(f"matrix has no {tag}", path=path, field=where)
        return tuple(_attr(d, "name") or "" for d in box.findall(_D + "fcs-dimension"))

    fl, det = names("fluorochromes"), names("detectors")
    rows = []
    for sp in list(el.findall(_T + "spectrum")) + list(el.findall(_T + "spillover")):
        rows.append([_float(c, "value", where=where, path=path) for c in sp.findall(_T + "coefficient")])
    try:
        mat = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise GatingMLError("matrix rows have unequal lengths or missing values", path=path, field=where) from exc
    if mat.shape != (len(fl), len(det)):
        raise GatingMLError(f"matrix must be {len(fl)}x{len(det)} (fluorochromes x detectors), but was "
                            f"{mat.shape!r}", path=path, field=where)
    return Matrix(fl, det, mat)


def _parse_gate(doc: GatingDocument, el: ET.Element, gid: str, *, where: str, path: str | None) -> None:
    kind = el.tag.split("}")[-1]
    parent = _attr(el, "parent_id")
    dims = tuple(_dimension(d, where=where, path=path) for d in el.findall(_G + "dimension"))
    if kind == "RectangleGate":
        if not dims:
            raise GatingMLError("RectangleGate has no dimension", path=path, field=where)
        for d in dims:
            if d.min is None and d.max is None:
                raise GatingMLError("a RectangleGate dimension needs min or max", path=path, field=where)
        doc.gates[gid] = RectangleGate(gid, parent, dims)
    elif kind == "PolygonGate":
        verts = [_coords(v, where=where, path=path) for v in el.findall(_G + "vertex")]
        if len(dims) != 2 or len(verts) < 3 or any(len(v) != 2 for v in verts):
            raise GatingMLError("PolygonGate needs 2 dimensions and >= 3 two-coordinate vertices",
                                path=path, field=where)
        doc.gates[gid] = PolygonGate(gid, parent, dims, np.array(verts, dtype=np.float64))
    elif kind == "EllipsoidGate":
        mean_el = el.find(_G + "mean")
        cov_el = el.find(_G + "covarianceMatrix")
        ds_el = el.find(_G + "distanceSquare")
        if mean_el is None or cov_el is None or ds_el is None:
            raise GatingMLError("EllipsoidGate needs mean, covarianceMatrix and distanceSquare",
                                path=path, field=where)
        mean = np.array(_coords(mean_el, where=where, path=path))
        cov = np.array([[_float(e, "value", where=where, path=path) for e in r.findall(_G + "entry")]
                        for r in cov_el.findall(_G + "row")], dtype=np.float64)
        k = len(dims)
        if mean.shape != (k,) or cov.shape != (k, k):
            raise GatingMLError(f"EllipsoidGate with {k} dimensions needs a {k}-vector mean and a {k}x{k} "
                                "covariance matrix", path=path, field=where)
        ds = _float(ds_el, "value", where=where, path=path)
        doc.gates[gid] = EllipsoidGate(gid, parent, dims, mean, cov, float(ds if ds is not None else 1.0))
    elif kind == "QuadrantGate":
        dividers: dict[str, tuple[Dimension, tuple[float, ...]]] = {}
        for dv in el.findall(_G + "divider"):
            did = _attr(dv, "id") or ""
            d = _dimension(dv, where=where, path=path, tag="divider")
            vals = []
            for v in dv.findall(_G + "value"):
                try:
                    vals.append(float((v.text or "").strip()))
                except ValueError as exc:
                    raise GatingMLError(f"divider {did} value {v.text!r} is not a number",
                                        path=path, field=where) from exc
            dividers[did] = (d, tuple(sorted(vals)))
        for q in el.findall(_G + "Quadrant"):
            qid = _attr(q, "id") or ""
            pos: dict[str, int] = {}
            for p in q.findall(_G + "position"):
                ref = _attr(p, "divider_ref") or ""
                loc = _float(p, "location", where=where, path=path)
                if ref not in dividers or loc is None:
                    raise GatingMLError(f"quadrant {qid} position refers to unknown divider {ref!r}",
                                        path=path, field=where)
                pos[ref] = int(np.searchsorted(np.asarray(dividers[ref][1]), loc, side="right"))
            doc.gates[qid] = Quadrant(qid, parent, gid, dividers, pos)
    elif kind == "BooleanGate":
        ops = [c for c in el if c.tag in (_G + "and", _G + "or", _G + "not")]
        if len(ops) != 1:
            raise GatingMLError("BooleanGate needs exactly one of and/or/not", path=path, field=where)
        op = ops[0].tag.split("}")[-1]
        refs = tuple((_attr(r, "ref") or "", (_attr(r, "use-as-complement") or "false").lower() == "true")
                     for r in ops[0].findall(_G + "gateReference"))
        if (op == "not" and len(refs) != 1) or (op != "not" and len(refs) < 2):
            raise GatingMLError(f"BooleanGate '{op}' has {len(refs)} operand(s)", path=path, field=where)
        doc.gates[gid] = BooleanGate(gid, parent, op, refs)
    else:
        raise GatingMLError(f"gate type {kind!r} is not supported", path=path, field=where)
