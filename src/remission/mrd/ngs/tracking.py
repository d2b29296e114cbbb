"""Tracking index markers in follow-up clonotype tables (AIRR) and raw reads (FASTQ)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from remission.domain.parameters import resolve
from remission.errors import ValidationError
from remission.mrd.ngs.index import as_matrix, effective_mismatches, hamming_rows
from remission.mrd.ngs.model import ClonotypeBlock, IndexResult, MarkerCount, SpikeIn, TrackResult
from remission.mrd.ngs.relatives import stem as _stem
from remission.mrd.ngs.rules import NGS_RULES
from remission.mrd.ngs.scan import JunctionScanner
from remission.mrd.ngs.targets import gene, genes, target_of

__all__ = ["FastqChunkLike", "track_airr", "track_fastq"]


def _by_length(junctions: Sequence[str]) -> dict[int, list[int]]:
    """Indices of ``junctions`` grouped by junction length (only equal lengths are compared)."""
    out: dict[int, list[int]] = {}
    for k, s in enumerate(junctions):
        out.setdefault(len(s), []).append(k)
    return out


class _AirrTally:
    """The running counts of :func:`track_airr`; one method per kind of row in a block."""

    def __init__(self, index: IndexResult, rules: Mapping[str, Any], spikes: Sequence[SpikeIn]) -> None:
        clones = self.clones = index.clones
        self.d = d = int(rules["max_mismatches"].value)
        self.vj = bool(rules["require_vj_consistency"].value)
        self.counts = [MarkerCount(by_mismatches=[0] * (d + 1)) for _ in clones]
        self.spike_reads = [0] * len(spikes)
        self.by_len = _by_length([c.junction for c in clones])
        self.refs = {k: np.frombuffer(c.junction.encode(), dtype=np.uint8) for k, c in enumerate(clones)}
        seed = int(rules["min_seed_nt"].value)
        self.dk = {k: effective_mismatches(len(c.junction), d, seed) for k, c in enumerate(clones)}
        self.stems = {k: _stem(c) for k, c in enumerate(clones)}
        self.spike_len = _by_length([s.junction for s in spikes])
        self.spike_refs = {k: np.frombuffer(s.junction.upper().encode(), dtype=np.uint8)
                           for k, s in enumerate(spikes)}
        self.target_reads: dict[str, int] = {}
        self.others: dict[tuple[str, str, str, str], int] = {}
        self.tcache: dict[tuple[str, str, str, str], str] = {}
        self.total = 0

    def add_block(self, b: ClonotypeBlock) -> None:
        cnt = b.count
        n = len(cnt)
        if n == 0:
            return
        jn = np.array([str(x).upper() for x in b.get("junction")], dtype=object)
        v, j = b.get("v_call"), b.get("j_call")
        self.total += int(cnt.sum())
        tarr = self._targets(b, cnt)
        lens = np.fromiter((len(x) for x in jn), dtype=np.int64, count=n)
        spike_hit = self._spikes(jn, lens, cnt)
        matched = self._markers(jn, lens, cnt, v, j, spike_hit)
        free = ~matched & ~spike_hit
        rel_hit = self._relatives(jn, cnt, v, j, free)
        self._background(jn, cnt, v, j, tarr, free & ~rel_hit)

    def _targets(self, b: ClonotypeBlock, cnt: np.ndarray) -> list[str]:
        """Target of every row (cached per locus/V/D/J), adding its reads to the target's total."""
        loc, v, dd, j = b.get("locus"), b.get("v_call"), b.get("d_call"), b.get("j_call")
        tarr = []
        for key, c in zip(zip(loc.tolist(), v.tolist(), dd.tolist(), j.tolist(), strict=True), cnt.tolist(),
                          strict=True):
            t = self.tcache.get(key)
            if t is None:
                t = self.tcache[key] = target_of(*map(str, key))
            tarr.append(t)
            self.target_reads[t] = self.target_reads.get(t, 0) + int(c)
        return tarr

    def _spikes(self, jn: np.ndarray, lens: np.ndarray, cnt: np.ndarray) -> np.ndarray:
        """Rows within ``max_mismatches`` of a spike junction (junction alone); their reads counted."""
        spike_hit = np.zeros(len(cnt), dtype=bool)
        for length, ks in self.spike_len.items():
            rows = np.flatnonzero(lens == length)
            if rows.size == 0:
                continue
            mat = as_matrix([jn[r] for r in rows])
            for k in ks:
                hit = rows[hamming_rows(mat, self.spike_refs[k]) <= self.d]
                self.spike_reads[k] += int(cnt[hit].sum())
                spike_hit[hit] = True
        return spike_hit

    def _markers(self, jn: np.ndarray, lens: np.ndarray, cnt: np.ndarray, v: Any, j: Any,
                 spike_hit: np.ndarray) -> np.ndarray:
        """Rows matching an index marker (nearest marker wins), counted by mismatches."""
        matched = np.zeros(len(cnt), dtype=bool)
        d, clones = self.d, self.clones
        for length, ks in self.by_len.items():
            rows = np.flatnonzero((lens == length) & ~spike_hit)
            if rows.size == 0:
                continue
            mat = as_matrix([jn[r] for r in rows])
            best = np.full(rows.size, d + 1, dtype=np.int64)
            best_k = np.full(rows.size, -1, dtype=np.int64)
            for k in ks:
                dist = hamming_rows(mat, self.refs[k])
                ok = dist <= self.dk[k]
                if self.vj:
                    c = clones[k]
                    ok &= np.fromiter(((not c.v_call or c.v_call in genes(str(v[r])))
                                       and (not c.j_call or c.j_call in genes(str(j[r])))
                                       for r in rows), dtype=bool, count=rows.size) if ok.any() else ok
                better = ok & (dist < best)
                best[better] = dist[better]
                best_k[better] = k
            for i in np.flatnonzero(best_k >= 0):
                r = rows[i]
                mc = self.counts[int(best_k[i])]
                mc.reads += int(cnt[r])
                mc.by_mismatches[int(best[i])] += int(cnt[r])
                matched[r] = True
        return matched

    def _relatives(self, jn: np.ndarray, cnt: np.ndarray, v: Any, j: Any, free: np.ndarray) -> np.ndarray:
        """Evolved relatives: same J gene, shares the 3' stem exactly, not a match."""
        rel_hit = np.zeros(len(cnt), dtype=bool)
        if not (free.any() and any(self.stems.values())):
            return rel_hit
        strings = jn.tolist()
        suffix: dict[int, np.ndarray] = {}
        for k, c in enumerate(self.clones):
            stem = self.stems[k]
            if not stem:
                continue
            if len(stem) not in suffix:
                width = len(stem)
                ends = np.empty(len(strings), dtype=object)
                ends[:] = [x[-width:] for x in strings]  # the last characters (all of a shorter one)
                suffix[width] = ends
            cand = np.flatnonzero(free & (suffix[len(stem)] == stem) & (jn != c.junction))
            for r in cand:
                if c.j_call and c.j_call not in genes(str(j[r])):
                    continue
                mc = self.counts[k]
                mc.relatives_reads += int(cnt[r])
                rkey = (gene(str(v[r])) if v[r] else "", gene(str(j[r])) if j[r] else "", str(jn[r]))
                mc.relatives[rkey] = mc.relatives.get(rkey, 0) + int(cnt[r])
                rel_hit[r] = True
        return rel_hit

    def _background(self, jn: np.ndarray, cnt: np.ndarray, v: Any, j: Any, tarr: list[str],
                    rest: np.ndarray) -> None:
        """Every other clonotype: the polyclonal background (reads per template) and the
        emerging-clone watch."""
        for r in np.flatnonzero(rest).tolist():
            if not jn[r] or cnt[r] <= 0:
                continue
            okey = (tarr[r], gene(str(v[r])) if v[r] else "", gene(str(j[r])) if j[r] else "", str(jn[r]))
            self.others[okey] = self.others.get(okey, 0) + int(cnt[r])


