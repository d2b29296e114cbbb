"""Laboratory results: upload (an assay file or a reported MRD value) → draft → four-eyes
sign-off by a second laboratory user → re-analysis of the patient.

- An upload is validated with the project's own readers (``remission.io``) before anything is
  stored; a file the reader rejects raises :class:`~remission.errors.ValidationError` whose
  message names the file, the record and the field, and nothing is written but the audit row.
- The draft row, its file bytes and its audit row are written in one transaction, so a server
  that dies during an upload leaves either the whole draft or nothing.
- Sign-off is a conditional update (``status = 'draft'`` → ``'signed'``): of two people signing
  the same draft at once exactly one succeeds; the uploader cannot sign their own result.
- After sign-off the patient is re-analysed with every signed result merged into the stored case
  (idempotent: a result already in the case is not added twice).
- FASTQ files (always) and FCS files larger than the server's ``large_fcs_bytes`` are checked in
  the background (:mod:`remission.app.jobs`, work function :func:`file_job`): the FASTQ is
  streamed block by block through the strict reader and, when the patient has a diagnostic NGS
  sample with index clonotypes, tracked against those markers (a preview of the read counts; the
  MRD value comes from the re-analysis after sign-off). Such a result keeps its file in
  ``files_dir/<patient>/<result id>-<name>`` (``content`` is empty) and is stored as a draft in
  one transaction with its job's ``done`` mark.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import Connection

from remission.app import audit
from remission.app.patients import NotFound, case_lock, latest_analysis, locate_case_dir, reanalyze
from remission.domain import Case, MrdReport, Sample
from remission.errors import RemissionError, ValidationError
from remission.store import Store
from remission.store import tables as T

__all__ = [
    "BACKGROUND_KINDS",
    "FILE_KINDS",
    "AssayResult",
    "SignOffError",
    "check_upload_fields",
    "file_job",
    "get_result",
    "list_results",
    "pending_reanalyses",
    "reanalyse_after_sign_off",
    "reanalysis_job",
    "reject",
    "runs_in_background",
    "sign",
    "sign_off",
    "upload_file",
    "upload_reported_mrd",
]

#: file kinds the laboratory can upload: kind -> (label, sample assay, reader)
FILE_KINDS: dict[str, tuple[str, str]] = {
    "airr": ("NGS-MRD clonotypes (AIRR TSV)", "ngs_mrd"),
    "fcs": ("Flow cytometry (FCS)", "flow_mrd"),
    "qpcr": ("RQ-PCR plate (CSV)", "pcr_mrd"),
    "vcf": ("Variants (VCF)", "variants"),
    "cart_observations": ("CAR-T toxicity observations (CSV)", "observations"),
    "cart_kinetics": ("CAR-T kinetics (CSV)", "cart_kinetics"),
    "b_cells": ("B-cell counts (CSV)", "b_cells"),
    "fastq": ("NGS follow-up reads (FASTQ, plain or .gz; checked in the background)", "ngs_mrd"),
}
#: kinds always checked in the background (``fcs`` too when larger than ``large_fcs_bytes``)
BACKGROUND_KINDS = frozenset({"fastq"})
#: FCS files larger than this (bytes) are checked in the background (``WebSettings.large_fcs_bytes``)
LARGE_FCS_BYTES = 8 * 1024 * 1024
_FASTQ_SUFFIXES = (".fastq", ".fq", ".fastq.gz", ".fq.gz")
#: block size of the background FASTQ check (bytes; one progress report a block)
FASTQ_BLOCK_BYTES = 1 << 20
#: the largest file accepted (bytes); larger assay files go through the command line
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

Status = Literal["draft", "signed"]


class SignOffError(RemissionError):
    """A sign-off that the four-eyes rule or the result's state does not allow."""


class AssayResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    result_id: str
    case_id: str
    kind: str
    filename: str | None
    sha256: str
    payload: dict[str, Any]
    status: Status
    uploaded_by: str
    uploaded_at: dt.datetime
    signed_by: str | None
    signed_at: dt.datetime | None
    analysis_id: str | None


def _utc(v: dt.datetime | None) -> dt.datetime | None:
    if v is None:
        return None
    return v.astimezone(dt.UTC) if v.tzinfo is not None else v.replace(tzinfo=dt.UTC)


