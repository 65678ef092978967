"""The curation steps' one view of an index: the only module that talks to ``Index``.

Everything in ``vidsearch.curation`` reads segments through :class:`IndexSource` (or any object
with the same methods, such as :class:`~vidsearch.curation.arrays.ArraySource`), so when the
index's storage changes only this adapter follows. It uses the index's segment API
(``iter_batches``, ``moments``, ``get``, ``poster``, ``filter_ids``, ``len``) and serves
segment columns by name::

    id, file_id, segment_index, path, start_s, end_s, fps, width, height, size, hash, duration,
    spf_curve, linearity_max, linearity_mean, breakpoints, aux_activity

A column is read for every live segment once, in one streaming pass, and kept: numbers as
arrays, text (path, hash) as 4-byte codes into the distinct values (:class:`Coded`). The moments
and the 64-point SPF curves are fetched by id when needed, never all.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vidsearch.errors import UnknownIdError
from vidsearch.indexers.descriptors.activity import ACTIVITY
from vidsearch.retrieval.store.schema import FILES_SCHEMA

ACTIVITY_COLUMN = "aux_" + ACTIVITY
# Wide columns read from the fragments for the ids asked, never kept for every segment.
FETCHED_COLUMNS = frozenset({"spf_curve"})
TEXT_COLUMNS = frozenset(f.name for f in FILES_SCHEMA if pa.types.is_string(f.type))  # path, hash
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
    def moments(self, ids: np.ndarray) -> np.ndarray: ...
    def table(self, ids: np.ndarray, columns: Sequence[str]) -> pa.Table: ...
    def get(self, segment_id: int) -> dict: ...
    def poster(self, segment_id: int) -> bytes | None: ...
    def where(self, sql: str) -> np.ndarray: ...
    def activity(self, ids: np.ndarray, progress: ActivityProgress | None = None) -> np.ndarray: ...


class IndexSource:
    """:class:`SegmentSource` over a vidsearch ``Index``."""

    def __init__(self, index, batch_size: int = 65536):
        self.index = index
        self.directory = str(index.dir)
        self.fingerprint = index.config.fingerprint()
        self.backbone = index.config.backbone
        self.moments_dim = int(index.manifest.moments_dim)
        # With delta_alpha the vector has 6 blocks (published 3 + direction-aware 3), else 3.
        self.moment_block = (
            self.moments_dim // index.config.moment_blocks if index.config.aggregation == "concat" else None
        )
        self._batch = batch_size
        self._ids: np.ndarray | None = None
        self._columns: dict[str, np.ndarray] = {}
        self._measured: dict[int, np.ndarray] = {}

    @classmethod
    def open(cls, directory: str | os.PathLike) -> IndexSource:
        from vidsearch.retrieval.index import Index

        return cls(Index.open(Path(directory)))

    def __len__(self) -> int:
        return len(self.index)

    def __reduce__(self):
        """Pickled as its directory: a Ray worker opens the index itself and reads its own batches."""
        return _reopen, (self.directory, self._batch)

    def _load(self, columns: Sequence[str]) -> None:
        """Read the missing columns for every live segment in one pass, sorted by id."""
        missing = [c for c in columns if c not in self._columns and c != "id"]
        if self._ids is not None and not missing:
            return
        ids, parts = [], {c: [] for c in missing}
        distinct: dict[str, dict] = {c: {} for c in missing}
        for batch_ids, batch in self.index.iter_batches(missing, self._batch):
            ids.append(batch_ids)
            for c in missing:
                parts[c].append(text_codes(batch[c], distinct[c]) if c in TEXT_COLUMNS else batch[c])
        all_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        order = np.argsort(all_ids, kind="stable")
        if self._ids is None:
            self._ids = all_ids[order]
        for c in missing:
            values = np.concatenate(parts[c]) if parts[c] else np.zeros(0, np.int32 if c in TEXT_COLUMNS else None)
            self._columns[c] = Coded(values[order], distinct[c]) if c in TEXT_COLUMNS else values[order]

    def ids(self) -> np.ndarray:
        self._load([])
        return self._ids

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        all_ids = self.ids()
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(all_ids, ids)
        bad = (
            (pos >= len(all_ids)) | (all_ids[np.minimum(pos, max(len(all_ids) - 1, 0))] != ids)
            if len(all_ids)
            else np.ones(len(ids), bool)
        )
        if bad.any():
            raise UnknownIdError(f"segment id {int(ids[bad][0])} is not in the index {self.directory}")
        return pos

    def has_column(self, name: str) -> bool:
        try:
            self._load([name])
        except ValueError:
            return False
        return True

    def table(self, ids: np.ndarray, columns: Sequence[str]) -> pa.Table:
        """Columns of the given segments, in the order of ``ids`` (unknown ids raise KeyError)."""
        self._load([c for c in columns if c not in FETCHED_COLUMNS])
        rows = self._rows(ids)
        out = {"id": pa.array(np.asarray(ids, np.int64))}
        for c in columns:
            if c == "id":
                continue
            values = self.index.curves(ids) if c == "spf_curve" else self._columns[c][rows]
            out[c] = pa.array(list(values)) if values.ndim > 1 or values.dtype == object else pa.array(values)
        return pa.table(out)

    def get(self, segment_id: int) -> dict:
        return self.index.get(int(segment_id))

    def moments(self, ids: np.ndarray) -> np.ndarray:
        """float32 (n, moments_dim), in the order of ``ids``."""
        return self.index.moments(np.asarray(ids, np.int64))

    def poster(self, segment_id: int) -> bytes | None:
        return self.index.poster(int(segment_id))

    def where(self, sql: str) -> np.ndarray:
        return np.sort(self.index.filter_ids(sql))

    def activity(self, ids: np.ndarray, progress: ActivityProgress | None = None) -> np.ndarray:
        """float32 (n, 2): (semantic_change, token_motion) per segment.

        Read from the index's ``aux_activity`` column; an index built before that descriptor
        existed has none, and then each segment is re-embedded once with the index's own
        encoder and settings (exactly as it was indexed) and the result kept for this session.
        """
        if self.has_column(ACTIVITY_COLUMN):
            values = self._columns[ACTIVITY_COLUMN][self._rows(ids)]
            if not np.isnan(values).any():
                return np.asarray(values, np.float32)
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


class Coded:
    """A text column (path, hash...) kept as int32 codes into its distinct values: every segment
    of a file shares the file's, so a segment costs 4 bytes instead of a Python string each.
    Indexing it gives the values (an object array, None for a missing value), like the column."""

    def __init__(self, codes: np.ndarray, distinct: dict):
        self.codes = codes
        self.values = np.empty(len(distinct) + 1, dtype=object)  # the last one: None, for code -1
        self.values[: len(distinct)] = list(distinct)

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows) -> np.ndarray:
        return self.values[self.codes[rows]]


def text_codes(values: np.ndarray | pa.Array, distinct: dict) -> np.ndarray:
    """int32 codes of a batch of text values (an object array or an Arrow array), new values
    numbered as they first appear in ``distinct`` (value -> code); a missing value is -1."""
    arrow = (
        values.cast(pa.string()) if isinstance(values, pa.Array) else pa.array(values, pa.string(), from_pandas=True)
    )
    encoded = arrow.dictionary_encode()
    known = np.array([distinct.setdefault(v, len(distinct)) for v in encoded.dictionary.to_pylist()] + [-1], np.int32)
    return known[pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)]


def _reopen(directory: str, batch_size: int) -> IndexSource:
    from vidsearch.retrieval.index import Index

    return IndexSource(Index.open(Path(directory)), batch_size)