def track_airr(
    index: IndexResult,
    blocks: Iterable[ClonotypeBlock],
    parameters: Mapping[str, Any] | None = None,
    spikes: Sequence[SpikeIn] = (),
) -> TrackResult:
    """Count each index marker's reads in a follow-up clonotype table (streaming over blocks).

    A row counts for a marker when its junction has the marker's length and is within
    ``max_mismatches`` (Hamming) of it, and, when ``require_vj_consistency``, shares the V gene
    (any of a comma list) and J gene. A row that is not such a match but ends with the marker's
    3' stem (``relative_stem_*``) and has its J gene is an evolved relative (counted apart).
    Spike rows are matched on junction alone.
    """
    rules = resolve(NGS_RULES, parameters) if parameters is not None else index.rules
    tally = _AirrTally(index, rules, spikes)
    for b in blocks:
        tally.add_block(b)
    return TrackResult(counts=tally.counts, total_reads=tally.total, target_reads=tally.target_reads,
                       spike_reads=tally.spike_reads, mode="airr", others=tally.others)



class FastqChunkLike(Protocol):
    @property
    def data(self) -> np.ndarray: ...

    @property
    def seq_start(self) -> np.ndarray: ...

    @property
    def seq_end(self) -> np.ndarray: ...

    @property
    def n_reads(self) -> int: ...

    @property
    def mate2(self) -> Any: ...