def _row(r: Any) -> AssayResult:
    return AssayResult(result_id=r.result_id, case_id=r.case_id, kind=r.kind, filename=r.filename,
                       sha256=r.sha256, payload=json.loads(r.payload_json), status=r.status,
                       uploaded_by=r.uploaded_by, uploaded_at=_utc(r.uploaded_at),
                       signed_by=r.signed_by, signed_at=_utc(r.signed_at), analysis_id=r.analysis_id)


def _reader(kind: str) -> Callable[[Path], Any]:
    if kind == "airr":
        from remission.io.airr import read_airr
        return read_airr
    if kind == "fcs":
        from remission.io.fcs import read_fcs
        return read_fcs
    if kind == "qpcr":
        from remission.io.qpcr import read_plate
        return read_plate
    if kind == "vcf":
        from remission.io.variants import read_vcf
        return read_vcf
    if kind == "cart_observations":
        from remission.io.cart import read_observations
        return read_observations
    if kind == "cart_kinetics":
        from remission.io.cart import read_kinetics
        return read_kinetics
    if kind == "b_cells":
        from remission.io.cart import read_b_cells
        return read_b_cells
    if kind == "fastq":
        return _read_fastq
    raise ValidationError(f"result kind must be one of {', '.join(FILE_KINDS)}, but was {kind!r}")


def _read_fastq(path: Path) -> int:
    from remission.io.fastq import iter_fastq_chunks

    return sum(ch.n_reads for ch in iter_fastq_chunks(path))


def runs_in_background(kind: str, size: int, *, large_fcs_bytes: int = LARGE_FCS_BYTES) -> bool:
    """Whether an upload of ``kind`` and ``size`` bytes is checked by a background job."""
    return kind in BACKGROUND_KINDS or (kind == "fcs" and size > large_fcs_bytes)


def check_upload_fields(store: Store, case_id: str, kind: str, filename: str, material: str) -> str:
    """The checks of an upload that need no file (patient, kind, material, FASTQ file name);
    returns the safe file name. Raises :class:`NotFound` or :class:`ValidationError`."""
    _require_case(store, case_id)
    _reader(kind)
    name = _safe_name(filename)
    if material not in ("bone_marrow", "peripheral_blood"):
        raise ValidationError(f"material must be bone_marrow or peripheral_blood, but was {material!r}")
    if kind == "fastq" and not name.lower().endswith(_FASTQ_SUFFIXES):
        raise ValidationError(f"file {name!r}: a FASTQ file name ends in {', '.join(_FASTQ_SUFFIXES)}")
    return name


def _safe_name(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name.strip() or "upload"
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:200]


def _require_case(store: Store, case_id: str) -> None:
    found = store.read(lambda conn: conn.execute(
        sa.select(T.cases.c.case_id).where(T.cases.c.case_id == case_id)).first())
    if found is None:
        raise NotFound(f"no patient {case_id!r}")


def _insert(store: Store, *, case_id: str, kind: str, filename: str | None, content: bytes | None,
            payload: dict[str, Any], actor: str, address: str) -> AssayResult:
    rid = secrets.token_hex(8)
    now = dt.datetime.now(dt.UTC)
    digest = hashlib.sha256(content if content is not None else json.dumps(payload, sort_keys=True).encode()).hexdigest()
    row = {"result_id": rid, "case_id": case_id, "kind": kind, "filename": filename, "content": content,
           "sha256": digest, "payload_json": json.dumps(payload, sort_keys=True, default=str),
           "status": "draft", "uploaded_by": actor, "uploaded_at": now, "signed_by": None,
           "signed_at": None, "analysis_id": None}

    def tx(conn: Connection) -> None:
        conn.execute(T.assay_results.insert().values(**row))
        audit.append(conn, actor=actor, action="result.upload", target=f"patient:{case_id}",
                     address=address, detail={"result": rid, "kind": kind, "sha256": digest})

    store.write(tx)
    return _row(_Obj(row))


class _Obj:
    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)


def reject(store: Store, case_id: str, kind: str, exc: RemissionError, actor: str, address: str) -> None:
    """Audit a rejected upload (nothing else is stored)."""
    audit.record(store, actor=actor, action="result.upload", target=f"patient:{case_id}",
                 outcome="invalid", address=address, detail={"kind": kind, "error": str(exc)[:300]})


