"""``vidsearch repair``: put a damaged index back into a state ``verify --deep`` finds clean.

What ``verify`` names is dropped into a new snapshot, never patched in place: unreadable snapshot
files are removed (the head makes the next version number higher than any lost one), a garbled
manifest is rewritten from the copy the newest snapshot holds, damaged fragments and their
files' other segments are tombstoned or left out, damaged files / errors / deletions parts are
left out, the ANN indexes are rebuilt. Then the source files of the dropped segments are
re-embedded through ``Index.add`` where they still exist unchanged (same size, mtime and content
hash); where snapshots or file rows were lost the index's roots are indexed again. What could
not be recovered is listed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.lock import WriterLock
from vidsearch.retrieval.store.manifest import IndexStoreError, Manifest
from vidsearch.retrieval.store.verify import VerifyReport, verify


@dataclass
class RepairReport:
    index: Path
    found: list[str] = field(default_factory=list)  # verify's lines before the repair
    actions: list[str] = field(default_factory=list)
    reembedded: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # "path: why" for what could not be recovered
    after: VerifyReport | None = None

    @property
    def ok(self) -> bool:
        return self.after is None or self.after.ok


def repair(directory: str | Path) -> RepairReport:
    """Repair the index at ``directory`` (takes the writer lock for the rewrite)."""
    from vidsearch.retrieval.index import Index

    directory = Path(directory)
    before = verify(directory, deep=True)
    report = RepairReport(directory, before.lines())
    if before.ok:
        report.after = before
        return report
    with WriterLock(directory):
        manifest = _manifest(directory, report)
        lost_history = _snapshots(directory, report)
        affected, reindex, removed = _rewrite(directory, manifest, report)
    rows = [r for r in affected if r is not None]
    todo = []
    for row in rows:
        why = _unchanged(row)
        if why:
            report.lost.append(f"{row['path']}: {why}")
        else:
            todo.append(row["path"])
    index = Index.open(directory)
    if todo:
        index.add(todo, record_roots=False)
        report.reembedded += todo
        again = [
            r["id"] for p in todo for r in index.segments_of(p) if (p, r["start_frame"], r["end_frame"]) in removed
        ]
        if again:  # segments the user had removed stay removed
            index.remove(again)
    if (lost_history or reindex) and manifest.roots:
        added = index.add(manifest.roots)
        report.actions.append(f"indexed the roots again: {added.added} file(s) embedded, {added.reused} copied")
    report.after = verify(directory, deep=True)
    return report


def _manifest(directory: Path, report: RepairReport) -> Manifest:
    try:
        return Manifest.load(directory)
    except IndexStoreError:
        pass
    for version in reversed(snap.versions(directory)):
        try:
            copy = snap.load(directory, version).manifest
        except (IndexStoreError, OSError):
            continue
        if copy:
            manifest = Manifest.from_json(copy)
            manifest.save(directory)
            report.actions.append(f"manifest.json rewritten from the copy in snapshot {version}")
            return manifest
    raise IndexStoreError(
        f"{directory}: manifest.json is unreadable and no snapshot holds a copy; rebuild the index "
        f"(`vidsearch index DIR --index {directory} --rebuild`)"
    )


def _snapshots(directory: Path, report: RepairReport) -> bool:
    """Remove unreadable snapshot files; True when committed history is lost (the newest is gone)."""
    head = snap.read_head_or_none(directory)
    for version in snap.versions(directory):
        try:
            snap.load(directory, version)
        except (IndexStoreError, OSError):
            snap.snapshot_path(directory, version).unlink()
            report.actions.append(f"removed the unreadable snapshot {version}")
    found = snap.versions(directory)
    if not found:
        raise IndexStoreError(f"{directory}: no readable snapshot is left; rebuild the index")
    newest = found[-1]
    if head is None and snap.load(directory, newest).checksums:
        report.lost.append(
            f"snapshots/{snap.HEAD} was missing: snapshots after {newest} may be lost; indexed the roots again "
            f"(segments removed after snapshot {newest} may be back: remove them again)"
        )
        return True
    if head is not None and head["version"] > newest:
        report.lost.append(
            f"snapshots {newest + 1}..{head['version']}: lost; rolled back to snapshot {newest} and indexed the "
            f"roots again (segments removed after snapshot {newest} may be back: remove them again)"
        )
        return True
    return False


def _rewrite(directory: Path, manifest: Manifest, report: RepairReport):
    """Commit the newest snapshot without what is damaged; returns (file rows whose segments were
    dropped (None: unknown), whether the roots must be indexed again, the removed segments among
    the dropped ones as (path, start frame, end frame))."""
    import pyarrow as pa

    from vidsearch.retrieval.store.ann import update_ann
    from vidsearch.retrieval.store.fragment import FragmentReader, read_files
    from vidsearch.retrieval.store.transaction import read_errors

    base = snap.load(directory, snap.versions(directory)[-1])
    found = verify(directory, deep=True)
    bad_fragments = found.damaged_fragments
    bad_paths = {p.where for p in found.problems}
    keep = tuple(f for f in base.fragments if f.name not in bad_fragments)
    parts = tuple(p for p in base.file_parts if f"{snap.FILES}/{p}" not in bad_paths)
    reindex = len(parts) < len(base.file_parts)
    for p in base.file_parts:
        if p not in parts:
            report.actions.append(f"left out the damaged files part {p} (its files are indexed again from the roots)")
    all_rows = pa.concat_tables([read_files(directory, p) for p in parts]) if parts else None
    rows_by_id = {} if all_rows is None else {r["file_id"]: r for r in all_rows.to_pylist()}

    deleted, deleted_files = _tombstones(directory, base, bad_paths, report)
    affected_ids: set[int] = set()
    removed: set[tuple[str, int, int]] = set()  # (path, start frame, end frame) of removed segments
    unknown = False
    for ref in base.fragments:
        if ref.name in bad_fragments:
            table = _fragment_table(directory, ref)
            unknown |= table is None
            if table is not None:
                affected_ids |= set(table["file_id"].tolist())
                gone = np.isin(table["id"], deleted)
                for file_id, start, end in zip(
                    table["file_id"][gone], table["start_frame"][gone], table["end_frame"][gone]
                ):
                    if int(file_id) in rows_by_id:
                        removed.add((rows_by_id[int(file_id)]["path"], int(start), int(end)))
            report.actions.append(f"dropped the damaged fragment {ref.name} ({ref.segments} segments)")
    reindex |= unknown
    live_files = set(rows_by_id) - set(deleted_files.tolist())
    seg_parts, file_parts = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for ref in keep:
        f = FragmentReader(directory, ref)
        seg_parts.append(np.asarray(f.ids))
        file_parts.append(f.read_columns(["file_id"]).column("file_id").to_numpy())
    kept, files = np.concatenate(seg_parts), np.concatenate(file_parts)
    with_segments = set(files[~np.isin(kept, deleted)].tolist())
    # files whose rows sat in the dropped fragments (or, where those rows are unreadable, every
    # file left without a segment) are re-embedded whole
    drop_files = sorted((affected_ids | (live_files - with_segments)) & live_files)
    stale = np.isin(files, drop_files) | ~np.isin(files, list(live_files))
    if (~np.isin(files, list(live_files)) & np.isin(kept, deleted)).any():
        report.lost.append("removals of segments whose file rows were lost: re-indexed files may show them again")
    tombstones = np.unique(np.concatenate([deleted[np.isin(deleted, kept)], kept[stale]]))
    errors = base.errors if base.errors and f"{snap.ERRORS}/{base.errors}" not in bad_paths else None
    if base.errors and errors is None:
        report.actions.append("left out the damaged errors table (files that failed are retried by the next index)")
    elif errors:
        read_errors(directory, errors)
    s = replace(
        base,
        fragments=keep,
        file_parts=parts,
        deleted_segments=snap.write_ids(directory, tombstones),
        deleted_files=snap.write_ids(directory, np.concatenate([deleted_files, np.asarray(drop_files, np.int64)])),
        n_deleted=len(tombstones),
        errors=errors,
        ann={},
    )
    s, _ = update_ann(directory, manifest, s, rebuild=True)
    committed = snap.commit(directory, s, manifest.to_json())
    for version in snap.versions(directory):
        if version != committed.version:
            snap.snapshot_path(directory, version).unlink(missing_ok=True)
    for path in snap.garbage(directory, [committed]):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    report.actions.append(f"committed snapshot {committed.version} without the damaged parts")
    return [rows_by_id.get(i) for i in drop_files], reindex, removed


def _tombstones(directory: Path, base: snap.Snapshot, bad: set[str], report: RepairReport):
    """The base snapshot's deleted segment and file ids (empty, reported lost, where unreadable)."""
    out = []
    for name in (base.deleted_segments, base.deleted_files):
        try:
            out.append(snap.read_ids(directory, name) if f"{snap.DELETIONS}/{name}" not in bad else None)
        except (IndexStoreError, OSError):
            out.append(None)
        if out[-1] is None:
            out[-1] = np.empty(0, np.int64)
            report.lost.append(f"deletions/{name}: unreadable; segments removed before may be back")
    return out[0], out[1]


