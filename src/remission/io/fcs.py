"""FCS 2.0/3.0/3.1 reading and writing (events, channel names, keywords, spillover matrix).

``read_fcs(path)`` parses the file with :mod:`flowio` (TEXT and DATA segments) and turns the
DATA segment into a ``(events, channels)`` NumPy array without per-event Python
(``np.frombuffer`` on flowio's buffer, then ``reshape``). "Channel to scale" preprocessing
(``$PnG`` gain, ``$PnE`` log amplification, ``$TIMESTEP``) follows the FCS 3.1 standard and
Gating-ML 2.0 §3.1 (the same as flowio's ``as_array(preprocess=True)``), but only touches the
channels that need it.

Strict by default. The two documented tolerances of real instruments are named flags and every
error that one of them would cure says so:

- ``ignore_offset_error=True``: DATA segment end offset off by one byte (Miltenyi MACSQuant,
  some Beckman files);
- ``dataset=<index>``: files holding several data sets (Guava Muse, Beckman FC500) are refused
  unless one is chosen.

A corrupt or truncated file raises :class:`~remission.errors.FcsFormatError` naming the file
and the problem.

Compensation and the scale transforms are cytometry maths, not format knowledge: they live in
:mod:`remission.mrd.cytometry`.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remission.errors import FcsFormatError, ValidationError

__all__ = [
    "FcsData",
    "Spillover",
    "parse_spillover",
    "read_fcs",
    "write_fcs",
]

_SPILL_KEYS = ("spill", "spillover", "comp")  # flowio lower-cases and strips '$'


@dataclass(frozen=True)
class Spillover:
    """A spillover matrix: ``observed = true @ matrix`` over ``channels`` (PnN names)."""

    channels: tuple[str, ...]
    matrix: np.ndarray
    source: str = "$SPILL"

    def __post_init__(self) -> None:
        n = len(self.channels)
        if self.matrix.shape != (n, n):
            raise ValidationError(
                f"spillover matrix must be {n}x{n} for {n} channels, but was {self.matrix.shape!r}")


@dataclass(frozen=True)
class FcsData:
    """Events of one FCS data set with its channel names and keywords.

    ``events`` has one row per event and one column per channel (``channels`` are the $PnN
    names, ``markers`` the $PnS labels, ``''`` where absent). ``compensated`` and
    ``transformed`` record what was applied (provenance for reports).
    """

    path: str | None
    version: str
    events: np.ndarray
    channels: tuple[str, ...]
    markers: tuple[str, ...]
    metadata: dict[str, str] = field(repr=False)
    spill: Spillover | None = None
    compensated: str | None = None
    transformed: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def n_events(self) -> int:
        return int(self.events.shape[0])

    @property
    def labels(self) -> tuple[str, ...]:
        """``PnN (PnS)`` per channel, for people."""
        return tuple(f"{c} ({m})" if m and m != c else c for c, m in zip(self.channels, self.markers, strict=True))

    def find(self, name: str) -> int | None:
        """Column index of a channel by $PnN, else by $PnS (marker), case-insensitive; or None.

        A marker label matches also when it starts with the name followed by a space or dash
        (``'CD19'`` matches ``'CD19 APC'``).
        """
        low = name.strip().lower()
        for i, c in enumerate(self.channels):
            if c.lower() == low:
                return i
        for i, m in enumerate(self.markers):
            if m.lower() == low:
                return i
        for i, m in enumerate(self.markers):
            ml = m.lower()
            if ml.startswith(low) and len(ml) > len(low) and ml[len(low)] in " -_/":
                return i
        return None

    def index(self, name: str) -> int:
        """Like :meth:`find` but raises :class:`FcsFormatError` naming the channels present."""
        i = self.find(name)
        if i is None:
            raise FcsFormatError(
                f"channel {name!r} is not in the file; channels: {', '.join(self.labels)}",
                path=self.path, field=name)
        return i

    def column(self, name: str) -> np.ndarray:
        return self.events[:, self.index(name)]


# --------------------------------------------------------------------------------- reading


def _header(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            head = fh.read(58)
    except OSError as exc:
        raise FcsFormatError(f"cannot be read: {exc.strerror or exc}", path=path) from exc
    if len(head) < 58 or not head.startswith(b"FCS"):
        raise FcsFormatError("is not an FCS file (no 'FCS<version>' header in the first 58 bytes)"
                             if head[:3] != b"FCS" else "is truncated inside the 58-byte HEADER",
                             path=path)
    version = head[:6].decode("ascii", "replace")
    if version not in ("FCS2.0", "FCS3.0", "FCS3.1"):
        raise FcsFormatError(f"has unsupported version {version!r} (FCS2.0, FCS3.0 and FCS3.1 are read)",
                             path=path, field="HEADER")
    try:
        offsets = [int(head[10 + 8 * k: 18 + 8 * k].strip() or 0) for k in range(6)]
    except ValueError as exc:
        raise FcsFormatError(f"has a corrupt HEADER (segment offsets are not integers: {exc})",
                             path=path, field="HEADER") from exc
    size = os.path.getsize(path)
    text_end = offsets[1]
    if text_end >= size:
        raise FcsFormatError(f"is truncated: the TEXT segment ends at byte {text_end} but the file has "
                             f"{size} bytes", path=path, field="HEADER")
    return version


def _parse_spill(text: dict[str, str], path: str | None) -> Spillover | None:
    for key in _SPILL_KEYS:
        if key in text and text[key].strip():
            try:
                return parse_spillover(text[key], source="$" + key.upper())
            except (ValueError, IndexError) as exc:
                raise FcsFormatError(f"keyword ${key.upper()} is not a valid spillover matrix: {exc}",
                                     path=path, field="$" + key.upper()) from exc
    return None


def parse_spillover(value: str, *, source: str = "$SPILL") -> Spillover:
    """Parse ``"n,ch1,...,chn,v11,v12,...,vnn"`` (FCS 3.1 $SPILLOVER)."""
    parts = [p.strip() for p in value.strip().split(",")]
    n = int(parts[0])
    if n < 1:
        raise ValueError(f"matrix size must be >= 1, but was {n}")
    if len(parts) != 1 + n + n * n:
        raise ValueError(f"expected {1 + n + n * n} comma-separated items for n={n}, found {len(parts)}")
    names = tuple(parts[1:1 + n])
    mat = np.array([float(v) for v in parts[1 + n:]], dtype=np.float64).reshape(n, n)
    return Spillover(names, mat, source)


def _check_keywords(text: dict[str, str], path: Path) -> None:
    """Refuse layouts this reader does not decode, each with its own message (before DATA)."""
    dt_ = str(text.get("datatype", "")).strip().upper()
    if dt_ not in ("I", "F", "D"):
        raise FcsFormatError(f"has unsupported $DATATYPE {dt_!r} (I, F and D are read; ASCII 'A' is not)",
                             path=path, field="$DATATYPE")
    bo = str(text.get("byteord", "")).strip()
    try:
        order = [int(x) for x in bo.split(",")]
    except ValueError:
        order = []
    asc = list(range(1, len(order) + 1))
    if not order or (order != asc and order != asc[::-1]):
        raise FcsFormatError(f"has unsupported $BYTEORD {bo[:40]!r} (little-endian 1,2,...,n or big-endian "
                             "n,...,2,1 are read)", path=path, field="$BYTEORD")


def _check_finite(ev: np.ndarray, channels: Sequence[str], path: Path) -> None:
    """NaN or infinite event values are corrupt data, never events to count."""
    if ev.dtype.kind != "f" or np.isfinite(ev).all():
        return
    row, col = (int(v[0]) for v in np.nonzero(~np.isfinite(ev)))
    raise FcsFormatError(f"value {float(ev[row, col])!r} is not a finite number (FCS event values must be "
                         "finite)", path=path, record=f"event {row + 1}", field=channels[col])


def _events_array(fd: Any, path: Path, dtype: Any) -> np.ndarray:
    n_ch = int(fd.channel_count)
    raw = fd.events
    buf = np.frombuffer(raw, dtype=np.dtype(raw.typecode)) if hasattr(raw, "typecode") else np.asarray(raw)
    if n_ch == 0 or buf.size % n_ch:
        raise FcsFormatError(f"has {buf.size} data values, not a multiple of {n_ch} channels ($PAR)",
                             path=path, field="DATA")
    n_ev = buf.size // n_ch
    tot = fd.text.get("tot")
    if tot is not None and tot.strip().isdigit() and int(tot) != n_ev:
        raise FcsFormatError(f"is truncated or corrupt: $TOT says {int(tot)} events but the DATA segment "
                             f"holds {n_ev}", path=path, field="$TOT")
    # no copy when the file already holds this dtype: the array keeps flowio's buffer alive
    return buf.reshape(n_ev, n_ch).astype(dtype, copy=False)


def _preprocess(ev: np.ndarray, fd: Any) -> None:
    """Channel-to-scale in place: $PnE log amplification, $PnG gain, $TIMESTEP (only where needed)."""
    ts = fd.text.get("timestep")
    if ts is not None and fd.time_index is not None and ts.strip():
        ev[:, fd.time_index] *= float(ts)
    for num, ch in fd.channels.items():
        i = num - 1
        decades, log0 = ch["pne"]
        if decades > 0:
            ev[:, i] = (10 ** (decades * ev[:, i] / ch["pnr"])) * log0
        gain = ch["png"]
        if gain not in (0, 1.0):
            ev[:, i] /= gain


class _Handle(io.BufferedReader):
    """A read handle whose ``close()`` is left to its ``with`` block (flowio closes what it is
    given on some paths and not on others)."""

    def __init__(self, path: Path) -> None:
        try:
            super().__init__(io.FileIO(path, "rb"))
        except OSError as exc:
            raise FcsFormatError(f"cannot be read: {exc.strerror or exc}", path=path) from exc

    def close(self) -> None:  # flowio's close: ignored
        pass

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def read_fcs(
    path: str | Path,
    *,
    ignore_offset_error: bool = False,
    ignore_offset_discrepancy: bool = False,
    use_header_offsets: bool = False,
    dataset: int | None = None,
    preprocess: bool = True,
    dtype: Any = np.float64,
) -> FcsData:
    """Read one data set of an FCS 2.0/3.0/3.1 file.

    Parameters
    ----------
    ignore_offset_error, ignore_offset_discrepancy, use_header_offsets
        flowio's tolerances for DATA offsets that are off by one byte or disagree between
        HEADER and TEXT (named in the error when they would help).
    dataset
        Which data set of a multi-data-set file to read; a file with several data sets is an
        error unless this is given.
    preprocess
        Apply $PnG/$PnE/$TIMESTEP scaling (Gating-ML "channel to scale"); default True.
    dtype
        Floating dtype of the returned events (float64 default; float32 halves memory).
    """
    import flowio
    from flowio.exceptions import DataOffsetDiscrepancyError, FCSParsingError, MultipleDataSetsError

    p = Path(path)
    version = _header(p)
    kw = dict(ignore_offset_error=ignore_offset_error, ignore_offset_discrepancy=ignore_offset_discrepancy,
              use_header_offsets=use_header_offsets)
    # flowio gets a handle we own (it closes handles only on some paths), so a refused file is
    # closed all the same
    with warnings.catch_warnings(record=True) as caught, _Handle(p) as fh:
        warnings.simplefilter("always")
        try:
            if dataset is None:
                _check_keywords(flowio.FlowData(fh, only_text=True, **kw).text, p)
                fh.seek(0)
                fd = flowio.FlowData(fh, **kw)
            else:
                sets = flowio.read_multiple_data_sets(fh, **kw)
                if not 0 <= dataset < len(sets):
                    raise FcsFormatError(f"has {len(sets)} data set(s); dataset must be in "
                                         f"0..{len(sets) - 1}, but was {dataset!r}", path=p)
                fd = sets[dataset]
                _check_keywords(fd.text, p)
        except MultipleDataSetsError as exc:
            raise FcsFormatError("holds more than one data set; choose one with dataset=<index> "
                                 "(CLI: --dataset N)", path=p, field="$NEXTDATA") from exc
        except DataOffsetDiscrepancyError as exc:
            raise FcsFormatError(f"{_clean(exc)} (set ignore_offset_discrepancy=True or "
                                 "use_header_offsets=True to read it anyway)", path=p, field="HEADER") from exc
        except FCSParsingError as exc:
            msg = _clean(exc)
            if "greater than file size" in msg:
                msg = f"is truncated: the DATA segment extends beyond the end of the file ({msg})"
            raise FcsFormatError(msg, path=p, field="DATA") from exc
        except FcsFormatError:
            raise
        except (EOFError, OSError) as exc:
            raise FcsFormatError(f"is truncated: the DATA segment ends beyond the end of the file ({exc})",
                                 path=p, field="DATA") from exc
        except (ValueError, KeyError, IndexError, TypeError, UnicodeDecodeError, NotImplementedError,
                struct.error, OverflowError, MemoryError) as exc:
            raise FcsFormatError(f"is corrupt: {type(exc).__name__}: {str(exc)[:200]}", path=p) from exc
        try:
            n = int(fd.channel_count)
            chans = tuple(str(fd.channels[i + 1]["pnn"]) for i in range(n))
            marks = tuple(str(fd.channels[i + 1].get("pns", "") or "") for i in range(n))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FcsFormatError(f"has inconsistent parameter keywords ($PAR/$PnN): {type(exc).__name__}: "
                                 f"{str(exc)[:100]}", path=p, field="$PAR") from exc
        ev = _events_array(fd, p, dtype)
        if preprocess:
            try:
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    _preprocess(ev, fd)
            except (ValueError, KeyError, ZeroDivisionError, TypeError, OverflowError) as exc:
                raise FcsFormatError(f"has invalid scaling keywords ($PnE/$PnG/$TIMESTEP): {str(exc)[:100]}",
                                     path=p) from exc
    _check_finite(ev, chans, p)
    text = {str(k): str(v) for k, v in fd.text.items()}
    data = FcsData(path=str(p), version=version, events=ev, channels=chans, markers=marks, metadata=text,
                   spill=_parse_spill(text, str(p)), warnings=tuple(str(w.message) for w in caught))
    del fd
    return data


def _clean(exc: BaseException) -> str:
    msg = str(exc)
    return msg.replace("`", "")


def write_fcs(path: str | Path, events: np.ndarray, channels: Sequence[str],
              markers: Sequence[str] | None = None, metadata: dict[str, str] | None = None,
              spill: Spillover | None = None) -> Path:
    """Write events as FCS 3.1 float32 with flowio (``$SPILLOVER`` written when ``spill`` given)."""
    import flowio

    p = Path(path)
    meta = dict(metadata or {})
    if spill is not None:
        vals = ",".join(f"{v:.6g}" for v in spill.matrix.ravel())
        meta["SPILLOVER"] = f"{len(spill.channels)},{','.join(spill.channels)},{vals}"
    ev = np.ascontiguousarray(events, dtype=np.float32)
    with open(p, "wb") as fh:
        flowio.create_fcs(fh, ev.ravel(), list(channels),
                          opt_channel_names=list(markers) if markers is not None else None,
                          metadata_dict=meta)
    return p