def upload_file(store: Store, case_id: str, kind: str, filename: str, content: bytes, *,
                actor: str, address: str, sample_date: dt.date, material: str = "bone_marrow") -> AssayResult:
    """Validate an assay file with its reader and store it as a draft."""
    _require_case(store, case_id)
    reader = _reader(kind)
    name = _safe_name(filename)
    try:
        if len(content) > MAX_UPLOAD_BYTES:
            raise ValidationError(f"file {name!r}: larger than {MAX_UPLOAD_BYTES} bytes")
        if not content:
            raise ValidationError(f"file {name!r}: empty")
        if material not in ("bone_marrow", "peripheral_blood"):
            raise ValidationError(f"material must be bone_marrow or peripheral_blood, but was {material!r}")
        with tempfile.TemporaryDirectory(prefix="remission-upload-") as tmp:
            path = Path(tmp) / name
            path.write_bytes(content)
            try:
                reader(path)
            except RemissionError as exc:
                # the reader names the temporary path; show the uploaded name instead
                raise ValidationError(str(exc).replace(str(path), name).replace(tmp + "/", "")) from None
            except Exception as exc:  # a reader bug must still read as a rejected file
                raise ValidationError(f"file {name!r}: not a readable {FILE_KINDS[kind][0]} ({type(exc).__name__})") from None
    except ValidationError as exc:
        reject(store, case_id, kind, exc, actor, address)
        raise
    return _insert(store, case_id=case_id, kind=kind, filename=name, content=content,
                   payload={"date": sample_date.isoformat(), "material": material}, actor=actor, address=address)


def upload_reported_mrd(store: Store, case_id: str, fields: dict[str, Any], *, actor: str,
                        address: str) -> AssayResult:
    """Validate a reported MRD value (the case file's ``mrd_reports`` record) and store it as a draft."""
    _require_case(store, case_id)
    clean = {k: v for k, v in fields.items() if v not in (None, "")}
    try:
        try:
            report = MrdReport.model_validate(clean)
        except Exception as exc:
            errs: list[Any] = getattr(exc, "errors", lambda: [])()
            if errs:
                e = errs[0]
                where = ".".join(str(x) for x in e.get("loc", ())) or "value"
                raise ValidationError(f"reported MRD, field {where}: {e.get('msg')}") from None
            raise ValidationError(f"reported MRD: {exc}") from None
    except ValidationError as exc:
        reject(store, case_id, "reported_mrd", exc, actor, address)
        raise
    return _insert(store, case_id=case_id, kind="reported_mrd", filename=None, content=None,
                   payload=report.model_dump(mode="json", exclude_none=True), actor=actor, address=address)


def list_results(store: Store, case_id: str | None = None, *, status: str | None = None) -> list[AssayResult]:
    c = T.assay_results.c
    cols = [col for col in T.assay_results.c if col.name != "content"]
    q = sa.select(*cols).order_by(c.uploaded_at.desc(), c.result_id)
    if case_id is not None:
        q = q.where(c.case_id == case_id)
    if status is not None:
        q = q.where(c.status == status)
    return [_row(r) for r in store.read(lambda conn: conn.execute(q).all())]


def get_result(store: Store, result_id: str) -> AssayResult:
    cols = [col for col in T.assay_results.c if col.name != "content"]
    r = store.read(lambda conn: conn.execute(sa.select(*cols).where(
        T.assay_results.c.result_id == result_id)).first())
    if r is None:
        raise NotFound(f"no result {result_id!r}")
    return _row(r)


def _signed_ids(conn: Connection, case_id: str) -> frozenset[str]:
    c = T.assay_results.c
    return frozenset(conn.execute(sa.select(c.result_id).where(c.case_id == case_id, c.status == "signed"))
                     .scalars().all())


class SignedResultsChanged(RemissionError):
    """A result of the patient was signed while a re-analysis ran: its analysis is not saved."""


def _unchanged(case_id: str, merged: frozenset[str]) -> Callable[[Connection], None]:
    """The save check of a re-analysis: the patient's signed results are still those merged."""

    def check(conn: Connection) -> None:
        if _signed_ids(conn, case_id) != merged:
            raise SignedResultsChanged(f"patient {case_id}: a result was signed during the re-analysis")

    return check


