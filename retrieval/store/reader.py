"""A read-only view of one snapshot: lookups by id, vectors, records, pages, batches.

Opening costs the snapshot JSON and the deletion arrays; the files table (one row per file, far
fewer than segments) is loaded on first use; segment rows and vectors are read per request from
the fragments (memory-mapped arrays, Parquet row groups). Nothing here ever loads every segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vidsearch.errors import UnknownIdError
from vidsearch.retrieval.store.fragment import FragmentReader, fill_list_rows, read_files
from vidsearch.retrieval.store.manifest import IndexDamagedError, Manifest
from vidsearch.retrieval.store.schema import AUX_PREFIX, FILES_SCHEMA, segments_schema
from vidsearch.retrieval.store.snapshot import Snapshot, read_ids

# How far a stored moments row's norm may stray from 1: float16 rounding moves it ~1e-3, the
# int8 / int6 codes ~1e-2 (their quantisation noise over 1,152 values).
NORM_TOLERANCE = 0.1


class SnapshotReader:
    def __init__(self, directory: Path, manifest: Manifest, snapshot: Snapshot):
        self.dir, self.manifest, self.snapshot = Path(directory), manifest, snapshot
        self.fragments = [FragmentReader(self.dir, ref) for ref in snapshot.fragments]
        # Lookup over the fragments with rows (their id ranges ascend and never overlap). A
        # fragment whose ids are exactly min..max (every fragment a commit writes; compaction
        # leaves gaps) locates a row by subtraction, the others by a search of their ids.
        refs = [(i, f.ref) for i, f in enumerate(self.fragments) if f.ref.segments]
        self._frag = np.array([i for i, _ in refs], dtype=np.int64)
        self._mins = np.array([r.min_id for _, r in refs], dtype=np.int64)
        self._maxs = np.array([r.max_id for _, r in refs], dtype=np.int64)
        self._dense = np.array([r.max_id - r.min_id + 1 == r.segments for _, r in refs], dtype=bool)
        self.deleted = read_ids(self.dir, snapshot.deleted_segments)
        self.deleted_files = read_ids(self.dir, snapshot.deleted_files)
        self.schema = segments_schema(manifest.aux_dims)

    def __len__(self) -> int:
        return self.snapshot.live_segments

    # ------------------------------------------------------------------ files
    @cached_property
    def files(self) -> pa.Table:
        """Live file rows: the newest row of each file id (a refresh appends a newer one)."""
        parts = [read_files(self.dir, name) for name in self.snapshot.file_parts]
        if not parts:
            return FILES_SCHEMA.empty_table()
        table = pa.concat_tables(parts)
        ids = table.column("file_id").to_numpy()
        # keep the last occurrence of each id (fragments are in commit order)
        _, last_rev = np.unique(ids[::-1], return_index=True)
        keep = np.sort(len(ids) - 1 - last_rev)
        keep = keep[~np.isin(ids[keep], self.deleted_files)]
        return table.take(pa.array(keep))

    @cached_property
    def _file_row(self) -> dict[int, int]:
        return {int(i): r for r, i in enumerate(self.files.column("file_id").to_pylist())}

    @cached_property
    def _path_row(self) -> dict[str, int]:
        return {p: r for r, p in enumerate(self.files.column("path").to_pylist())}

    def file_by_path(self, path: str) -> dict | None:
        row = self._path_row.get(path)
        return None if row is None else self.files.slice(row, 1).to_pylist()[0]

    def file_by_id(self, file_id: int) -> dict | None:
        row = self._file_row.get(int(file_id))
        return None if row is None else self.files.slice(row, 1).to_pylist()[0]

    # ------------------------------------------------------------------ locating segments
    def locate(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keep mask, fragment index, row) for ``ids``; unknown or deleted ids are masked out."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        slot = np.searchsorted(self._mins, ids, side="right") - 1
        ok = slot >= 0
        slot = np.maximum(slot, 0)
        if not len(self._frag):
            return np.zeros(len(ids), bool), np.zeros(len(ids), np.int64), np.zeros(len(ids), np.int64)
        ok &= ids <= self._maxs[slot]
        if len(self.deleted):
            ok &= ~np.isin(ids, self.deleted)
        row = ids - self._mins[slot]
        for s in np.unique(slot[ok & ~self._dense[slot]]):
            sel = np.flatnonzero(ok & (slot == s))
            fids = self.fragments[self._frag[s]].ids
            pos = np.minimum(np.searchsorted(fids, ids[sel]), len(fids) - 1)
            row[sel] = pos
            ok[sel[fids[pos] != ids[sel]]] = False
        return ok, self._frag[slot], row

    def live_ids(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(ids, dtype=np.int64)[self.locate(ids)[0]]

    def contains(self, segment_id: int) -> bool:
        return bool(self.locate(np.array([segment_id]))[0][0])

    def _locate_all(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fragment, row) of every id; KeyError naming the first id that is not live."""
        ok, frag, row = self.locate(ids)
        if not ok.all():
            raise UnknownIdError(f"no segment with id {int(np.asarray(ids).reshape(-1)[~ok][0])} in {self.dir}")
        return frag, row

    def _gather(self, ids: np.ndarray, attr: str, width: int) -> np.ndarray:
        frag, row = self._locate_all(ids)
        out = np.empty((len(row), width), np.float32)
        for f in np.unique(frag):
            sel = np.flatnonzero(frag == f)
            order = np.argsort(row[sel])
            out[sel[order]] = getattr(self.fragments[f], attr)[row[sel][order]]
        return out

    def scoring_rows(self, ids: np.ndarray, flow_dim: int) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """(unit moments, flow or None, curves) of ``ids`` as float32, located once and read
        fragment by fragment in row order: the exact re-rank's one pass over the memory-mapped
        arrays (three separate lookups cost three locates and three unsorted passes)."""
        frag, row = self._locate_all(ids)
        moments = np.empty((len(row), self.manifest.moments_dim), np.float32)
        curves = np.empty((len(row), self.manifest.curve_len), np.float32)
        flow = np.zeros((len(row), flow_dim), np.float32) if flow_dim else None
        for f in np.unique(frag):
            sel = np.flatnonzero(frag == f)
            sel = sel[np.argsort(row[sel])]
            fragment, rows = self.fragments[f], row[sel]
            moments[sel] = fragment.moments[rows]
            curves[sel] = fragment.curves[rows]
            if flow is not None:
                array = fragment.aux_arrays.get("flow")  # NaN rows (no flow stored) zeroed below, once
                flow[sel] = array[rows] if array is not None else fragment_aux(fragment, rows, "flow", flow_dim)
        if flow is not None:
            np.nan_to_num(flow, copy=False, nan=0.0)
        norms = row_norms(moments)
        bad = ~stored_unit(norms)
        if bad.any():
            raise self.damaged_rows(np.asarray(ids)[bad], "moments", "non-finite or non-unit vectors")
        return moments / np.where(norms > 0, norms, 1.0)[:, None], flow, curves

    def damaged_rows(self, ids: np.ndarray, name: str, what: str) -> IndexDamagedError:
        """The error for stored rows found damaged while scoring (names the first fragment and its ids)."""
        ok, frag, _ = self.locate(ids)
        first = int(frag[ok][0]) if ok.any() else 0
        shown = np.asarray(ids)[ok & (frag == first)][:5].tolist()
        return self.fragments[first].damaged(name, f"{what} in segment(s) {', '.join(map(str, shown))}")

    def moments(self, ids: np.ndarray) -> np.ndarray:
        """Unit-norm float32 moments (renormalised after the float16 rounding, so a stored
        segment's cosine with itself is 1)."""
        moments = self._gather(ids, "moments", self.manifest.moments_dim)
        norms = row_norms(moments)
        bad = ~stored_unit(norms)
        if bad.any():  # a query built from a damaged stored row would rank everything wrong
            raise self.damaged_rows(np.asarray(ids).reshape(-1)[bad], "moments", "non-finite or non-unit vectors")
        return moments / np.where(norms > 0, norms, 1.0)[:, None]

    def curves(self, ids: np.ndarray) -> np.ndarray:
        curves = self._gather(ids, "curves", self.manifest.curve_len)
        finite = np.isfinite(curves).all(axis=1)
        if not finite.all():
            raise self.damaged_rows(np.asarray(ids).reshape(-1)[~finite], "curves", "non-finite values")
        return curves

    def aux(self, ids: np.ndarray, name: str) -> np.ndarray | None:
        """float32 (n, dim) aux descriptor ``name`` of each id (zeros where a segment lacks it),
        or None when the index stores no such descriptor."""
        dim = self.manifest.aux_dims.get(name)
        if dim is None:
            return None
        frag, row = self._locate_all(ids)
        out = np.zeros((len(row), dim), np.float32)
        for f in np.unique(frag):
            sel = np.flatnonzero(frag == f)
            out[sel] = fragment_aux(self.fragments[f], row[sel], name, dim)
        return out

    def rates(self, ids: np.ndarray) -> np.ndarray | None:
        """The tempo of each id (``scoring.tempo_source`` per second; NaN where unknown), or None
        when the index stores neither flow nor activity (pacing is then scored by shape alone)."""
        from vidsearch.retrieval.scoring import tempo_source

        if tempo_source(self.manifest.aux_dims) is None:
            return None
        frag, row = self._locate_all(ids)
        out = np.full(len(row), np.nan)
        for f in np.unique(frag):
            sel = np.flatnonzero(frag == f)
            out[sel] = fragment_rates(self.fragments[f], row[sel], self.manifest.aux_dims)
        return out

    def file_ids(self, ids: np.ndarray) -> np.ndarray:
        """The file id of each segment id (reads only the ``file_id`` column of their row groups)."""
        ok, frag, row = self.locate(ids)
        out = np.full(len(row), -1, np.int64)
        for f in np.unique(frag[ok]):
            sel = np.flatnonzero(ok & (frag == f))
            out[sel] = self.fragments[f].rows(row[sel], ["file_id"]).column("file_id").to_numpy()
        return out

    # ------------------------------------------------------------------ records
    def records(
        self, ids: np.ndarray, with_curve: bool = True, curves: np.ndarray | None = None, with_aux: bool = True
    ) -> list[dict]:
        """Segment + file columns of each id, in the given order (KeyError for unknown ids);
        ``curves``: the ids' SPF curves when the caller has read them already; ``with_aux``
        False leaves out the aux descriptors (``aux_<name>``: vectors, not metadata)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        frag, row = self._locate_all(ids)
        out: list[dict | None] = [None] * len(ids)
        for f in np.unique(frag):
            sel = np.flatnonzero(frag == f)
            fragment = self.fragments[f]
            columns = None if with_aux else [c for c in fragment.column_names if not c.startswith(AUX_PREFIX)]
            for i, rec in zip(sel, fragment.rows(row[sel], columns).to_pylist()):
                out[i] = rec
        if with_curve and curves is None:
            curves = self.curves(ids)
        for i, rec in enumerate(out):
            rec.update(self.file_by_id(rec["file_id"]) or {})
            if with_curve:
                rec["spf_curve"] = curves[i].tolist()
        return out  # type: ignore[return-value]

    def segments_of_file(self, file_id: int) -> list[dict]:
        """All live segments of a file, in file order."""
        ids = []
        for f in self.fragments:
            if not f.ref.segments:
                continue
            fids = f.read_columns(["id", "file_id"])
            mask = pc.equal(fids.column("file_id"), int(file_id))
            ids.append(fids.column("id").filter(mask).to_numpy())
        found = self.live_ids(np.concatenate(ids)) if ids else np.empty(0, np.int64)
        return sorted(self.records(found), key=lambda r: r["segment_index"])

    # ------------------------------------------------------------------ scans
    def iter_live(self) -> Iterator[tuple[FragmentReader, np.ndarray]]:
        """(fragment, live row positions) for every fragment with live rows."""
        for f in self.fragments:
            if not f.ref.segments:
                continue
            ids = np.asarray(f.ids)
            rows = np.flatnonzero(~np.isin(ids, self.deleted)) if len(self.deleted) else np.arange(len(ids))
            if len(rows):
                yield f, rows

    def iter_batches(self, columns: list[str], batch_size: int) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        """``(ids, {column: array})`` over all live segments, ``batch_size`` rows at a time.

        Columns: ``moments`` / ``spf_curve`` (float32 arrays from the memory-mapped fragments),
        segment columns, and file columns (joined through ``file_id``).
        """
        seg_cols = [c for c in columns if c in self.schema.names and c != "id"]
        file_cols = [c for c in columns if c in FILES_SCHEMA.names and c not in seg_cols and c != "file_id"]
        unknown = set(columns) - set(seg_cols) - set(file_cols) - {"id", "moments", "spf_curve", "file_id"}
        if unknown:
            raise ValueError(
                f"unknown column(s) {sorted(unknown)}; choose from moments, spf_curve, "
                f"{', '.join(self.schema.names + FILES_SCHEMA.names[1:])}"
            )
        need_file = bool(file_cols) or "file_id" in columns
        for f, rows in self.iter_live():
            table = (
                f.read_columns(list(dict.fromkeys(seg_cols + (["file_id"] if need_file else []))))
                if (seg_cols or need_file)
                else None
            )
            for start in range(0, len(rows), batch_size):
                part = rows[start : start + batch_size]
                batch: dict[str, np.ndarray] = {}
                if "moments" in columns:
                    batch["moments"] = unit_rows(f.moments[part])
                if "spf_curve" in columns:
                    batch["spf_curve"] = np.asarray(f.curves[part], dtype=np.float32)
                if table is not None:
                    sub = table.take(pa.array(part))
                    for c in seg_cols + (["file_id"] if "file_id" in columns else []):
                        batch[c] = _column_numpy(sub.column(c))
                    if file_cols:
                        rows_of = np.array(
                            [self._file_row[int(i)] for i in sub.column("file_id").to_numpy()], dtype=np.int64
                        )
                        files = self.files.take(pa.array(rows_of, pa.int64()))
                        for c in file_cols:
                            batch[c] = _column_numpy(files.column(c))
                yield np.asarray(f.ids[part], dtype=np.int64), batch

    def page(self, offset: int, limit: int, contains: str | None = None) -> list[dict]:
        """Segments in id order, ``limit`` from ``offset``, optionally only files whose path
        contains ``contains`` (case-insensitive); no curves, for pickers."""
        allowed = None
        if contains:
            paths = self.files.column("path")
            allowed = (
                self.files.column("file_id")
                .filter(pc.match_substring(pc.utf8_lower(paths), contains.lower()))
                .to_numpy()
            )
        picked: list[int] = []
        skip = max(0, int(offset))
        for f, rows in self.iter_live():
            ids = np.asarray(f.ids)[rows]
            if allowed is not None:
                file_ids = f.read_columns(["file_id"]).column("file_id").to_numpy()[rows]
                ids = ids[np.isin(file_ids, allowed)]
            if skip >= len(ids):
                skip -= len(ids)
                continue
            picked.extend(ids[skip : skip + limit - len(picked)].tolist())
            skip = 0
            if len(picked) >= limit:
                break
        return self.records(np.array(picked, np.int64), with_curve=False) if picked else []

    def poster(self, segment_id: int) -> bytes | None:
        ok, frag, _ = self.locate(np.array([segment_id]))
        if not ok[0]:
            raise UnknownIdError(f"no segment with id {segment_id} in {self.dir}")
        return self.fragments[int(frag[0])].poster(segment_id)


def fragment_aux(fragment: FragmentReader, rows: np.ndarray, name: str, dim: int) -> np.ndarray:
    """float32 (len(rows), dim) aux column of one fragment; zeros for rows stored without it."""
    out = np.zeros((len(rows), dim), np.float32)
    array = fragment.aux_arrays.get(name)
    if array is not None:  # memory-mapped float16 (NaN rows: none stored)
        rows = np.asarray(rows)
        order = np.argsort(rows)
        out[order] = np.nan_to_num(np.asarray(array[rows[order]], np.float32), nan=0.0)
        return out
    if AUX_PREFIX + name not in fragment.column_names:
        return out
    return fill_list_rows(fragment.rows(rows, [AUX_PREFIX + name]).column(0), out)


def row_norms(vectors: np.ndarray) -> np.ndarray:
    """L2 norm of each row: half of np.linalg.norm's time (194 x 2,304: 0.25 vs 0.54 ms)."""
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors))


