"""Atomic file writes: write beside the target, rename over it only when the write succeeded.

Every file vidsearch writes (index tables, FAISS files, videos, plans, benchmark caches) goes
through :func:`atomic_path`, so a reader or a ``kill -9`` never sees a half-written file. The
file gets the mode ``open()`` would give it (0666 less the umask), not ``mkstemp``'s private 0600,
so a shared index or a curated dataset is readable by whoever the user's umask lets read it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS can tell (Linux's
    ``/proc/self/status``); elsewhere set and restored under a lock (the only portable way)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from ``open()`` under the current umask."""
    return 0o666 & ~current_umask()


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temp path beside ``target``; rename it over ``target`` only if the block succeeds.

    ``suffix`` is the temp file's extension, for writers that pick the format from it (PyAV).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
