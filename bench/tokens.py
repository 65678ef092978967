"""Per-frame encoder outputs cached on disk, so every benchmark variant reuses one forward pass.

One ``.npz`` per (backbone namespace, clip content hash) holds the patch tokens and global
embeddings (float16) of the frames encoded so far, keyed by their indices in the *original*
clip. A variant with T frames reads rows ``round(linspace(0, n-1, T))`` of the original frame
count n, exactly the frames :func:`vidsearch.indexers.decode.video.sample_frames` would decode; a
request for frames not yet cached encodes only those and merges them in (resumable, atomic).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidsearch.indexers.decode.sampling import uniform_indices
from vidsearch.indexers.decode.video import probe, resize_frame


@dataclass
class ClipTokens:
    frame_count: int  # frames in the original clip
    indices: np.ndarray  # int64 (F,), sorted original frame indices held
    patch: np.ndarray  # float16 (F, P, D)
    global_: np.ndarray  # float16 (F, Dg)

    def rows(self, num_frames: int) -> np.ndarray:
        """Rows holding the ``num_frames`` uniformly sampled frames (may repeat for short clips)."""
        wanted = uniform_indices(self.frame_count, num_frames)
        rows = np.searchsorted(self.indices, wanted)
        if np.any(rows >= len(self.indices)) or np.any(self.indices[np.minimum(rows, len(self.indices) - 1)] != wanted):
            raise KeyError(f"frames for T={num_frames} are not cached")
        return rows

    def sample(self, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """float32 (T, P, D) patch tokens and (T, Dg) global embeddings for T frames."""
        r = self.rows(num_frames)
        return self.patch[r].astype(np.float32), self.global_[r].astype(np.float32)


class ArrayCache:
    """``root/<namespace>/<key>.npz`` files written atomically (temp file + rename)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, namespace: str, key: str) -> Path:
        return self.root / namespace / f"{key}.npz"

    def load(self, namespace: str, key: str) -> dict[str, np.ndarray] | None:
        p = self.path(namespace, key)
        if not p.exists():
            return None
        try:
            with np.load(p) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:  # a damaged entry is recomputed, not fatal
            p.unlink(missing_ok=True)
            print(f"warning: dropped unreadable cache entry {p} ({exc})")
            return None

    def save(self, namespace: str, key: str, arrays: dict[str, np.ndarray]) -> None:
        from vidsearch.atomic import atomic_path

        with atomic_path(self.path(namespace, key), suffix=".npz") as tmp:
            np.savez(tmp, **arrays)


def encoder_namespace(encoder, resize: str) -> str:
    """Cache folder name: backbone, weights and preprocessing decide what a token means."""
    weights = (encoder.weights_id or "noweights")[:12]
    return f"tokens-{encoder.name.replace('/', '_').replace(':', '_')}-{weights}-{encoder.image_size}-{resize}"


def _decode(path: str) -> np.ndarray:
    from vidsearch.indexers.decode.video import decode_all

    return decode_all(path).frames


def needed_indices(frame_count: int, frame_counts: Iterable[int]) -> np.ndarray:
    return np.unique(np.concatenate([uniform_indices(frame_count, t) for t in frame_counts]))


def clip_tokens(
    cache: ArrayCache,
    path: str,
    clip_hash: str,
    encoder,
    frame_counts: Iterable[int],
    resize: str = "stretch",
    frames: Callable[[], np.ndarray] | None = None,
) -> tuple[ClipTokens, int]:
    """The clip's cached tokens covering every T in ``frame_counts``; encodes what is missing.

    ``frames`` returns the clip fully decoded (uint8 (N, H, W, 3)); it is called only on a cache
    miss and lets several backbones share one decode. Returns the tokens and how many frames
    were newly encoded.
    """
    ns = encoder_namespace(encoder, resize)
    stored = cache.load(ns, clip_hash)
    n = int(stored["frame_count"]) if stored is not None else probe(path).frame_count
    want = needed_indices(n, frame_counts)
    have = stored["indices"] if stored is not None else np.empty(0, np.int64)
    missing = np.setdiff1d(want, have)
    if stored is not None and len(missing) == 0:
        return ClipTokens(n, have, stored["patch"], stored["global_"]), 0
    decoded = frames() if frames is not None else _decode(path)
    # As the sampler does, an index past a short stream's end reads its last frame.
    batch = np.stack(
        [resize_frame(decoded[min(int(i), len(decoded) - 1)], encoder.image_size, resize) for i in missing]
    )
    enc = encoder.encode(batch)
    patch = enc.patch_tokens.numpy().astype(np.float16)
    glob = enc.global_embedding.numpy().astype(np.float16)
    if stored is not None:
        indices = np.concatenate([have, missing])
        order = np.argsort(indices)
        indices = indices[order]
        patch = np.concatenate([stored["patch"], patch])[order]
        glob = np.concatenate([stored["global_"], glob])[order]
    else:
        indices = missing
    cache.save(ns, clip_hash, {"frame_count": np.array(n), "indices": indices, "patch": patch, "global_": glob})
    return ClipTokens(n, indices, patch, glob), len(missing)
