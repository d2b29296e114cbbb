"""Compiled seed-and-verify kernel of :class:`~remission.mrd.ngs.scan.JunctionScanner` (numba).

Imported only when a scan runs (``JunctionScanner`` with ``engine="auto"``/``"numba"``), so no
other command pays for numba's import. ``cache=True`` keeps the machine code in
``__pycache__`` (or numba's user cache directory when the package is not writable): the first
scan after an install compiles it once (start-up cost, measured in BENCHMARKS.md), later
processes load it.

One pass over the sequence bytes of a FASTQ block: the 2-bit k-mer code (``(byte >> 1) & 3``:
A, C, T, G → 0, 1, 2, 3, either case; N reads as G, which only adds candidates) at read
offsets 0, s, 2s, ... (each step shifts in ``s`` bases packed on their own, so the loop-carried
dependency is one shift per lookup, not per base), a lookup in a 4^k-bit filter, the seeds of
that code from a CSR table, and a Hamming comparison of every candidate window that lies inside
the read (upper-cased read bytes against the pattern, stopping at ``d + 1`` mismatches). Per
read, the fewest mismatches per pattern owner are kept.

Indices are unsigned (``uint64``) on purpose: numba adds a negative-index wrap-around to every
access through a signed index, which made the byte loops about twice as slow.
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint8, uint64


@njit(cache=True, nogil=True)
def scan_block(data, seq_start, seq_end, k, stride, bitmap, seed_first, seed_pat,
               seed_off, pmat, plen, pd, owner, n_owner, out_r, out_p, out_m):
    """Fill ``out_*`` with ``(read, owner, mismatches)`` rows, reads and owners ascending.

    Returns the number of rows found; when it exceeds ``out_r.size`` the rows past the end were
    not written and the caller runs again with room for all of them. ``seed_first``,
    ``seed_pat``, ``seed_off`` and ``plen`` are ``uint64``.
    """
    one = uint64(1)
    two = uint64(2)
    three = uint64(3)
    ku = uint64(k)
    su = uint64(stride)
    mask = (one << uint64(2 * k)) - one
    shift = uint64(2 * stride)
    low6 = uint64(63)
    up = uint8(0xDF)
    cap = out_r.size
    n_out = 0
    best = np.full(n_owner, 255, dtype=np.uint8)
    min_len = plen.min()
    for r in range(seq_start.size):
        s0 = uint64(seq_start[r])
        e0 = uint64(seq_end[r])
        if e0 < s0 + min_len:
            continue
        code = uint64(0)
        for i in range(s0, s0 + ku):
            code = (code << two) | ((data[i] >> one) & three)
        kstart = s0
        last = e0 - ku
        hit = False
        while True:
            if (bitmap[code >> uint64(6)] >> (code & low6)) & one:
                for t in range(seed_first[code], seed_first[code + one]):
                    oi = seed_pat[t]
                    off = seed_off[t]
                    n = plen[oi]
                    if kstart < s0 + off:
                        continue
                    w = kstart - off
                    if w + n > e0:
                        continue
                    dmax = pd[oi]
                    mm = 0
                    for i in range(n):
                        if (data[w + i] & up) != pmat[oi, i]:
                            mm += 1
                            if mm > dmax:
                                break
                    if mm <= dmax:
                        o = owner[oi]
                        if mm < best[o]:
                            best[o] = mm
                        hit = True
            kstart += su
            if kstart > last:
                break
            add = uint64(0)
            base = kstart + ku - su
            for i in range(base, base + su):
                add = (add << two) | ((data[i] >> one) & three)
            code = ((code << shift) | add) & mask
        if hit:
            for o in range(n_owner):
                if best[o] != 255:
                    if n_out < cap:
                        out_r[n_out] = r
                        out_p[n_out] = o
                        out_m[n_out] = best[o]
                    n_out += 1
                    best[o] = 255
    return n_out
