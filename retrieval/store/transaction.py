"""Writing: changes staged against one snapshot, committed as the next snapshot.

A :class:`Transaction` collects new files and their segments, copies (same content at another
path), refreshed file stats, tombstones, error rows and exclusions (files the user removed, which
the next ``index`` must not add back); ``commit`` writes them as new immutable
files (a segment fragment, a files part, deletion and error files, ANN codes) and then the
snapshot that lists them, the one rename that makes the commit visible. The manifest changes
only here too (new roots, a first aux descriptor), just before that rename. If any write fails
(disk full, ...) the new files are removed, the previous manifest is renamed back, the previous
snapshot stays the index, and one :class:`IndexStoreError` names the index and the cause.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vidsearch.indexers.corpus import FileStat
from vidsearch.indexers.decode.video import VideoInfo
from vidsearch.indexers.features import ClipFeatures
from vidsearch.indexers.pipeline import SegmentResult
from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.fragment import FragmentData, write_files, write_fragment
from vidsearch.retrieval.store.manifest import MANIFEST, IndexStoreError, Manifest, damaged, now_utc
from vidsearch.retrieval.store.reader import SnapshotReader
from vidsearch.retrieval.store.schema import (
    AUX_PREFIX,
    ERRORS_SCHEMA,
    EXCLUSIONS_SCHEMA,
    FILES_SCHEMA,
    segments_schema,
)


class Transaction:
    def __init__(self, reader: SnapshotReader, errors: pa.Table):
        self.reader = reader
        self.dir: Path = reader.dir
        self.manifest: Manifest = reader.manifest
        self.errors = errors
        self.exclusions = read_side_table(self.dir, snap.EXCLUSIONS, reader.snapshot.exclusions, EXCLUSIONS_SCHEMA)
        self._committed_manifest = self.manifest.to_json()
        self._reset()

    def _reset(self) -> None:
        s = self.reader.snapshot
        self.next_segment_id, self.next_file_id = s.next_segment_id, s.next_file_id
        self.file_rows: list[dict] = []
        self.segment_rows: list[dict] = []
        self.moments: list[np.ndarray] = []
        self.curves: list[np.ndarray] = []
        self.posters: dict[int, bytes] = {}
        self.deleted_segments: list[np.ndarray] = []
        self.deleted_files: list[int] = []
        self.errors_changed = False
        self.exclusions_changed = False

    @property
    def manifest_changed(self) -> bool:
        return self.manifest.to_json() != self._committed_manifest

    @property
    def dirty(self) -> bool:
        staged = self.file_rows or self.deleted_segments or self.deleted_files
        return bool(staged or self.errors_changed or self.exclusions_changed or self.manifest_changed)

    @property
    def pending_segments(self) -> int:
        return len(self.segment_rows)

    # ------------------------------------------------------------------ staging
    def add_file(self, st: FileStat, digest: str, info: VideoInfo, segments: list[SegmentResult]) -> int:
        """A new file and its segments (features validated first: a bad aux size is the file's error)."""
        for seg in segments:
            self._check_aux(seg.features)
        file_id = self._new_file_row(st, digest, info)
        for seg in segments:
            self._add_segment(
                file_id, seg.index, seg.start_frame, seg.end_frame, seg.start_s, seg.end_s, seg.features, seg.poster
            )
        return file_id

    def copy_file(self, source_file_id: int, st: FileStat, digest: str) -> int:
        """Same content already indexed at another path: a new file whose segments copy the source's."""
        src = self.reader.file_by_id(source_file_id)
        info = VideoInfo(src["duration"], src["fps"], src["width"], src["height"], src["frame_count"])
        file_id = self._new_file_row(st, digest, info)
        records = self.reader.segments_of_file(source_file_id)
        ids = np.array([r["id"] for r in records], np.int64)
        moments, curves = (self.reader.moments(ids), self.reader.curves(ids)) if len(ids) else (None, None)
        for i, rec in enumerate(records):
            self.segment_rows.append({**rec, "id": self.next_segment_id, "file_id": file_id, "indexed_at": now_utc()})
            self.moments.append(moments[i])
            self.curves.append(curves[i])
            poster = self.reader.poster(int(rec["id"]))
            if poster is not None:
                self.posters[self.next_segment_id] = poster
            self.next_segment_id += 1
        return file_id

    def refresh_file(self, file_id: int, st: FileStat) -> None:
        """Same content, new size/mtime (touched): a newer row for the same file id."""
        row = dict(self.reader.file_by_id(file_id))
        row.update(size=st.size, mtime=st.mtime, inode=st.inode, device=st.device)
        self.file_rows.append(row)

    def delete_files(self, file_ids: list[int]) -> None:
        if file_ids:
            self.deleted_files.extend(int(i) for i in file_ids)
            self.deleted_segments.append(self._segment_ids_of(file_ids))

    def delete_segments(self, ids: np.ndarray) -> int:
        """Tombstone live segments (files left without segments go too); returns how many."""
        ids = self.reader.live_ids(np.unique(np.asarray(ids, np.int64)))
        if not len(ids):
            return 0
        self.deleted_segments.append(ids)
        seg, files = self._scan_file_ids()
        file_ids, counts = np.unique(files, return_counts=True)
        gone_ids, gone_counts = np.unique(files[np.isin(seg, ids)], return_counts=True)
        remaining = counts[np.searchsorted(file_ids, gone_ids)] - gone_counts
        self.deleted_files.extend(int(f) for f in gone_ids[remaining <= 0])
        return len(ids)

    def record_error(self, path: str, st: FileStat | None, reason: str) -> None:
        keep = pc.not_equal(self.errors.column("path"), path)
        row = {
            "path": path,
            "size": st.size if st else None,
            "mtime": st.mtime if st else None,
            "reason": reason,
            "at": now_utc(),
        }
        self.errors = pa.concat_tables([self.errors.filter(keep), pa.Table.from_pylist([row], schema=ERRORS_SCHEMA)])
        self.errors_changed = True

    def exclude_files(self, file_ids: list[int]) -> None:
        """Remember removed files (path, size, mtime, hash) so ``index`` does not add them back."""
        rows = [self.reader.file_by_id(int(i)) for i in file_ids]
        rows = [{**{k: r[k] for k in ("path", "size", "mtime", "hash")}, "removed_at": now_utc()} for r in rows if r]
        if rows:
            paths = pa.array([r["path"] for r in rows])
            kept = self.exclusions.filter(pc.invert(pc.is_in(self.exclusions.column("path"), paths)))
            self.exclusions = pa.concat_tables([kept, pa.Table.from_pylist(rows, schema=EXCLUSIONS_SCHEMA)])
            self.exclusions_changed = True

    def include_file(self, path: str) -> None:
        """Forget the exclusion of ``path`` (it changed, or the user asked to add it again)."""
        if self.exclusions.num_rows and path in set(self.exclusions.column("path").to_pylist()):
            self.exclusions = self.exclusions.filter(pc.not_equal(self.exclusions.column("path"), path))
            self.exclusions_changed = True

    def clear_error(self, path: str) -> None:
        if self.errors.num_rows and path in set(self.errors.column("path").to_pylist()):
            self.errors = self.errors.filter(pc.not_equal(self.errors.column("path"), path))
            self.errors_changed = True

    # ------------------------------------------------------------------ helpers
    def _check_aux(self, f: ClipFeatures) -> None:
        for name, value in f.aux.items():
            size = int(np.asarray(value).size)
            known = self.manifest.aux_dims.get(name)
            if known is None:
                self.manifest.aux_dims[name] = size  # saved with the commit that first stores it
            elif known != size:
                raise ValueError(f"aux descriptor {name!r} has {size} values, the index stores {known}")

    def _new_file_row(self, st: FileStat, digest: str, info: VideoInfo) -> int:
        file_id = self.next_file_id
        self.next_file_id += 1
        self.file_rows.append(
            {
                "file_id": file_id,
                "path": st.path,
                "size": st.size,
                "mtime": st.mtime,
                "hash": digest,
                "duration": info.duration,
                "fps": info.fps,
                "width": info.width,
                "height": info.height,
                "frame_count": info.frame_count,
                "inode": st.inode,
                "device": st.device,
            }
        )
        return file_id

    def _add_segment(self, file_id, index, start_frame, end_frame, start_s, end_s, f: ClipFeatures, poster) -> None:
        row = {
            "id": self.next_segment_id,
            "file_id": file_id,
            "segment_index": int(index),
            "start_frame": int(start_frame),
            "end_frame": int(end_frame),
            "start_s": float(start_s),
            "end_s": float(end_s),
            "linearity_max": float(f.spf.max_dev),
            "linearity_mean": float(f.spf.mean_dev),
            "breakpoints": [int(b) for b in f.spf.breakpoints],
            "indexed_at": now_utc(),
        }
        for name, value in f.aux.items():
            row[AUX_PREFIX + name] = np.asarray(value, np.float32).ravel().tolist()
        self.segment_rows.append(row)
        self.moments.append(np.asarray(f.moments, np.float32))
        self.curves.append(np.asarray(f.spf.curve, np.float32))
        if poster is not None:
            self.posters[self.next_segment_id] = poster
        self.next_segment_id += 1

    def _scan_file_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """(segment ids, file ids) of all live segments: one column scan."""
        ids, files = [], []
        for f, rows in self.reader.iter_live():
            ids.append(np.asarray(f.ids)[rows])
            files.append(f.read_columns(["file_id"]).column("file_id").to_numpy()[rows])
        if not ids:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(ids), np.concatenate(files)

    def _segment_ids_of(self, file_ids: list[int]) -> np.ndarray:
        seg, files = self._scan_file_ids()
        return seg[np.isin(files, np.asarray(file_ids, np.int64))]

    # ------------------------------------------------------------------ commit
    def commit(self, update_ann=None) -> SnapshotReader:
        """Write the staged changes as the next snapshot; returns a reader of it."""
        if not self.dirty:
            return self.reader
        written: list[Path] = []
        base = self.reader.snapshot
        restore_manifest = None
        try:
            s = replace(base, next_segment_id=self.next_segment_id, next_file_id=self.next_file_id)
            if self.segment_rows:
                order = np.argsort([r["id"] for r in self.segment_rows])  # already ascending; kept explicit
                table = pa.Table.from_pylist(
                    [self.segment_rows[i] for i in order], schema=segments_schema(self.manifest.aux_dims)
                )
                data = FragmentData(
                    table,
                    np.stack([self.moments[i] for i in order]),
                    np.stack([self.curves[i] for i in order]),
                    self.posters,
                    self.manifest.moments_codec,
                )
                ref = write_fragment(self.dir, data)
                written.append(self.dir / snap.FRAGMENTS / ref.name)
                s = replace(s, fragments=s.fragments + (ref,))
            if self.file_rows:
                part = write_files(self.dir, pa.Table.from_pylist(self.file_rows, schema=FILES_SCHEMA))
                written.append(self.dir / snap.FILES / part)
                s = replace(s, file_parts=s.file_parts + (part,))
            if self.deleted_segments or self.deleted_files:
                dels = np.unique(np.concatenate([self.reader.deleted, *self.deleted_segments]))
                name = snap.write_ids(self.dir, dels)
                dfiles = snap.write_ids(
                    self.dir, np.concatenate([self.reader.deleted_files, np.asarray(self.deleted_files, np.int64)])
                )
                written += [self.dir / snap.DELETIONS / n for n in (name, dfiles) if n]
                s = replace(s, deleted_segments=name, deleted_files=dfiles, n_deleted=len(dels))
            if self.errors_changed:
                name = write_errors(self.dir, self.errors)
                written.append(self.dir / snap.ERRORS / name)
                s = replace(s, errors=name)
            if self.exclusions_changed:
                name = write_side_table(self.dir, snap.EXCLUSIONS, self.exclusions, EXCLUSIONS_SCHEMA)
                written.append(self.dir / snap.EXCLUSIONS / name)
                s = replace(s, exclusions=name)
            if update_ann is not None:
                s, ann_files = update_ann(s)
                written += ann_files
            if self.manifest_changed:
                restore_manifest = save_manifest(self.dir, self.manifest)
            committed = snap.commit(self.dir, s, self.manifest.to_json())
        except OSError as exc:
            for path in written:
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
            if restore_manifest is not None:
                restore_manifest()
            self._restore_manifest_fields()
            raise commit_error(self.dir, base.version, exc) from exc
        self._committed_manifest = self.manifest.to_json()
        self.reader = SnapshotReader(self.dir, self.manifest, committed)
        self._reset()
        return self.reader

    def _restore_manifest_fields(self) -> None:
        """The in-memory manifest as committed (roots and aux sizes this commit would have added)."""
        self.manifest.roots = list(self._committed_manifest["roots"])
        self.manifest.aux_dims = dict(self._committed_manifest["aux_dims"])


def save_manifest(directory: Path, manifest: Manifest):
    """Save ``manifest`` keeping the previous file as a hard link; returns how to put it back
    (a rename, which needs no free space)."""
    path = directory / MANIFEST
    backup = directory / f".{MANIFEST}.previous.tmp"  # a killed writer's copy: removed with the stale temps
    backup.unlink(missing_ok=True)
    os.link(path, backup)
    try:
        manifest.save(directory)
    except BaseException:
        os.replace(backup, path)
        raise

    def restore() -> None:
        os.replace(backup, path)

    return restore


def write_errors(directory: Path, errors: pa.Table) -> str:
    return write_side_table(directory, snap.ERRORS, errors, ERRORS_SCHEMA)


def read_errors(directory: Path, name: str | None) -> pa.Table:
    return read_side_table(directory, snap.ERRORS, name, ERRORS_SCHEMA)


def write_side_table(directory: Path, folder: str, table: pa.Table, schema: pa.Schema) -> str:
    """A small table a snapshot names (errors, exclusions) as a new ``<folder>/<name>.parquet``."""
    import pyarrow.parquet as pq

    from vidsearch.atomic import atomic_path
    from vidsearch.retrieval.store.fragment import new_name

    name = f"{new_name()}.parquet"
    with atomic_path(directory / folder / name) as tmp:
        pq.write_table(table.cast(schema), tmp)
    return name


def read_side_table(directory: Path, folder: str, name: str | None, schema: pa.Schema) -> pa.Table:
    import pyarrow.parquet as pq

    if not name:
        return schema.empty_table()
    path = directory / folder / name
    try:
        return pq.read_table(path).cast(schema)
    except FileNotFoundError as exc:
        raise FileNotFoundError(2, "No such file or directory", str(path)) from exc
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise damaged(directory, f"{folder}/{name}", f"unreadable ({exc})") from exc


def commit_error(directory: Path, version: int, exc: OSError, action: str = "commit") -> IndexStoreError:
    """One clear message for a failed commit (or compaction); the previous snapshot is untouched."""
    full = exc.errno == errno.ENOSPC or "No space left on device" in str(exc)
    cause = "the disk is full" if full else (exc.strerror or str(exc))
    kept = f"snapshot {version}" if version else "the empty index"
    return IndexStoreError(
        f"{directory}: could not {action} ({cause}); the index is unchanged ({kept} is "
        f"intact): free space or fix the cause, then rerun"
    )
