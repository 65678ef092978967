"""The index directory on disk: manifest, clips table, errors table, FAISS file.

Layout (all writes are temp file + ``os.replace``, so a reader or a ``kill -9`` never sees a
half-written file)::

    manifest.json          schema version, extractor config, corpus roots
    clips.parquet          one row per clip: metadata, SPF signature, moments vector
    errors.parquet         files that could not be indexed, with the reason
    moments-<gen>.faiss    ANN index over the moments, rebuilt from clips.parquet when missing
    write.lock             held by the one writer

``clips.parquet`` is the source of truth. Each commit stamps it with a new generation id; the
FAISS file carries the same id in its name, so a crash between the two renames is detected on
open and the FAISS index is rebuilt from the Parquet vectors instead of being trusted.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from vidsearch.atomic import atomic_path
from vidsearch.indexers.config import ExtractorConfig

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
CLIPS = "clips.parquet"
ERRORS = "errors.parquet"
LOCK = "write.lock"
GENERATION_KEY = b"vidsearch.generation"


class IndexStoreError(Exception):
    """Base class of every error about an index directory; the message is for the user."""


class IndexNotFoundError(IndexStoreError):
    pass


class ConfigMismatchError(IndexStoreError):
    pass


class IndexLockedError(IndexStoreError):
    pass


def clips_schema(moments_dim: int, curve_len: int) -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.int64()),
            ("path", pa.string()),
            ("size", pa.int64()),
            ("mtime", pa.float64()),
            ("hash", pa.string()),
            ("duration", pa.float64()),
            ("fps", pa.float64()),
            ("width", pa.int32()),
            ("height", pa.int32()),
            ("frame_count", pa.int64()),
            ("spf_curve", pa.list_(pa.float32(), curve_len)),
            ("linearity_max", pa.float32()),
            ("linearity_mean", pa.float32()),
            ("segments", pa.list_(pa.int32())),
            ("moments", pa.list_(pa.float32(), moments_dim)),
            ("indexed_at", pa.timestamp("s", tz="UTC")),
        ]
    )


ERRORS_SCHEMA = pa.schema(
    [("path", pa.string()), ("size", pa.int64()), ("mtime", pa.float64()), ("reason", pa.string()), ("at", pa.timestamp("s", tz="UTC"))]
)


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


class Manifest:
    """``manifest.json``: what the vectors mean (config) and where the clips came from (roots)."""

    def __init__(self, config: ExtractorConfig, roots: list[str], created_at: str, moments_dim: int):
        self.config, self.roots, self.created_at, self.moments_dim = config, roots, created_at, moments_dim

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "created_at": self.created_at,
            "config": self.config.to_dict(),
            "config_fingerprint": self.config.fingerprint(),
            "moments_dim": self.moments_dim,
            "roots": self.roots,
        }

    @classmethod
    def load(cls, directory: Path) -> "Manifest":
        path = directory / MANIFEST
        if not path.exists():
            raise IndexNotFoundError(f"no vidsearch index at {directory} (missing {MANIFEST}); run `vidsearch index DIR --index {directory}` first")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, OSError) as exc:
            raise IndexStoreError(f"{path}: unreadable manifest ({exc})") from exc
        if data.get("schema_version") != SCHEMA_VERSION:
            raise IndexStoreError(f"{path}: schema version {data.get('schema_version')} is not supported (expected {SCHEMA_VERSION}); rebuild the index")
        return cls(ExtractorConfig.from_dict(data["config"]), list(data.get("roots", [])), data["created_at"], int(data["moments_dim"]))

    def save(self, directory: Path) -> None:
        with atomic_path(directory / MANIFEST) as tmp:
            tmp.write_text(json.dumps(self.to_json(), indent=2))


def read_clips(directory: Path, schema: pa.Schema) -> tuple[pa.Table, str]:
    """The clips table and its generation id (empty table, '' for a new index)."""
    path = directory / CLIPS
    if not path.exists():
        return schema.empty_table(), ""
    table = pq.read_table(path)
    generation = (table.schema.metadata or {}).get(GENERATION_KEY, b"").decode()
    return table.replace_schema_metadata(None).cast(schema), generation


def read_generation(directory: Path) -> str:
    """The committed generation id, from the Parquet footer alone (cheap: no rows are read)."""
    path = directory / CLIPS
    if not path.exists():
        return ""
    return (pq.read_schema(path).metadata or {}).get(GENERATION_KEY, b"").decode()


def write_clips(directory: Path, table: pa.Table) -> str:
    """Write the clips table atomically under a fresh generation id; returns that id."""
    generation = uuid.uuid4().hex[:12]
    stamped = table.replace_schema_metadata({GENERATION_KEY: generation.encode()})
    with atomic_path(directory / CLIPS) as tmp:
        pq.write_table(stamped, tmp)
    return generation


def read_errors(directory: Path) -> pa.Table:
    path = directory / ERRORS
    return pq.read_table(path).cast(ERRORS_SCHEMA) if path.exists() else ERRORS_SCHEMA.empty_table()


def write_errors(directory: Path, table: pa.Table) -> None:
    with atomic_path(directory / ERRORS) as tmp:
        pq.write_table(table, tmp)


def faiss_path(directory: Path, generation: str) -> Path:
    return directory / f"moments-{generation}.faiss"


def remove_stale_temps(directory: Path) -> None:
    """Temp files of a writer that was killed mid-write (call only while holding the lock)."""
    for tmp in directory.glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def remove_stale_faiss(directory: Path, keep: str) -> None:
    for old in directory.glob("moments-*.faiss"):
        if old.name != faiss_path(directory, keep).name:
            old.unlink(missing_ok=True)
