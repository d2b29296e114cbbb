"""FASTQ reader: structure checks, gzip, pairs, truncation."""

from __future__ import annotations

from pathlib import Path

import pytest

from remission.errors import FastqFormatError
from remission.io.fastq import iter_fastq_chunks


def _seqs(path: Path, mate2: Path | None = None) -> list[bytes]:
    out = []
    for ch in iter_fastq_chunks(path, mate2, buffer_size=64 * 1024):
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