def stored_unit(norms: np.ndarray) -> np.ndarray:
    """Which norms a stored moments row may have: unit (up to its rounding) or zero. Scoring
    refuses others: a flipped exponent or NaN would rank the row silently wrong."""
    return np.isfinite(norms) & ((norms == 0) | (np.abs(norms - 1) <= NORM_TOLERANCE))


def fragment_rates(fragment: FragmentReader, rows: np.ndarray, aux_dims: dict[str, int]) -> np.ndarray:
    """The tempo of one fragment's ``rows`` (``scoring.tempo_source`` per second; NaN where not stored)."""
    from vidsearch.retrieval.scoring import segment_rates, tempo_amount, tempo_source

    source = tempo_source(aux_dims)
    stored = fragment_aux(fragment, rows, source, int(aux_dims[source]))
    change = np.where(np.all(stored == 0, axis=1), np.nan, tempo_amount(source, stored))  # zero rows: none stored
    bounds = fragment.rows(rows, ["start_s", "end_s"])
    duration = bounds.column("end_s").to_numpy() - bounds.column("start_s").to_numpy()
    return segment_rates(change, duration)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float32)
    norms = row_norms(vectors)[:, None]
    return vectors / np.where(norms > 0, norms, 1.0)


def checked_unit_rows(fragment: FragmentReader, rows: np.ndarray) -> np.ndarray:
    """``unit_rows`` of a fragment's stored moments, refusing rows that cannot be stored unit vectors."""
    vectors = np.asarray(fragment.moments[rows], np.float32)
    norms = row_norms(vectors)
    bad = ~stored_unit(norms)
    if bad.any():
        shown = np.asarray(fragment.ids[np.asarray(rows)[bad][:5]]).tolist()
        raise fragment.damaged("moments", f"non-finite or non-unit vectors in segment(s) {', '.join(map(str, shown))}")
    return vectors / np.where(norms > 0, norms, 1.0)[:, None]


def _column_numpy(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_fixed_size_list(column.type):
        width = column.type.list_size
        flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return np.asarray(flat, dtype=np.float32).reshape(-1, width)
    return column.to_numpy(zero_copy_only=False)
