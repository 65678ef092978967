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
from vidsearch.errors import ConfigError
from vidsearch.retrieval.types import DEFAULT_MIRROR_MARGIN, DEFAULT_TEMPO_SHARE

MethodKind = Literal["moments", "cls-mean", "pacing", "fused", "flow"]
NO_DELTA = (0.0, 0.0, 0.0)
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
    delta_alpha: tuple[float, float, float] = NO_DELTA  # moments of temporal differences (direction-aware)
    # "fused": FusionWeights (motion, pacing, flow share of the motion score), ranked as by="both"
    fusion: tuple[float, float, float] = (0.7, 0.3, 0.0)
    # "fused": score each query's mirror image too, the max of the two forms as the index does:
    # its flow's mirror permutation with the moments as they are (a stored query segment) or, with
    # ``flip_query``, with the moments of its flipped frames (a query clip embedded at search time,
    # as the CLI embeds a file); and tempo's share of the pacing score (flow speed ratio; the clips
    # of a set share one duration, so speeds compare as rates)
    mirror: bool = False
    flip_query: bool = False
    tempo: float = 0.0
    mirror_margin: float = 0.0  # what the mirror form must beat the query itself by

    @property
    def signals(self) -> tuple[str, ...]:
        """The descriptors this method compares: ``vector`` (moments / CLS), ``curve``, ``flow``,
        ``mirror_vector`` (the moments of a query's flipped frames)."""
        if self.kind == "fused":
            flow = self.fusion[2] or (self.fusion[1] and self.tempo)
            flipped = ("mirror_vector",) if self.mirror and self.flip_query else ()
            return ("vector",) + (("curve",) if self.fusion[1] else ()) + (("flow",) if flow else ()) + flipped
        return {"moments": ("vector",), "cls-mean": ("vector",), "pacing": ("curve",), "flow": ("flow",)}[self.kind]


def backbone_label(backbone: str) -> str:
    return {"dinov2-s14": "DINOv2"}.get(backbone, backbone)


# Chosen on the dev split (bench/RESULTS.md, "Choosing on dev"); never on the test split.
DIRECTION_DELTA = (2.0, 4.0, 2.0)
FUSION_WEIGHTS = (1.0, 0.0, 0.5)
# The product's --by both (issue 25): motion 0.7 / pacing 0.3, flow share 0.5, mirror-aware, tempo
# a quarter of pacing (retrieval/types.py defaults).
BOTH_WEIGHTS = (0.7, 0.3, 0.5)
BOTH_TEMPO = DEFAULT_TEMPO_SHARE
MIRROR_MARGIN = DEFAULT_MIRROR_MARGIN


def main_suite(num_frames: int = 32, backbone: str = DEFAULT_BACKBONE) -> list[Method]:
    """Baselines, moment-weight / pooling / aggregation ablations, the direction-aware moments,
    pacing, the flow descriptor and their fusions at one T."""

    def sm(name: str, **kw) -> Method:
        return Method(name, "moments", backbone, num_frames, **kw)

    return [
        Method(f"{backbone_label(backbone)} mean-pool (CLS token)", "cls-mean", backbone, num_frames),
        sm("SemanticMoments (1,0,0) = patch mean-pool", alpha=(1.0, 0.0, 0.0)),
        sm("SemanticMoments (1,8,0)", alpha=(1.0, 8.0, 0.0)),
        sm("SemanticMoments (1,1,1)", alpha=(1.0, 1.0, 1.0)),
        sm("SemanticMoments (1,8,4)"),
        sm("SemanticMoments (1,8,4) patch-level sum", aggregation="sum"),
        sm("SemanticMoments (1,8,4) frame-level concat", pool="frame"),
        sm(f"Direction-aware moments (1,8,4)+delta{_tuple(DIRECTION_DELTA)}", delta_alpha=DIRECTION_DELTA),
        Method("SPF pacing alone", "pacing", backbone, num_frames),
        Method("Fused 0.7 motion + 0.3 pacing", "fused", backbone, num_frames),
        Method("Raw-pixel moments (1,8,4)", "moments", "raw-pixels", num_frames),
        Method("Optical-flow histogram", "flow", "", num_frames),
        Method(
            f"Fused SemanticMoments + flow {_tuple(FUSION_WEIGHTS)}",
            "fused",
            backbone,
            num_frames,
            fusion=FUSION_WEIGHTS,
        ),
        Method(
            f"Fused direction-aware + flow {_tuple(FUSION_WEIGHTS)}",
            "fused",
            backbone,
            num_frames,
            delta_alpha=DIRECTION_DELTA,
            fusion=FUSION_WEIGHTS,
        ),
        *invariance_methods(num_frames, backbone),
    ]


