"""How a fragment stores its moments vectors: ``float16`` (2 bytes a value) or ``int8`` (1 byte).

``int8`` is scalar quantization with a per-dimension range fitted to the fragment's own rows
(``moments.u8.npy`` codes + ``moments.range.npy``: low and step per dimension, float32), so no
global training step is needed and a fragment is still written once and never changed. A read
decodes the rows it touches to float32; the re-rank then renormalises them (``unit_rows``). At
2,304-d that halves the largest part of the disk per segment (4,608 -> 2,304 B); what it costs in
retrieval quality is measured by ``python -m vidsearch.bench.store --representations`` (exact
search over int8 against float16 vectors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MOMENTS_CODECS = ("float16", "int8")
LEVELS = 255  # codes 0..255


class Int8Rows:
    """Read-only rows of uint8 codes decoded on indexing: ``rows[i]`` is float32 like an array's."""

    def __init__(self, codes: np.ndarray, low: np.ndarray, step: np.ndarray):
        self.codes, self.low, self.step = codes, np.asarray(low, np.float32), np.asarray(step, np.float32)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.codes.shape

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows) -> np.ndarray:
        return np.asarray(self.codes[rows], np.float32) * self.step + self.low


def encode_int8(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 codes, (2, D) float32 [low, step]) with each dimension's range mapped onto 0..255."""
    x = np.asarray(vectors, np.float32)
    low = x.min(axis=0) if len(x) else np.zeros(x.shape[1], np.float32)
    high = x.max(axis=0) if len(x) else low
    step = np.where(high > low, (high - low) / LEVELS, 1.0).astype(np.float32)
    codes = np.clip(np.rint((x - low) / step), 0, LEVELS).astype(np.uint8)
    return codes, np.stack([low, step]).astype(np.float32)


def check_codec(codec: str) -> None:
    if codec not in MOMENTS_CODECS:
        raise ValueError(f"moments codec must be one of {', '.join(MOMENTS_CODECS)} (got {codec!r})")


def load_moments(folder: Path) -> np.ndarray | Int8Rows:
    """A fragment's moments, memory-mapped, in whichever representation it was written."""
    codes = folder / "moments.u8.npy"
    if codes.exists():
        low, step = np.load(folder / "moments.range.npy")
        return Int8Rows(np.load(codes, mmap_mode="r"), low, step)
    return np.load(folder / "moments.npy", mmap_mode="r")
