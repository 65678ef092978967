"""Metadata filters: a SQL condition over the segment and file columns, evaluated by DuckDB.

DuckDB reads the segment fragments' Parquet files directly (``read_parquet`` over the snapshot's
fragment list, only the columns the condition uses); the live files table (small: one row per
file) and the tombstoned ids are registered Arrow tables joined in. ``spf_curve`` (kept in
float16 arrays, not in Parquet) is joined only when the condition mentions it, cast to
``FLOAT[N]`` so array functions such as ``array_cosine_similarity`` work on it.

Safety: DuckDB may read only the index's ``fragments`` folder (``allowed_directories``), other
file access, extension autoloading and configuration changes are switched off, so a filter typed
into the UI cannot read or write files. A bad condition raises :class:`FilterError` with DuckDB's
first line (no internals) and the list of columns.

File-level conditions (only columns of the files table: ``duration > 50``, ``path LIKE ...``) take
a shorter road: DuckDB evaluates them over the live files table alone (one row per file, ~10x
fewer than segments) and the segments of the admitted files are found with a lookup table over
the segments' ``file_id`` column (read once per snapshot, 16 B a live segment in memory). At 1M
segments the general query (a Parquet scan + join per new condition) measured ~180 ms; this road
skips the scan. A condition naming any segment column fails to bind there and runs the general
query, so both roads give the same ids.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa

from vidsearch.retrieval.reader import SnapshotReader
from vidsearch.retrieval.snapshot import FRAGMENTS


class FilterError(ValueError):
    pass


FILTER_CACHE_SIZE = 32  # conditions whose id arrays a reader keeps (a 50 % filter at 1M: 4 MB)


class MetadataFilter:
    """The filter of one snapshot. Results are cached per condition: a snapshot never changes, so
    the ids a condition admits stay valid until the index moves to a newer snapshot (a new
    ``MetadataFilter``); repeated searches with one filter (paging, other queries, the UI) then
    skip DuckDB."""

    def __init__(self, reader: SnapshotReader):
        import duckdb

        self.reader = reader
        self._con = duckdb.connect(":memory:")
        con = self._con
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        folder = str((reader.dir / FRAGMENTS).resolve()) + "/"
        con.execute("SET allowed_directories = ?", [[folder]])
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        con.register("live_files", reader.files)
        con.register("deleted_ids", pa.table({"id": pa.array(reader.deleted, pa.int64())}))
        paths = [str(f.segments_path.resolve()) for f in reader.fragments if f.ref.segments]
        source = f"read_parquet({paths!r})" if paths else "(SELECT * FROM seg_schema)"
        if not paths:
            con.register("seg_schema", reader.schema.empty_table())
        exclude = "WHERE s.id NOT IN (SELECT id FROM deleted_ids)" if len(reader.deleted) else ""
        try:
            con.execute(
                "CREATE VIEW segments_base AS SELECT s.*, f.* EXCLUDE (file_id), s.end_s - s.start_s AS segment_duration "
                f"FROM {source} s JOIN live_files f USING (file_id) {exclude}"
            )
        except duckdb.IOException as exc:
            self._raise_if_compacted(exc)
            raise
        self._curves_ready = False
        self._segment_files: tuple[np.ndarray, np.ndarray] | None = None
        self._cache: dict[str, np.ndarray] = {}
        self.columns = [r[0] for r in con.execute("DESCRIBE segments_base").fetchall()] + ["spf_curve"]

    def _raise_if_compacted(self, exc: Exception) -> None:
        """A fragment of this snapshot vanished (a concurrent ``compact``): FileNotFoundError,
        which the index answers by moving to the newest snapshot."""
        if not all(f.segments_path.exists() for f in self.reader.fragments):
            raise FileNotFoundError(f"{self.reader.dir}: a fragment was compacted away under this reader") from exc

    def _ensure_curves(self) -> None:
        """Join the SPF curves (materialised once per snapshot, only for conditions that use them)."""
        if self._curves_ready:
            return
        ids, curves = [], []
        for ids_part, cols in self.reader.iter_batches(["spf_curve"], 65536):
            ids.append(ids_part)
            curves.append(cols["spf_curve"])
        n = self.reader.manifest.curve_len
        flat = np.concatenate(curves).ravel() if curves else np.empty(0, np.float32)
        table = pa.table(
            {
                "id": pa.array(np.concatenate(ids) if ids else np.empty(0, np.int64)),
                "spf_curve": pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), n),
            }
        )
        self._con.register("curves", table)
        self._curves_ready = True

    def ids(self, where: str) -> np.ndarray:
        """Ids of the live segments for which ``where`` holds (raises FilterError); read-only."""
        found = self._cache.pop(where, None)
        if found is None:
            found = self._query(where)
            found.flags.writeable = False
        if len(self._cache) >= FILTER_CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))  # least recently used first
        self._cache[where] = found
        return found

    def _query(self, where: str) -> np.ndarray:
        if ";" in where:
            raise FilterError(f"filter must be a single SQL condition, got {where!r}")
        import duckdb

        uses_curve = re.search(r"\bspf_curve\b", where, re.IGNORECASE) is not None
        try:
            if not uses_curve:
                files = self._file_level(where)
                if files is not None:
                    return files
            if uses_curve:
                self._ensure_curves()
                n = self.reader.manifest.curve_len
                source = f"(SELECT b.*, CAST(c.spf_curve AS FLOAT[{n}]) AS spf_curve FROM segments_base b JOIN curves c USING (id))"
            else:
                source = "segments_base"
            result = self._con.execute(f"SELECT id FROM {source} WHERE ({where})").fetchnumpy()["id"]
        except duckdb.IOException as exc:
            self._raise_if_compacted(exc)
            raise FilterError(f"bad filter {where!r}: {_first_line(exc)}. Columns: {', '.join(self.columns)}") from exc
        except duckdb.Error as exc:
            raise FilterError(f"bad filter {where!r}: {_first_line(exc)}. Columns: {', '.join(self.columns)}") from exc
        return np.sort(np.asarray(result, dtype=np.int64))


    def _file_level(self, where: str) -> np.ndarray | None:
        """Sorted ids of the live segments whose file satisfies ``where``, or None when the
        condition uses more than the files table's columns (DuckDB cannot bind it there)."""
        import duckdb

        try:
            files = self._con.execute(f"SELECT file_id FROM live_files WHERE ({where})").fetchnumpy()["file_id"]
        except duckdb.BinderException:
            return None
        seg_ids, seg_files = self._live_segment_files()
        if not len(seg_ids):
            return np.empty(0, np.int64)
        admitted = np.zeros(int(max(seg_files.max(), files.max() if len(files) else 0)) + 1, bool)
        admitted[np.asarray(files, np.int64)] = True
        return seg_ids[admitted[seg_files]]  # seg_ids ascending: the result is sorted

    def _live_segment_files(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, file ids) of the live segments, ids ascending (built once per snapshot)."""
        if self._segment_files is None:
            ids, files = [], []
            for f, rows in self.reader.iter_live():
                ids.append(np.asarray(f.ids, np.int64)[rows])
                files.append(f.read_columns(["file_id"]).column("file_id").to_numpy()[rows])
            seg_ids = np.concatenate(ids) if ids else np.empty(0, np.int64)
            seg_files = np.concatenate(files) if files else np.empty(0, np.int64)
            order = np.argsort(seg_ids, kind="stable")  # fragments after a compaction may interleave
            self._segment_files = seg_ids[order], seg_files[order]
        return self._segment_files


def _first_line(exc: Exception) -> str:
    """DuckDB's reason without the echoed query, candidate lists or file paths."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    text = re.split(r"\s*(Candidate bindings|LINE \d+:|Did you mean)", text)[0]
    return re.sub(r"(/[^\s\"']+)+", "<path>", text).rstrip(" !.:")
