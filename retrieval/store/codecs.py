"""How a fragment stores its vector arrays (moments, SPF curves, the flow descriptor): the codecs.

- ``float16``: 2 bytes a value (``<stem>.npy``). The default: the re-rank scores what was computed.
- ``int8``: scalar quantization with a per-dimension range (the min and max of the fragment's own
  rows), 1 byte a value (``<stem>.u8.npy`` + ``<stem>.range.npy``: low and step per dimension).
- ``int6``: 6 bits a value, four values packed in three bytes (``<stem>.u6.npy`` + range). The
  range of each dimension spans the fragment's 0.05 % to 99.95 % quantiles (rarer values are
  clipped): with 64 levels, a min-max range would spend most of them on a few outliers.

The index's ``moments_codec`` names the representation of its vectors (``STORED_AS``): the
moments get that codec; under ``int6`` the flow descriptor gets 8 bits too (its 514 float16 bytes
would not fit a 2.5 KB segment), the curves stay float16 everywhere: 8-bit curves cost pacing
recall, and quantile-clipped ranges lost more than min-max at 8 bits (recall of each codec against
float16: docs/performance.md). Each fragment fits its own ranges, so no global training step is
needed and a fragment is still
written once and never changed; a reader learns a fragment's codec from its file names, so one
index may hold fragments written under different codecs. A read decodes the rows it touches to
float32; the re-rank renormalises moments (``unit_rows``). Rows that are all NaN (a flow
descriptor that was not computed) stay NaN through the integer codecs (``<stem>.nan.npy`` lists
them). What each codec costs in retrieval quality is measured by
``python -m benchmarks.store --representations``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidsearch.atomic import atomic_path
from vidsearch.errors import ConfigError

MOMENTS_CODECS = ("float16", "int8", "int6")
BITS = {"int8": 8, "int6": 6}
CLIP_QUANTILE = 0.0005  # int6: each tail of a dimension clipped to its range
RANGE_SAMPLE = 16_384  # int6: rows the quantiles are estimated from


def check_codec(codec: str) -> None:
    if codec not in MOMENTS_CODECS:
        raise ConfigError(f"moments codec must be one of {', '.join(MOMENTS_CODECS)} (got {codec!r})")


# How an index of each codec stores each array (moments, the flow descriptor, SPF curves).
STORED_AS = {
    "float16": {"moments": "float16", "flow": "float16", "curves": "float16"},
    "int8": {"moments": "int8", "flow": "float16", "curves": "float16"},
    "int6": {"moments": "int6", "flow": "int8", "curves": "float16"},
}


class CodedRows:
    """Read-only rows of integer codes, decoded on indexing: ``rows[i]`` is float32 like an array's."""

    def __init__(
        self, codes: np.ndarray, low: np.ndarray, step: np.ndarray, bits: int, missing: np.ndarray | None = None
    ):
        self.codes, self.bits = codes, bits
        self.low, self.step = np.asarray(low, np.float32), np.asarray(step, np.float32)
        self.missing = missing if missing is not None and len(missing) else None

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.codes), len(self.low))

    def __len__(self) -> int:
        return len(self.codes)

    def __getitem__(self, rows) -> np.ndarray:
        codes = np.asarray(self.codes[rows])
        single = codes.ndim == 1
        codes = codes.reshape(-1, codes.shape[-1])
        if self.bits == 6:
            codes = _unpack6(codes, len(self.low))
        out = codes.astype(np.float32) * self.step + self.low
        if self.missing is not None:
            out[np.isin(np.arange(len(self.codes))[rows].reshape(-1), self.missing)] = np.nan
        return out[0] if single else out


