"""Gate evaluation: Gating-ML 2.0 gates (parsed by :mod:`remission.io.gatingml`) on all events.

Our own vectorised evaluator (no FlowKit at run time), written from the ISAC Gating-ML 2.0
specification (Spidlen et al., Cytometry A 2015;87:683-687). It passes the ISAC compliance
suite (``tests/data/gatingml``: ``data1.fcs`` + every ``Results_<gate>.txt``, event for event;
``tests/flow/test_gatingml_compliance.py``).

- ``RectangleGate``: ``min <= x < max``, either bound optional; ``PolygonGate``: even-odd rule
  (flowutils' C point-in-polygon); ``EllipsoidGate``: Mahalanobis distance ``<= distanceSquare``;
  ``QuadrantGate``: divider intervals ``[v_i, v_i+1)``; ``BooleanGate``: and/or/not with
  ``use-as-complement``; a gate's events are always within its ``parent_id`` gate's;
- compensation references ``uncompensated``, ``FCS`` (the file's $SPILL/$SPILLOVER; a file
  without one is used uncompensated, as the compliance suite requires) and the id of a matrix of
  the document (dimension names then refer to fluorochromes);
- transformations through :mod:`remission.mrd.cytometry`; ``fratio`` as a ``new-dimension``.

Errors name the Gating-ML file and the gate (:class:`~remission.errors.GatingMLError`); a gate
naming a channel the FCS file lacks says which channel and which channels the file has.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from remission.errors import GatingMLError
from remission.io.fcs import FcsData
from remission.io.gatingml import (
    BooleanGate,
    Dimension,
    EllipsoidGate,
    Gate,
    GatingDocument,
    PolygonGate,
    Quadrant,
    RectangleGate,
    parse_gatingml,
)
from remission.mrd.cytometry import arcsinh, compensate_columns, flin, flog, hyperlog, logicle

__all__ = ["apply_gatingml", "evaluate_gates", "gate_counts"]


def evaluate_gates(doc: GatingDocument, sample: FcsData,
                   gate_ids: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Boolean membership (one value per event) for each gate of ``doc`` (default: all gates)."""
    ev = _Evaluator(doc, sample)
    ids = list(gate_ids) if gate_ids is not None else doc.gate_ids
    return {g: ev.gate(g) for g in ids}


def gate_counts(doc: GatingDocument, sample: FcsData, gate_ids: Iterable[str] | None = None) -> dict[str, int]:
    """Events in each gate (see :func:`evaluate_gates`)."""
    return {k: int(v.sum()) for k, v in evaluate_gates(doc, sample, gate_ids).items()}


