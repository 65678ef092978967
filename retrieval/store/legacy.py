"""Migration of schema-1 indexes (one ``clips.parquet`` rewritten per commit) to schema 2.

Each clip becomes one file and one whole-file segment (``segment.mode = "none"``, what schema 1
was), keeping its id as both segment id and file id, so ids users noted keep working. The new
files are written first; replacing ``manifest.json`` is the switch; the old ``clips.parquet`` and
FAISS files are removed last. A migration killed before the switch leaves the schema-1 index as
it was (the next run starts over); after it, the index is schema 2.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vidsearch.indexers.config import ExtractorConfig
from vidsearch.retrieval.store import snapshot as snap
from vidsearch.retrieval.store.fragment import FragmentData, write_files, write_fragment
from vidsearch.retrieval.store.lock import WriterLock
from vidsearch.retrieval.store.manifest import IndexStoreError, Manifest, read_manifest_json
from vidsearch.retrieval.store.schema import ERRORS_SCHEMA, FILES_SCHEMA, segments_schema
from vidsearch.retrieval.store.transaction import write_errors

CLIPS = "clips.parquet"
ERRORS_V1 = "errors.parquet"


def migrate(directory: str | Path) -> dict:
    """Convert a schema-1 index in place; returns ``{"segments": n, "snapshot": version}``."""
    directory = Path(directory)
    data = read_manifest_json(directory)
    if data.get("schema_version") != 1:
        raise IndexStoreError(f"{directory}: nothing to migrate (schema version {data.get('schema_version')})")
    with WriterLock(directory):
        for sub in (snap.SNAPSHOTS, snap.FRAGMENTS, snap.FILES, snap.DELETIONS, snap.ERRORS, snap.EXCLUSIONS, snap.ANN):
            shutil.rmtree(directory / sub, ignore_errors=True)  # leftovers of an interrupted migration
        manifest = Manifest(
            ExtractorConfig.from_dict(data["config"]),
            list(data.get("roots", [])),
            data["created_at"],
            int(data["moments_dim"]),
        )
        clips = pq.read_table(directory / CLIPS) if (directory / CLIPS).exists() else None
        s = snap.Snapshot()
        n = 0
        if clips is not None and clips.num_rows:
            clips = clips.sort_by("id")
            n = clips.num_rows
            ids = clips.column("id")
            names = [c for c in FILES_SCHEMA.names if c != "file_id" and c in clips.column_names]
            files = clips.select(names).add_column(0, "file_id", ids)
            frames = clips.column("frame_count").to_numpy()
            segments = pa.table(
                {
                    "id": ids,
                    "file_id": ids,
                    "segment_index": pa.array(np.zeros(n, np.int32)),
                    "start_frame": pa.array(np.zeros(n, np.int64)),
                    "end_frame": pa.array(np.maximum(frames, 1).astype(np.int64)),
                    "start_s": pa.array(np.zeros(n)),
                    "end_s": clips.column("duration"),
                    "linearity_max": clips.column("linearity_max"),
                    "linearity_mean": clips.column("linearity_mean"),
                    "breakpoints": clips.column("segments"),
                    "indexed_at": clips.column("indexed_at"),
                }
            ).cast(segments_schema({}))
            moments = _fixed(clips.column("moments"), manifest.moments_dim)
            curves = _fixed(clips.column("spf_curve"), manifest.curve_len)
            ref = write_fragment(directory, FragmentData(segments, moments, curves, {}))
            top = int(ids.to_numpy().max()) + 1
            s = snap.Snapshot(
                fragments=(ref,), file_parts=(write_files(directory, files),), next_segment_id=top, next_file_id=top
            )
        if (directory / ERRORS_V1).exists():
            errors = pq.read_table(directory / ERRORS_V1).cast(ERRORS_SCHEMA)
            if errors.num_rows:
                s = replace(s, errors=write_errors(directory, errors))
        committed = snap.commit(directory, s)
        manifest.save(directory)  # the switch: from here on the index is schema 2
        for old in [directory / CLIPS, directory / ERRORS_V1, *directory.glob("moments-*.faiss")]:
            old.unlink(missing_ok=True)
        return {"segments": n, "snapshot": committed.version}


def _fixed(column: pa.ChunkedArray, width: int) -> np.ndarray:
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, np.float32).reshape(-1, width)
