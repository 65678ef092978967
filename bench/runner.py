"""Run a suite of methods over a SimMotion set: one decode and one encoder pass per clip and
backbone (through the token cache), then every method's similarity matrix and metrics.

Resumable: an interrupted run recomputes nothing already in the cache, so re-running the same
command continues where it stopped.
"""

from __future__ import annotations

import functools
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vidsearch.bench.flow import NAMESPACE as FLOW_NAMESPACE
from vidsearch.bench.flow import clip_flow
from vidsearch.bench.layout import BenchSet
from vidsearch.bench.methods import Method, clip_features, comparisons, similarity_matrix
from vidsearch.bench.protocols import Estimate, evaluate, paired_difference, per_query_scores
from vidsearch.bench.tokens import ArrayCache, ClipTokens, clip_tokens

Progress = Callable[[str], None]


@dataclass
class BenchResult:
    kind: str
    root: str
    n_clips: int
    n_triplets: int
    categories: list[str]
    methods: list[Method]
    scores: dict[str, dict[str, dict[str, Estimate]]]  # method name -> metric -> category -> est
    started: str
    wall_s: float
    frames_encoded: dict[str, int] = field(default_factory=dict)
    machine: str = ""
    # "A - B" -> category -> paired R@1 difference (points), for the suite's declared comparisons
    paired: dict[str, dict[str, Estimate]] = field(default_factory=dict)


def machine_description() -> str:
    import os

    import torch

    return (
        f"{platform.machine()} CPU, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {sys.version.split()[0]}"
    )


def _print(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def compute_features(
    bench: BenchSet,
    methods: list[Method],
    cache: ArrayCache,
    resize: str = "stretch",
    progress: Progress = _print,
    encoders: dict | None = None,
) -> tuple[dict[str, list[dict[str, np.ndarray]]], dict[str, int]]:
    """Per method, per clip descriptors; returns them and the frames newly encoded per backbone.

    ``encoders`` maps a method's backbone to an encoder already built (another precision or
    input size, for the quality/cost frontier); the others are loaded by name."""
    from vidsearch.indexers.corpus import content_hash
    from vidsearch.indexers.encoders import load_encoder

    encoded_by = [m for m in methods if m.signals != ("flow",)]
    backbones = sorted({m.backbone for m in encoded_by})
    frame_counts = {b: sorted({m.num_frames for m in encoded_by if m.backbone == b}) for b in backbones}
    flow_ts = sorted({m.num_frames for m in methods if "flow" in m.signals})
    encoders = {b: (encoders or {}).get(b) or load_encoder(b) for b in backbones}
    feats: dict[str, list[dict[str, np.ndarray]]] = {m.name: [] for m in methods}
    encoded = {b: 0 for b in backbones}
    queries = {t.ref for t in bench.triplets}
    t0 = time.perf_counter()
    for i, path in enumerate(bench.paths):
        key = content_hash(path)
        decoded = functools.cache(functools.partial(_decode, path))  # at most once, only on a cache miss
        tokens: dict[str, ClipTokens] = {}
        for b in backbones:
            tokens[b], n_new = clip_tokens(cache, path, key, encoders[b], frame_counts[b], resize, frames=decoded)
            encoded[b] += n_new
        flows: dict[int, np.ndarray] = {}
        for t in flow_ts:
            ns = f"{FLOW_NAMESPACE}-T{t}"
            hit = cache.load(ns, key)
            if hit is None:
                hit = {"vector": clip_flow(decoded(), t)}
                cache.save(ns, key, hit)
            flows[t] = hit["vector"]
        flipped = (
            _flipped_moments(cache, path, key, methods, encoders, frame_counts, resize, decoded, encoded)
            if i in queries
            else {}
        )
        for m, f in zip(methods, clip_features(methods, tokens, flows)):
            if m.name in flipped:
                f["mirror_vector"] = flipped[m.name]
            feats[m.name].append(f)
        elapsed = time.perf_counter() - t0
        eta = elapsed / (i + 1) * (len(bench.paths) - i - 1)
        progress(
            f"[{i + 1}/{len(bench.paths)}] {Path(path).parent.name}/{Path(path).name}  new "
            f"frames {sum(encoded.values())}  elapsed {elapsed:.0f}s  eta {eta:.0f}s"
        )
    return feats, encoded


def _flipped_moments(cache, path, key, methods, encoders, frame_counts, resize, decoded, encoded) -> dict:
    """Per method that scores a query's flipped frames, the moments of this clip mirrored
    left-right (its tokens cached under the clip's key + ``-hflip``); {} when none does."""
    wanted = [m for m in methods if "mirror_vector" in m.signals]
    if not wanted:
        return {}
    flip = functools.cache(lambda: np.ascontiguousarray(decoded()[:, :, ::-1]))
    out = {}
    for b in sorted({m.backbone for m in wanted}):  # each backbone's flipped tokens read once
        tokens, n_new = clip_tokens(cache, path, key + "-hflip", encoders[b], frame_counts[b], resize, frames=flip)
        encoded[b] += n_new
        mine = [m for m in wanted if m.backbone == b]
        plain = [replace(m, kind="moments", fusion=(1.0, 0.0, 0.0), mirror=False, flip_query=False) for m in mine]
        out.update((m.name, f["vector"]) for m, f in zip(mine, clip_features(plain, {b: tokens}, {})))
    return out


def _decode(path: str) -> np.ndarray:
    from vidsearch.indexers.decode.video import decode_all

    return decode_all(path).frames


def run_suite(
    bench: BenchSet,
    methods: list[Method],
    cache_dir: str | Path,
    resize: str = "stretch",
    n_boot: int = 2000,
    progress: Progress = _print,
) -> BenchResult:
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ValueError("method names must be unique")
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    feats, encoded = compute_features(bench, methods, ArrayCache(cache_dir), resize, progress)
    sims = {m.name: similarity_matrix(m, feats[m.name]) for m in methods}
    scores = {name: evaluate(sim, bench.triplets, n_boot) for name, sim in sims.items()}
    hits = {name: per_query_scores(sim, bench.triplets)["R@1"] for name, sim in sims.items()}
    cats = [t.category for t in bench.triplets]
    paired = {f"{a} - {b}": paired_difference(hits[a], hits[b], cats, n_boot) for a, b in comparisons(methods)}
    return BenchResult(
        kind=bench.kind,
        root=bench.root,
        n_clips=len(bench.paths),
        n_triplets=len(bench.triplets),
        categories=bench.categories,
        methods=methods,
        scores=scores,
        started=started,
        wall_s=time.perf_counter() - t0,
        frames_encoded=encoded,
        machine=machine_description(),
        paired=paired,
    )
