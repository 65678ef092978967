"""Checksums of the data files a snapshot references: BLAKE2b digests and sizes, taken when a
commit records the files (``snapshot.commit``) and re-checked by ``vidsearch verify --deep``.

Keys are paths relative to the index directory (``fragments/<name>/moments.npy``,
``files/<name>.parquet``, ...): fragment folders are listed file by file. A snapshot written
before checksums existed has none; its files count as unchecked until the next commit (or
``compact``) records them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DIGEST_BYTES = 16  # 128-bit BLAKE2b: detects damage, not an adversary's collision
CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The BLAKE2b digest of a file, read in 1 MiB chunks."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def bytes_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).hexdigest()


def expand(directory: Path, referenced: set[str]) -> list[str]:
    """The files behind ``referenced`` paths (folders listed file by file; missing ones left out)."""
    out = []
    for rel in sorted(referenced):
        path = directory / rel
        if path.is_dir():
            out += [f"{rel}/{p.name}" for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
        elif path.is_file():
            out.append(rel)
    return out


def covered(key: str, referenced: set[str]) -> bool:
    """Whether checksum ``key`` belongs to a referenced file or folder."""
    return key in referenced or key.rsplit("/", 1)[0] in referenced


def record(directory: Path, referenced: set[str], known: dict[str, list]) -> dict[str, list]:
    """``{path: [size, digest]}`` for every referenced file: ``known`` entries kept, files without
    one (written by this commit, or by a version that took none) hashed now."""
    out = {k: v for k, v in known.items() if covered(k, referenced)}
    have = set(out) | {k.rsplit("/", 1)[0] for k in out}
    for rel in expand(directory, referenced - have):
        path = directory / rel
        out[rel] = [path.stat().st_size, file_digest(path)]
    return dict(sorted(out.items()))


def mismatches(directory: Path, recorded: dict[str, list], prefix: str) -> list[str]:
    """Files under ``prefix`` whose size or digest differs from ``recorded`` (missing ones included)."""
    out = []
    for rel, (size, digest) in recorded.items():
        if not rel.startswith(prefix + "/"):
            continue
        path = directory / rel
        if not path.is_file() or path.stat().st_size != size or file_digest(path) != digest:
            out.append(rel.rsplit("/", 1)[1])
    return out
