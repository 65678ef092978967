"""Finding the clips of a corpus and fingerprinting their content."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vidsearch.errors import InputNotFoundError
from vidsearch.indexers.decode.video import VIDEO_EXTENSIONS

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileStat:
    path: str  # absolute, symlinks resolved
    size: int
    mtime: float
    inode: int | None = None  # with ``device``: which file the path named (the UI serves only that one)
    device: int | None = None


def stat_file(path: str | os.PathLike) -> FileStat:
    p = Path(path).resolve()
    st = p.stat()
    return FileStat(str(p), st.st_size, st.st_mtime, st.st_ino, st.st_dev)


def discover_videos(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Every video file under ``paths`` (files or folders), recursively, sorted, deduplicated.

    Symlinked folders are followed, but each real folder is visited once, so symlink loops end.
    A file given explicitly is kept whatever its extension (the decoder will judge it).
    """
    found: set[str] = set()
    seen_dirs: set[tuple[int, int]] = set()
    for root in paths:
        root = Path(root)
        if root.is_file():
            found.add(str(root.resolve()))
            continue
        if not root.is_dir():
            raise InputNotFoundError(f"{root}: no such file or folder")
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            st = os.stat(dirpath)
            if (st.st_dev, st.st_ino) in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if Path(name).suffix.lower() in VIDEO_EXTENSIONS and not name.startswith("."):
                    full = Path(dirpath) / name
                    if full.exists():  # skip dangling symlinks
                        found.add(str(full.resolve()))
    return sorted(found)


def content_hash(path: str | os.PathLike) -> str:
    """BLAKE2b of the file's bytes: the same clip at another path or time is recognised."""
    with open(path, "rb") as fh:
        return stream_hash(fh)


def stream_hash(fh: BinaryIO) -> str:
    """:func:`content_hash` of an open file, read from its current position to the end."""
    h = hashlib.blake2b(digest_size=16)
    while chunk := fh.read(HASH_CHUNK):
        h.update(chunk)
    return h.hexdigest()
