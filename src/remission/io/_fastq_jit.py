"""Compiled structure check of one block of FASTQ records (numba; imported on first use).

Same rules as the numpy path of :func:`remission.io.fastq._index` (which stays the fallback and
writes every error message): four lines per record, ``@`` header, ``+`` third line, quality as
long as the sequence, sequence bytes in ``ACGTNacgtn``; a line's content excludes one trailing
carriage return (CRLF files). One pass over the bytes instead of numpy's several (newline search,
slicing, a join of the sequence lines and a translate): the reader is the larger part of a FASTQ
scan's time otherwise.
"""

from __future__ import annotations

import numpy as np
from numba import int64, njit, uint8, uint64

_NUC = np.zeros(256, dtype=np.uint8)
for _c in b"ACGTNacgtn":
    _NUC[_c] = 1


@njit(cache=True, nogil=True)
def _records(a, n, nuc, seq_start, seq_end):
    """Check the complete records at the start of ``a[:n]``; return ``(status, records, end)``.

    ``a[n]`` must exist and be a newline (a sentinel that ends every line scan without a bound
    check). ``seq_start``/``seq_end`` (room for every record) get each record's sequence line.
    Status 0: ``records`` well-formed records fill ``a[:end]`` and ``a[end:n]`` is the start of
    an incomplete one (nothing when ``end == n``). Otherwise record ``records`` (0-based), which
    starts at ``end``, is malformed (1 header, 3 third line, 4 quality, 5 sequence byte) and the
    caller's numpy path names the error. Indices are unsigned: numba's wrap-around of negative
    indices doubled the time of these byte loops.
    """
    one = uint64(1)
    nl_ = uint8(10)
    cr = uint8(13)
    n = uint64(n)
    p = uint64(0)
    r = 0
    while p < n:
        if a[p] != 64:  # '@'
            return 1, r, int64(p)
        q = p + one
        while a[q] != nl_:
            q += one
        if q >= n:
            break
        s0 = q + one
        q = s0
        while nuc[a[q]]:
            q += one
        if q >= n:
            break
        c = a[q]
        if c == nl_:
            s1 = q
        elif c == cr:  # CRLF
            if q + one >= n:
                break
            if a[q + one] != nl_:
                return 5, r, int64(p)
            s1 = q
            q += one
        else:
            return 5, r, int64(p)
        q += one  # third line
        if q >= n:
            break
        if a[q] != 43:  # '+'
            return 3, r, int64(p)
        while a[q] != nl_:
            q += one
        q0 = q + one  # quality line: as long as the sequence, then a newline
        ln = s1 - s0
        e = q0 + ln
        if e >= n:
            break
        c = a[e]
        if c == nl_:
            if ln and a[e - one] == cr:
                return 4, r, int64(p)
            nxt = e + one
        elif c == cr:
            if e + one >= n:
                break
            if a[e + one] != nl_:
                return 4, r, int64(p)
            nxt = e + one + one
        else:
            return 4, r, int64(p)
        nls = 0
        for i in range(q0, e):  # no newline inside (vectorised)
            nls += a[i] == nl_
        if nls:
            return 4, r, int64(p)
        seq_start[r] = s0
        seq_end[r] = s1
        r += 1
        p = nxt
    return 0, r, int64(p)


def records(a: np.ndarray, n: int) -> tuple[int, int, int, np.ndarray, np.ndarray]:
    """``(status, records, end, seq_start, seq_end)`` of the complete records in ``a[:n]``;
    ``a[n]`` must exist (it is set to a newline: the sentinel)."""
    a[n] = 10
    cap = n // 6 + 1  # the shortest record, "@\n\n+\n\n", has 6 bytes
    ss = np.empty(cap, dtype=np.int64)
    se = np.empty(cap, dtype=np.int64)
    status, r, end = _records(a, n, _NUC, ss, se)
    return int(status), int(r), int(end), ss[:r], se[:r]
