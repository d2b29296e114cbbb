"""Small valid files, one per reader, that the mutation fuzz tests corrupt byte by byte.

Each seed is the smallest file that exercises the reader's whole structure (header, several
records, every typed column), so that a random byte mutation lands in a meaningful place often.
``READERS`` maps a name to ``(file name, seed bytes, reader)``; the reader takes a path and
returns anything (the property only asks that it parses or raises the reader's typed error).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

_AIRR_COLS = ("sequence_id", "sequence", "rev_comp", "productive", "v_call", "d_call", "j_call",
              "sequence_alignment", "germline_alignment", "junction", "junction_aa", "v_cigar",
              "d_cigar", "j_cigar", "locus", "duplicate_count")


def _airr_row(i: int, junction: str, count: int) -> str:
    return "\t".join([f"r{i}", "ACGTACGT" + junction, "F", "T", "IGHV3-23*01", "IGHD3-10*01",
                      "IGHJ4*02", "", "", junction, "CAR", "", "", "", "IGH", str(count)])


AIRR = ("\t".join(_AIRR_COLS) + "\n" + "\n".join(
    _airr_row(i, j, c) for i, (j, c) in enumerate(
        [("TGTGCGAGAGATTGGTTCGACCCCTGG", 400), ("TGTGCGAAAGGTTACTTTGACTACTGG", 35),
         ("TGTGCGCGCGGGTTTGACTACTGG", 7)])) + "\n").encode()

FASTQ = (b"@r1\nACGTACGTTGTGCGAGAGATTGG\n+\nIIIIIIIIIIIIIIIIIIIIIII\n"
         b"@r2\nTGTGCGAAAGGTTACTTTGACTA\n+\nIIIIIIIIIIIIIIIIIIIIIII\n"
         b"@r3\nNNNNACGTACGTACGTACGTACG\n+\n#######################\n")

QPCR = b"""well,sample,target,kind,level,ct,replicate
A1,STD,IGH1,standard,1e-1,22.1,1
A2,STD,IGH1,standard,1e-2,25.4,1
A3,STD,IGH1,standard,1e-3,28.8,1
A4,STD,IGH1,standard,1e-4,32.2,1
B1,FU1,IGH1,follow_up,,30.5,1
B2,FU1,IGH1,follow_up,,Undetermined,2
C1,NTC,IGH1,ntc,,Undetermined,1
D1,FU1,ALB,control_gene,,24.0,1
"""

VCF = b"""##fileformat=VCFv4.2
##contig=<ID=chr1,length=248956422>
##INFO=<ID=GENE,Number=1,Type=String,Description="gene">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allele depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tDX\tR1
chr1\t1000\tm1\tA\tG\t.\tPASS\tGENE=NT5C2\tGT:AD:DP\t0/1:60,40:100\t0/1:70,30:100
chr1\t2000\tm2\tC\tT\t.\tPASS\tGENE=CREBBP\tGT:AD:DP\t0/1:90,10:100\t0/1:50,50:100
"""

MAF = b"""Hugo_Symbol\tChromosome\tStart_Position\tReference_Allele\tTumor_Seq_Allele2\tTumor_Sample_Barcode\tt_ref_count\tt_alt_count
NT5C2\tchr10\t103089\tC\tT\tDX\t60\t40
NT5C2\tchr10\t103089\tC\tT\tR1\t70\t30
CREBBP\tchr16\t3781\tG\tA\tDX\t90\t10
"""

COPY_NUMBER = b"""sample\tchrom\tstart\tend\tmajor_cn\tminor_cn
DX\tchr1\t1\t1000000\t1\t1
R1\tchr1\t1\t1000000\t2\t1
"""

PURITY = b"sample\tpurity\nDX\t0.85\nR1\t0.64\n"

OBSERVATIONS = b"""day,temperature_c,antipyretic,hypotension,vasopressors,oxygen,oxygen_l_min,ice_score,consciousness,seizure
0,37.0,F,F,0,none,,10,,
1,39.1,T,T,1,low_flow,2,8,voice,none
2,38.2,T,F,0,none,,9,,
"""

KINETICS = b"""day,value,unit,below_lod
0,5,copies_per_ug,T
7,12000,copies_per_ug,F
14,45000,copies_per_ug,F
28,8000,copies_per_ug,F
90,900,copies_per_ug,F
"""

B_CELLS = b"day,value,unit\n0,120,cells_per_ul\n28,2,cells_per_ul\n90,1,cells_per_ul\n"

MRD_PAIRS = b"""sample,method_a,status_a,value_a,method_b,status_b,value_b,lod_a,lod_b
S1,ngs,positive,3e-4,flow,positive,2e-4,1e-6,1e-4
S2,ngs,negative,,flow,negative,,1e-6,1e-4
S3,ngs,positive_not_quantifiable,,pcr,positive,1e-5,1e-6,1e-5
"""

SPIKE_INS = b"name,copies,junction\ns1,10,TGTGCGAGAGATTGGTTC\ns2,40,TGTGCGAAAGGTTACTTT\n"

CASE_YAML = b"""schema: remission.case/1
patient:
  id: SYN-0001
  sex: female
  date_of_birth: 2011-06-14
