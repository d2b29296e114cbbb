"""Direct FASTQ tracking: the seed-and-verify scanner against a brute-force Hamming scan."""

from __future__ import annotations

import numpy as np
import pytest

from remission.io.fastq import iter_fastq_chunks
from remission.mrd.ngs import JunctionScanner, index_clonotypes, revcomp, track_airr, track_fastq

J1 = "TGTGCGAGAGATCGGTTACCCATGGGGTCGACTTGG"
J2 = "TGTGCCACCTGGGACGGGCCGGAGGATACCACTGGTTGGTTCAAGATATTT"


def _chunk(reads: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    text = b"".join(b"@r%d\n%s\n+\n%s\n" % (i, r, b"I" * len(r)) for i, r in enumerate(reads))
    data = np.frombuffer(text, dtype=np.uint8)
    starts, ends, pos = [], [], 0
    for i, r in enumerate(reads):
        pos += len(b"@r%d\n" % i)
        starts.append(pos)
        ends.append(pos + len(r))
        pos += len(r) + 3 + len(r) + 1
    return data, np.array(starts), np.array(ends)


def _brute(reads: list[bytes], pats: list[str], d: int) -> set[tuple[int, int, int]]:
    out = set()
    for ri, r in enumerate(reads):
        for pi, p in enumerate(pats):
            best = None
            for q in (p.encode(), revcomp(p)):
                for s in range(len(r) - len(q) + 1):
                    mm = sum(a != b for a, b in zip(r[s:s + len(q)], q, strict=True))
                    if mm <= d and (best is None or mm < best):
                        best = mm
            if best is not None:
                out.add((ri, pi, best))
    return out


def _mut(s: bytes, rng: np.random.Generator, k: int) -> bytes:
    b = bytearray(s)
    for p in rng.choice(len(b), k, replace=False):
        b[p] = b"ACGT"[(b"ACGT".index(b[p]) + int(rng.integers(1, 4))) % 4]
    return bytes(b)


@pytest.mark.parametrize("seed", range(5))
def test_scanner_equals_brute_force(seed: int) -> None:
    """Planted copies with 0-3 mismatches, both strands, anywhere in the read (also at its ends)."""
    rng = np.random.default_rng(seed)
    reads = []
    for _ in range(60):
        r = rng.choice(list(b"ACGT"), 120).astype(np.uint8).tobytes()
        u = rng.random()
        if u < 0.6:
            p = (J1 if rng.random() < 0.5 else J2).encode()
            p = _mut(p, rng, int(rng.integers(0, 4)))
            if rng.random() < 0.5:
                p = revcomp(p)
            at = int(rng.integers(0, len(r) - len(p) + 1))
            r = r[:at] + p + r[at + len(p):]
        reads.append(r)
    data, s, e = _chunk(reads)
    sc = JunctionScanner([J1, J2], 2)
    rr, pp, mm = sc.scan(data, s, e)
    got = set(zip(rr.tolist(), pp.tolist(), mm.tolist(), strict=True))
    assert got == _brute(reads, [J1, J2], 2)


def test_junction_across_records_is_not_a_hit() -> None:
    half = len(J1) // 2
    reads = [b"A" * 50 + J1[:half].encode(), J1[half:].encode() + b"C" * 50]
    data, s, e = _chunk(reads)
    rr, _, _ = JunctionScanner([J1], 2).scan(data, s, e)
    assert rr.size == 0


def test_fastq_tracking_equals_airr_tracking(ngs_files: dict) -> None:
    """The same simulated follow-up, as reads and as a clonotype table, gives the same counts."""
    idx = index_clonotypes([ngs_files["dx_sample"].chunk()])
    assert len(idx.clones) == 1
    a = track_airr(idx, [ngs_files["fu_sample"].chunk()])
    f = track_fastq(idx, iter_fastq_chunks(ngs_files["fu_fastq"], buffer_size=256 * 1024))
    assert a.counts[0].reads > 5  # clone at 1e-3 of 20,000 cells
    assert f.counts[0].by_mismatches == a.counts[0].by_mismatches
    assert f.total_reads == a.total_reads
    # paired, gzip: each pair counted once (R2 is the reverse complement of R1)
    p = track_fastq(idx, iter_fastq_chunks(ngs_files["fu_fastq_gz"], ngs_files["fu_r2"]))
    assert p.counts[0].reads == a.counts[0].reads and p.total_reads == a.total_reads


def test_fastq_background_only_is_negative(tmp_path) -> None:
    """Raw reads of polyclonal background only (same synthetic germlines, so V/J ends are shared
    with the index junctions): no read within 2 mismatches of the index in 5 seeded samples."""
    from remission.mrd.ngs import quantify
    from remission.synth.ngs import random_rearrangement, simulate_sample, write_sample_fastq

    rng = np.random.default_rng(99)
    clones = [random_rearrangement(rng, "IGH") for _ in range(5)]
    dx = simulate_sample(rng, cells=20_000, clones=[(c, 0.12) for c in clones], n_clonotypes=1000,
                         total_reads=20_000, incomplete_fraction=0)
    idx = index_clonotypes([dx.chunk()])
    assert len(idx.clones) == 5
    for rep in range(5):
        bg = simulate_sample(np.random.default_rng(500 + rep), cells=40_000, n_clonotypes=8000,
                             total_reads=40_000)
        p = write_sample_fastq(tmp_path / f"bg{rep}.fastq", bg, np.random.default_rng(rep))
        res = quantify(idx, track_fastq(idx, iter_fastq_chunks(p)), cell_equivalents=40_000)
        assert res.status == "negative", [m.reads for m in res.markers]
