"""Snapshots: the list of fragments, deletions and side files that make up one committed state.

Design (after Delta Lake's log and Lance's manifests, kept minimal): data files are immutable and
written first; a commit then writes ``snapshots/<version>.json`` (temp file + rename). That rename
is the commit point: the newest snapshot file is the index, older ones stay readable until
``compact`` drops them, and a reader that opened version N keeps a consistent view of it.
Deletes are tombstones: a snapshot names a sorted array of deleted segment ids and one of deleted
file ids (cumulative, rewritten only by commits that delete). Only the lock holder writes, so
versions are assigned without races; a killed writer leaves at most unreferenced files, removed
by the next writer (``garbage``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.retrieval.store.manifest import IndexStoreError, now_utc

SNAPSHOTS = "snapshots"
FRAGMENTS = "fragments"
FILES = "files"
DELETIONS = "deletions"
ERRORS = "errors"
ANN = "ann"
_SNAPSHOT_RE = re.compile(r"^(\d{10})\.json$")


@dataclass(frozen=True)
class FragmentRef:
    """One fragment as the snapshot lists it; segment ids inside are sorted and lie in
    ``[min_id, max_id]`` (ranges of distinct fragments never overlap)."""

    name: str
    segments: int
    min_id: int
    max_id: int
    posters: bool = False


@dataclass(frozen=True)
class Snapshot:
    version: int = 0
    fragments: tuple[FragmentRef, ...] = ()
    file_parts: tuple[str, ...] = ()  # files/<name>.parquet in commit order; newest row of a file id wins
    deleted_segments: str | None = None  # deletions/<name>.npy, sorted int64 segment ids
    deleted_files: str | None = None  # deletions/<name>.npy, sorted int64 file ids
    n_deleted: int = 0  # deleted segment ids (all present in some fragment)
    next_segment_id: int = 1
    next_file_id: int = 1
    errors: str | None = None  # errors/<name>.parquet
    ann: dict[str, Any] = field(default_factory=dict)  # see ann.AnnState; {} when exact search only
    calibration: dict[str, Any] = field(default_factory=dict)  # room for retrieval/calibration.py
    created_at: str = ""

    @property
    def live_segments(self) -> int:
        return sum(f.segments for f in self.fragments) - self.n_deleted

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["fragments"] = [asdict(f) for f in self.fragments]
        out["file_parts"] = list(self.file_parts)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        data = dict(data)
        data["fragments"] = tuple(FragmentRef(**f) for f in data.get("fragments", []))
        data["file_parts"] = tuple(data.get("file_parts", []))
        return cls(**data)

    def referenced(self) -> set[str]:
        """Paths (relative to the index directory) this snapshot needs, fragments as folders."""
        out = {f"{FRAGMENTS}/{f.name}" for f in self.fragments} | {f"{FILES}/{p}" for p in self.file_parts}
        for name in (self.deleted_segments, self.deleted_files):
            if name:
                out.add(f"{DELETIONS}/{name}")
        if self.errors:
            out.add(f"{ERRORS}/{self.errors}")
        out |= {f"{ANN}/{p}" for p in self.ann.get("files", [])}
        return out


def versions(directory: Path) -> list[int]:
    folder = directory / SNAPSHOTS
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_SNAPSHOT_RE.match, names) if m)


def snapshot_path(directory: Path, version: int) -> Path:
    return directory / SNAPSHOTS / f"{version:010d}.json"


def load(directory: Path, version: int) -> Snapshot:
    path = snapshot_path(directory, version)
    try:
        return Snapshot.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise IndexStoreError(f"{path}: unreadable snapshot ({exc})") from exc


def latest(directory: Path) -> Snapshot:
    """The newest committed snapshot (an empty one for a new index)."""
    found = versions(directory)
    if not found:
        return Snapshot(created_at=now_utc().isoformat())
    for version in reversed(found):  # a newer one may vanish under a concurrent compact: retry
        try:
            return load(directory, version)
        except FileNotFoundError:
            continue
    return latest(directory)


def latest_version(directory: Path) -> int:
    found = versions(directory)
    return found[-1] if found else 0


def commit(directory: Path, snapshot: Snapshot) -> Snapshot:
    """Write ``snapshot`` as the next version (caller holds the writer lock); returns it stamped."""
    stamped = replace(snapshot, version=latest_version(directory) + 1, created_at=now_utc().isoformat())
    with atomic_path(snapshot_path(directory, stamped.version)) as tmp:
        tmp.write_text(json.dumps(stamped.to_json(), indent=1))
    return stamped


def write_ids(directory: Path, ids: np.ndarray) -> str | None:
    """A sorted id array as a new deletions file; None when empty."""
    ids = np.unique(np.asarray(ids, dtype=np.int64))
    if not len(ids):
        return None
    name = f"{os.urandom(6).hex()}.npy"
    with atomic_path(directory / DELETIONS / name) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, ids)
    return name


def read_ids(directory: Path, name: str | None) -> np.ndarray:
    if not name:
        return np.empty(0, np.int64)
    return np.load(directory / DELETIONS / name)


def garbage(directory: Path, keep: list[Snapshot]) -> list[Path]:
    """Files and fragment folders no snapshot in ``keep`` references (call under the lock)."""
    needed = set().union(*(s.referenced() for s in keep)) if keep else set()
    out = []
    for sub in (FRAGMENTS, FILES, DELETIONS, ERRORS, ANN):
        folder = directory / sub
        if folder.is_dir():
            out += [p for p in folder.iterdir() if f"{sub}/{p.name}" not in needed]
    return out


def collect_garbage(directory: Path) -> int:
    """Remove what no snapshot references (an aborted commit's or build's fragments and ANN
    files); called by every writer when it takes the lock. Returns how many paths went."""
    import shutil

    paths = garbage(directory, [load(directory, v) for v in versions(directory)])
    for path in paths:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return len(paths)
