"""The encoder side of ingestion: place the encoder, encode segment batches, guard the precision.

A batch is frames, not a clip: segments of several files go through one forward pass. The first
batch of a run at a reduced precision has its first ``GUARD_SEGMENTS`` segments also encoded in
fp32 and their SemanticMoments compared: if any cosine falls below ``MIN_MOMENTS_COSINE`` an explicitly requested
precision is refused (``PrecisionError``, before anything is stored) and ``auto`` falls back to
fp32. So every stored vector is fp32's up to that tolerance, and the index config (which records
device-independent settings only) stays true whatever precision computed it.

The measured cosine is cached per machine, torch build, weights, extractor config and precision
(``<cache>/precision-guard.json``): later runs decide from it before decoding anything and skip
the fp32 pass (on 2 cores, a large share of a short run). Delete the file to re-check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from vidsearch.errors import VidsearchError
from vidsearch.indexers.config import ExtractorConfig
from vidsearch.indexers.decode.segmenting import DecodedSegment
from vidsearch.indexers.decode.video import VideoInfo
from vidsearch.indexers.encoders.base import EncodedFrames, Encoder
from vidsearch.indexers.encoders.precision import resolve_device, resolve_precision
from vidsearch.indexers.encoders.verdicts import load_verdicts, machine_key, store_verdict
from vidsearch.indexers.features import ClipFeatures, features_from_encoded
from vidsearch.indexers.heap import retain_freed_memory
from vidsearch.indexers.runtime import RuntimeConfig

MIN_MOMENTS_COSINE = 0.999
# Segments of the first batch re-encoded in fp32 for the check (bounds its cost to ~2 clips).
GUARD_SEGMENTS = 4
GUARD_FILE = "precision-guard.json"


class PrecisionError(VidsearchError, ValueError):
    """A reduced precision changes the vectors beyond the tolerance on this run's real frames."""


@dataclass
class GuardReport:
    precision: str  # what the run uses after the check
    min_cosine: float | None  # worst moments cosine vs fp32 on the first batch (None: fp32, unchecked)
    cached: bool = False  # decided from an earlier run's measurement on this machine


def distinct_frames(segments: list[DecodedSegment]) -> tuple[np.ndarray, np.ndarray]:
    """The batch's frames with each segment's repeated samples kept once, and for every sampled
    frame its row in them. A segment shorter than T frames samples some frames twice or more
    (``round(linspace)``); encoding each once and expanding gives the same vectors for less work."""
    kept, rows, offset = [], [], 0
    for s in segments:
        if s.indices is None or len(s.indices) != len(s.frames):
            first, inverse = np.arange(len(s.frames)), np.arange(len(s.frames))
        else:
            _, first, inverse = np.unique(s.indices, return_index=True, return_inverse=True)
        kept.append(s.frames[first])
        rows.append(offset + inverse.reshape(-1))
        offset += len(first)
    return np.concatenate(kept), np.concatenate(rows)


def expand_encoded(encoded: EncodedFrames, rows: np.ndarray) -> EncodedFrames:
    """Encoded distinct frames back to one row per sampled frame (``rows`` from ``distinct_frames``)."""
    if len(rows) == len(encoded.patch_tokens) and np.array_equal(rows, np.arange(len(rows))):
        return encoded
    import torch

    index = torch.from_numpy(rows).to(encoded.patch_tokens.device)
    return EncodedFrames(encoded.patch_tokens[index], encoded.global_embedding[index])


def split_encoded(encoded: EncodedFrames, counts: list[int]) -> list[EncodedFrames]:
    out, start = [], 0
    for n in counts:
        out.append(EncodedFrames(encoded.patch_tokens[start : start + n], encoded.global_embedding[start : start + n]))
        start += n
    return out


class SegmentEncoder:
    """Encodes decoded segments (of any files) into ``ClipFeatures``, on the run's device/precision."""

    def __init__(
        self, encoder: Encoder, config: ExtractorConfig, runtime: RuntimeConfig, min_cosine: float = MIN_MOMENTS_COSINE
    ) -> None:
        retain_freed_memory()  # this process encodes: its forward's large buffers are reused, not page-faulted afresh
        self.encoder, self.config = encoder, config
        self.requested = runtime.precision
        self.device = resolve_device(runtime.device)
        self.precision = resolve_precision(runtime.precision, self.device, encoder)
        self.min_cosine = min_cosine
        self.guard: GuardReport | None = None if self.precision != "fp32" else GuardReport("fp32", None)
        if self.guard is None:
            cached = load_verdicts(GUARD_FILE).get(self.guard_key())
            if isinstance(cached, (int, float)):
                self._decide(float(cached), cached=True)
        encoder.place(self.device, self.precision)
        self.seconds = 0.0

    def guard_key(self) -> str:
        """What the guard's cosine depends on: machine, torch, weights, config, precision and how
        it is computed (autocast or a bf16 copy of the model)."""
        return (
            f"{machine_key(self.device)}|{self.encoder.name}|{self.encoder.weights_id}|"
            f"{self.config.fingerprint()}|{self.encoder.compute(self.device, self.precision)}"
        )

    def encode(self, segments: list[tuple[DecodedSegment, VideoInfo | None]]) -> list[ClipFeatures]:
        """Features of each ``(segment, info of its file)``, in order, from one batched pass."""
        t0 = time.perf_counter()
        counts = [len(s.frames) for s, _ in segments]
        features = self._features(self._encode([s for s, _ in segments]), segments, counts)
        if self.guard is None:
            features = self._check(segments, counts, features)
        self.seconds += time.perf_counter() - t0
        return features

    def _encode(self, segments: list[DecodedSegment]) -> EncodedFrames:
        """One forward pass over the segments' distinct frames, expanded to every sampled frame."""
        frames, rows = distinct_frames(segments)
        return expand_encoded(self.encoder.encode(frames, batch_size=len(frames), on_device=True), rows)

    def _features(self, encoded: EncodedFrames, segments, counts: list[int]) -> list[ClipFeatures]:
        return [
            features_from_encoded(part, self.config, info, seg.frames, seg.aux)
            for part, (seg, info) in zip(split_encoded(encoded, counts), segments)
        ]

    def _check(self, segments, counts: list[int], reduced: list[ClipFeatures]) -> list[ClipFeatures]:
        checked = min(GUARD_SEGMENTS, len(segments))
        self.encoder.place(self.device, "fp32")
        exact = self._features(self._encode([s for s, _ in segments[:checked]]), segments[:checked], counts[:checked])
        worst = min(float(np.dot(a.moments, b.moments)) for a, b in zip(exact, reduced))
        store_verdict(GUARD_FILE, self.guard_key(), worst)
        kept = self._decide(worst)
        self.encoder.place(self.device, self.precision)
        if kept:
            return reduced
        return self._features(self._encode([s for s, _ in segments]), segments, counts)

    def _decide(self, worst: float, cached: bool = False) -> bool:
        """Keep the reduced precision (True), fall back to fp32 under ``auto``, or refuse an explicit one."""
        if worst >= self.min_cosine:
            self.guard = GuardReport(self.precision, worst, cached)
            return True
        if self.requested != "auto":
            how = "on this machine's earlier run (cached)" if cached else "on these clips"
            raise PrecisionError(
                f"precision {self.precision} changes the moments beyond tolerance {how} "
                f"(cosine {worst:.5f} vs fp32, need >= {self.min_cosine}); use --precision fp32 or auto"
            )
        self.precision = "fp32"
        self.guard = GuardReport("fp32", worst, cached)
        return False