def invariance_methods(num_frames: int = 32, backbone: str = DEFAULT_BACKBONE) -> list[Method]:
    """The product's ``--by both`` before and after issue 25 (mirror-aware flow, tempo in pacing),
    and the motion score with the mirror alone."""

    def fused(name: str, **kw) -> Method:
        return Method(name, "fused", backbone, num_frames, delta_alpha=DIRECTION_DELTA, **kw)

    motion = f"Fused direction-aware + flow {_tuple(FUSION_WEIGHTS)} mirror-aware"
    both = f"--by both {_tuple(BOTH_WEIGHTS)} mirror-aware, tempo {BOTH_TEMPO:g}"
    margin = f", mirror margin {MIRROR_MARGIN:g}"
    return [
        fused(f"{motion}, indexed query", fusion=FUSION_WEIGHTS, mirror=True),
        fused(f"{motion}, file query", fusion=FUSION_WEIGHTS, mirror=True, flip_query=True),
        fused(
            f"{motion}, file query{margin}",
            fusion=FUSION_WEIGHTS,
            mirror=True,
            flip_query=True,
            mirror_margin=MIRROR_MARGIN,
        ),
        fused(f"--by both {_tuple(BOTH_WEIGHTS)} strict, shape-only pacing", fusion=BOTH_WEIGHTS),
        fused(f"{both}, indexed query", fusion=BOTH_WEIGHTS, mirror=True, tempo=BOTH_TEMPO),
        fused(f"{both}, file query", fusion=BOTH_WEIGHTS, mirror=True, flip_query=True, tempo=BOTH_TEMPO),
        fused(
            f"{both}, file query{margin}",
            fusion=BOTH_WEIGHTS,
            mirror=True,
            flip_query=True,
            tempo=BOTH_TEMPO,
            mirror_margin=MIRROR_MARGIN,
        ),
    ]


def is_product_both(m: Method) -> bool:
    """The product's default ``--by both`` (issue 25), for a query clip as the CLI embeds it."""
    return (
        m.kind == "fused"
        and m.fusion == BOTH_WEIGHTS
        and m.mirror
        and m.flip_query
        and m.tempo == BOTH_TEMPO
        and m.mirror_margin == MIRROR_MARGIN
    )


def is_default(m: Method) -> bool:
    """The product's default ranking: direction-aware moments fused with flow, as chosen on dev."""
    return (
        m.kind == "fused"
        and m.delta_alpha == DIRECTION_DELTA
        and m.fusion == FUSION_WEIGHTS
        and not m.mirror
        and not m.tempo
    )


def is_published(m: Method) -> bool:
    """Plain SemanticMoments as published: (1,8,4), patch pooling, concat, no temporal differences."""
    return (
        m.kind == "moments"
        and m.alpha == (1.0, 8.0, 4.0)
        and m.aggregation == "concat"
        and m.pool == "patch"
        and m.delta_alpha == NO_DELTA
    )


def comparisons(methods: list[Method]) -> list[tuple[str, str]]:
    """(default, baseline) name pairs the report gives paired differences for: the default against
    the published SemanticMoments on the same backbone and against the optical-flow baseline."""
    out = []
    for d in (m for m in methods if is_product_both(m)):  # against the strict, shape-only --by both too
        out += [
            (d.name, b.name)
            for b in methods
            if (b.kind == "fused" and b.fusion == BOTH_WEIGHTS and not b.mirror and not b.tempo)
            or (is_published(b) and b.backbone == d.backbone and b.num_frames == d.num_frames)
            or b.kind == "flow"
        ]
    for d in (m for m in methods if is_default(m)):
        out += [
            (d.name, b.name)
            for b in methods
            if (is_published(b) and b.backbone == d.backbone and b.num_frames == d.num_frames) or b.kind == "flow"
        ]
    return out


def _tuple(t: tuple[float, ...]) -> str:
    return "(" + ",".join(f"{x:g}" for x in t) + ")"


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
        return main_suite(num_frames, backbone) + [
            m for m in frames_suite(backbone=backbone) if m.num_frames != num_frames
        ]
    if name == "cheap":
        return [m for m in main_suite(num_frames, backbone) if m.backbone != backbone]
    raise ConfigError(f"unknown suite {name!r} (choose from {', '.join(SUITES)})")