def _merge(store: Store, case: Case, files_dir: Path) -> tuple[Case, frozenset[str]]:
    """``case`` plus every signed result of its patient not yet in it, and the ids of the
    signed results merged."""
    c = T.assay_results.c
    rows = store.read(lambda conn: conn.execute(
        sa.select(T.assay_results).where(c.case_id == case.id, c.status == "signed")
        .order_by(c.signed_at, c.result_id)).all())
    reports, samples = list(case.mrd_reports), list(case.samples)
    have_samples = {s.id for s in samples}
    for r in rows:
        payload = json.loads(r.payload_json)
        if r.kind == "reported_mrd":
            rep = MrdReport.model_validate(payload)
            if rep not in reports:
                reports.append(rep)
        elif f"lab-{r.result_id}" not in have_samples:
            folder = files_dir / case.id
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{r.result_id}-{r.filename}"
            if not path.exists():
                if r.content is None:  # a background upload keeps its file here, not in the row
                    raise ValidationError(f"result {r.result_id}: its file {path} is missing")
                path.write_bytes(r.content)
            params = {k: payload[k] for k in ("dna_ng",) if payload.get(k) is not None}
            samples.append(Sample(id=f"lab-{r.result_id}", date=payload["date"], material=payload["material"],
                                  assay=FILE_KINDS[r.kind][1], files=(str(path.resolve()),), parameters=params))
    merged = case.model_copy(update={"mrd_reports": tuple(reports), "samples": tuple(samples)})
    return merged, frozenset(str(r.result_id) for r in rows)


def sign_off(store: Store, result_id: str, *, actor: str, address: str, files_dir: Path,
             case_roots: tuple[Path, ...] = ()) -> AssayResult:
    """Sign a draft as a second laboratory user, then re-analyse the patient (both here).

    Raises :class:`SignOffError` when ``actor`` uploaded the result or it is not a draft.
    """
    case_id = sign(store, result_id, actor=actor, address=address)
    reanalyse_after_sign_off(store, result_id, case_id, files_dir=files_dir, case_roots=case_roots)
    return get_result(store, result_id)


def sign(store: Store, result_id: str, *, actor: str, address: str,
         then: Callable[[Connection, str], object] | None = None) -> str:
    """The four-eyes signature alone (one transaction); returns the patient's case id. The
    re-analysis follows with :func:`reanalyse_after_sign_off`, or — the web — as a ``reanalysis``
    job that ``then(conn, case_id)`` queues in the signature's transaction (signed and queued
    together, or neither)."""
    now = dt.datetime.now(dt.UTC)
    c = T.assay_results.c

    def tx(conn: Connection) -> str:
        r = conn.execute(sa.select(c.case_id, c.uploaded_by, c.status).where(c.result_id == result_id)).first()
        if r is None:
            raise NotFound(f"no result {result_id!r}")
        if r.uploaded_by == actor:
            raise SignOffError("four-eyes rule: a result is signed off by a second laboratory user, not by its uploader")
        n = conn.execute(T.assay_results.update().where(c.result_id == result_id, c.status == "draft")
                         .values(status="signed", signed_by=actor, signed_at=now)).rowcount
        if n != 1:
            raise SignOffError(f"result {result_id} is already signed")
        audit.append(conn, actor=actor, action="result.signoff", target=f"patient:{r.case_id}",
                     address=address, detail={"result": result_id}, now=now)
        if then is not None:
            then(conn, str(r.case_id))
        return str(r.case_id)

    try:
        case_id = store.write(tx)
    except SignOffError as exc:
        audit.record(store, actor=actor, action="result.signoff", target=f"result:{result_id}",
                     outcome="denied", address=address, detail={"reason": str(exc)})
        raise
    return str(case_id)


def reanalyse_after_sign_off(store: Store, result_id: str, case_id: str, *, files_dir: Path,
                             case_roots: tuple[Path, ...] = ()) -> None:
    """Re-analyse the patient with every signed result and link the result to the analysis."""
    c = T.assay_results.c
    analysis_id = _reanalyse(store, result_id, case_id, files_dir, case_roots, lambda step: None)
    store.write(lambda conn: conn.execute(T.assay_results.update().where(c.result_id == result_id)
                                          .values(analysis_id=analysis_id)))


#: how many times a re-analysis starts again when results of the patient are signed while it runs
REANALYSIS_ATTEMPTS = 5