def encode(vectors: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, (2, D) float32 [low, step]): each dimension's range mapped onto ``2**bits`` levels
    (int6 codes come packed, three bytes per four values). NaN rows get codes 0."""
    x = np.asarray(vectors, np.float32)
    levels = 2**bits - 1
    present = x[~np.isnan(x).any(axis=1)] if len(x) else x
    if not len(present):
        low = high = np.zeros(x.shape[1], np.float32)
    elif bits == 8:
        low, high = present.min(axis=0), present.max(axis=0)
    else:
        sample = (
            present[np.random.default_rng(0).choice(len(present), RANGE_SAMPLE, replace=False)]
            if len(present) > RANGE_SAMPLE
            else present
        )
        low, high = np.quantile(sample, [CLIP_QUANTILE, 1 - CLIP_QUANTILE], axis=0).astype(np.float32)
    step = np.where(high > low, (high - low) / levels, 1.0).astype(np.float32)
    codes = np.clip(np.rint((np.nan_to_num(x, nan=low) - low) / step), 0, levels).astype(np.uint8)
    return (_pack6(codes) if bits == 6 else codes), np.stack([low, step]).astype(np.float32)


def _pack6(codes: np.ndarray) -> np.ndarray:
    """(n, D) values < 64 as (n, 3 * ceil(D / 4)) bytes: four 6-bit values in three bytes."""
    n, d = codes.shape
    padded = np.zeros((n, -(-d // 4) * 4), np.uint32)
    padded[:, :d] = codes
    v = padded.reshape(n, -1, 4)
    word = v[..., 0] | (v[..., 1] << 6) | (v[..., 2] << 12) | (v[..., 3] << 18)
    return np.stack([word & 255, (word >> 8) & 255, word >> 16], axis=-1).astype(np.uint8).reshape(n, -1)


def _unpack6(packed: np.ndarray, d: int) -> np.ndarray:
    b = packed.reshape(len(packed), -1, 3).astype(np.uint32)
    word = b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)
    return np.stack([word & 63, (word >> 6) & 63, (word >> 12) & 63, word >> 18], axis=-1).reshape(len(packed), -1)[
        :, :d
    ]


def write_array(folder: Path, stem: str, vectors: np.ndarray, codec: str) -> list[str]:
    """Store ``vectors`` (n, D) as ``folder/<stem>*`` in ``codec`` (each file written atomically);
    returns the names of the files written."""
    if codec == "float16":
        save_npy(folder / f"{stem}.npy", np.asarray(vectors, np.float16))
        return [f"{stem}.npy"]
    bits = BITS[codec]
    missing = (
        np.flatnonzero(np.isnan(np.asarray(vectors, np.float32)).any(axis=1)) if len(vectors) else np.empty(0, np.int64)
    )
    codes, ranges = encode(vectors, bits)
    names = [f"{stem}.range.npy", f"{stem}.u{bits}.npy"]
    if len(missing):
        save_npy(folder / f"{stem}.nan.npy", missing.astype(np.int64))
        names.insert(0, f"{stem}.nan.npy")
    save_npy(folder / names[-2], ranges)
    save_npy(folder / names[-1], codes)  # last: its presence says the array is whole
    return names


def load_array(folder: Path, stem: str, required: bool = True) -> np.ndarray | CodedRows | None:
    """A fragment's array ``stem``, memory-mapped, in whichever codec it was written. Absent:
    FileNotFoundError (a concurrent ``compact`` removed the fragment: the reader moves on), or
    None where ``required`` is False (an aux array older fragments lack)."""
    for bits in BITS.values():
        codes = folder / f"{stem}.u{bits}.npy"
        if codes.exists():
            low, step = np.load(folder / f"{stem}.range.npy")
            nan = folder / f"{stem}.nan.npy"
            return CodedRows(mapped(codes), low, step, bits, np.load(nan) if nan.exists() else None)
    plain = folder / f"{stem}.npy"
    if required or plain.exists():
        return mapped(plain)
    return None


def mapped(path: Path) -> np.ndarray:
    """A memory-mapped ``.npy`` as a plain ndarray view of the map: indexing it skips
    ``np.memmap``'s per-call subclass bookkeeping (~6 us a call, ~140 calls a search at 1M)."""
    return np.asarray(np.load(path, mmap_mode="r"))


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` through ``atomic_path`` (a file object, so no ``.npy`` is appended to the temp name)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, array)
