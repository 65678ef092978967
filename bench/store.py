"""Store benchmark: query latency, recall against exact search, open time, memory and disk per
segment of the schema-2 store at a given number of segments.

    python -m vidsearch.bench.store --sizes 100000,1000000
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def synthetic_index(directory: Path, n: int, dim: int = 1152, curve_len: int = 64, vectors=None, chunk: int = 65_536):
    """An index directory holding ``n`` synthetic segments (10 per file), written fragment by
    fragment as commits would (then the ANN indexes, if ``n`` is above the exact-search limit).

    ``vectors(rng, count)`` draws unit moments vectors; by default clustered ones around ``n / 100``
    random centres (cosine ~0.9 within a cluster). Returns the opened index.
    """
    from dataclasses import replace

    import pyarrow as pa

    from vidsearch.indexers.config import ExtractorConfig
    from vidsearch.retrieval import snapshot as snap
    from vidsearch.retrieval.ann import update_ann
    from vidsearch.retrieval.fragment import FragmentData, write_files, write_fragment
    from vidsearch.retrieval.index import Index
    from vidsearch.retrieval.schema import FILES_SCHEMA, segments_schema
    from vidsearch.retrieval.store import Manifest, now_utc

    rng = np.random.default_rng(n)
    if vectors is None:
        centres = rng.normal(size=(max(1, n // 100), dim)).astype(np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)

        def vectors(rng, count):
            v = centres[rng.integers(0, len(centres), count)] + rng.normal(scale=0.5 / np.sqrt(dim), size=(count, dim)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

    manifest = Manifest(ExtractorConfig(weights_id="synthetic"), [], now_utc().isoformat(), dim)
    directory.mkdir(parents=True, exist_ok=True)
    manifest.save(directory)
    fragments, parts = [], []
    per_file = 10
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
        ids = np.arange(start + 1, start + count + 1)
        file_ids = (ids - 1) // per_file + 1
        curves = np.sort(rng.uniform(size=(count, curve_len)), axis=1).astype(np.float32)
        curves = (curves - curves[:, :1]) / (curves[:, -1:] - curves[:, :1])
        seg_index = (ids - 1) % per_file
        segments = pa.table(
            {
                "id": ids,
                "file_id": file_ids,
                "segment_index": seg_index.astype(np.int32),
                "start_frame": seg_index * 125,
                "end_frame": seg_index * 125 + 125,
                "start_s": seg_index * 5.0,
                "end_s": seg_index * 5.0 + 5.0,
                "linearity_max": np.zeros(count, np.float32),
                "linearity_mean": np.zeros(count, np.float32),
                "breakpoints": pa.array([[] for _ in range(count)], pa.list_(pa.int32())),
                "indexed_at": pa.array([now_utc()] * count, pa.timestamp("s", tz="UTC")),
            }
        ).cast(segments_schema({}))
        fragments.append(write_fragment(directory, FragmentData(segments, vectors(rng, count), curves, {})))
        new_files = np.unique(file_ids)
        files = pa.table(
            {
                "file_id": new_files,
                "path": [f"/synthetic/{i}.mp4" for i in new_files],
                "size": np.full(len(new_files), 1000),
                "mtime": np.zeros(len(new_files)),
                "hash": [f"{i:032x}" for i in new_files],
                "duration": rng.uniform(1, 100, len(new_files)),
                "fps": np.full(len(new_files), 25.0),
                "width": np.full(len(new_files), 640, np.int32),
                "height": np.full(len(new_files), 360, np.int32),
                "frame_count": np.full(len(new_files), 1250),
            }
        ).cast(FILES_SCHEMA)
        parts.append(write_files(directory, files))
    s = snap.Snapshot(fragments=tuple(fragments), file_parts=tuple(parts), next_segment_id=n + 1, next_file_id=n // per_file + 2)
    s, _ = update_ann(directory, manifest, s, rebuild=True)
    snap.commit(directory, s)
    return Index.open(directory)


