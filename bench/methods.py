"""The methods compared by the benchmark: SemanticMoments variants, baselines and pacing.

Every method is a small frozen description; :func:`clip_feature` turns one clip's cached tokens
into that method's descriptor and :func:`similarity_matrix` compares all clips' descriptors, so
a whole suite of variants costs one encoder pass per backbone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from vidsearch.bench.tokens import ClipTokens

MethodKind = Literal["moments", "cls-mean", "pacing", "fused", "flow"]
DEFAULT_BACKBONE = "dinov2-s14"


@dataclass(frozen=True)
class Method:
    name: str
    kind: MethodKind
    backbone: str = DEFAULT_BACKBONE  # token cache it reads ("" for flow)
    num_frames: int = 32
    alpha: tuple[float, float, float] = (1.0, 8.0, 4.0)
    aggregation: Literal["concat", "sum"] = "concat"
    pool: Literal["patch", "frame"] = "patch"


def backbone_label(backbone: str) -> str:
    return {"dinov2-s14": "DINOv2"}.get(backbone, backbone)


def main_suite(num_frames: int = 32, backbone: str = DEFAULT_BACKBONE) -> list[Method]:
    """Baselines, moment-weight / pooling / aggregation ablations, pacing and fusion at one T."""
    sm = lambda name, **kw: Method(name, "moments", backbone, num_frames, **kw)
    return [
        Method(f"{backbone_label(backbone)} mean-pool (CLS token)", "cls-mean", backbone, num_frames),
        sm("SemanticMoments (1,0,0) = patch mean-pool", alpha=(1.0, 0.0, 0.0)),
        sm("SemanticMoments (1,8,0)", alpha=(1.0, 8.0, 0.0)),
        sm("SemanticMoments (1,1,1)", alpha=(1.0, 1.0, 1.0)),
        sm("SemanticMoments (1,8,4)"),
        sm("SemanticMoments (1,8,4) patch-level sum", aggregation="sum"),
        sm("SemanticMoments (1,8,4) frame-level concat", pool="frame"),
        Method("SPF pacing alone", "pacing", backbone, num_frames),
        Method("Fused 0.7 motion + 0.3 pacing", "fused", backbone, num_frames),
        Method("Raw-pixel moments (1,8,4)", "moments", "raw-pixels", num_frames),
        Method("Optical-flow histogram", "flow", "", num_frames),
    ]


def frames_suite(frame_counts=(4, 8, 16, 32, 64), backbone: str = DEFAULT_BACKBONE) -> list[Method]:
    return [Method(f"SemanticMoments (1,8,4) T={t}", "moments", backbone, t) for t in frame_counts]


def suite(name: str, backbone: str = DEFAULT_BACKBONE, num_frames: int = 32) -> list[Method]:
    """A named suite: ``main`` (at ``num_frames``), ``frames`` (T = 4..64), ``all`` (both) or
    ``cheap`` (the raw-pixel and optical-flow baselines only: no learned backbone, minutes)."""
    if name == "main":
        return main_suite(num_frames, backbone)
    if name == "frames":
        return frames_suite(backbone=backbone)
    if name == "all":
        return main_suite(num_frames, backbone) + [m for m in frames_suite(backbone=backbone) if m.num_frames != num_frames]
    if name == "cheap":
        return [m for m in main_suite(num_frames, backbone) if m.backbone != backbone]
    raise ValueError(f"unknown suite {name!r} (choose from {', '.join(SUITES)})")


SUITES = ("main", "frames", "all", "cheap")


def clip_features(methods: list[Method], tokens: dict[str, ClipTokens], flows: dict[int, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Each method's descriptor(s) for one clip: ``vector`` (unit) and/or ``curve`` (SPF).

    Moment stacks and SPF curves are computed once per (backbone, T[, pooling]) and shared by
    the variants that only re-weight or re-aggregate them (the expensive part is the stack).
    """
    from vidsearch.indexers.config import SpfConfig
    from vidsearch.indexers.moments import combine_blocks, moment_stack, weighted_moment_blocks
    from vidsearch.indexers.spf import spf_signature

    samples: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    stacks: dict[tuple[str, int, str], object] = {}
    curves: dict[tuple[str, int], np.ndarray] = {}

    def sample(m: Method) -> tuple[np.ndarray, np.ndarray]:
        key = (m.backbone, m.num_frames)
        if key not in samples:
            if m.backbone not in tokens:
                raise ValueError(f"{m.name}: no tokens for backbone {m.backbone!r}")
            samples[key] = tokens[m.backbone].sample(m.num_frames)
        return samples[key]

    out = []
    for m in methods:
        feat: dict[str, np.ndarray] = {}
        if m.kind == "flow":
            feat["vector"] = flows[m.num_frames]
        if m.kind in ("moments", "fused"):
            key = (m.backbone, m.num_frames, m.pool)
            if key not in stacks:
                stacks[key] = moment_stack(sample(m)[0], m.pool)
            feat["vector"] = combine_blocks(weighted_moment_blocks(stacks[key], m.alpha), m.aggregation).numpy()
        if m.kind == "cls-mean":
            v = sample(m)[1].mean(0)
            feat["vector"] = v / max(float(np.linalg.norm(v)), 1e-12)
        if m.kind in ("pacing", "fused"):
            key = (m.backbone, m.num_frames)
            if key not in curves:
                curves[key] = spf_signature(sample(m)[1], SpfConfig()).curve
            feat["curve"] = curves[key]
        out.append(feat)
    return out


def similarity_matrix(method: Method, features: list[dict[str, np.ndarray]]) -> np.ndarray:
    """(N, N) similarities between all clips as the method ranks them."""
    from vidsearch.retrieval.scoring import fused, pacing_scores
    from vidsearch.retrieval.types import FusionWeights

    motion = pacing = None
    if "vector" in features[0]:
        v = np.stack([f["vector"] for f in features]).astype(np.float32)
        motion = v @ v.T
    if "curve" in features[0]:
        c = np.stack([f["curve"] for f in features]).astype(np.float32)
        pacing = np.stack([pacing_scores(row, c) for row in c])
    if method.kind == "fused":
        return fused(motion, pacing, "both", FusionWeights())
    return motion if motion is not None else pacing
