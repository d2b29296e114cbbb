"""Seed-and-verify scanner for junctions in raw FASTQ bytes (both strands, Hamming ≤ d)."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from remission.errors import ValidationError

__all__ = ["JunctionScanner", "revcomp"]

_COMP = bytes.maketrans(b"ACGTNacgtn", b"TGCANtgcan")


def revcomp(seq: str | bytes) -> bytes:
    b = seq.encode() if isinstance(seq, str) else seq
    return b.translate(_COMP)[::-1]


_ENGINES = ("auto", "numba", "numpy")


def _jit_kernel() -> Any:
    """The compiled kernel module, or ``None`` when numba cannot be imported or ``REMISSION_JIT=0``
    (then the numpy path runs: same results, about 3x slower). Imported on first use only."""
    global _KERNEL
    if _KERNEL is None:
        if os.environ.get("REMISSION_JIT", "1") == "0":
            return None
        try:
            from remission.mrd.ngs import _scan_jit
        except (ImportError, RuntimeError, OSError):  # no numba; or no writable cache location
            _KERNEL = False
        else:
            _KERNEL = _scan_jit
    return _KERNEL or None


_KERNEL: Any = None


class JunctionScanner:
    """Find reads holding any of several sequences with ≤ ``d`` mismatches (both strands).

    Seed and verify. Each pattern of length L is cut into ``d + 1`` parts; with ≤ d mismatches
    one part is exact (pigeonhole). If every part is at least ``k + s - 1`` long, one of the
    text's k-mers sampled every ``s`` positions lies inside the exact part at one of its first
    ``s`` offsets, so the seeds are those ``s`` k-mers of each part (few seeds, and a window is
    proposed at most once per part). The text is a whole block of FASTQ bytes (headers and
    qualities included: they only add candidates, which verification rejects); 2-bit codes
    ``(byte >> 1) & 3`` (A, C, T, G → 0, 1, 2, 3), k-mer codes at the sampled positions, a
    4^k bitmap lookup, then every candidate window is compared with its pattern in one
    vectorised Hamming computation and kept when it lies inside one sequence line.

    ``scan`` returns, per (read, pattern) found, the smallest number of mismatches. Bases are
    compared case-insensitively (the reader accepts lower-case ``acgtn``); an N in the read is a
    mismatch.

    Two implementations give the same rows: a compiled kernel (numba, ``engine="numba"``: one pass
    over the sequence bytes of the block, see :mod:`remission.mrd.ngs._scan_jit`) and the numpy
    path above (``engine="numpy"``). ``"auto"`` (default) decides at the first scan: the kernel
    when numba is already loaded in the process (the FASTQ reader loads it for inputs of at least
    ``remission.io.fastq.JIT_MIN_BYTES``) and ``REMISSION_JIT`` is not ``0``, else numpy (small
    inputs do not pay numba's start-up).
    """

    def __init__(self, patterns: Sequence[str | bytes], max_mismatches: int | Sequence[int] = 2,
                 *, k_max: int = 12, min_seed: int = 8, k: int | None = None,
                 engine: str = "auto") -> None:
        if engine not in _ENGINES:
            raise ValidationError(f"engine must be one of {', '.join(_ENGINES)}, but was {engine!r}")
        pats: list[bytes] = [p.upper().encode() if isinstance(p, str) else p.upper() for p in patterns]
        ds = [int(max_mismatches)] * len(pats) if isinstance(max_mismatches, int) else list(max_mismatches)
        if not pats:
            raise ValidationError("patterns must be a non-empty list, but was []")
        oriented: list[tuple[int, np.ndarray, int]] = []
        for i, (p, d) in enumerate(zip(pats, ds, strict=True)):
            for qb in dict.fromkeys((p, revcomp(p))):
                oriented.append((i, np.frombuffer(qb, dtype=np.uint8).copy(), d))
        bounds = []
        for _, q, d in oriented:
            b = [round(j * q.size / (d + 1)) for j in range(d + 2)]
            bounds.append(b)
        min_part = min(b[j + 1] - b[j] for b in bounds for j in range(len(b) - 1))
        if min_part < min_seed:
            raise ValidationError(f"pattern length must allow an exact seed of >= {min_seed} nt with "
                                  f"{max(ds)} mismatches, but was {min(len(p) for p in pats)} nt")
        self.patterns = oriented
        self.n_patterns = len(pats)
        self._bounds, self._min_part, self._k_arg, self._k_max = bounds, min_part, k, k_max
        self._kernel: Any = None
        #: "numba" or "numpy" once chosen; "auto" until the first scan
        self.engine = engine
        if engine == "numba":
            kernel = _jit_kernel()
            if kernel is None:
                raise ValidationError("engine='numba' needs the numba package (pip install numba) and "
                                      "REMISSION_JIT not set to 0, but numba could not be used")
            self._build(kernel)
        elif engine == "numpy":
            self._build(None)

    def _build(self, kernel: Any) -> None:
        """Seeds and tables for the compiled kernel (``kernel`` given) or the numpy path."""
        oriented, bounds, min_part, k, k_max = (self.patterns, self._bounds, self._min_part,
                                                self._k_arg, self._k_max)
        self._kernel = kernel
        self.engine = "numba" if kernel is not None else "numpy"
        # k-mer length and sampling stride: a stride of 2-3 roughly halves the numpy path's k-mer
        # work, and k >= 9 keeps random seed hits rare (a 4^9 table holds a few hundred seeds).
        # The kernel takes k = 9 and the longest stride the parts allow: its 4^9-bit filter
        # (32 KiB) stays in L1 and every lookup it saves is time (k = 8, 10, 11 were slower)
        if k is not None:
            self.k = k
        elif kernel is not None:
            self.k = min(9, min_part)
        else:
            self.k = min(k_max, min_part, max(9, min_part - 3))
        self.stride = min_part - self.k + 1
        codes, pid, off = [], [], []
        for oi, ((_, q, _), b) in enumerate(zip(oriented, bounds, strict=True)):
            allc = self._codes(q, 1)
            for j in range(len(b) - 1):
                offs = np.arange(b[j], b[j] + self.stride)
                codes.append(allc[offs])
                pid.append(np.full(offs.size, oi, dtype=np.int64))
                off.append(offs.astype(np.int64))
        allc = np.concatenate(codes)
        order = np.argsort(allc, kind="stable")
        self._seed_codes = allc[order]
        self._seed_pat = np.concatenate(pid)[order]
        self._seed_off = np.concatenate(off)[order]
        uniq, first_idx, cnt = np.unique(self._seed_codes, return_index=True, return_counts=True)
        lmax = max(q.size for _, q, _ in oriented)
        self._len = np.array([q.size for _, q, _ in oriented], dtype=np.int64)
        self._d = np.array([d for _, _, d in oriented], dtype=np.int64)
        self._owner = np.array([i for i, _, _ in oriented], dtype=np.int64)
        self._pmat = np.zeros((len(oriented), lmax), dtype=np.uint8)
        self._mask = np.zeros((len(oriented), lmax), dtype=bool)
        for oi, (_, q, _) in enumerate(oriented):
            self._pmat[oi, : q.size] = q
            self._mask[oi, : q.size] = True
        if kernel is None:
            self._first = np.zeros(4 ** self.k, dtype=np.int32)
            self._count = np.zeros(4 ** self.k, dtype=np.uint8)
            self._first[uniq] = first_idx
            self._count[uniq] = np.minimum(cnt, 255)
            if (cnt > 255).any():  # pragma: no cover - needs > 255 identical seeds
                raise ValidationError("patterns must not repeat one seed more than 255 times")
        else:
            # the kernel's tables: a 4^k-bit filter (32 KiB at k = 9: stays in L1) and the seeds of
            # each code as a CSR range (read only on a filter hit)
            n_codes = 4 ** self.k
            self._bitmap = np.zeros(max(1, n_codes // 64), dtype=np.uint64)
            u = uniq.astype(np.uint64)
            np.bitwise_or.at(self._bitmap, (u >> np.uint64(6)).astype(np.int64),
                             np.left_shift(np.uint64(1), u & np.uint64(63)))
            self._csr = np.searchsorted(self._seed_codes, np.arange(n_codes + 1), "left").astype(np.uint64)
            self._jseed_pat = self._seed_pat.astype(np.uint64)
            self._jseed_off = self._seed_off.astype(np.uint64)
            self._jlen = self._len.astype(np.uint64)
            self._jd = self._d.astype(np.int64)
            self._jowner = self._owner.astype(np.int64)

    def _codes(self, a: np.ndarray, stride: int) -> np.ndarray:
        """k-mer codes starting at 0, stride, 2*stride, ... (uint32).

        8-mers are built for every position by doubling on contiguous uint8/uint16 arrays
        (SIMD-friendly), the remaining ``k - 8`` bases are added at the sampled positions only.
        """
        k = self.k
        n = (a.size - k) // stride + 1
        if n <= 0:
            return np.zeros(0, dtype=np.uint32)
        b = (a >> 1) & 3
        code: np.ndarray
        if k < 8:
            code = np.zeros(n, dtype=np.uint32)
            for t in range(k):
                code = (code << 2) | b[t: t + stride * (n - 1) + 1: stride]
            return code
        if stride == 2 and k in (8, 9, 10):
            # even positions only: c2/c4/c8 at p = 0, 2, 4, ... need only even-position c2/c4
            e, o = b[0::2], b[1::2]
            m = min(e.size, o.size)
            c2e = (e[:m] << 2) | o[:m]
            c4e = (c2e[:-1] << 4) | c2e[1:]
            c8e = (c4e[:-2].astype(np.uint16) << 8) | c4e[2:]
            code = c8e[:n].astype(np.uint32)
            if k == 9:
                code = (code << 2) | e[4: 4 + n]
            elif k == 10:
                code = (code << 4) | c2e[4: 4 + n]
            return code
        c2 = (b[:-1] << 2) | b[1:]
        c4 = (c2[:-2] << 4) | c2[2:]
        c8 = (c4[:-4].astype(np.uint16) << 8) | c4[4:]
        last = stride * (n - 1) + 1
        code = c8[0:last:stride].astype(np.uint32)
        rest = k - 8
        if rest:
            tail = {1: b, 2: c2, 4: c4}.get(rest)
            if tail is None:  # 3: two bases + one base
                tail = (c2[:-1].astype(np.uint8) << 2) | b[2:]
            code <<= 2 * rest
            code |= tail[8: 8 + last: stride]
        return code

    def scan(self, data: np.ndarray, seq_start: np.ndarray, seq_end: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(read_index, pattern_index, mismatches)`` arrays (one row per read/pattern),
        sorted by read then pattern. ``data[seq_start[i]:seq_end[i]]`` is read ``i``'s sequence;
        a hit must lie inside one read."""
        if self.engine == "auto":
            # the kernel when numba is already loaded (the reader loads it for large inputs, see
            # remission.io.fastq.JIT_MIN_BYTES); otherwise its ~0.5 CPU s start-up is not paid
            self._build(_jit_kernel() if "numba" in sys.modules else None)
        if self._kernel is not None:
            return self._scan_jit(data, seq_start, seq_end)
        return self._scan_numpy(data, seq_start, seq_end)

    def _scan_jit(self, data: np.ndarray, seq_start: np.ndarray, seq_end: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ss = np.ascontiguousarray(seq_start, dtype=np.int64)
        se = np.ascontiguousarray(seq_end, dtype=np.int64)
        d8 = np.ascontiguousarray(data, dtype=np.uint8)
        cap = ss.size // 8 + 16
        while True:
            out_r = np.empty(cap, dtype=np.int64)
            out_p = np.empty(cap, dtype=np.int64)
            out_m = np.empty(cap, dtype=np.int64)
            n = self._kernel.scan_block(d8, ss, se, self.k, self.stride, self._bitmap, self._csr,
                                        self._jseed_pat, self._jseed_off, self._pmat, self._jlen,
                                        self._jd, self._jowner, self.n_patterns, out_r, out_p, out_m)
            if n <= cap:
                return out_r[:n], out_p[:n], out_m[:n]
            cap = n

    def _scan_numpy(self, data: np.ndarray, seq_start: np.ndarray, seq_end: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.stride
        codes = self._codes(data, s)
        hits = self._count[codes]
        cand = np.flatnonzero(hits)
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        if cand.size == 0:
            return empty
        cc = codes[cand]
        reps = hits[cand].astype(np.int64)
        lo = self._first[cc].astype(np.int64)
        if int(reps.max()) == 1:
            first, pos = lo, cand.astype(np.int64) * s
        else:
            pos = np.repeat(cand.astype(np.int64) * s, reps)
            first = np.repeat(lo - np.cumsum(reps) + reps, reps) + np.arange(int(reps.sum()))
        pat = self._seed_pat[first]
        w = pos - self._seed_off[first]
        # a window proposed by several parts is verified more than once; duplicates are dropped
        # with the (read, pattern) de-duplication below (cheaper than a unique here)
        L = self._len[pat]
        ok = (w >= 0) & (w + L <= data.size)
        w, pat, L = w[ok], pat[ok], L[ok]
        r = np.searchsorted(seq_start, w, "right") - 1
        inside = r >= 0
        r = np.where(inside, r, 0)
        inside &= (w >= seq_start[r]) & (w + L <= seq_end[r])
        w, pat, r = w[inside], pat[inside], r[inside]
        if w.size == 0:
            return empty
        lmax = self._pmat.shape[1]
        padded = np.concatenate([data, np.zeros(lmax, dtype=np.uint8)])
        win = np.lib.stride_tricks.sliding_window_view(padded, lmax)[w]
        mm = (((win & 0xDF) != self._pmat[pat]) & self._mask[pat]).sum(axis=1)
        hit = mm <= self._d[pat]
        rr, pp, mm = r[hit], self._owner[pat[hit]], mm[hit]
        o = np.lexsort((mm, pp, rr))
        rr, pp, mm = rr[o], pp[o], mm[o]
        keep = np.ones(rr.size, dtype=bool)
        keep[1:] = (rr[1:] != rr[:-1]) | (pp[1:] != pp[:-1])
        return rr[keep], pp[keep], mm[keep].astype(np.int64)
