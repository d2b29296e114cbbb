"""FASTQ reader: structure checks, gzip, pairs, truncation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import FastqFormatError
from remission.io.fastq import iter_fastq_chunks


def _seqs(path: Path, mate2: Path | None = None, engine: str = "auto") -> list[bytes]:
    out = []
    for ch in iter_fastq_chunks(path, mate2, buffer_size=64 * 1024, engine=engine):
        out += [bytes(ch.data[s:e]) for s, e in zip(ch.seq_start, ch.seq_end, strict=True)]
    return out


def test_plain_gzip_and_dnaio_agree(ngs_files: dict) -> None:
    import dnaio

    with dnaio.open(ngs_files["fu_fastq"]) as f:
        ref = [r.sequence.encode() for r in f]
    assert len(ref) == ngs_files["fu_sample"].total_reads
    assert _seqs(ngs_files["fu_fastq"]) == ref
    assert _seqs(ngs_files["fu_fastq_gz"]) == ref


def test_paired(ngs_files: dict) -> None:
    chunks = list(iter_fastq_chunks(ngs_files["fu_fastq_gz"], ngs_files["fu_r2"], buffer_size=64 * 1024))
    assert all(c.mate2 is not None and c.mate2.n_reads == c.n_reads for c in chunks)
    assert sum(c.n_reads for c in chunks) == ngs_files["fu_sample"].total_reads


def test_truncated_gzip(ngs_files: dict, tmp_path: Path) -> None:
    data = Path(ngs_files["fu_fastq_gz"]).read_bytes()
    p = tmp_path / "cut.fastq.gz"
    p.write_bytes(data[: len(data) // 3])
    with pytest.raises(FastqFormatError, match=r"'cut.fastq.gz'.*gzip stream is truncated or corrupt"):
        for _ in iter_fastq_chunks(p):
            pass


@pytest.mark.parametrize(("text", "match"), [
    ("@r1\nACGT\n+\nIIII\n@r2\nACGT\n-\nIIII\n", r"line 7, record 2, field separator: expected the third line .* '\+'"),
    ("@r1\nACGT\n+\nIII\n", r"line 4, record 1, field quality: the quality line has 3 characters but the sequence 4"),
    ("@r1\nACGT\n+\nIIII\nr2\nACGT\n+\nIIII\n", r"record 2, field header"),
    ("@r1\nACGT\n+\n", r"record 1"),
    (">r1\nACGT\n", r"expected FASTQ"),
])
def test_malformed(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.fastq"
    p.write_text(text)
    with pytest.raises(FastqFormatError, match=match):
        for _ in iter_fastq_chunks(p):
            pass


def test_mates_out_of_step(tmp_path: Path) -> None:
    (tmp_path / "a.fq").write_text("@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIIII\n")
    (tmp_path / "b.fq").write_text("@r1\nACGT\n+\nIIII\n")
    with pytest.raises(FastqFormatError, match="mates out of step"):
        for _ in iter_fastq_chunks(tmp_path / "a.fq", tmp_path / "b.fq"):
            pass


def _read_all(path: Path, buffer_size: int, engine: str) -> list[bytes] | str:
    """Every sequence (blocks may be cut differently, records are numbered on), or the error."""
    out: list[bytes] = []
    try:
        for ch in iter_fastq_chunks(path, buffer_size=buffer_size, engine=engine):
            assert ch.first_record == len(out)
            out += [bytes(ch.data[s:e]) for s, e in zip(ch.seq_start, ch.seq_end, strict=True)]
    except FastqFormatError as exc:
        return f"error: {exc}"
    return out


def test_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    """A FASTQ with CRLF line ends (as dnaio reads it): the same sequences as with LF, without
    the carriage returns, with the compiled and the numpy reader."""
    import dnaio

    text = "@r1\nACGTN\n+\nIIIII\n@r2\nacgt\n+\nIIII\n@r3\n\n+\n\n"
    lf, crlf = tmp_path / "lf.fastq", tmp_path / "crlf.fastq"
    lf.write_bytes(text.encode())
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    with dnaio.open(crlf) as f:
        ref = [r.sequence.encode() for r in f]
    assert ref == [b"ACGTN", b"acgt", b""]
    for engine in ("numba", "numpy"):
        assert _seqs(crlf, engine=engine) == _seqs(lf, engine=engine) == ref


@pytest.mark.parametrize(("text", "match"), [
    ("@r1\nAC\rGT\n+\nIIIII\n", r"record 1, field sequence: expected a nucleotide sequence .* column 3"),
    ("@r1\nACGT\r\n+\nIII\r\n", r"record 1, field quality: the quality line has 3 characters but the sequence 4"),
    ("@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIIII", None),  # no final newline: accepted
    ("@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIII", r"record 2, field quality: the quality line has 3"),
    ("@r1\nACGT\n+\nIIII\n@r2\nAC", r"record 2.*ends inside a record"),
])
def test_compiled_and_numpy_reader_same_errors(tmp_path: Path, text: str, match: str | None) -> None:
    p = tmp_path / "x.fastq"
    p.write_text(text)
    got = [_read_all(p, 1 << 16, engine) for engine in ("numba", "numpy")]
    assert got[0] == got[1]
    if match is None:
        assert not isinstance(got[0], str)
    else:
        assert isinstance(got[0], str) and re.search(match, got[0]), got[0]


LINE = st.lists(st.sampled_from(list(b"ACGTNacgtnI@+\r\nX ")), max_size=12).map(bytes)
SEQ = st.lists(st.sampled_from(list(b"ACGTNacgtn")), max_size=12).map(bytes)
GOOD = st.tuples(st.just(b"r"), SEQ, st.just(b""), st.just(b"")).map(
    lambda t: (t[0], t[1], t[2], b"I" * len(t[1])))


@settings(max_examples=300)
@given(records=st.lists(st.one_of(GOOD, GOOD, st.tuples(LINE, LINE, LINE, LINE)), min_size=1, max_size=6),
       cut=st.integers(0, 3), crlf=st.booleans(), buffer_size=st.sampled_from([256, 1 << 16]))
def test_property_compiled_reader_equals_numpy(tmp_path_factory: pytest.TempPathFactory,
                                               records: list[tuple[bytes, ...]], cut: int,
                                               crlf: bool, buffer_size: int) -> None:
    """Near-FASTQ bytes (every line from a small alphabet with newlines, carriage returns, '@'
    and '+' inside): the compiled reader and the numpy reader accept the same files with the
    same records, or both refuse them. Blocks of 256 bytes at least: dnaio's blocks hold two
    records (interleaved pairs), so its "record longer than the block" comes earlier."""
    nl = b"\r\n" if crlf else b"\n"
    body = b"".join(b"@" + h + nl + s + nl + b"+" + p + nl + q + nl for h, s, p, q in records)
    body = body[: len(body) - cut]
    path = tmp_path_factory.mktemp("fq") / "x.fastq"
    path.write_bytes(body)
    a, b = (_read_all(path, buffer_size, engine) for engine in ("numba", "numpy"))
    assert isinstance(a, str) == isinstance(b, str), (a, b)
    if not isinstance(a, str):
        assert a == b


def test_engine_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import remission.io.fastq as fq
    from remission.errors import ValidationError

    p = tmp_path / "x.fastq"
    p.write_text("@r1\nACGT\n+\nIIII\n")
    with pytest.raises(ValidationError, match="engine must be one of auto, numba, numpy, but was 'c'"):
        next(iter_fastq_chunks(p, engine="c"))
    assert fq._pick_kernel("numpy", [p]) is None
    assert fq._pick_kernel("numba", [p]) is not None
    monkeypatch.setitem(__import__("sys").modules, "numba", None)  # as if numba were not loaded
    monkeypatch.delitem(__import__("sys").modules, "numba")
    assert fq._pick_kernel("auto", [p]) is None  # 16 bytes < JIT_MIN_BYTES: numpy
    monkeypatch.setattr(fq, "JIT_MIN_BYTES", 16)
    assert fq._pick_kernel("auto", [p]) is not None