SUITES = ("main", "frames", "all", "cheap")


def clip_features(
    methods: list[Method], tokens: dict[str, ClipTokens], flows: dict[int, np.ndarray]
) -> list[dict[str, np.ndarray]]:
    """Each method's descriptor(s) for one clip: ``vector`` (unit), ``curve`` (SPF), ``flow``.

    Moment stacks and SPF curves are computed once per (backbone, T[, pooling]) and shared by
    the variants that only re-weight or re-aggregate them (the expensive part is the stack).
    """
    import torch

    from vidsearch.indexers.config import SpfConfig
    from vidsearch.indexers.descriptors.moments import (
        combine_blocks,
        difference_moment_stack,
        moment_stack,
        weighted_moment_blocks,
    )
    from vidsearch.indexers.descriptors.spf import spf_signature

    samples: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}
    stacks: dict[tuple[str, int, str], torch.Tensor] = {}
    curves: dict[tuple[str, int], np.ndarray] = {}

    def sample(m: Method) -> tuple[np.ndarray, np.ndarray]:
        key = (m.backbone, m.num_frames)
        if key not in samples:
            if m.backbone not in tokens:
                raise ValueError(f"{m.name}: no tokens for backbone {m.backbone!r}")
            samples[key] = tokens[m.backbone].sample(m.num_frames)
        return samples[key]

    def stack(m: Method, what: str) -> torch.Tensor:
        key = (m.backbone, m.num_frames, what)
        if key not in stacks:
            x = sample(m)[0]
            stacks[key] = difference_moment_stack(x) if what == "delta" else moment_stack(x, what)
        return stacks[key]

    out = []
    for m in methods:
        feat: dict[str, np.ndarray] = {}
        wanted = m.signals
        if "flow" in wanted:
            feat["flow"] = flows[m.num_frames]
        if "vector" in wanted and m.kind == "cls-mean":
            v = sample(m)[1].mean(0)
            feat["vector"] = v / max(float(np.linalg.norm(v)), 1e-12)
        elif "vector" in wanted:
            blocks = weighted_moment_blocks(stack(m, m.pool), m.alpha)
            if any(m.delta_alpha):
                blocks = torch.cat([blocks, weighted_moment_blocks(stack(m, "delta"), m.delta_alpha)])
            feat["vector"] = combine_blocks(blocks, m.aggregation).numpy()
        if "curve" in wanted:
            key = (m.backbone, m.num_frames)
            if key not in curves:
                curves[key] = spf_signature(sample(m)[1], SpfConfig()).curve
            feat["curve"] = curves[key]
        out.append(feat)
    return out


def similarity_matrix(method: Method, features: list[dict[str, np.ndarray]]) -> np.ndarray:
    """(N, N) similarities between all clips as the method ranks them (the index's own scoring)."""
    from vidsearch.indexers.descriptors.flow import flow_speed, mirror_flow
    from vidsearch.retrieval.scoring import (
        fused,
        mirror_aware,
        motion_with_flow,
        pacing_scores,
        pacing_with_tempo,
        tempo_similarity,
    )
    from vidsearch.retrieval.types import FusionWeights

    def stacked(name: str) -> np.ndarray | None:
        return np.stack([f[name] for f in features]).astype(np.float32) if name in features[0] else None

    vectors, flows = stacked("vector"), stacked("flow")
    motion = None if vectors is None else vectors @ vectors.T
    flow = None if flows is None else flows @ flows.T
    pacing = None
    if "curve" in features[0]:
        c = stacked("curve")
        pacing = np.stack([pacing_scores(row, c) for row in c])
    if method.kind == "fused":
        w = FusionWeights(*method.fusion, tempo=method.tempo, mirror_margin=method.mirror_margin)
        if pacing is not None and flow is not None and method.tempo:
            speed = flow_speed(flows)
            pacing = np.stack([pacing_with_tempo(p, tempo_similarity(s, speed), w) for p, s in zip(pacing, speed)])
        motion = motion_with_flow(motion, flow, w)
        if method.mirror:
            key = "mirror_vector" if method.flip_query else "vector"
            flipped = np.stack([x.get(key, x["vector"]) for x in features]).astype(np.float32)
            mirrored = None if flows is None else mirror_flow(flows) @ flows.T
            motion = mirror_aware(motion, motion_with_flow(flipped @ vectors.T, mirrored, w), w)
        return fused(motion, 0.0 if pacing is None else pacing, "both", w)
    return next(m for m in (motion, pacing, flow) if m is not None)