def _reanalyse(store: Store, result_id: str, case_id: str, files_dir: Path, case_roots: tuple[Path, ...],
               progress: Callable[[str], None]) -> str:
    case_dir = locate_case_dir(case_id, case_roots) or (files_dir / case_id)
    case_dir.mkdir(parents=True, exist_ok=True)

    # read-merge-analyse under the case's lock (one process); across processes (serve --workers)
    # the save checks, under the store's per-case write lock, that the signed results are still
    # those merged: a result signed meanwhile makes this re-analysis start again, so the newest
    # analysis never leaves out a signed result
    with case_lock(case_id):
        for attempt in range(1, REANALYSIS_ATTEMPTS + 1):
            case, merged = _merge(store, latest_analysis(store, case_id).case, files_dir)
            try:
                return reanalyze(store, case, case_dir, progress=progress, check=_unchanged(case_id, merged))
            except SignedResultsChanged:
                if attempt == REANALYSIS_ATTEMPTS:
                    raise
                progress("results signed meanwhile: starting again")
    raise AssertionError("unreachable")  # pragma: no cover


def pending_reanalyses(store: Store) -> list[tuple[str, str]]:
    """(result id, case id) of signed results without an analysis and without a ``reanalysis``
    job (signed before sign-offs queued one, or by a command-line sign-off cut short); a failed
    job is shown, not queued again at every start."""
    c, j = T.assay_results.c, T.jobs.c
    busy = sa.select(j.result_id).where(j.kind == "reanalysis", j.result_id.is_not(None))
    q = (sa.select(c.result_id, c.case_id).where(c.status == "signed", c.analysis_id.is_(None),
                                                  c.result_id.not_in(busy))
         .order_by(c.signed_at, c.result_id))
    return [(str(r.result_id), str(r.case_id)) for r in store.read(lambda conn: conn.execute(q).all())]


def reanalysis_job(*, files_dir: Path, case_roots: tuple[Path, ...] = ()) -> Callable[[Any], Callable[[Connection], str]]:
    """The work function of a ``reanalysis`` job: re-analyse the patient after a sign-off and
    link the result to the new analysis (in the job's last transaction). The progress message
    follows the engine steps."""

    def work(ctx: Any) -> Callable[[Connection], str]:
        rid = ctx.params["result_id"]
        ctx.done_message = "re-analysed"
        analysis_id = _reanalyse(ctx.store, rid, ctx.job.case_id, files_dir, case_roots,
                                 lambda step: ctx.progress(0.0, f"re-analysis: {step}"))

        def tx(conn: Connection) -> str:
            conn.execute(T.assay_results.update().where(T.assay_results.c.result_id == rid)
                         .values(analysis_id=analysis_id))
            return str(rid)

        return tx

    return work


# -- background uploads (remission.app.jobs) ------------------------------------------------------

def _expected_bytes(path: Path) -> int:
    """Uncompressed size of a FASTQ for the progress bar: the file size, or for gzip the size
    its trailer records (ISIZE, modulo 2**32; never less than the compressed size)."""
    size = path.stat().st_size
    if path.name.lower().endswith(".gz") and size >= 18:
        with open(path, "rb") as fh:
            fh.seek(-4, 2)
            isize = int.from_bytes(fh.read(4), "little")
        return max(size, isize)
    return max(size, 1)


def _diagnostic_index(store: Store, case_id: str, sample_date: dt.date, files_dir: Path,
                      case_roots: tuple[Path, ...]) -> tuple[Any, str]:
    """(index clonotypes of the patient's latest diagnosis/relapse NGS sample on or before
    ``sample_date``, or ``None``; a note saying which sample or why none)."""
    from remission.io.airr import AIRR_REQUIRED, iter_airr_chunks
    from remission.mrd.ngs import index_clonotypes

    case = latest_analysis(store, case_id).case
    base = sorted((s for s in case.samples_of("ngs_mrd") if s.role in ("diagnosis", "relapse")),
                  key=lambda s: (s.date, s.id))
    if not base:
        return None, "no diagnosis/relapse NGS sample: the reads were checked, not tracked"
    b = ([x for x in base if x.date <= sample_date] or base[:1])[-1]
    f = Path(b.files[0])
    case_dir = locate_case_dir(case_id, case_roots) or (files_dir / case_id)
    try:
        index = index_clonotypes(iter_airr_chunks(f if f.is_absolute() else case_dir / f, required=AIRR_REQUIRED))
    except RemissionError as exc:
        return None, f"diagnostic sample {b.id} could not be read ({type(exc).__name__}): the reads were checked, not tracked"
    if not index.clones:
        return None, f"diagnostic sample {b.id} has no index clonotype: the reads were checked, not tracked"
    return index, b.id


