"""The curation steps' one view of an index: the only module that talks to ``Index``.

Everything in ``vidsearch.curation`` reads segments through :class:`IndexSource` (or any object
with the same methods, such as the benchmark's synthetic source), so when the index's storage
changes only this adapter follows. It exposes the segment contract of schema 2 (``iter_batches``,
``moments``, ``get``, ``poster``, ``len``) and normalised segment records::

    id, file_id, segment_index, path, start_s, end_s, fps, width, height, size, hash, duration,
    spf_curve, linearity_max, linearity_mean, segments

Today's index (schema 1) holds one segment per file: the adapter derives ``start_s = 0``,
``end_s = duration`` and ``file_id = id`` for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np
import pyarrow as pa

from vidsearch.indexers.activity import ACTIVITY

RECORD_COLUMNS = (
    "id", "file_id", "segment_index", "path", "start_s", "end_s", "fps", "width", "height", "size",
    "hash", "duration", "spf_curve", "linearity_max", "linearity_mean", "segments",
)  # fmt: skip
ActivityProgress = Callable[[int, int], None]


class SegmentSource(Protocol):
    """What the curation steps need from an index of segments."""

    directory: str
    fingerprint: str
    backbone: str
    moments_dim: int
    moment_block: int | None  # D of each moment block with concat aggregation, else None

    def __len__(self) -> int: ...
    def ids(self) -> np.ndarray: ...
    def iter_batches(self, columns: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]: ...
    def moments(self, ids: np.ndarray) -> np.ndarray: ...
    def table(self, ids: np.ndarray, columns: Sequence[str]) -> pa.Table: ...
    def get(self, segment_id: int) -> dict: ...
    def poster(self, segment_id: int) -> bytes | None: ...
    def where(self, sql: str) -> np.ndarray: ...
    def activity(self, ids: np.ndarray, progress: ActivityProgress | None = None) -> np.ndarray: ...


class IndexSource:
    """:class:`SegmentSource` over a vidsearch ``Index``."""

    def __init__(self, index):
        self.index = index
        self.directory = str(index.dir)
        self.fingerprint = index.config.fingerprint()
        self.backbone = index.config.backbone
        self.moments_dim = int(index.manifest.moments_dim)
        self.moment_block = self.moments_dim // 3 if index.config.aggregation == "concat" else None
        self._records: pa.Table | None = None
        self._measured: dict[int, np.ndarray] = {}

    @classmethod
    def open(cls, directory: str | os.PathLike) -> "IndexSource":
        from vidsearch.retrieval.index import Index

        return cls(Index.open(Path(directory)))

    def __len__(self) -> int:
        return len(self.index)

    # -- records ---------------------------------------------------------------------------
    def _all_records(self) -> pa.Table:
        """All segment records (no vectors), sorted by id, with the segment columns filled in."""
        if self._records is None:
            self.index._array_view()  # schema 1: builds the vector-free table ``_meta``
            t = self.index._meta
            names = t.column_names
            if "start_s" not in names:  # schema 1: each file is one whole-file segment
                t = t.append_column("start_s", pa.array(np.zeros(t.num_rows)))
                t = t.append_column("end_s", t.column("duration"))
                t = t.append_column("file_id", t.column("id"))
                t = t.append_column("segment_index", pa.array(np.zeros(t.num_rows, np.int32)))
            self._records = t.sort_by("id")
        return self._records

    def ids(self) -> np.ndarray:
        return self._all_records().column("id").to_numpy().astype(np.int64)

    def table(self, ids: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """Columns of the given segments, in the order of ``ids`` (unknown ids raise KeyError)."""
        t = self._all_records()
        rows = self._rows(ids)
        return t.select(["id", *[c for c in columns if c != "id"]]).take(pa.array(rows))

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        all_ids = self._all_records().column("id").to_numpy()
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(all_ids, ids)
        bad = (pos >= len(all_ids)) | (all_ids[np.minimum(pos, len(all_ids) - 1)] != ids) if len(all_ids) else np.ones(len(ids), bool)
        if bad.any():
            raise KeyError(f"segment id {int(ids[bad][0])} is not in the index {self.directory}")
        return pos

    def get(self, segment_id: int) -> dict:
        return self.table(np.array([segment_id]), RECORD_COLUMNS[1:]).to_pylist()[0]

    def iter_batches(self, columns: Sequence[str], batch_size: int = 65536) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """``(ids, {column: array})`` over all segments, ``batch_size`` at a time."""
        all_ids = self.ids()
        for start in range(0, len(all_ids), batch_size):
            ids = all_ids[start : start + batch_size]
            out = {}
            meta = [c for c in columns if c != "moments"]
            if meta:
                t = self.table(ids, meta)
                out.update({c: _column_numpy(t.column(c)) for c in meta})
            if "moments" in columns:
                out["moments"] = self.moments(ids)
            yield ids, out

    def moments(self, ids: np.ndarray) -> np.ndarray:
        """float32 (n, moments_dim), in the order of ``ids``."""
        a = self.index._array_view()  # schema 1 keeps every vector in memory already
        rows = np.fromiter((a["row_of"][int(i)] for i in ids), dtype=np.int64, count=len(ids))
        return a["moments"][rows]

    def poster(self, segment_id: int) -> bytes | None:
        poster = getattr(self.index, "poster", None)  # schema 2 stores a JPEG per segment
        return poster(segment_id) if poster else None

    def where(self, sql: str) -> np.ndarray:
        return np.sort(self.index.filter_ids(sql))

    # -- activity --------------------------------------------------------------------------
    def activity(self, ids: np.ndarray, progress: ActivityProgress | None = None) -> np.ndarray:
        """float32 (n, 2): (semantic_change, token_motion) per segment.

        Read from the index's ``activity`` column when it stores one; otherwise each segment is
        re-embedded once with the index's own encoder and settings (exactly as it was indexed)
        and the result kept for this session.
        """
        t = self._all_records()
        if ACTIVITY in t.column_names:
            return _column_numpy(self.table(ids, [ACTIVITY]).column(ACTIVITY)).astype(np.float32)
        out = np.zeros((len(ids), 2), np.float32)
        recs = self.table(ids, ["path", "start_s", "end_s", "duration"]).to_pylist()
        for n, (sid, rec) in enumerate(zip(ids, recs)):
            sid = int(sid)
            if sid not in self._measured:
                whole = rec["start_s"] <= 0 and rec["end_s"] >= rec["duration"]
                span = (None, None) if whole else (rec["start_s"], rec["end_s"])
                self._measured[sid] = self.index.embed(rec["path"], *span).aux[ACTIVITY]
            out[n] = self._measured[sid]
            if progress:
                progress(n + 1, len(ids))
        return out


def _column_numpy(col: pa.ChunkedArray) -> np.ndarray:
    """A column as NumPy: fixed-size lists become 2-D arrays, strings an object array."""
    arr = col.combine_chunks()
    if pa.types.is_fixed_size_list(arr.type):
        width = arr.type.list_size
        return arr.flatten().to_numpy(zero_copy_only=False).reshape(len(arr), width)
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type):
        return np.array(arr.to_pylist(), dtype=object) if len(arr) else np.empty(0, object)
    return arr.to_numpy(zero_copy_only=False)
