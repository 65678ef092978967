"""``compact``: rewrite the live rows into few large fragments, drop tombstones and old snapshots.

Like Lance's compaction: fragments smaller than ``TARGET_ROWS`` (or holding deleted rows) are
merged, in id order, into new fragments of at most ``TARGET_ROWS`` rows; large clean fragments
are kept as they are. The files table is rewritten as one part (live rows only). The new
snapshot is committed like any other (one rename), and only then are older snapshots and the
files no snapshot references deleted, so ``kill -9`` at any point leaves either the old or the
new snapshot readable, and a rerun (or the next writer) removes the leftovers. A fragment whose
files differ from their checksums is refused, not merged; a full disk is one ``IndexStoreError``.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pyarrow as pa

from vidsearch.retrieval.store import checksums
from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.fragment import FragmentData, FragmentReader, conform, write_files, write_fragment
from vidsearch.retrieval.store.reader import SnapshotReader, row_norms, stored_unit
from vidsearch.retrieval.store.transaction import commit_error

TARGET_ROWS = 65_536


def compact(reader: SnapshotReader) -> dict:
    """Compact the index behind ``reader`` (caller holds the writer lock); returns a summary."""
    directory, s = reader.dir, reader.snapshot
    try:
        return _compact(reader)
    except OSError as exc:  # disk full...: the new files go, the last snapshot stays the index
        keep = [snap.load(directory, v) for v in snap.versions(directory)]
        for path in snap.garbage(directory, keep):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        raise commit_error(directory, s.version, exc, "compact") from exc


def _compact(reader: SnapshotReader) -> dict:
    from vidsearch.retrieval.store.ann import update_ann

    directory, s = reader.dir, reader.snapshot
    before = len(s.fragments), s.n_deleted, len(snap.versions(directory))
    deleted = set(reader.deleted.tolist())
    out: list[snap.FragmentRef] = []
    run: list[FragmentReader] = []

    def flush() -> None:
        out.extend(_merge(reader, run))
        run.clear()

    for f in reader.fragments:
        dirty = f.ref.segments < TARGET_ROWS or (deleted and np.isin(np.asarray(f.ids), reader.deleted).any())
        if dirty:
            run.append(f)
        else:
            flush()
            out.append(f.ref)
    flush()
    files = reader.files
    parts = (write_files(directory, files),) if files.num_rows else ()
    new = replace(
        s, fragments=tuple(out), file_parts=parts, deleted_segments=None, deleted_files=None, n_deleted=0, ann={}
    )
    new, _ = update_ann(directory, reader.manifest, new, rebuild=True)
    committed = snap.commit(directory, new, reader.manifest.to_json())
    for version in snap.versions(directory):
        if version != committed.version:
            snap.snapshot_path(directory, version).unlink(missing_ok=True)
    for path in snap.garbage(directory, [committed]):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return {
        "snapshot": committed.version,
        "fragments_before": before[0],
        "fragments_after": len(committed.fragments),
        "tombstones_dropped": before[1],
        "snapshots_dropped": before[2],
        "segments": committed.live_segments,
    }


def _merge(reader: SnapshotReader, fragments: list[FragmentReader]) -> list[snap.FragmentRef]:
    """The live rows of consecutive ``fragments`` as new fragments of <= TARGET_ROWS rows."""
    out: list[snap.FragmentRef] = []
    buffer: list[tuple[pa.Table, np.ndarray, np.ndarray, dict[int, bytes]]] = []
    size = 0

    def write() -> None:
        nonlocal size
        if buffer:
            schema = reader.schema
            table = pa.concat_tables([conform(t, schema) for t, *_ in buffer])
            posters: dict[int, bytes] = {}
            for *_, p in buffer:
                posters.update(p)
            data = FragmentData(
                table,
                np.concatenate([m for _, m, _, _ in buffer]),
                np.concatenate([c for _, _, c, _ in buffer]),
                posters,
                reader.manifest.moments_codec,
            )
            out.append(write_fragment(reader.dir, data))
        buffer.clear()
        size = 0

    live = {f.ref.name: rows for f, rows in reader.iter_live()}
    for f in fragments:
        part = live.get(f.ref.name)
        if part is None:
            continue
        bad = checksums.mismatches(reader.dir, reader.snapshot.checksums, f"{snap.FRAGMENTS}/{f.ref.name}")
        if bad:  # never carry damaged rows into a new fragment (whose checksums would bless them)
            raise f.damaged(", ".join(bad), "differs from its checksum")
        table = f.read_columns(None)
        posters = f.posters() if f.ref.posters else {}
        while len(part):
            take = part[: TARGET_ROWS - size]
            ids = np.asarray(f.ids[take], np.int64).tolist()
            kept = {i: posters[i] for i in ids if i in posters}
            moments = np.asarray(f.moments[take])
            bad = ~stored_unit(row_norms(np.asarray(moments, np.float32)))
            if bad.any():  # an index from before checksums: its NaN rows are not carried forward either
                raise f.damaged("moments", f"non-finite or non-unit vectors in {int(bad.sum())} row(s)")
            buffer.append((table.take(pa.array(take)), moments, np.asarray(f.curves[take]), kept))
            size += len(take)
            part = part[len(take) :]
            if size >= TARGET_ROWS:
                write()
    write()
    return out
