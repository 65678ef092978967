"""``curate export``: a selection as a training manifest, cut files and WebDataset-style shards.

Manifest (Parquet + JSONL, one row per segment, in selection order)::

    id, sample (NNNNNN key), path, start_s, end_s, fps, width, height, duration_s,
    semantic_change, token_motion, linearity_max, linearity_mean, pacing_class, cluster,
    dup_count, spf_curve (64 floats), pacing_segments (SPF breakpoints), file (cut file or null),
    cut ("copy" | "reencode" | null), error (why a cut failed, or null)

Annotations a previous step did not compute are null. With ``cut_dir`` each segment is written to
``cut_dir/NNNNNN.mp4`` (see :mod:`vidsearch.curation.cutting` for copy vs re-encode); a segment
that cannot be cut is reported in its row and the export goes on. With ``shard_dir`` the cut
files go into tar shards ``shard-000000.tar`` of ``shard_size`` samples, each sample as
``NNNNNN.mp4`` + ``NNNNNN.json`` (its manifest row), the layout WebDataset loaders read.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vidsearch.atomic import atomic_path
from vidsearch.curation.cutting import cut_segment
from vidsearch.curation.pacing import pacing_classes
from vidsearch.curation.selection import Selection
from vidsearch.errors import ConfigError
from vidsearch.indexers.decode.video import VideoError

ANNOTATIONS = ("semantic_change", "token_motion", "pacing_class", "cluster", "dup_count")


@dataclass
class ExportResult:
    manifest_parquet: Path
    manifest_jsonl: Path
    rows: int
    copied: int = 0
    reencoded: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (segment id, reason)
    shards: list[Path] = field(default_factory=list)


def manifest_rows(source, selection: Selection) -> list[dict]:
    """One JSON-ready row per selected segment."""
    cols = [
        "path",
        "start_s",
        "end_s",
        "fps",
        "width",
        "height",
        "spf_curve",
        "linearity_max",
        "linearity_mean",
        "breakpoints",
    ]
    t = source.table(selection.ids, cols).to_pydict()
    n = len(selection)
    ann = {k: selection.columns.get(k) for k in ANNOTATIONS}
    if ann["pacing_class"] is None and n:
        ann["pacing_class"] = pacing_classes(np.asarray(t["spf_curve"], np.float64), np.asarray(t["linearity_max"]))
    rows = []
    for i in range(n):
        row = {
            "id": int(selection.ids[i]),
            "sample": f"{i:06d}",
            "path": t["path"][i],
            "start_s": float(t["start_s"][i]),
            "end_s": float(t["end_s"][i]),
            "fps": float(t["fps"][i]),
            "width": int(t["width"][i]),
            "height": int(t["height"][i]),
            "duration_s": float(t["end_s"][i] - t["start_s"][i]),
            "linearity_max": float(t["linearity_max"][i]),
            "linearity_mean": float(t["linearity_mean"][i]),
        }
        for k, values in ann.items():
            row[k] = None if values is None else _plain(values[i])
        row["spf_curve"] = [float(v) for v in t["spf_curve"][i]]
        row["pacing_segments"] = [int(b) for b in (t["breakpoints"][i] if t["breakpoints"][i] is not None else [])]
        row.update(file=None, cut=None, error=None)
        rows.append(row)
    return rows


def export_selection(
    source,
    selection: Selection,
    out_dir: Path,
    cut_dir: Path | None = None,
    shard_dir: Path | None = None,
    shard_size: int = 1000,
    allow_copy: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ExportResult:
    """Write ``out_dir/manifest.parquet`` and ``manifest.jsonl``, optionally cut files and shards.
    A row's ``file`` (its cut) is relative to ``out_dir``, so the dataset can move as one folder."""
    if shard_size < 1:
        raise ConfigError(f"shard size must be >= 1 (got {shard_size})")
    out_dir = Path(out_dir)
    rows = manifest_rows(source, selection)
    result = ExportResult(out_dir / "manifest.parquet", out_dir / "manifest.jsonl", len(rows))
    if cut_dir is not None or shard_dir is not None:
        with tempfile.TemporaryDirectory(prefix="vidsearch-cuts-") as scratch:
            target = Path(cut_dir) if cut_dir is not None else Path(scratch)
            _cut_all(rows, target, allow_copy, result, progress)
            if shard_dir is not None:
                result.shards = write_shards(rows, Path(shard_dir), shard_size)
            for row in rows:  # the cuts only lived for the shards, or are found from the manifest
                row["file"] = None if cut_dir is None or not row["file"] else _relative(row["file"], out_dir)
    _write_manifest(rows, result)
    return result


def _relative(path: str, folder: Path) -> str:
    return os.path.relpath(Path(path).resolve(), Path(folder).resolve())


def _cut_all(rows: list[dict], target: Path, allow_copy: bool, result: ExportResult, progress) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for n, row in enumerate(rows):
        try:
            cut = cut_segment(row["path"], row["start_s"], row["end_s"], target / f"{row['sample']}.mp4", allow_copy)
        except VideoError as exc:
            row["error"] = str(exc)
            result.failed.append((row["id"], str(exc)))
        else:
            row["file"], row["cut"] = str(cut.path), cut.mode
            if cut.mode == "copy":
                result.copied += 1
            else:
                result.reencoded += 1
        if progress:
            progress(n + 1, len(rows))


def write_shards(rows: list[dict], shard_dir: Path, shard_size: int) -> list[Path]:
    """Tar shards of ``shard_size`` cut samples: ``NNNNNN.mp4`` + ``NNNNNN.json`` each."""
    shard_dir.mkdir(parents=True, exist_ok=True)
    ready = [r for r in rows if r["file"]]
    shards = []
    for s, start in enumerate(range(0, len(ready), shard_size)):
        path = shard_dir / f"shard-{s:06d}.tar"
        with atomic_path(path, suffix=".tar") as tmp, tarfile.open(tmp, "w") as tar:
            for row in ready[start : start + shard_size]:
                tar.add(row["file"], arcname=f"{row['sample']}.mp4")
                meta = json.dumps({k: v for k, v in row.items() if k != "file"}).encode()
                info = tarfile.TarInfo(f"{row['sample']}.json")
                info.size = len(meta)
                tar.addfile(info, io.BytesIO(meta))
        shards.append(path)
    return shards


def _write_manifest(rows: list[dict], result: ExportResult) -> None:
    table = pa.Table.from_pylist(rows, schema=_manifest_schema(rows))
    with atomic_path(result.manifest_parquet, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    with atomic_path(result.manifest_jsonl, suffix=".jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _manifest_schema(rows: list[dict]) -> pa.Schema:
    curve_len = len(rows[0]["spf_curve"]) if rows else 64
    return pa.schema(
        [
            ("id", pa.int64()), ("sample", pa.string()), ("path", pa.string()), ("start_s", pa.float64()),
            ("end_s", pa.float64()), ("fps", pa.float64()), ("width", pa.int32()), ("height", pa.int32()),
            ("duration_s", pa.float64()), ("linearity_max", pa.float32()), ("linearity_mean", pa.float32()),
            ("semantic_change", pa.float32()), ("token_motion", pa.float32()), ("pacing_class", pa.string()),
            ("cluster", pa.int32()), ("dup_count", pa.int32()), ("spf_curve", pa.list_(pa.float32(), curve_len)),
            ("pacing_segments", pa.list_(pa.int32())), ("file", pa.string()), ("cut", pa.string()),
            ("error", pa.string()),
        ]
    )  # fmt: skip


def _plain(value):
    """NumPy scalars to Python (JSON) values."""
    return value.item() if isinstance(value, np.generic) else value
