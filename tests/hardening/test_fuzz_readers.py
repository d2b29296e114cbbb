"""Mutation fuzz of every text reader: a corrupted file parses or raises the reader's typed error.

Each reader gets a small valid file (``_seeds.py``); Hypothesis applies one to four byte
mutations (overwrite a byte, insert a troublesome token, delete a run, truncate, duplicate a
run) and the property is that the reader either returns or raises its own subclass of
:class:`remission.errors.RemissionError`: never a bare ``ValueError``/``KeyError``/
``UnicodeDecodeError``/``OverflowError`` (a traceback at the command line), never a hang (the
suite's timeout would catch one).

Before this test existed a mutation fuzz of 300 mutants per reader found uncaught exceptions in
the qPCR (67), VCF (95), MAF (71), copy-number (40), purity (74), MRD-pairs (53) and spike-in
(54) readers. The examples are deterministic (the suite's derandomised profile) and bounded so
the whole set runs in well under a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _seeds import READERS
from hypothesis import given, settings
from hypothesis import strategies as st

from remission.errors import (
    AirrFormatError,
    CaseFileError,
    FastqFormatError,
    InputError,
    ObservationFormatError,
    QpcrFormatError,
    RemissionError,
    SpikeInFormatError,
    VariantFormatError,
)
from remission.io.mrd_pairs import MrdPairsFormatError

#: the error type each reader promises (its subclass of InputError)
EXPECTED: dict[str, type[InputError]] = {
    "airr": AirrFormatError,
    "fastq": FastqFormatError,
    "qpcr": QpcrFormatError,
    "vcf": VariantFormatError,
    "maf": VariantFormatError,
    "copy_number": VariantFormatError,
    "purity": VariantFormatError,
    "observations": ObservationFormatError,
    "kinetics": ObservationFormatError,
    "b_cells": ObservationFormatError,
    "mrd_pairs": MrdPairsFormatError,
    "spike_ins": SpikeInFormatError,
    "case_yaml": CaseFileError,
    "case_json": CaseFileError,
}

#: tokens that break parsers: NUL, bytes that are not UTF-8, separators, quotes, YAML syntax
#: (anchors, aliases, flow collections), numbers out of range
TOKENS = [b"\x00", b"\xff", b"\xc3", b"\t", b"\n", b"\r", b",", b'"', b"-", b"#", b":", b"&a ",
          b"*a", b"[", b"{", b"1e308", b"99999999999999999999", b"nan", b"inf", b"2011-02-31"]

_op = st.one_of(
    st.tuples(st.just("set"), st.integers(0, 1 << 16), st.integers(0, 255)),
    st.tuples(st.just("insert"), st.integers(0, 1 << 16), st.sampled_from(TOKENS)),
    st.tuples(st.just("delete"), st.integers(0, 1 << 16), st.integers(1, 16)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 16)),
    st.tuples(st.just("duplicate"), st.integers(0, 1 << 16), st.integers(1, 64)),
)
MUTATIONS = st.lists(_op, min_size=1, max_size=4)


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    b = bytearray(data)
    for op in ops:
        i = op[1] % (len(b) + 1)
        if op[0] == "set" and b:
            b[min(i, len(b) - 1)] = op[2]
        elif op[0] == "insert":
            b[i:i] = op[2]
        elif op[0] == "delete":
            del b[i:i + op[2]]
        elif op[0] == "truncate":
            del b[i:]
        elif op[0] == "duplicate":
            b[i:i] = b[i:i + op[2]]
    return bytes(b)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("name", sorted(READERS))
def test_seed_is_valid(name: str, fuzz_dir: Path) -> None:
    # the property below is only meaningful if the unmutated seed parses
    fname, seed, reader = READERS[name]
    p = fuzz_dir / f"seed-{fname}"
    p.write_bytes(seed)
    assert reader(p) is not None


@pytest.mark.parametrize("name", sorted(READERS))
@settings(max_examples=120)
@given(ops=MUTATIONS)
def test_mutated_file_parses_or_raises_typed_error(name: str, ops: list[tuple],
                                                  fuzz_dir: Path) -> None:
    fname, seed, reader = READERS[name]
    p = fuzz_dir / fname
    p.write_bytes(mutate(seed, ops))
    try:
        reader(p)
    except RemissionError as exc:
        assert isinstance(exc, EXPECTED[name]), f"{type(exc).__name__}: {exc}"
        text = str(exc)
        assert "\n" not in text, "an error message is one line"
        assert len(text) < 1000, "an error message quotes input text only as a bounded excerpt"