def _fragment_table(directory: Path, ref: snap.FragmentRef) -> dict[str, np.ndarray] | None:
    """id, file_id, start/end frame of a damaged fragment's rows, from whichever of its two
    tables still reads (None: neither does)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from vidsearch.retrieval.store.fragment import SEGMENT_TABLE

    folder = directory / snap.FRAGMENTS / ref.name
    columns = ["id", "file_id", "start_frame", "end_frame"]

    def arrow() -> pa.Table:
        with pa.ipc.open_file(pa.memory_map(str(folder / SEGMENT_TABLE))) as reader:
            return reader.read_all().select(columns)

    for load in (arrow, lambda: pq.read_table(folder / "segments.parquet", columns=columns)):
        try:
            table = load()
        except (ValueError, OSError, pa.ArrowException, KeyError):
            continue
        return {c: table.column(c).to_numpy() for c in columns}
    return None


def _unchanged(row: dict) -> str | None:
    """Why a file cannot be re-embedded as it was indexed (None: it can)."""
    from vidsearch.indexers.corpus import content_hash, stat_file

    try:
        st = stat_file(row["path"])
    except OSError:
        return "the source file is gone"
    if st.size != row["size"] or st.mtime != row["mtime"]:
        if content_hash(st.path) != row["hash"]:
            return "the source file changed since it was indexed"
    return None