def track_fastq(
    index: IndexResult,
    chunks: Iterable[FastqChunkLike],
    parameters: Mapping[str, Any] | None = None,
    spikes: Sequence[SpikeIn] = (),
    *,
    progress: Any = None,
) -> TrackResult:
    """Count each index junction in raw reads (no V(D)J annotation of the follow-up sample).

    A read (or read pair: either mate) counts for the marker whose junction it holds with the
    fewest mismatches (≤ ``max_mismatches``, either strand). A read holding the marker's 3' stem
    but not the junction is counted as an evolved relative. V/J consistency cannot be checked
    without annotation; the junction includes the V and J ends, which gives it in part.
    """
    rules = resolve(NGS_RULES, parameters) if parameters is not None else index.rules
    d = int(rules["max_mismatches"].value)
    clones = index.clones
    nm = len(clones)
    pats: list[str] = [c.junction for c in clones]
    kinds: list[tuple[str, int]] = [("m", k) for k in range(nm)]
    for k, c in enumerate(clones):
        st = _stem(c)
        if st:
            pats.append(st)
            kinds.append(("r", k))
    for k, s in enumerate(spikes):
        pats.append(s.junction)
        kinds.append(("s", k))
    counts = [MarkerCount(by_mismatches=[0] * (d + 1)) for _ in clones]
    spike_reads = [0] * len(spikes)
    total = 0
    if not pats:
        for ch in chunks:
            total += ch.n_reads
        return TrackResult(counts=counts, total_reads=total, target_reads={"all": total},
                           spike_reads=spike_reads, mode="fastq")
    seed = int(rules["min_seed_nt"].value)
    ds = [0 if kd == "r" else effective_mismatches(len(p), d, seed) for p, (kd, _) in zip(pats, kinds, strict=True)]
    if min(len(p) for p in pats) < seed:
        raise ValidationError(f"index junctions must be at least min_seed_nt={seed} nt long for FASTQ "
                              f"tracking, but one was {min(len(p) for p in pats)} nt")
    scanner = JunctionScanner(pats, ds, min_seed=seed)
    kind_arr = np.array([0 if kd == "m" else 1 if kd == "r" else 2 for kd, _ in kinds])
    ref_arr = np.array([k for _, k in kinds])
    for ch in chunks:
        total += ch.n_reads
        parts = [scanner.scan(ch.data, ch.seq_start, ch.seq_end)]
        if ch.mate2 is not None:
            m2 = ch.mate2
            parts.append(scanner.scan(m2.data, m2.seq_start, m2.seq_end))
        rr = np.concatenate([p[0] for p in parts])
        if rr.size:
            pp = np.concatenate([p[1] for p in parts])
            mm = np.concatenate([p[2] for p in parts])
            kd, ref = kind_arr[pp], ref_arr[pp]
            # markers: best (fewest mismatches, then lowest marker) per read
            sel = kd == 0
            r0, k0, m0 = rr[sel], ref[sel], mm[sel]
            o = np.lexsort((k0, m0, r0))
            r0, k0, m0 = r0[o], k0[o], m0[o]
            first = np.ones(r0.size, dtype=bool)
            first[1:] = r0[1:] != r0[:-1]
            marked = set()
            for r, k, m in zip(r0[first].tolist(), k0[first].tolist(), m0[first].tolist(), strict=True):
                counts[k].reads += 1
                counts[k].by_mismatches[m] += 1
                marked.add((r, k))
            sel = kd == 1
            rel = {(r, k) for r, k in zip(rr[sel].tolist(), ref[sel].tolist(), strict=True)
                   if (r, k) not in marked}
            matched_reads = {r for r, _ in marked}
            for r, k in rel:
                if r not in matched_reads:
                    counts[k].relatives_reads += 1
            sel = kd == 2
            for _r, sk in {(r, k) for r, k in zip(rr[sel].tolist(), ref[sel].tolist(), strict=True)}:
                spike_reads[sk] += 1
        if progress is not None:
            progress(ch.n_reads)
    return TrackResult(counts=counts, total_reads=total, target_reads={"all": total},
                       spike_reads=spike_reads, mode="fastq")