diagnosis:
  date: 2015-02-03
  lineage: B
  immunophenotype: {CD19_percent: 97, CD10_percent: 92}
  lesions:
    - {name: "ETV6::RUNX1", kind: fusion}
frontline:
  protocol: AIEOP-BFM ALL 2009
  end_date: 2017-05-20
relapses:
  - number: 1
    date: 2019-03-11
    site: isolated_bm
    marrow_blasts_percent: 64
    cns_status: CNS1
mrd_reports:
  - {date: 2019-04-15, timepoint: end_of_induction, method: flow, value: 0.0012, lod: 0.00001, loq: 0.00002}
"""

CASE_JSON = (b'{"schema": "remission.case/1", "patient": {"id": "SYN-0002", "sex": "male", '
             b'"date_of_birth": "2012-01-30"}, "diagnosis": {"date": "2016-03-01", "lineage": "B"}, '
             b'"relapses": [{"number": 1, "date": "2019-05-02", "site": "isolated_bm", '
             b'"marrow_blasts_percent": 40}]}\n')


def _read_airr(p: Path) -> Any:
    from remission.io.airr import read_airr

    return read_airr(p)


def _read_fastq(p: Path) -> Any:
    from remission.io.fastq import iter_fastq_chunks

    return sum(c.n_reads for c in iter_fastq_chunks(p))


def _read_qpcr(p: Path) -> Any:
    from remission.io.qpcr import read_plate

    return read_plate(p)


def _read_vcf(p: Path) -> Any:
    from remission.io.variants import read_vcf

    return read_vcf(p)


def _read_maf(p: Path) -> Any:
    from remission.io.variants import read_maf

    return read_maf(p)


def _read_cn(p: Path) -> Any:
    from remission.io.variants import read_copy_number

    return read_copy_number(p)


def _read_purity(p: Path) -> Any:
    from remission.io.variants import read_purity

    return read_purity(p)


def _read_obs(p: Path) -> Any:
    from remission.io.cart import read_observations

    return read_observations(p)


def _read_kinetics(p: Path) -> Any:
    from remission.io.cart import read_kinetics

    return read_kinetics(p)


def _read_b_cells(p: Path) -> Any:
    from remission.io.cart import read_b_cells

    return read_b_cells(p)


def _read_pairs(p: Path) -> Any:
    from remission.io.mrd_pairs import read_mrd_pairs

    return read_mrd_pairs(p)


def _read_spikes(p: Path) -> Any:
    from remission.io.spikes import read_spike_ins

    return read_spike_ins(p)


def _read_case(p: Path) -> Any:
    from remission.io.casefile import load_case

    return load_case(p, check_files=False)


Reader = Callable[[Path], Any]

READERS: dict[str, tuple[str, bytes, Reader]] = {
    "airr": ("rearrangements.tsv", AIRR, _read_airr),
    "fastq": ("reads.fastq", FASTQ, _read_fastq),
    "qpcr": ("plate.csv", QPCR, _read_qpcr),
    "vcf": ("calls.vcf", VCF, _read_vcf),
    "maf": ("calls.maf", MAF, _read_maf),
    "copy_number": ("segments.tsv", COPY_NUMBER, _read_cn),
    "purity": ("purity.tsv", PURITY, _read_purity),
    "observations": ("observations.csv", OBSERVATIONS, _read_obs),
    "kinetics": ("kinetics.csv", KINETICS, _read_kinetics),
    "b_cells": ("b_cells.csv", B_CELLS, _read_b_cells),
    "mrd_pairs": ("pairs.csv", MRD_PAIRS, _read_pairs),
    "spike_ins": ("spikes.csv", SPIKE_INS, _read_spikes),
    "case_yaml": ("case.yaml", CASE_YAML, _read_case),
    "case_json": ("case.json", CASE_JSON, _read_case),
}
