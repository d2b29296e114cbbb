"""AIRR Rearrangement TSV reader: agreement with the ``airr`` package (oracle), strictness, streaming."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from remission.errors import AirrFormatError
from remission.io.airr import AIRR_REQUIRED, iter_airr_chunks, read_airr

HEADER = "\t".join((*AIRR_REQUIRED, "locus", "duplicate_count"))


def _row(**kw: str) -> str:
    base = {c: "" for c in (*AIRR_REQUIRED, "locus", "duplicate_count")}
    base.update(sequence_id="s1", rev_comp="F", productive="T", v_call="IGHV3-23*01",
                j_call="IGHJ4*02", junction="TGTGCGAGAGATTACTGG", locus="IGH", duplicate_count="7")
    base.update(kw)
    return "\t".join(base[c] for c in (*AIRR_REQUIRED, "locus", "duplicate_count"))


def _write(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "t.tsv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return p


def test_matches_airr_oracle(ngs_files: dict) -> None:
    """Every row, junction and duplicate_count equals what airr.read_rearrangement returns."""
    pytest.importorskip("airr")
    from airr.io import RearrangementReader

    path = ngs_files["dx"]
    with open(path) as handle:  # the oracle validates every row against the AIRR schema
        oracle = list(RearrangementReader(handle, validate=True))
    ours = read_airr(path)
    assert len(ours) == len(oracle)
    assert [r["junction"] for r in oracle] == list(ours.get("junction"))
    assert [r["duplicate_count"] for r in oracle] == ours.count.tolist()
    assert [r["productive"] for r in oracle] == [x == "T" for x in ours.get("productive")]


def test_streaming_block_size_does_not_change_result(ngs_files: dict) -> None:
    whole = read_airr(ngs_files["fu"])
    chunks = list(iter_airr_chunks(ngs_files["fu"], block_bytes=4096))
    assert len(chunks) > 10  # really streamed in many blocks
    assert np.concatenate([c.count for c in chunks]).tolist() == whole.count.tolist()
    assert np.concatenate([c.get("junction") for c in chunks]).tolist() == whole.get("junction").tolist()
    # line numbers continue across blocks: 1 header line + rows
    assert chunks[1].first_line == 2 + len(chunks[0])


def test_gzip_input(tmp_path: Path) -> None:
    p = tmp_path / "t.tsv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(HEADER + "\n" + _row() + "\n")
    assert read_airr(p).count.tolist() == [7]


def test_consensus_count_and_no_count(tmp_path: Path) -> None:
    h = HEADER.replace("duplicate_count", "consensus_count")
    assert read_airr(_write(tmp_path, _row(), header=h)).count.tolist() == [7]
    h2 = "\t".join(AIRR_REQUIRED)
    row = "\t".join(["s", "", "F", "T", "IGHV1", "", "IGHJ4", "", "", "TGTTGG", "", "", "", ""])
    row2 = "s2" + row[1:]  # a second read: its own sequence_id (a repeated id is refused)
    assert read_airr(_write(tmp_path, row, row2, header=h2, name="n.tsv")).count.tolist() == [1, 1]


def test_missing_required_column(tmp_path: Path) -> None:
    h = HEADER.replace("\tproductive", "")
    row = "\t".join(f for i, f in enumerate(_row().split("\t")) if i != 3)
    with pytest.raises(AirrFormatError, match=r"'t.tsv', line 1, field productive: missing required column"):
        list(iter_airr_chunks(_write(tmp_path, row, header=h)))


def test_non_integer_count(tmp_path: Path) -> None:
    p = _write(tmp_path, _row(), _row(duplicate_count="n/a"))
    with pytest.raises(AirrFormatError, match=r"line 3, field duplicate_count: expected a non-negative integer.*'n/a'"):
        list(iter_airr_chunks(p))
    with pytest.raises(AirrFormatError, match=r"line 2, field duplicate_count"):
        list(iter_airr_chunks(_write(tmp_path, _row(duplicate_count="3.5"), name="f.tsv")))


@pytest.mark.parametrize("value", ["TRUE", "true", "1", "Y", "t"])
def test_wrong_booleans(tmp_path: Path, value: str) -> None:
    p = _write(tmp_path, _row(), _row(), _row(productive=value))
    with pytest.raises(AirrFormatError, match=rf"line 4, field productive: expected T or F.*{value!r}"):
        list(iter_airr_chunks(p))


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    p = _write(tmp_path, _row(), _row() + "\textra")
    with pytest.raises(AirrFormatError, match=r"line 3: expected 16 tab-separated fields \(as in the header\), got 17"):
        list(iter_airr_chunks(p))
    p = _write(tmp_path, _row().rsplit("\t", 1)[0], name="short.tsv")
    with pytest.raises(AirrFormatError, match=r"line 2: expected 16 .* got 15"):
        list(iter_airr_chunks(p))


def test_bad_junction_and_empty_line(tmp_path: Path) -> None:
    with pytest.raises(AirrFormatError, match=r"field junction: expected a nucleotide junction"):
        list(iter_airr_chunks(_write(tmp_path, _row(junction="CARDYW"))))
    with pytest.raises(AirrFormatError, match=r"line 3: empty line"):
        list(iter_airr_chunks(_write(tmp_path, _row(), "", _row(), name="e.tsv")))


def test_empty_file_csv_and_missing(tmp_path: Path) -> None:
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(AirrFormatError, match="line 1: the file is empty"):
        list(iter_airr_chunks(tmp_path / "empty.tsv"))
    (tmp_path / "c.csv").write_text("sequence_id,junction\n")
    with pytest.raises(AirrFormatError, match="tab-separated"):
        list(iter_airr_chunks(tmp_path / "c.csv"))
    with pytest.raises(AirrFormatError, match="no such file"):
        list(iter_airr_chunks(tmp_path / "nope.tsv"))


def test_truncated_gzip_tsv(tmp_path: Path) -> None:
    p = tmp_path / "t.tsv.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(HEADER + "\n" + "\n".join(_row(sequence_id=f"s{i}") for i in range(3000)) + "\n")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(AirrFormatError, match="truncated or not valid gzip"):
        list(iter_airr_chunks(p))


def test_small_blocks_split_without_pandas_give_the_same_strings_as_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    # the two ways of splitting a block (str.split for small blocks, pandas' C parser for large
    # ones) must give identical columns: CRLF endings, empty fields, quotes, spaces, non-ASCII
    from remission.io import airr

    header = ["sequence_id", "junction", "v_call", "duplicate_count", "productive", "note"]
    block = ('a1\tTGTGCA\tIGHV3-23*01\t10\tT\t"quoted" text\r\n'
             'a2\t\t IGHV1-2 \t\tF\t\r\n'
             'a3\tNNN\tIGHV3-23*01,IGHV3-30*02\t007\t\tµ naïve ‘x’\n').encode()
    wanted = ["v_call", "sequence_id", "duplicate_count", "productive", "junction"]
    small = airr._split_columns(block, header, wanted, 3)
    monkeypatch.setattr(airr, "SMALL_BLOCK_BYTES", 0)
    large = airr._split_columns(block, header, wanted, 3)
    assert list(small) == list(large) == ["sequence_id", "junction", "v_call", "duplicate_count", "productive"]
    for c in small:
        assert small[c].dtype == large[c].dtype == object
        assert small[c].tolist() == large[c].tolist(), c
    assert small["v_call"].tolist() == ["IGHV3-23*01", " IGHV1-2 ", "IGHV3-23*01,IGHV3-30*02"]
    assert small["duplicate_count"].tolist() == ["10", "", "007"]
