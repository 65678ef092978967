"""``vidsearch semref``: turn retrieved clips into SemanticGen conditioning packages.

For each reference span: sample at the semantic rate (:mod:`semref_sampling`), encode and pool the
patch tokens (:mod:`semref_tokens`), optionally warp the sequence to a target pacing in semantic
space (:mod:`semref_retime`), compress every token with the trained Gaussian compressor
(:mod:`semref_compressor`), and write the package (:mod:`semref_package`). Configuration errors
(a compressor trained on another encoder or grid, a bad target) are raised before any decoding.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from vidsearch.generation.errors import GenerationError
from vidsearch.generation.files import rounded
from vidsearch.generation.pacing import CURVE_POINTS, normalize_pace
from vidsearch.generation.semref.compressor import WEIGHTS_FILE, Compressor
from vidsearch.generation.semref.package import KEYFRAME_DIR, PACKAGE_SCHEMA, tensor_key, write_package
from vidsearch.generation.semref.retime import retime_sequence, sequence_spf
from vidsearch.generation.semref.sampling import SEMANTIC_FPS, ReferenceSpan, sample_reference
from vidsearch.generation.semref.tokens import DEFAULT_GRID, semantic_tokens
from vidsearch.indexers.config import ResizeMode, SpfConfig
from vidsearch.indexers.corpus import content_hash
from vidsearch.indexers.descriptors.spf import resample_curve
from vidsearch.status import report

SAMPLING_RULE = "N = max(2, round(duration_s * fps)) frames at round(linspace(first, last - 1, N)) of the span's frames"


@dataclass
class SemrefOptions:
    """How references become a package (everything here is recorded in the manifest)."""

    fps: float = SEMANTIC_FPS
    grid: int = DEFAULT_GRID
    target: np.ndarray | None = None  # pacing to warp each sequence to; None = keep the source's
    target_from: str | None = None  # where the target came from (for the manifest)
    steps: int | None = None  # semantic steps per reference after warping (default: as sampled)
    include_tokens: bool = False  # also store the uncompressed tokens
    seed: int = 0  # of the reparameterised latent sample
    resize: ResizeMode = "stretch"
    spf: SpfConfig = field(default_factory=SpfConfig)
    query: dict | None = None  # {"path", "by", "top", "index"} for packages made from a query

    def validate(self, compressor: Compressor | None, encoder) -> None:
        if self.fps <= 0:
            raise GenerationError(f"--fps must be > 0, got {self.fps}")
        if self.steps is not None and self.steps < 2:
            raise GenerationError(f"--steps must be >= 2, got {self.steps}")
        if self.steps is not None and self.target is None:
            raise GenerationError("--steps needs a target pacing (--pace)")
        if self.target is not None:
            self.target = normalize_pace(self.target, "--pace")
        if compressor is None:
            if not self.include_tokens:
                raise GenerationError(
                    "without a compressor the package would be empty; pass --tokens to store the uncompressed tokens"
                )
            return
        src = compressor.source
        if (src.encoder, src.weights_id) != (encoder.name, encoder.weights_id):
            raise GenerationError(
                f"{compressor.path}: the compressor was trained on tokens of {src.encoder} ({src.weights_id}), "
                f"not {encoder.name} ({encoder.weights_id}); train one for this encoder or pass its --encoder"
            )


def _compressor_entry(compressor: Compressor | None) -> dict | None:
    if compressor is None:
        return None
    weights = Path(compressor.path) / WEIGHTS_FILE if compressor.path else None
    return {
        "path": compressor.path,
        "weights_blake2b": content_hash(weights) if weights and weights.is_file() else None,
        "latent_dim": compressor.config.latent_dim,
        "hidden_dim": compressor.config.hidden_dim,
        "kl_weight": compressor.config.kl_weight,
        "latent": "reparameterised sample latent_mean + exp(latent_logvar / 2) * eps, eps ~ N(0, I) seeded",
        "trained_on": asdict(compressor.source),
        "metrics": compressor.metrics,
    }


@dataclass
class _PackageParts:
    """What the references contribute to the package, gathered before anything is written."""

    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    keyframes: dict[str, np.ndarray] = field(default_factory=dict)
    references: list[dict] = field(default_factory=list)
    pacing: list[dict] = field(default_factory=list)


def _add_reference(
    parts: _PackageParts, i: int, span: ReferenceSpan, encoder, compressor: Compressor | None, options: SemrefOptions
):
    """Sample, encode, warp and compress reference ``i``; returns its token grid."""
    ref = sample_reference(span, options.fps, encoder.image_size, options.resize)
    tokens, grid = semantic_tokens(ref.frames, encoder, options.grid)
    if compressor is not None and compressor.source.grid != grid.side:
        g = compressor.source.grid
        raise GenerationError(
            f"{compressor.path}: the compressor was trained on a {g}x{g} token grid, this "
            f"package uses {grid.side}x{grid.side} (--grid {g})"
        )
    retime = None
    if options.target is not None:
        warped = retime_sequence(tokens, options.target, options.steps, options.spf)
        out_tokens, out_times = warped.tokens, np.interp(warped.positions, np.arange(len(tokens)), ref.times_s)
        source_spf, output_spf = warped.source_spf, warped.output_spf
        retime = {"deviation_before": vars(warped.before), "deviation_after": vars(warped.after)}
    else:
        out_tokens, out_times = tokens, ref.times_s
        source_spf = output_spf = sequence_spf(tokens, options.spf)
    if compressor is not None:
        for name, value in compressor.encode(out_tokens, seed=options.seed + i).items():
            parts.tensors[tensor_key(i, name)] = value.astype(np.float32)
    if options.include_tokens:
        parts.tensors[tensor_key(i, "tokens")] = out_tokens.astype(np.float32)
    parts.tensors[tensor_key(i, "times_s")] = out_times.astype(np.float64)
    frames_meta = []
    for k, (frame, t) in enumerate(zip(ref.frames, ref.times_s)):
        rel = f"{KEYFRAME_DIR}/r{i}_{k:03d}.png"
        parts.keyframes[rel] = frame
        frames_meta.append({"file": rel, "time_s": round(float(t), 6)})
    parts.references.append(
        {
            "key_prefix": f"r{i}",
            "path": span.path,
            "segment_id": span.segment_id,
            "file_id": span.file_id,
            "score": span.score,
            "start_s": ref.start_s,
            "end_s": ref.end_s,
            "source_fps": ref.info.fps,
            "semantic_frames": len(tokens),
            "effective_fps": ref.effective_fps,
            "sample_times_s": rounded(ref.times_s),
            "steps": len(out_tokens),
            "step_fps": len(out_tokens) / max(ref.end_s - ref.start_s, 1e-9),
            "keyframes": frames_meta,
            "retime": retime,
        }
    )
    parts.pacing.append(
        {
            "key_prefix": f"r{i}",
            "source_spf": rounded(source_spf),
            "source_spf_64": rounded(resample_curve(source_spf, CURVE_POINTS)),
            "output_spf": rounded(output_spf),
        }
    )
    return grid


def build_package(
    spans: list[ReferenceSpan],
    out_dir: str | os.PathLike,
    encoder,
    compressor: Compressor | None,
    options: SemrefOptions = SemrefOptions(),
) -> dict:
    """Write the package for ``spans`` into ``out_dir``; returns the manifest."""
    if not spans:
        raise GenerationError("no reference to build a package from")
    options.validate(compressor, encoder)
    parts = _PackageParts()
    grid = None
    for i, span in enumerate(spans):
        report(f"reference {i + 1} of {len(spans)}: {span.path}", i, len(spans))
        grid = _add_reference(parts, i, span, encoder, compressor, options)
    pacing = {
        "schema": PACKAGE_SCHEMA,
        "target": None if options.target is None else rounded(resample_curve(options.target, CURVE_POINTS)),
        "target_from": options.target_from,
        "references": parts.pacing,
    }
    manifest = {
        "schema": PACKAGE_SCHEMA,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder": {
            "name": encoder.name,
            "weights_id": encoder.weights_id,
            "image_size": encoder.image_size,
            "token_dim": encoder.dim,
            "native_grid": grid.native,
            "resize": options.resize,
        },
        "sampling": {"fps": options.fps, "rule": SAMPLING_RULE},
        "grid": {
            "side": grid.side,
            "tokens_per_frame": grid.tokens,
            "order": "row-major",
            "pooling": "adaptive-average",
        },
        "compressor": _compressor_entry(compressor),
        "retime": None
        if options.target is None
        else {
            "target_from": options.target_from,
            "steps": options.steps,
            "spf": "grid-mean tokens, index SPF solver",
            "interpolation": "linear",
        },
        "query": options.query,
        "seed": options.seed,
        "references": parts.references,
    }
    return write_package(out_dir, manifest, pacing, parts.tensors, parts.keyframes)
