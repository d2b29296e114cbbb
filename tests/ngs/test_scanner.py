"""Direct FASTQ tracking: the seed-and-verify scanner against a brute-force Hamming scan.

Both implementations of :class:`JunctionScanner` (the compiled numba kernel and the numpy path)
are checked against ``_brute`` (every window of every read compared base by base, both strands,
case-insensitive) and against each other: fixed seeded cases, Hypothesis property tests (the
suite's deterministic profile) and whole files read in blocks of several sizes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import ValidationError
from remission.io.fastq import iter_fastq_chunks
from remission.mrd.ngs import JunctionScanner, index_clonotypes, revcomp, track_airr, track_fastq

ENGINES = ["numba", "numpy"]

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


def _brute(reads: list[bytes], pats: list[str], d: int | list[int]) -> set[tuple[int, int, int]]:
    """Every (read, pattern, fewest mismatches) with <= d mismatches, either strand, any case."""
    ds = [d] * len(pats) if isinstance(d, int) else d
    out = set()
    for ri, r0 in enumerate(reads):
        r = r0.upper()
        for pi, p in enumerate(pats):
            best = None
            for q in (p.encode(), revcomp(p)):
                for s in range(len(r) - len(q) + 1):
                    mm = sum(a != b for a, b in zip(r[s:s + len(q)], q, strict=True))
                    if mm <= ds[pi] and (best is None or mm < best):
                        best = mm
            if best is not None:
                out.add((ri, pi, best))
    return out


def _mut(s: bytes, rng: np.random.Generator, k: int) -> bytes:
    b = bytearray(s)
    for p in rng.choice(len(b), k, replace=False):
        b[p] = b"ACGT"[(b"ACGT".index(b[p]) + int(rng.integers(1, 4))) % 4]
    return bytes(b)


def _rows(sc: JunctionScanner, reads: list[bytes]) -> set[tuple[int, int, int]]:
    data, s, e = _chunk(reads)
    rr, pp, mm = sc.scan(data, s, e)
    rows = list(zip(rr.tolist(), pp.tolist(), mm.tolist(), strict=True))
    assert rows == sorted(rows), "rows are sorted by read, then pattern"
    assert len({(r, p) for r, p, _ in rows}) == len(rows), "one row per (read, pattern)"
    return set(rows)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", range(5))
def test_scanner_equals_brute_force(seed: int, engine: str) -> None:
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
    sc = JunctionScanner([J1, J2], 2, engine=engine)
    assert sc.engine == engine
    assert _rows(sc, reads) == _brute(reads, [J1, J2], 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_junction_across_records_is_not_a_hit(engine: str) -> None:
    half = len(J1) // 2
    reads = [b"A" * 50 + J1[:half].encode(), J1[half:].encode() + b"C" * 50]
    data, s, e = _chunk(reads)
    rr, _, _ = JunctionScanner([J1], 2, engine=engine).scan(data, s, e)
    assert rr.size == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_edge_cases_hand_written(engine: str) -> None:
    """Each read below was written for one rule; the expected rows are worked out by hand."""
    j1, rc1 = J1.encode(), revcomp(J1)
    mut_first = b"C" + j1[1:]  # J1 starts with T: one mismatch at the window's first base
    mut_last = j1[:-1] + b"A"  # J1 ends with G: one mismatch at its last base
    both_ends = b"C" + j1[1:-1] + b"A"  # two, at both ends
    three = b"CAC" + j1[3:]  # J1 starts with TGT: three mismatches, > d = 2
    reads = [
        j1,  # 0: the whole read is the junction: (0, 0, 0)
        mut_first + b"ACGT",  # 1: at the read start: (1, 0, 1)
        b"ACGT" + mut_last,  # 2: at the read end: (2, 0, 1)
        b"TT" + both_ends + b"GG",  # 3: (3, 0, 2)
        three,  # 4: none
        j1[:-1],  # 5: one base shorter than the junction: none
        b"ACG",  # 6: shorter than a k-mer: none
        b"",  # 7: empty sequence: none
        j1.lower(),  # 8: lower case is the same base: (8, 0, 0)
        b"N" + j1[1:],  # 9: an N is a mismatch: (9, 0, 1)
        b"NN" + j1[2:-1] + b"N",  # 10: three Ns: none
        b"GG" + rc1 + b"GG",  # 11: reverse strand: (11, 0, 0)
        b"A" * 10 + j1 + b"C" * 5 + rc1[:-1] + b"A",  # 12: both strands, best kept: (12, 0, 0)
        mut_last.lower() + b"acgt",  # 13: lower case with a mismatch: (13, 0, 1)
    ]
    want = {(0, 0, 0), (1, 0, 1), (2, 0, 1), (3, 0, 2), (8, 0, 0), (9, 0, 1), (11, 0, 0),
            (12, 0, 0), (13, 0, 1)}
    sc = JunctionScanner([J1], 2, engine=engine)
    assert _rows(sc, reads) == want == _brute(reads, [J1], 2)


@pytest.mark.parametrize("engine", ENGINES)
def test_per_pattern_mismatches_and_palindrome(engine: str) -> None:
    """``max_mismatches`` per pattern (an exact stem next to a junction with 2), and a pattern
    that is its own reverse complement (one orientation only, still found once)."""
    stem = J2[-20:]
    pal = "ACGTACGTTTAAACGTACGT"  # revcomp(pal) == pal
    assert revcomp(pal) == pal.encode()
    reads = [J2.encode(), b"G" + J2[1:-1].encode() + b"C", (stem[:-1] + "A").encode() + b"CCCC",
             b"TT" + pal.encode(), b"TT" + pal[:-1].encode() + b"G"]
    pats, ds = [J2, stem, pal], [2, 0, 1]
    sc = JunctionScanner(pats, ds, engine=engine)
    assert _rows(sc, reads) == _brute(reads, pats, ds)
    assert (2, 1, 0) not in _rows(sc, reads)  # the stem with one mismatch is not an exact stem


READ = st.lists(st.sampled_from(list(b"ACGTNacgtn")), max_size=90).map(bytes)


@st.composite
def _reads(draw: st.DrawFn) -> list[bytes]:
    """Random reads, some holding a mutated copy of J1 or J2 (0-4 substitutions, N and lower
    case included) on either strand, cut at random: at the read's ends, longer than the read,
    or split over two reads."""
    out = []
    for _ in range(draw(st.integers(1, 12))):
        r = draw(READ)
        if draw(st.booleans()):
            p = bytearray((J1 if draw(st.booleans()) else J2).encode())
            for _m in range(draw(st.integers(0, 4))):
                p[draw(st.integers(0, len(p) - 1))] = draw(st.sampled_from(list(b"ACGTNacgtn")))
            q = bytes(p) if draw(st.booleans()) else revcomp(bytes(p))
            if draw(st.booleans()):
                q = q.lower()
            cut = draw(st.integers(0, 3))
            q = q[cut:] if draw(st.booleans()) else q[: len(q) - cut]
            at = draw(st.integers(0, len(r)))
            r = r[:at] + q + r[at:]
        out.append(r)
    return out


@settings(max_examples=150)
@given(reads=_reads(), d=st.integers(0, 2))
def test_property_numba_numpy_and_brute_force_agree(reads: list[bytes], d: int) -> None:
    pats = [J1, J2]
    want = _brute(reads, pats, d)
    for engine in ENGINES:
        assert _rows(JunctionScanner(pats, d, engine=engine), reads) == want, engine


@settings(max_examples=40)
@given(reads=_reads(), k=st.integers(6, 11))
def test_property_any_k_gives_the_same_rows(reads: list[bytes], k: int) -> None:
    """The seed length only changes the work, never the rows (pigeonhole: one part is exact)."""
    want = _brute(reads, [J1, J2], 2)
    assert _rows(JunctionScanner([J1, J2], 2, engine="numba", k=k), reads) == want


def test_engine_is_checked_and_auto_decides_at_the_first_scan() -> None:
    with pytest.raises(ValidationError, match=r"engine must be one of auto, numba, numpy, but was 'c'"):
        JunctionScanner([J1], 2, engine="c")
    sc = JunctionScanner([J1], 2)
    assert sc.engine == "auto"
    assert _rows(sc, [J1.encode()]) == {(0, 0, 0)}
    assert sc.engine == "numba"  # numba is loaded in this process (the tests above used it)


def _fastq(path: Path, reads: list[bytes], newline: bytes = b"\n") -> Path:
    path.write_bytes(b"".join(b"@r%d%s%s%s+%s%s%s" % (i, newline, r, newline, newline, b"I" * len(r), newline)
                              for i, r in enumerate(reads)))
    return path


@pytest.mark.parametrize("engine", ENGINES)
def test_file_in_blocks_of_any_size_and_crlf(tmp_path: Path, engine: str) -> None:
    """A file read in blocks of 4 KiB, 64 KiB and 1 MiB (records cut at every block boundary),
    with LF or CRLF line ends, with the compiled or the numpy reader: the same rows as the
    brute force on the reads (mismatches planted at the junction's ends)."""
    rng = np.random.default_rng(7)
    reads = []
    for i in range(1500):
        r = rng.choice(list(b"ACGT"), int(rng.integers(20, 160))).astype(np.uint8).tobytes()
        if i % 7 == 0:
            p = bytearray(J1.encode() if i % 2 else revcomp(J2))
            for at in (0, len(p) - 1)[: i % 3]:
                p[at] = ord("A") if p[at] != ord("A") else ord("C")
            r = r[: i % 30] + bytes(p) + r[i % 30:]
        reads.append(r)
    want = _brute(reads, [J1, J2], 2)
    sc = JunctionScanner([J1, J2], 2, engine=engine)
    for newline in (b"\n", b"\r\n"):
        path = _fastq(tmp_path / "x.fastq", reads, newline)
        for size in (4096, 65536, 1 << 20):
            got, first = set(), 0
            for ch in iter_fastq_chunks(path, buffer_size=size, engine=engine):
                assert ch.first_record == first
                rr, pp, mm = sc.scan(ch.data, ch.seq_start, ch.seq_end)
                got |= set(zip((rr + first).tolist(), pp.tolist(), mm.tolist(), strict=True))
                first += ch.n_reads
            assert first == len(reads)
            assert got == want, (newline, size)


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


def test_small_input_does_not_load_numba(ngs_files: dict) -> None:
    """A follow-up FASTQ under JIT_MIN_BYTES is tracked by the numpy path in a fresh process:
    numba's import and the kernels' load (~0.4 CPU s) are paid only by large inputs."""
    import subprocess
    import sys

    code = ("import sys; from remission.io.airr import iter_airr_chunks; "
            "from remission.io.fastq import iter_fastq_chunks; "
            "from remission.mrd.ngs import index_clonotypes, track_fastq; "
            f"idx = index_clonotypes(iter_airr_chunks({str(ngs_files['dx'])!r})); "
            f"t = track_fastq(idx, iter_fastq_chunks({str(ngs_files['fu_fastq'])!r})); "
            "print(t.counts[0].reads, 'numba' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    reads, loaded = proc.stdout.split()
    assert int(reads) > 5 and loaded == "False"