class _Evaluator:
    def __init__(self, doc: GatingDocument, sample: FcsData) -> None:
        self.doc = doc
        self.s = sample
        self._comp: dict[str, np.ndarray] = {}
        self._dim: dict[tuple[Any, ...], np.ndarray] = {}
        self._gate: dict[str, np.ndarray] = {}
        self._stack: list[str] = []

    def _err(self, msg: str, gate: str | None = None) -> GatingMLError:
        return GatingMLError(msg, path=self.doc.path, field=f"gate {gate}" if gate else None)

    def _channel(self, name: str, gate: str) -> np.ndarray:
        i = self.s.find(name)
        if i is None:
            fname = Path(self.s.path).name if self.s.path else "the FCS data"
            raise self._err(f"channel {name!r} is not in FCS file {fname!r}; channels: "
                            f"{', '.join(self.s.labels)}", gate)
        return self.s.events[:, i]

    def _compensated(self, ref: str, gate: str) -> tuple[tuple[str, ...], np.ndarray] | None:
        """(names, compensated columns) for a compensation reference, or None = uncompensated."""
        if ref == "uncompensated":
            return None
        if ref == "FCS":
            sp = self.s.spill
            if sp is None:
                return None
            names, mat, det = sp.channels, sp.matrix, sp.channels
        else:
            m = self.doc.matrices.get(ref)
            if m is None:
                raise self._err(f"compensation-ref {ref!r} names no spectrumMatrix/spilloverMatrix "
                                "in the document", gate)
            names, mat, det = m.fluorochromes, m.spectrum, m.detectors
        if ref not in self._comp:
            if self.s.events.dtype == np.float32 and mat.shape[0] == mat.shape[1]:
                # float32 events (large tubes read with dtype=float32): chunked products, no gather
                cols = []
                for d in det:
                    self._channel(d, gate)  # raises, naming the channel, when it is missing
                    cols.append(self.s.index(d))
                comp = compensate_columns(self.s.events, cols, mat)
                self._comp[ref] = comp
                return tuple(names), comp
            obs = np.column_stack([self._channel(d, gate) for d in det])
            if mat.shape[0] == mat.shape[1]:
                comp = np.linalg.solve(mat.T, obs.astype(np.float64).T).T
            else:  # spectral unmixing, ordinary least squares
                comp = obs @ np.linalg.pinv(mat)
            self._comp[ref] = comp
        return tuple(names), self._comp[ref]

    def _raw(self, name: str, comp_ref: str, gate: str) -> np.ndarray:
        c = self._compensated(comp_ref, gate)
        if c is not None:
            names, comp = c
            if name in names:
                return comp[:, names.index(name)]
            if comp_ref == "FCS":
                return self._channel(name, gate)
            # a detector of the matrix named directly, or a channel outside the matrix (FSC)
            return self._channel(name, gate)
        return self._channel(name, gate)

    def _apply(self, tid: str, x: np.ndarray, gate: str) -> np.ndarray:
        t = self.doc.transforms.get(tid)
        if t is None:
            raise self._err(f"transformation-ref {tid!r} names no transformation in the document", gate)
        p = t.params
        if t.kind == "fasinh":
            return arcsinh(x, T=p["T"], M=p["M"], A=p["A"])
        if t.kind == "logicle":
            return logicle(x, T=p["T"], W=p["W"], M=p["M"], A=p["A"])
        if t.kind == "hyperlog":
            return hyperlog(x, T=p["T"], W=p["W"], M=p["M"], A=p["A"])
        if t.kind == "flin":
            return flin(x, T=p["T"], A=p["A"])
        if t.kind == "flog":
            return flog(x, T=p["T"], M=p["M"])
        raise self._err(f"transformation {tid!r} ({t.kind}) cannot be applied to a channel", gate)

    def dim(self, d: Dimension, gate: str) -> np.ndarray:
        key = (d.name, d.compensation_ref, d.transformation_ref, d.ratio_ref)
        if key in self._dim:
            return self._dim[key]
        if d.ratio_ref is not None:
            t = self.doc.transforms.get(d.ratio_ref)
            if t is None or t.kind != "fratio" or t.ratio_dims is None:
                raise self._err(f"new-dimension transformation-ref {d.ratio_ref!r} is not an fratio "
                                "transformation of the document", gate)
            x = self._raw(t.ratio_dims[0], d.compensation_ref, gate)
            y = self._raw(t.ratio_dims[1], d.compensation_ref, gate)
            a, b, c = t.params["A"], t.params["B"], t.params["C"]
            with np.errstate(divide="ignore", invalid="ignore"):
                v = a * (x - b) / (y - c)
        else:
            assert d.name is not None
            v = self._raw(d.name, d.compensation_ref, gate)
        if d.transformation_ref is not None:
            v = self._apply(d.transformation_ref, v, gate)
        self._dim[key] = v
        return v

    def gate(self, gid: str) -> np.ndarray:
        if gid in self._gate:
            return self._gate[gid]
        g = self.doc.gates.get(gid)
        if g is None:
            raise self._err(f"gate {gid!r} is not defined in the document (gates: "
                            f"{', '.join(self.doc.gates)})")
        if gid in self._stack:
            raise self._err(f"gate references form a cycle: {' -> '.join([*self._stack, gid])}", gid)
        self._stack.append(gid)
        try:
            m = self._membership(g)
            if g.parent is not None:
                m = m & self.gate(g.parent)
        finally:
            self._stack.pop()
        self._gate[gid] = m
        return m

    def _membership(self, g: Gate) -> np.ndarray:
        n = self.s.n_events
        if isinstance(g, RectangleGate):
            m = np.ones(n, dtype=bool)
            for d in g.dims:
                v = self.dim(d, g.id)
                if d.min is not None:
                    m &= v >= d.min
                if d.max is not None:
                    m &= v < d.max
            return m
        if isinstance(g, PolygonGate):
            from flowutils.gating import points_in_polygon

            pts = np.column_stack([self.dim(d, g.id) for d in g.dims]).astype(np.float64)
            ok = np.isfinite(pts).all(axis=1)
            out = np.zeros(n, dtype=bool)
            out[ok] = np.asarray(points_in_polygon(g.vertices.astype(np.float64), pts[ok]), dtype=bool)
            return out
        if isinstance(g, EllipsoidGate):
            pts = np.column_stack([self.dim(d, g.id) for d in g.dims]).astype(np.float64)
            diff = pts - g.mean
            inv = np.linalg.inv(g.covariance)
            d2 = np.einsum("ij,jk,ik->i", diff, inv, diff)
            return d2 <= g.distance_square
        if isinstance(g, Quadrant):
            m = np.ones(n, dtype=bool)
            for div_id, want in g.positions.items():
                d, values = g.dividers[div_id]
                v = self.dim(d, g.id)
                idx = np.searchsorted(np.asarray(values), v, side="right")
                m &= (idx == want) & ~np.isnan(v)
            return m
        if isinstance(g, BooleanGate):
            parts = []
            for ref, complement in g.refs:
                r = self.gate(ref)
                parts.append(~r if complement else r)
            if g.op == "and":
                return np.logical_and.reduce(parts)
            if g.op == "or":
                return np.logical_or.reduce(parts)
            return ~parts[0]
        raise TypeError(type(g))




def apply_gatingml(gates: str | Path | GatingDocument, sample: FcsData,
                   gate_ids: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Parse (if needed) and evaluate Gating-ML gates on ``sample``: gate id -> membership."""
    doc = gates if isinstance(gates, GatingDocument) else parse_gatingml(gates)
    return evaluate_gates(doc, sample, gate_ids)
