"""VCF / MAF / copy-number / purity readers: round trips and bad-input errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from remission.errors import VariantFormatError
from remission.io.variants import (
    parse_purity_items,
    read_copy_number,
    read_maf,
    read_purity,
    read_variant_inputs,
    read_vcf,
)
from remission.synth.clonal import ClonalDataset

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
    '##INFO=<ID=GENE,Number=1,Type=String,Description="Gene">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
)
AD = '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
DP = '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
COLS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tDX\tR1\n"


def _by_id(ds: ClonalDataset) -> dict[str, tuple[list[int], list[int]]]:
    return {m: (ds.alt[i].tolist(), ds.depth[i].tolist()) for i, m in enumerate(ds.mutation_ids)}


@pytest.mark.parametrize("kind", ["vcf", "vcf_gz", "maf"])
def test_round_trip_counts(kind: str, written: dict[str, Path], minor_dataset: ClonalDataset) -> None:
    table = read_maf(written[kind]) if kind == "maf" else read_vcf(written[kind])
    assert table.samples == ("DX", "R1")
    truth = _by_id(minor_dataset)
    assert set(table.mutation_ids) == set(truth)
    for i, m in enumerate(table.mutation_ids):
        assert (table.alt[i].tolist(), table.depth[i].tolist()) == truth[m]
    genes = {g for g in table.genes if g}
    assert genes == {g for g in minor_dataset.genes if g}


def test_copy_number_and_dispatch(written: dict[str, Path], minor_dataset: ClonalDataset) -> None:
    segs = read_copy_number(written["cn"])
    assert segs == minor_dataset.segments
    inputs = read_variant_inputs([written["vcf"], written["cn"]], purity={"DX": 0.9})
    assert inputs.kinds == {str(written["vcf"]): "vcf", str(written["cn"]): "copy_number"}
    assert inputs.purity == {"DX": 0.9}


def test_missing_ad_in_header(tmp_path: Path) -> None:
    p = tmp_path / "no_ad.vcf"
    p.write_text(HEADER + DP + COLS + "1\t100\t.\tA\tC\t.\tPASS\t.\tGT:DP\t0/1:100\t0/1:90\n")
    with pytest.raises(VariantFormatError, match=r"'no_ad.vcf', line 6, field FORMAT/AD: no FORMAT field AD"):
        read_vcf(p)


def test_missing_ad_value_in_record(tmp_path: Path) -> None:
    p = tmp_path / "dot.vcf"
    p.write_text(HEADER + AD + DP + COLS
                 + "1\t100\t.\tA\tC\t.\tPASS\t.\tGT:AD:DP\t0/1:60,40:100\t0/1:50,40:90\n"
                 + "1\t200\t.\tG\tT\t.\tPASS\t.\tGT:AD:DP\t0/1:.:100\t0/1:50,40:90\n")
    with pytest.raises(VariantFormatError, match=r"'dot.vcf', line 9, field FORMAT/AD: AD of sample 'DX' is missing"):
        read_vcf(p)


def test_dp_taken_when_present(tmp_path: Path) -> None:
    p = tmp_path / "dp.vcf.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(HEADER + AD + DP + COLS + "1\t100\t.\tA\tC\t.\tPASS\tGENE=TP53\tGT:AD:DP\t0/1:60,40:105\t0/1:50,40:90\n")
    t = read_vcf(p)
    assert t.depth.tolist() == [[105, 90]] and t.alt.tolist() == [[40, 40]] and t.genes == ("TP53",)


def test_mismatched_sample_names(written: dict[str, Path]) -> None:
    with pytest.raises(VariantFormatError, match=r"sample\(s\) 'REL' not in the VCF; its samples are 'DX', 'R1'"):
        read_vcf(written["vcf"], samples=["DX", "REL"])
    with pytest.raises(VariantFormatError, match="purity given for sample 'R2', which no variant file has"):
        read_variant_inputs([written["vcf"]], purity={"R2": 0.5})


def test_copy_number_for_unknown_sample(tmp_path: Path, written: dict[str, Path]) -> None:
    cn = tmp_path / "cn.tsv"
    cn.write_text("sample\tchrom\tstart\tend\tmajor_cn\tminor_cn\nRX\t1\t1\t100\t2\t1\n")
    with pytest.raises(VariantFormatError, match=r"'cn\.tsv', field sample: copy-number segment for sample 'RX'"):
        read_variant_inputs([written["vcf"], cn])


def test_same_sample_in_two_files(written: dict[str, Path]) -> None:
    with pytest.raises(VariantFormatError, match="sample 'DX' occurs in both"):
        read_variant_inputs([written["vcf"], written["maf"]])


def test_maf_missing_depth_field(tmp_path: Path) -> None:
    p = tmp_path / "x.maf"
    p.write_text("Hugo_Symbol\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\t"
                 "Tumor_Sample_Barcode\tt_ref_count\nTP53\t17\t100\tC\tT\tDX\t50\n")
    with pytest.raises(VariantFormatError, match=r"'x.maf', line 1, field t_alt_count: missing depth fields t_alt_count"):
        read_maf(p)


def test_maf_bad_count_names_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "y.maf"
    p.write_text("#version 2.4\nHugo_Symbol\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\t"
                 "Tumor_Sample_Barcode\tt_ref_count\tt_alt_count\n"
                 "TP53\t17\t100\tC\tT\tDX\t50\t12\nTP53\t17\t100\tC\tT\tR1\t50\tn/a\n")
    with pytest.raises(VariantFormatError, match=r"'y.maf', line 4, field t_alt_count: expected an integer, got 'n/a'"):
        read_maf(p)


def test_maf_missing_row_is_unmeasured(tmp_path: Path) -> None:
    p = tmp_path / "z.maf"
    p.write_text("Hugo_Symbol\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\t"
                 "Tumor_Sample_Barcode\tt_ref_count\tt_alt_count\n"
                 "TP53\t17\t100\tC\tT\tDX\t50\t12\nNT5C2\t10\t500\tG\tA\tR1\t60\t30\n")
    t = read_maf(p)
    assert t.depth.tolist() == [[62, 0], [0, 90]]
    assert len(t.notes) == 2


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("sample\tchrom\tstart\tend\tmajor_cn\nDX\t1\t1\t9\t2\n", "line 1, field minor_cn: missing column"),
        ("sample\tchrom\tstart\tend\tmajor_cn\tminor_cn\nDX\t1\t1\t9\t1\t2\n", "line 2, field minor_cn: minor_cn 2 exceeds"),
        ("sample\tchrom\tstart\tend\tmajor_cn\tminor_cn\nDX\t1\t10\t9\t1\t1\n", "line 2, field end: end 9 is before"),
    ],
)
def test_bad_copy_number(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "cn.tsv"
    p.write_text(text)
    with pytest.raises(VariantFormatError, match=match):
        read_copy_number(p)


@pytest.mark.parametrize("raw", ["0", "-0.1", "1.5", "nan", "inf", "x"])
def test_bad_purity_values(tmp_path: Path, raw: str) -> None:
    p = tmp_path / "purity.tsv"
    p.write_text(f"sample\tpurity\nDX\t{raw}\n")
    with pytest.raises(VariantFormatError, match=r"line 2, field purity: purity must be a fraction in \(0, 1\]"):
        read_purity(p)
    with pytest.raises(VariantFormatError, match="must be a fraction"):
        parse_purity_items([f"DX={raw}"])


def test_purity_items() -> None:
    assert parse_purity_items(["DX=0.85", "R1=0.64"]) == {"DX": 0.85, "R1": 0.64}
    with pytest.raises(VariantFormatError, match="purity must be SAMPLE=FRACTION, but was 'DX'"):
        parse_purity_items(["DX"])


def test_unknown_file_kind_and_not_a_vcf(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("hello\tworld\n")
    with pytest.raises(VariantFormatError, match="cannot tell what this file is"):
        read_variant_inputs([p])
    q = tmp_path / "bad.vcf"
    q.write_text("chrom\tpos\n")
    with pytest.raises(VariantFormatError, match=r"'bad.vcf', line 1: expected a VCF header line"):
        read_vcf(q)
    with pytest.raises(VariantFormatError, match="no such file"):
        read_vcf(tmp_path / "missing.vcf")


def test_no_variant_file(tmp_path: Path) -> None:
    p = tmp_path / "purity.tsv"
    p.write_text("sample\tpurity\nDX\t0.5\n")
    with pytest.raises(VariantFormatError, match="no variant file"):
        read_variant_inputs([p])


def test_counts_are_integers(written: dict[str, Path]) -> None:
    t = read_vcf(written["vcf"])
    assert t.alt.dtype == np.int64 and np.all(t.alt <= t.depth)
