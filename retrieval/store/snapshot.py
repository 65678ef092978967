"""Snapshots: the list of fragments, deletions and side files that make up one committed state.

Design (after Delta Lake's log and Lance's manifests, kept minimal): data files are immutable and
written first; a commit then writes ``snapshots/<version>.json`` (temp file + rename). That rename
is the commit point: the newest snapshot file is the index, older ones stay readable until
``compact`` drops them, and a reader that opened version N keeps a consistent view of it.
Deletes are tombstones: a snapshot names a sorted array of deleted segment ids and one of deleted
file ids (cumulative, rewritten only by commits that delete). Only the lock holder writes, so
versions are assigned without races; a killed writer leaves at most unreferenced files, removed
by the next writer (``garbage``).

Integrity: each snapshot records the size and BLAKE2b digest of every file it references
(``checksums.py``), its parent version and a copy of the manifest; after the rename the commit
writes ``snapshots/latest.json`` (the version and the snapshot file's digest). A reader checks
that head before it trusts the newest file, so a deleted, replaced or garbled newest snapshot is
refused (``IndexDamagedError``) instead of silently serving an older state. A head one version
behind, with the newest snapshot's parent equal to it, is a writer killed between the two renames.
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
from vidsearch.retrieval.store import checksums
from vidsearch.retrieval.store.manifest import IndexDamagedError, damaged, now_utc

SNAPSHOTS = "snapshots"
FRAGMENTS = "fragments"
FILES = "files"
DELETIONS = "deletions"
ERRORS = "errors"
EXCLUSIONS = "exclusions"
ANN = "ann"
HEAD = "latest.json"
READ_ATTEMPTS = 5
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
    exclusions: str | None = None  # exclusions/<name>.parquet: files removed by the user, not re-added
    ann: dict[str, Any] = field(default_factory=dict)  # see ann.AnnState; {} when exact search only
    calibration: dict[str, Any] = field(default_factory=dict)  # room for retrieval/calibration.py
    created_at: str = ""
    parent: int = 0  # the version this one was derived from (0: none)
    checksums: dict[str, list] = field(default_factory=dict)  # path -> [size, digest]; {} before checksums
    manifest: dict[str, Any] = field(default_factory=dict)  # the manifest as committed (repair restores it)

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
        if self.exclusions:
            out.add(f"{EXCLUSIONS}/{self.exclusions}")
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


def parse(data: bytes, path: Path) -> Snapshot:
    try:
        return Snapshot.from_json(json.loads(data))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise damaged(path.parent.parent, f"{SNAPSHOTS}/{path.name}", f"unreadable ({type(exc).__name__})") from exc


def load(directory: Path, version: int) -> Snapshot:
    path = snapshot_path(directory, version)
    return parse(path.read_bytes(), path)


def read_head(directory: Path) -> dict[str, Any] | None:
    """``snapshots/latest.json`` (None: an index written before the chain, or a new one)."""
    path = directory / SNAPSHOTS / HEAD
    try:
        head = json.loads(path.read_text())
        return {"version": int(head["version"]), "digest": str(head["digest"])}
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError, OSError) as exc:
        raise damaged(directory, f"{SNAPSHOTS}/{HEAD}", f"unreadable ({type(exc).__name__})") from exc


def check_chain(directory: Path, head: dict[str, Any] | None, found: list[int]) -> tuple[str | None, Snapshot | None]:
    """(why the snapshots on disk disagree with the head or None, the newest snapshot) (no head: unchecked)."""
    if not found:
        return (None if head is None else f"snapshot {head['version']} (the newest committed) is missing"), None
    newest = found[-1]
    path = snapshot_path(directory, newest)
    data = path.read_bytes()
    snapshot = parse(data, path)
    if head is None:  # an index from before the chain; a snapshot with checksums was written with a head
        return (f"{SNAPSHOTS}/{HEAD} is missing" if snapshot.checksums else None), snapshot
    if head["version"] > newest:
        return (
            f"snapshot {head['version']} (the newest committed) is missing; the newest on disk is {newest}: "
            f"serving it would silently roll the index back"
        ), snapshot
    if head["version"] == newest:
        if checksums.bytes_digest(data) != head["digest"]:
            return f"{SNAPSHOTS}/{path.name} is not the file that was committed (its digest differs)", snapshot
        return None, snapshot
    version, parent = newest, snapshot.parent  # the head lags: a writer stopped between the two renames
    while parent > head["version"] and snapshot_path(directory, parent).exists():
        version, parent = parent, load(directory, parent).parent
    if parent != head["version"]:
        return f"snapshot {version} derives from {parent}, but the head names {head['version']}", snapshot
    return None, snapshot


def latest(directory: Path) -> Snapshot:
    """The newest committed snapshot (an empty one for a new index), checked against the head."""
    for attempt in range(READ_ATTEMPTS):  # a concurrent commit or compact may move the head and drop snapshots
        head = read_head(directory)
        try:
            problem, snapshot = check_chain(directory, head, versions(directory))
        except FileNotFoundError as exc:
            if attempt == READ_ATTEMPTS - 1:
                raise damaged(directory, SNAPSHOTS, f"{Path(exc.filename).name} vanished while read") from exc
            continue
        if problem is None:
            return snapshot or Snapshot(created_at=now_utc().isoformat())
        if read_head(directory) == head or attempt == READ_ATTEMPTS - 1:
            raise damaged(directory, SNAPSHOTS, problem)


def latest_version(directory: Path) -> int:
    found = versions(directory)
    return found[-1] if found else 0


def next_version(directory: Path) -> int:
    """Above every snapshot on disk and the head (a repair after a lost snapshot never reuses its number)."""
    head = read_head_or_none(directory)
    return max(latest_version(directory), head["version"] if head else 0) + 1


def read_head_or_none(directory: Path) -> dict[str, Any] | None:
    try:
        return read_head(directory)
    except IndexDamagedError:
        return None


def commit(directory: Path, snapshot: Snapshot, manifest: dict[str, Any] | None = None) -> Snapshot:
    """Write ``snapshot`` as the next version (caller holds the writer lock) with the checksums of
    the files it references (new ones hashed now) and the manifest; returns it stamped."""
    stamped = replace(
        snapshot,
        version=next_version(directory),
        parent=snapshot.version,
        created_at=now_utc().isoformat(),
        checksums=checksums.record(directory, snapshot.referenced(), snapshot.checksums),
        manifest=snapshot.manifest if manifest is None else manifest,
    )
    data = json.dumps(stamped.to_json(), indent=1).encode()
    with atomic_path(snapshot_path(directory, stamped.version)) as tmp:
        tmp.write_bytes(data)
    try:  # committed: a head left one version behind is read as such (check_chain)
        write_head(directory, stamped.version, checksums.bytes_digest(data))
    except OSError:
        pass
    return stamped


def write_head(directory: Path, version: int, digest: str) -> None:
    with atomic_path(directory / SNAPSHOTS / HEAD) as tmp:
        tmp.write_text(json.dumps({"version": version, "digest": digest}))


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
    try:
        ids = np.load(directory / DELETIONS / name)
    except FileNotFoundError:
        raise
    except (ValueError, EOFError, OSError) as exc:
        raise damaged(directory, f"{DELETIONS}/{name}", f"unreadable ({exc})") from exc
    if ids.dtype != np.int64 or ids.ndim != 1 or (len(ids) > 1 and not np.all(ids[1:] > ids[:-1])):
        raise damaged(directory, f"{DELETIONS}/{name}", "not a sorted array of unique int64 ids")
    return ids


def garbage(directory: Path, keep: list[Snapshot]) -> list[Path]:
    """Files and fragment folders no snapshot in ``keep`` references (call under the lock)."""
    needed = set().union(*(s.referenced() for s in keep)) if keep else set()
    out = []
    for sub in (FRAGMENTS, FILES, DELETIONS, ERRORS, EXCLUSIONS, ANN):
        folder = directory / sub
        if folder.is_dir():
            out += [p for p in folder.iterdir() if f"{sub}/{p.name}" not in needed]
    return out


def collect_garbage(directory: Path) -> int:
    """Remove what no snapshot references (an aborted commit's or build's fragments and ANN
    files); called by every writer when it takes the lock. Returns how many paths went. Nothing
    is removed while the snapshots are damaged or disagree with the head: ``repair`` decides then."""
    import shutil

    from vidsearch.errors import IndexStoreError

    try:
        found = versions(directory)
        problem, _ = check_chain(directory, read_head(directory), found)
        keep = [load(directory, v) for v in found]
    except (IndexStoreError, OSError):
        return 0
    if problem:
        return 0
    paths = garbage(directory, keep)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return len(paths)
