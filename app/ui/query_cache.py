"""Uploaded query clips are embedded once: later searches with another mode, weight or filter reuse
the features.

Keyed by the file's content (BLAKE2b), so the same clip uploaded again, or under another name, is
a hit too; the hash itself is remembered per (path, size, mtime) so an unchanged upload is not
re-read on every search. Both maps are bounded LRUs: a long-running UI keeps at most
``max_clips`` query embeddings (a few KB each) in memory.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from vidsearch.indexers.corpus import content_hash

V = TypeVar("V")


class Lru(Generic[V]):
    """A bounded map that forgets the least recently used entry first; safe across the server's
    worker threads."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class QueryFeatureCache(Generic[V]):
    """``features(path, compute, part)``: the cached value for the file's content (and ``part``,
    e.g. a time range of it), else ``compute(path)``. A cached value that ``usable`` rejects (it
    lacks what this query needs, e.g. the mirror image's moments) is computed again and replaced."""

    def __init__(self, max_clips: int = 32):
        self._digests: Lru[str] = Lru(4 * max_clips)
        self._features: Lru[V] = Lru(max_clips)
        self.misses = 0

    def digest(self, path: str | os.PathLike) -> str:
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
        digest = self._digests.get(key)
        if digest is None:
            digest = content_hash(path)
            self._digests.put(key, digest)
        return digest

    def features(
        self,
        path: str | os.PathLike,
        compute: Callable[[str | os.PathLike], V],
        part: Hashable = None,
        usable: Callable[[V], bool] | None = None,
    ) -> V:
        key = (self.digest(path), part)
        value = self._features.get(key)
        if value is None or (usable is not None and not usable(value)):
            self.misses += 1
            value = compute(path)
            self._features.put(key, value)
        return value

    def has(self, path: str | os.PathLike, part: Hashable = None, usable: Callable[[V], bool] | None = None) -> bool:
        value = self._features.get((self.digest(path), part))
        return value is not None and (usable is None or usable(value))

    def __len__(self) -> int:
        return len(self._features)
