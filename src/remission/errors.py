"""The one exception tree of ``remission``.

Every error that ``remission`` raises on purpose derives from :class:`RemissionError`::

    RemissionError
    ├── InputError (ValueError)          bad input data: names file, line/record and field
    │   ├── CaseFileError                case file (YAML/JSON) malformed or invalid
    │   ├── AirrFormatError              AIRR Rearrangement TSV
    │   ├── FastqFormatError             FASTQ (plain or gzip)
    │   ├── FcsFormatError               FCS 2.0/3.0/3.1
    │   ├── GatingMLError                Gating-ML 2.0 XML
    │   ├── FlowReferenceError           flow-MRD normal reference model (JSON)
    │   ├── QpcrFormatError              RQ-PCR plate export CSV
    │   ├── VariantFormatError           VCF / MAF / copy-number / purity inputs
    │   ├── ObservationFormatError       CAR-T observation, kinetics and B-cell CSV files
    │   ├── SpikeInFormatError           NGS spike-in calibrator table (CSV/TSV)
    │   ├── CohortDataError              survival/cohort tables (times, events, intervals)
    │   └── UnsafePathError (CaseFileError)  a sample path that leaves the case folder
    ├── ValidationError (ValueError)     parameters or data that are well-formed but inconsistent
    ├── IncompleteAnalysisError          an engine could not read its data (nothing was saved)
    ├── StoreError                       the database refused or failed; nothing was written
    └── KnowledgeBaseError               a knowledge-base file failed its schema or references

Statistical caveats are not errors: they are typed warnings (:class:`RemissionWarning` and
subclasses), which callers may filter or escalate.

Text that came from an input file is only ever shown through :func:`excerpt` (bounded, escaped,
one line), so a message can neither flood the terminal nor carry control characters or markup.

The command line maps :class:`InputError`/:class:`ValidationError`/:class:`KnowledgeBaseError`/
:class:`StoreError` to exit code 1 and prints ``str(error)`` as one line.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AirrFormatError",
    "CaseFileError",
    "CohortDataError",
    "FastqFormatError",
    "FcsFormatError",
    "FlowReferenceError",
    "GatingMLError",
    "IncompleteAnalysisError",
    "InputError",
    "KnowledgeBaseError",
    "LowSensitivityWarning",
    "ObservationFormatError",
    "QpcrFormatError",
    "RemissionError",
    "RemissionWarning",
    "SpikeInFormatError",
    "StoreError",
    "UnconfirmedRuleWarning",
    "UnsafePathError",
    "ValidationError",
    "VariantFormatError",
    "excerpt",
]

#: the most characters of input text a message quotes (see :func:`excerpt`)
EXCERPT_LIMIT = 80


def excerpt(text: str | bytes | object, limit: int = EXCERPT_LIMIT) -> str:
    r"""A bounded, escaped, one-line quotation of input text for error messages and warnings.

    Bytes are decoded leniently (undecodable bytes become U+FFFD); control and formatting
    characters (newlines, NUL, terminal escape sequences, bidirectional overrides) are shown as
    Python escapes (``repr``), and the result is cut to ``limit`` characters with ``…`` and the
    full length appended, so a 2 GB line costs 80 characters::

        >>> excerpt("a\tb")
        "'a\\tb'"
        >>> excerpt("x" * 200, limit=10)
        "'xxxxxxxxxx'… (200 characters)"
    """
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text[: limit * 4 + 4])
        full = len(text)
        s = raw.decode("utf-8", errors="replace")
    else:
        s = str(text)
        full = len(s)
        s = s[: limit * 4 + 4]
    shown = repr(s[:limit])
    if full > limit:
        unit = "bytes" if isinstance(text, (bytes, bytearray, memoryview)) else "characters"
        return f"{shown}… ({full} {unit})"
    return shown


def _plain(name: str) -> str:
    """A field/record name as given when it is short printable text, else its :func:`excerpt`."""
    if len(name) <= 64 and name.isprintable():
        return name
    return excerpt(name, 40)


class RemissionError(Exception):
    """Root of every error ``remission`` raises on purpose."""


class InputError(RemissionError, ValueError):
    """An input file or record is malformed.

    The message always names where (file, and line/record and field when known) and what was
    expected: ``AIRR file 'dx.tsv', line 12, field duplicate_count: expected an integer, got 'n/a'``.
    """

    #: Kind of input, used as the message prefix ("AIRR file", "FCS file", ...).
    kind = "file"

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        record: str | int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.record = _plain(record) if isinstance(record, str) else record
        self.field = _plain(field) if field is not None else None
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            parts.append(f"{self.kind} {Path(self.path).name!r}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record is not None:
            parts.append(f"record {self.record}")
        if self.field is not None:
            parts.append(f"field {self.field}")
        where = ", ".join(parts)
        return f"{where}: {self.reason}" if where else self.reason


class CaseFileError(InputError):
    """A case file is malformed YAML/JSON or fails the case schema.

    Its message has the short form the CLI prints: ``case.yaml: relapses[0].site: expected ...``.
    """

    kind = "case file"

    def _format(self) -> str:
        where = Path(self.path).name if self.path else "case"
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.reason}"
        return f"{where}: {self.reason}"


class AirrFormatError(InputError):
    kind = "AIRR file"


class FastqFormatError(InputError):
    kind = "FASTQ file"


class FcsFormatError(InputError):
    kind = "FCS file"


class GatingMLError(InputError):
    kind = "Gating-ML file"


class FlowReferenceError(InputError):
    kind = "flow reference file"


class QpcrFormatError(InputError):
    kind = "qPCR plate file"


class VariantFormatError(InputError):
    kind = "variant file"


class ObservationFormatError(InputError):
    kind = "observation file"


class CohortDataError(InputError):
    """A cohort (survival) table has an impossible row: a negative or missing time, stop <= start,
    overlapping (start, stop] intervals of one patient, or an event after the patient's censoring.

    ``record`` is the 1-based data row and ``field`` the column, so the message reads
    ``cohort table 'c.csv', record 12, field stop: stop must be > start (30), but was 30``.
    """

    kind = "cohort table"


class SpikeInFormatError(InputError):
    kind = "spike-in file"


class UnsafePathError(CaseFileError):
    """A case names a file outside its folder (``..``, an absolute path or a symlink leaving it)
    and no configured data root allows it."""


class ValidationError(RemissionError, ValueError):
    """Parameters or data that are well-formed but inconsistent or out of range.

    Parameter checks use the uniform message ``"<name> must be <constraint>, but was <value!r>"``
    (see :func:`remission.domain.checks.check_positive` and friends).
    """


class IncompleteAnalysisError(RemissionError):
    """An analysis in which at least one engine failed on its data, refused unless the caller
    allows a partial analysis. Nothing was saved and no report was written."""

    def __init__(self, message: str, failed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.failed = failed


class StoreError(RemissionError):
    """The store could not complete an operation; the transaction was rolled back."""


class KnowledgeBaseError(RemissionError, ValueError):
    """A knowledge-base file failed to load (schema, unknown evidence level, missing citation)."""


class RemissionWarning(UserWarning):
    """Base of the statistical and clinical caveats ``remission`` emits as warnings."""


class LowSensitivityWarning(RemissionWarning):
    """Too few cells/events/reads were analysed for the sensitivity asked for."""


class UnconfirmedRuleWarning(RemissionWarning):
    """A result rests on a rule or number tagged [R]ecalled or [U]ncertain in the specs."""