def _check_fastq(ctx: Any, path: Path, sample_date: dt.date, files_dir: Path,
                 case_roots: tuple[Path, ...]) -> dict[str, Any]:
    from remission.io.fastq import iter_fastq_chunks
    from remission.mrd.ngs import track_fastq

    index, note = _diagnostic_index(ctx.store, ctx.job.case_id, sample_date, files_dir, case_roots)
    total = _expected_bytes(path)
    state = {"bytes": 0, "reads": 0}

    def chunks() -> Any:
        for ch in iter_fastq_chunks(path, buffer_size=FASTQ_BLOCK_BYTES):
            yield ch
            # the consumer has finished this block when it asks for the next one
            state["bytes"] += len(ch.data)
            state["reads"] += ch.n_reads
            ctx.progress(state["bytes"] / total, f"{state['reads']} reads checked")

    ctx.progress(0.0, "checking reads" + (f" against the markers of {note}" if index is not None else ""))
    if index is None:
        for _ in chunks():
            pass
        return {"reads": state["reads"], "tracking": note}
    track = track_fastq(index, chunks())
    return {"reads": track.total_reads, "index_sample": note, "markers": len(index.clones),
            "marker_reads": sum(c.reads for c in track.counts)}


def file_job(*, files_dir: Path, case_roots: tuple[Path, ...] = ()) -> Callable[[Any], Callable[[Connection], str]]:
    """The work function of a background upload (``fastq``, large ``fcs``): check the spooled
    file, link it into ``files_dir``, and return the transaction that stores the draft."""

    def work(ctx: Any) -> Callable[[Connection], str]:
        p, job = ctx.params, ctx.job
        name, kind, case_id = p["filename"], job.kind, job.case_id
        sample_date = dt.date.fromisoformat(p["date"])
        path: Path = ctx.path
        try:
            if kind == "fastq":
                extra = _check_fastq(ctx, path, sample_date, files_dir, case_roots)
            else:
                ctx.progress(0.05, f"reading the {FILE_KINDS[kind][0]} file")
                _reader(kind)(path)
                extra = {}
        except RemissionError as exc:
            # a reader may name the spooled path; show the uploaded name instead
            raise ValidationError(str(exc).replace(str(path), name).replace(str(path.parent) + "/", "")) from None
        except Exception as exc:  # a reader bug must still read as a rejected file
            raise ValidationError(f"file {name!r}: not a readable {FILE_KINDS[kind][0]} ({type(exc).__name__})") from None
        payload = {"date": p["date"], "material": p["material"], **extra}
        if p.get("dna_ng") is not None:
            payload["dna_ng"] = p["dna_ng"]
        rid = secrets.token_hex(8)
        dest = files_dir / case_id / f"{rid}-{name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        # a hard link, not a move: the spooled file stays whole until the job's end is stored, so
        # a process that takes the job over (this one's heartbeat gone stale) can still run it;
        # the spool folder is removed when the job ends (a copy where the link cannot be made)
        try:
            os.link(path, dest)
        except OSError:
            shutil.copyfile(path, dest)
        ctx.on_failure.append(lambda: dest.unlink(missing_ok=True))
        now = dt.datetime.now(dt.UTC)
        row = {"result_id": rid, "case_id": case_id, "kind": kind, "filename": name, "content": None,
               "sha256": p["sha256"], "payload_json": json.dumps(payload, sort_keys=True, default=str),
               "status": "draft", "uploaded_by": job.created_by, "uploaded_at": now, "signed_by": None,
               "signed_at": None, "analysis_id": None}

        def tx(conn: Connection) -> str:
            conn.execute(T.assay_results.insert().values(**row))
            audit.append(conn, actor=job.created_by, action="result.upload", target=f"patient:{case_id}",
                         address=p.get("address", ""), detail={"result": rid, "kind": kind, "sha256": p["sha256"],
                                                             "job": job.job_id}, now=now)
            return rid

        return tx

    return work
